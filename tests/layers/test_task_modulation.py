"""TaskModulation against NumPy re-implementations of Zhao et al. Eq. 4 and 5."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mtl.layers import TaskModulation


def numpy_scale(x, kernel, ids):
    # Eq. 5: x'[b, ..., c] = x[b, ..., c] * W_{t_b}[c]
    out = np.empty_like(x)
    for b, t in enumerate(ids):
        out[b] = x[b] * kernel[t]
    return out


def numpy_projection(x, kernel, ids):
    # Eq. 4: x'[b, ..., i] = sum_j x[b, ..., j] * W_{t_b}[i, j]
    out = np.empty_like(x)
    for b, t in enumerate(ids):
        out[b] = np.tensordot(x[b], kernel[t], axes=([-1], [1]))
    return out


@pytest.mark.parametrize(
    "mode, reference", [("scale", numpy_scale), ("projection", numpy_projection)]
)
@pytest.mark.parametrize("shape", [(6, 5), (6, 3, 4, 5), (6, 2, 2, 2, 5)])
def test_matches_numpy_per_sample(mode, reference, shape, rng):
    layer = TaskModulation(3, mode=mode)
    x = rng.normal(size=shape).astype("float32")
    ids = np.array([2, 0, 1, 1, 2, 0], "int32")
    layer.build([x.shape, ids.shape])
    kernel = rng.normal(size=layer.task_kernel.shape).astype("float32")
    layer.task_kernel.assign(kernel)
    np.testing.assert_allclose(layer([x, ids]), reference(x, kernel, ids), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        layer([x, ids[:, None]]), reference(x, kernel, ids), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("mode", ["scale", "projection"])
def test_fresh_layer_is_identity(mode, rng):
    x = rng.normal(size=(4, 3, 3, 7)).astype("float32")
    y = TaskModulation(5, mode=mode)([x, np.array([0, 4, 2, 1])])
    np.testing.assert_allclose(y, x, rtol=1e-6)


@pytest.mark.parametrize("mode", ["scale", "projection"])
def test_absent_tasks_get_zero_gradient(mode, rng):
    layer = TaskModulation(4, mode=mode)
    x = tf.constant(rng.normal(size=(6, 3, 3, 5)).astype("float32"))
    ids = tf.constant([0, 2, 2, 0, 2, 0])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer([x, ids]) ** 2)
    grad = tf.convert_to_tensor(tape.gradient(loss, layer.task_kernel)).numpy()
    for task in (1, 3):
        assert np.all(grad[task] == 0)
    for task in (0, 2):
        assert np.abs(grad[task]).sum() > 0


def test_scale_gradient_matches_hand_derivation(rng):
    # d/dW_t[c] sum(x' ** 2) = sum over samples of task t, positions: 2 * x^2 * W_t[c]
    layer = TaskModulation(2)
    x = rng.normal(size=(3, 2, 4)).astype("float32")
    ids = np.array([1, 0, 1])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer([x, ids]) ** 2)
    grad = tf.convert_to_tensor(tape.gradient(loss, layer.task_kernel)).numpy()
    expected = np.stack([2 * (x[ids == t] ** 2).sum(axis=(0, 1)) for t in range(2)])
    np.testing.assert_allclose(grad, expected, rtol=1e-5)


@pytest.mark.parametrize("mode, per_task", [("scale", 8), ("projection", 64)])
def test_parameter_count(mode, per_task):
    layer = TaskModulation(20, mode=mode)
    layer.build([(None, 4, 4, 8), (None,)])
    assert layer.count_params() == 20 * per_task


def test_table3_budget_of_block4_block5_fc():
    # Zhao Table 3: modulation at block4 (128), block5 (128), fc (256) for 20 tasks = 10,240.
    total = 0
    for channels in (128, 128, 256):
        layer = TaskModulation(20)
        layer.build([(None, channels), (None,)])
        total += layer.count_params()
    assert total == 10_240


def test_task_specific_weights():
    layer = TaskModulation(3)
    layer.build([(None, 4), (None,)])
    assert layer.task_specific_weights == [layer.task_kernel]


def test_compute_output_shape():
    layer = TaskModulation(3, mode="projection")
    assert layer.compute_output_shape([(None, 5, 5, 4), (None,)]) == (None, 5, 5, 4)


def test_invalid_mode():
    with pytest.raises(ValueError, match=r"Expected `mode` to be one of.*Received: mode='vector'"):
        TaskModulation(3, mode="vector")


def test_invalid_num_tasks():
    with pytest.raises(ValueError, match=r"Received: num_tasks=0"):
        TaskModulation(0)


def test_single_tensor_input_rejected():
    with pytest.raises(ValueError, match=r"\[features, task_id\].*Received: a single"):
        TaskModulation(2)(np.zeros((2, 3), "float32"))


def test_unknown_channels_rejected():
    x = keras.Input((None,))
    with pytest.raises(ValueError, match=r"known channel"):
        TaskModulation(2)([x, keras.Input((), dtype="int32")])


def test_float_task_ids_rejected_in_functional_model():
    with pytest.raises(TypeError, match=r"integer dtype.*Received: task_id.dtype=float32"):
        TaskModulation(2)([keras.Input((4,)), keras.Input((), dtype="float32")])


def test_batch_mismatch_rejected():
    with pytest.raises(ValueError, match=r"same batch size"):
        TaskModulation(2)([np.zeros((3, 4), "float32"), np.zeros((2,), "int32")])
