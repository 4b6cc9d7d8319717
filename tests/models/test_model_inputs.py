"""The builders' inputs, checked once per call on every path: `task_id` before any cast, and
the image size at run time (not only while Keras traces).

Expected values come from the definition of a valid input (an integer id in `[0, num_tasks)`,
an image of the declared size), not from the implementation: `2**32 + 1` is out of range for 4
tasks whatever it becomes after a cast to int32 (it becomes 1, a valid task, which is the bug
these tests pin down).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mtl.layers import task_ids
from keras_mtl.models import task_routing_net, top_down_lenet, zhao_retrieval_net

NUM_TASKS = 4
OVERFLOW = 2**32 + 1  # int32(OVERFLOW) == 1


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return zhao_retrieval_net(
        NUM_TASKS, method="routing", input_shape=(48, 48, 3), width_multiplier=0.125,
        embedding_dim=8,
    )


def batch(ids, n=None):
    ids = np.asarray(ids)
    rng = np.random.default_rng(0)
    return {"image": rng.uniform(size=(n or len(ids), 48, 48, 3)).astype("float32"),
            "task_id": ids}


def test_task_id_input_is_int64_and_inputs_are_checked_by_one_layer_each(model):
    assert model.input["task_id"].dtype == "int64"
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("TaskIdValidation") == 1 and kinds.count("InputShapeCheck") == 1


def test_wrong_image_size_raises_in_predict_after_relaxed_retracing():
    # After batches of 1, 2 and 3 images predict traces with shape (None, None, None, None);
    # a 49-61 px image then used to give finite, meaningless embeddings.
    model = zhao_retrieval_net(NUM_TASKS, input_shape=(48, 48, 3), width_multiplier=0.125,
                               embedding_dim=8)
    for n in (1, 2, 3):
        model.predict(batch(np.arange(n) % NUM_TASKS), verbose=0)
    for size in (49, 56, 61, 40):
        x = batch(np.array([0, 1]))
        x["image"] = np.zeros((2, size, size, 3), "float32")
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match=rf"\[2,{size},{size},3\] is not compatible with expected shape "
                                 r"\[\?,48,48,3\]"):
            model.predict(x, verbose=0)


def test_wrong_image_size_raises_under_xla(model):
    # The second batch size makes the trace relaxed (no static size for Keras to check).
    f = tf.function(model, jit_compile=True, reduce_retracing=True)
    for n in (1, 2):
        f(batch(np.arange(n) % NUM_TASKS))
    x = batch(np.array([0, 1]))
    x["image"] = np.zeros((2, 52, 52, 3), "float32")
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"expected shape \[\?,48,48,3\]"):
        f(x)


@pytest.mark.parametrize("path", ["eager", "graph", "predict"])
def test_int64_overflowing_id_raises(model, path):
    x = batch(np.array([0, 3, OVERFLOW], "int64"))
    run = {
        "eager": lambda: model(x),
        "graph": lambda: tf.function(model)({k: tf.constant(v) for k, v in x.items()}),
        "predict": lambda: model.predict(x, verbose=0),
    }[path]
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"(?s)num_tasks=4.*4294967297"):
        run()


def test_bad_id_is_a_nan_row_under_xla(model):
    # XLA drops Assert ops: the bad sample's embedding is NaN, the others are unaffected.
    good = model.predict(batch(np.array([0, 1, 2], "int64")), verbose=0)
    f = tf.function(model, jit_compile=True)
    for bad in (OVERFLOW, -(2**32) + 2, -1, NUM_TASKS):
        x = batch(np.array([0, bad, 2], "int64"))
        out = np.asarray(f({k: tf.constant(v) for k, v in x.items()}))
        assert np.isnan(out[1]).all(), bad
        np.testing.assert_allclose(out[[0, 2]], good[[0, 2]], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", ["int32", "int64", "uint8"])
def test_valid_ids_of_any_integer_dtype_give_the_same_outputs(model, dtype):
    reference = model.predict(batch(np.array([3, 0, 2], "int32")), verbose=0)
    got = model.predict(batch(np.array([3, 0, 2], dtype)), verbose=0)
    np.testing.assert_array_equal(got, reference)


@pytest.mark.parametrize("build", [
    lambda: zhao_retrieval_net(NUM_TASKS, method="routing", input_shape=(48, 48, 3),
                               width_multiplier=0.125, embedding_dim=8),
    lambda: task_routing_net(NUM_TASKS, num_classes=3, backbone="vgg11", input_shape=(32, 32, 3),
                             width_multiplier=0.125, shared_fc=(8,)),
    lambda: top_down_lenet(NUM_TASKS, num_classes=3),
], ids=["zhao_routing", "task_routing_vgg11", "top_down_lenet"])
def test_task_ids_are_range_checked_once_per_call(build, monkeypatch):
    model = build()
    calls = []
    original = task_ids.validate_task_ids
    monkeypatch.setattr(task_ids, "validate_task_ids",
                        lambda *a, **k: calls.append(a[1]) or original(*a, **k))
    shape = tuple(model.input["image"].shape[1:])
    model({"image": np.zeros((2,) + shape, "float32"), "task_id": np.array([0, 3])})
    assert calls == [NUM_TASKS]


def test_keras_round_trip_keeps_the_check(model, keras_roundtrip):
    loaded = keras_roundtrip(model)
    x = batch(np.array([1, 2], "int64"))
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"num_tasks=4"):
        loaded.predict(batch(np.array([1, OVERFLOW], "int64")), verbose=0)


@pytest.mark.parametrize("path", ["eager", "predict"])
def test_float_task_ids_raise_type_error(model, path):
    x = batch(np.array([0.0, 1.7], "float32"))
    with pytest.raises(TypeError, match=r"integer dtype.*Received: task_id.dtype=float32"):
        model(x) if path == "eager" else model.predict(x, verbose=0)
