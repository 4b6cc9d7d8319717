"""A bad batch never changes a model's weights; bad input gets the library's clear errors."""

import re
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from training_helpers import build_embedding_model, triplet_batch, triplet_inputs

from keras_mtl.losses import TripletLoss, interleave_triplets
from keras_mtl.training import NonFiniteTrainingError

TASK_ID_MESSAGE = re.escape("Expected `task_id` values in [0, num_tasks=3)")


def _compiled(probe="grouped", **kwargs):
    model = build_embedding_model()
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=TripletLoss(1.0), probe=probe,
                  **kwargs)
    return model


def _state(model):
    return [v.numpy().copy() for v in model.weights] + [
        v.numpy().copy() for v in model.optimizer.variables]


def _assert_unchanged(model, state):
    now = _state(model)
    assert len(now) == len(state)
    for a, b in zip(now, state, strict=True):
        np.testing.assert_array_equal(a, b)


def _fit(model, x, **kwargs):
    return model.fit(x, batch_size=len(x["task_id"]), epochs=1, verbose=0, shuffle=False,
                     **kwargs)


@pytest.mark.parametrize("probe", ["grouped", "full", "off"])
def test_nan_image_skips_the_step_and_leaves_weights_and_optimizer_untouched(probe):
    model = _compiled(probe)
    _fit(model, triplet_inputs())  # builds the optimizer state
    state = _state(model)
    bad = triplet_inputs(seed=1)
    bad["image"][3, 0, 0, 0] = np.nan  # the anchor of triplet 1 (task 1)
    with pytest.warns(RuntimeWarning, match=r"Skipped training step 1: a non-finite loss "
                                            r"\(tasks: task_1\)"):
        history = _fit(model, bad)
    _assert_unchanged(model, state)
    assert history.history["skipped_steps"] == [1.0]
    assert np.isfinite(history.history["loss"]).all()
    # Clean batches train again afterwards.
    _fit(model, triplet_inputs(seed=2))
    assert not np.array_equal(model.weights[0].numpy(), state[0])


def test_training_stops_after_max_skipped_steps():
    model = _compiled(max_skipped_steps=1)
    _fit(model, triplet_inputs())
    bad = triplet_inputs(size=24)
    bad["image"][:] = np.inf
    state = _state(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(NonFiniteTrainingError, match="more than max_skipped_steps=1"):
            model.fit(bad, batch_size=18, epochs=1, verbose=0, shuffle=False)
    _assert_unchanged(model, state)


def test_non_finite_gradient_with_finite_loss_is_skipped():
    # sqrt(|w|) is finite at w = 0 but its gradient is not: a finite loss, NaN gradients.
    model = _compiled("off", regularizers=[
        lambda m: 1e-3 * tf.reduce_sum(tf.sqrt(tf.abs(m.get_layer("embed").kernel)))])
    _fit(model, triplet_inputs())
    kernel = model.get_layer("embed").kernel
    kernel.assign(tf.tensor_scatter_nd_update(kernel, [[0, 0]], [0.0]))
    state = _state(model)
    with pytest.warns(RuntimeWarning, match="non-finite gradients"):
        history = _fit(model, triplet_inputs(seed=3))
    assert np.isfinite(history.history["loss"]).all()
    _assert_unchanged(model, state)


@pytest.mark.parametrize("probe", ["grouped", "off"])
@pytest.mark.parametrize("bad_id", [3, -1, 2**32 + 1])
def test_out_of_range_task_ids_fail_with_the_library_message(probe, bad_id):
    model = _compiled(probe)
    _fit(model, triplet_inputs())
    state = _state(model)
    x = triplet_inputs()
    x["task_id"] = x["task_id"].astype("int64")
    x["task_id"][3:6] = bad_id  # int64 beyond int32 must not wrap around to a valid task
    with pytest.raises(tf.errors.InvalidArgumentError, match=TASK_ID_MESSAGE):
        _fit(model, x)
    _assert_unchanged(model, state)


def test_out_of_range_task_id_under_xla_is_skipped_then_raises():
    model = _compiled("off", jit_compile=True)
    _fit(model, triplet_inputs())
    state = _state(model)
    x = triplet_inputs()
    x["task_id"][3:6] = 7
    # XLA drops Assert ops: the step is skipped and fit raises the library's message after it
    # (where TensorFlow runs the step outside XLA, the Assert raises it at once).
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError), match=TASK_ID_MESSAGE):
        _fit(model, x)
    _assert_unchanged(model, state)  # no NaN poisoning of the update under XLA


def test_float_task_ids_and_missing_inputs_are_named():
    model = _compiled()
    x = triplet_inputs()
    with pytest.raises(TypeError, match="Expected `task_id` to have an integer dtype"):
        _fit(model, dict(x, task_id=x["task_id"].astype("float32")))
    with pytest.raises(ValueError, match=r"missing: task_id"):
        model.fit({"image": x["image"]}, batch_size=36, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="interleave_triplets"):
        model.fit(triplet_batch(), batch_size=12, epochs=1, verbose=0)


def test_triplet_structure_errors_name_the_problem():
    batch = triplet_batch()
    with pytest.raises(ValueError, match="missing: negative"):
        interleave_triplets({k: v for k, v in batch.items() if k != "negative"})
    with pytest.raises(ValueError, match="missing: positive, task_id"):
        interleave_triplets({"anchor": batch["anchor"], "negative": batch["negative"]})
    wrong = dict(batch, positive=batch["positive"][:, :2])
    with pytest.raises(ValueError, match=r"one shape.*positive=\(12, 2, 3, 2\)"):
        interleave_triplets(wrong)


def test_shuffled_triplet_rows_are_rejected():
    model = _compiled("off")
    x = triplet_inputs()
    order = np.random.default_rng(0).permutation(36)
    shuffled = {k: v[order] for k, v in x.items()}
    with pytest.raises(tf.errors.InvalidArgumentError, match="Expected 3 consecutive rows"):
        _fit(model, shuffled)


def test_fuzz_bad_batches_never_change_the_weights():
    rng = np.random.default_rng(0)
    model = _compiled("grouped", max_skipped_steps=1000)
    _fit(model, triplet_inputs())
    state = _state(model)
    makers = {
        "nan": lambda x: x["image"].__setitem__((rng.integers(36),), np.nan),
        "inf": lambda x: x["image"].__setitem__((rng.integers(36), 0), -np.inf),
        "id_high": lambda x: x["task_id"].__setitem__(slice(0, 3), 3 + rng.integers(100)),
        "id_negative": lambda x: x["task_id"].__setitem__(slice(6, 9), -1 - rng.integers(5)),
    }
    for trial in range(12):
        name = list(makers)[trial % len(makers)]
        x = triplet_inputs(seed=trial + 10)
        makers[name](x)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            try:
                _fit(model, x)
            except (tf.errors.InvalidArgumentError, ValueError) as error:
                assert "task_id" in str(error), name
        _assert_unchanged(model, state)
        with pytest.raises(tf.errors.InvalidArgumentError, match=TASK_ID_MESSAGE):
            model.predict({"image": x["image"][:3], "task_id": np.array([0, 5, 1])}, verbose=0)
        _assert_unchanged(model, state)
