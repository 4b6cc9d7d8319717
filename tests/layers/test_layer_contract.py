"""The contract every layer of keras_mtl.layers keeps, checked on each in a small model.

- get_config / from_config round trip, and `.keras` save/load giving identical outputs
  (TaskRouting masks included), with no `custom_objects` (layers are registered);
- mixed precision (`mixed_float16`): float16 outputs close to the float32 model's;
- `jit_compile=True`: one training step and predictions equal to the non-XLA model's;
- out-of-range task ids raise in eager and in `tf.function`, and give NaN (never a plausible
  value) under XLA, where TensorFlow drops Assert ops (`TaskIdValidation` and `InputShapeCheck`,
  which check a model's inputs once, are checked here wired as in the builders).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mtl import layers as L
from keras_mtl.layers.column_conv2d import ColumnConv2D
from keras_mtl.layers.column_dense import ColumnDense
from keras_mtl.layers.input_shape_check import InputShapeCheck
from keras_mtl.layers.task_id_validation import TaskIdValidation
from keras_mtl.layers.unstack_columns import UnstackColumns

B = 5


def _task_ids(num_tasks):
    return np.arange(B, dtype="int32") % num_tasks


def _ids_input():
    return keras.Input((), dtype="int32", name="task_id")


def spec_modulation_scale():
    x, t = keras.Input((4, 4, 6)), _ids_input()
    y = L.TaskModulation(3)([x, t])
    return [x, t], y, 3


def spec_modulation_projection():
    x, t = keras.Input((6,)), _ids_input()
    y = L.TaskModulation(3, mode="projection")([x, t])
    return [x, t], y, 3


def spec_routing():
    x, t = keras.Input((3, 3, 8)), _ids_input()
    y = L.TaskRouting(4, sharing_ratio=0.5)([x, t])  # random seed: restored from the file
    return [x, t], keras.layers.Dense(2)(y), 4


def spec_cross_stitch_list():
    a, b = keras.Input((4, 4, 6)), keras.Input((4, 4, 6))
    ya, yb = L.CrossStitch(2, lr_multiplier=10.0)([a, b])
    return [a, b], [ya, yb], None


def spec_cross_stitch_channel_stacked():
    x = keras.Input((3, 4, 6))
    y = L.CrossStitch(3, granularity="channel")(x)
    return [x], y, None


def spec_select_column():
    x, t = keras.Input((3, 6)), _ids_input()
    y = L.SelectTaskColumn(3)([keras.layers.Dense(6)(x), t])
    return [x, t], y, 3


def spec_task_embedding():
    t = _ids_input()
    y = L.TaskEmbedding(3, (2, 3, 4))(t)
    return [t], y, 3


def spec_task_id_validation():
    # The builders' input wiring: the image's shape and the int64 `task_id` checked once each.
    x, t = keras.Input((4, 4, 6)), keras.Input((), dtype="int64", name="task_id")
    y = L.TaskModulation(3)([InputShapeCheck()(x), TaskIdValidation(3)(t)])
    return [x, t], y, 3


def spec_tensor_modulation():
    x, z = keras.Input((4, 4, 6)), keras.Input((4, 4, 6))
    y = L.TensorModulation("gated")([keras.layers.Dense(6)(x), z])
    return [x, z], y, None


def spec_top_down():
    x, t = keras.Input((16, 16, 3)), _ids_input()
    y = L.TopDownModulator(3, filters=(4, 8), return_td_map=True)([x, t])
    return [x, t], y, 3


def spec_column_layers():
    x = keras.Input((2, 6, 6, 3))  # two task columns
    y = ColumnConv2D(2, 4, 3, activation="relu", related_weight=0.1)(x)
    y = ColumnDense(2, 5, related_weight=0.1, related_form="l2")(
        keras.layers.Reshape((2, -1))(y))
    ya, yb = UnstackColumns(2)(y)
    return [x], [ya, yb], None


SPECS = {
    f.__name__.removeprefix("spec_"): f
    for f in (
        spec_modulation_scale,
        spec_modulation_projection,
        spec_routing,
        spec_cross_stitch_list,
        spec_cross_stitch_channel_stacked,
        spec_select_column,
        spec_task_embedding,
        spec_task_id_validation,
        spec_tensor_modulation,
        spec_top_down,
        spec_column_layers,
    )
}


def build(name, seed=0):
    keras.utils.set_random_seed(seed)
    inputs, outputs, num_tasks = SPECS[name]()
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(seed)
    for w in model.trainable_weights:  # move away from the (often trivial) initial values
        w.assign(w.numpy() + rng.normal(0, 0.3, w.shape).astype(w.dtype))
    data = []
    for inp in model.inputs:
        if "int" in inp.dtype:
            data.append(_task_ids(num_tasks))
        else:
            data.append(rng.normal(size=(B,) + tuple(inp.shape[1:])).astype("float32"))
    return model, data, num_tasks


def _as_list(y):
    return [np.asarray(v) for v in (y if isinstance(y, list | tuple) else [y])]


def _task_layers(model):
    return [
        layer
        for layer in model._flatten_layers(include_self=False)
        if layer.__class__.__module__.startswith("keras_mtl")
    ]


@pytest.mark.parametrize("name", sorted(SPECS))
def test_get_config_round_trip(name):
    model, _, _ = build(name)
    for layer in _task_layers(model):
        config = layer.get_config()
        clone = layer.__class__.from_config(config)
        assert clone.get_config() == config


@pytest.mark.parametrize("name", sorted(SPECS))
def test_keras_save_load_identical(name, keras_roundtrip):
    model, data, _ = build(name)
    expected = _as_list(model.predict(data, verbose=0))
    loaded = keras_roundtrip(model)
    for a, b in zip(expected, _as_list(loaded.predict(data, verbose=0)), strict=True):
        np.testing.assert_array_equal(a, b)
    for w1, w2 in zip(model.weights, loaded.weights, strict=True):
        np.testing.assert_array_equal(w1.numpy(), w2.numpy())


@pytest.mark.parametrize("name", sorted(SPECS))
def test_mixed_precision(name):
    model32, data, _ = build(name)
    expected = _as_list(model32(data))
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    model16, _, _ = build(name)
    model16.set_weights(model32.get_weights())
    got = _as_list(model16(data))
    for e, g in zip(expected, got, strict=True):
        assert g.dtype == np.float16
        np.testing.assert_allclose(g.astype("float32"), e, rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_jit_compile_train_and_predict(name):
    model, data, _ = build(name)
    outputs = _as_list(model(data))
    targets = [np.zeros_like(o) for o in outputs]
    reference = keras.Model.from_config(model.get_config())
    reference.set_weights(model.get_weights())
    model.compile(optimizer="sgd", loss="mse", jit_compile=True)
    reference.compile(optimizer="sgd", loss="mse", jit_compile=False)
    np.testing.assert_allclose(
        _as_list(model.predict(data, verbose=0))[0], outputs[0], rtol=1e-5, atol=1e-5
    )
    y = targets if len(targets) > 1 else targets[0]
    h1 = model.fit(data, y, batch_size=B, epochs=1, verbose=0).history["loss"][0]
    h2 = reference.fit(data, y, batch_size=B, epochs=1, verbose=0).history["loss"][0]
    assert np.isfinite(h1)
    np.testing.assert_allclose(h1, h2, rtol=1e-4)
    for w1, w2 in zip(model.weights, reference.weights, strict=True):
        np.testing.assert_allclose(w1.numpy(), w2.numpy(), rtol=1e-4, atol=1e-5)


TASK_SPECS = sorted(n for n in SPECS if SPECS[n]()[2] is not None)


def _with_bad_ids(model, data, num_tasks, bad):
    data = list(data)
    idx = [i for i, inp in enumerate(model.inputs) if "int" in inp.dtype][0]
    ids = data[idx].copy()
    ids[1] = bad
    data[idx] = ids
    return data


@pytest.mark.parametrize("bad", ["too_large", "negative"])
@pytest.mark.parametrize("name", TASK_SPECS)
def test_out_of_range_task_id_raises_eager_and_graph(name, bad):
    model, data, num_tasks = build(name)
    data = _with_bad_ids(model, data, num_tasks, num_tasks if bad == "too_large" else -1)
    with pytest.raises(tf.errors.InvalidArgumentError, match=rf"num_tasks={num_tasks}"):
        model(data)
    with pytest.raises(tf.errors.InvalidArgumentError, match=rf"num_tasks={num_tasks}"):
        tf.function(model)(data)
    with pytest.raises(tf.errors.InvalidArgumentError, match=rf"num_tasks={num_tasks}"):
        model.predict(data, verbose=0)


@pytest.mark.parametrize("name", TASK_SPECS)
def test_out_of_range_task_id_is_nan_under_xla(name):
    model, data, num_tasks = build(name)
    data = _with_bad_ids(model, data, num_tasks, num_tasks + 3)
    out = _as_list(tf.function(model, jit_compile=True)(data))[0]
    assert np.isnan(out[1]).all()
    assert np.isfinite(np.delete(out, 1, axis=0)).all()


@pytest.mark.parametrize("name", sorted(SPECS))
def test_task_specific_weights_are_layer_variables(name):
    model, _, _ = build(name)
    ids = {id(v) for v in model.weights}
    found = L.task_specific_variables(model)
    assert all(id(v) in ids for v in found)
    per_layer = [v for layer in _task_layers(model) for v in layer.task_specific_weights]
    assert len(found) == len({id(v) for v in per_layer})
