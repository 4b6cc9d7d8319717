"""CrossStitch against a NumPy re-implementation of Misra Eq. 1 / Bhuin Eq. 3."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mtl.layers import CrossStitch
from keras_mtl.layers.cross_stitch import cross_stitch_init


def numpy_mix(columns, alpha):
    # x~_i = sum_j alpha_ij x_j, with alpha (T, T) or per channel (T, T, C)
    T = len(columns)
    out = []
    for i in range(T):
        acc = np.zeros_like(columns[0])
        for j in range(T):
            acc += (alpha[i, j] if alpha.ndim == 2 else alpha[i, j][None]) * columns[j]
        out.append(acc)
    return out


def test_init_two_tasks_is_bhuin():
    np.testing.assert_allclose(cross_stitch_init(2), [[0.9, 0.1], [0.1, 0.9]])


def test_init_many_tasks_rows_sum_to_one():
    alpha = cross_stitch_init(5, same_init=0.6)
    np.testing.assert_allclose(np.diag(alpha), 0.6)
    np.testing.assert_allclose(alpha[0, 1], 0.1)
    np.testing.assert_allclose(alpha.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(cross_stitch_init(3, 1.0, 0.0), np.eye(3))


@pytest.mark.parametrize("granularity", ["layer", "channel"])
def test_matches_numpy_list_and_stacked(granularity, rng):
    T, shape = 3, (4, 2, 2, 5)
    columns = [rng.normal(size=shape).astype("float32") for _ in range(T)]
    layer = CrossStitch(T, granularity=granularity)
    layer.build([shape] * T)
    alpha = rng.normal(size=layer.alpha.shape).astype("float32")
    layer.alpha.assign(alpha)
    expected = numpy_mix(columns, alpha)
    got_list = layer(columns)
    got_stacked = np.asarray(layer(np.stack(columns, axis=1)))
    for i in range(T):
        np.testing.assert_allclose(got_list[i], expected[i], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(got_stacked[:, i], expected[i], rtol=1e-5, atol=1e-5)


def test_parameter_counts():
    layer = CrossStitch(4)
    layer.build([(None, 8)] * 4)
    channel = CrossStitch(4, granularity="channel")
    channel.build([(None, 8)] * 4)
    assert layer.count_params() == 16 and channel.count_params() == 16 * 8


def _alpha_grad(multiplier, columns):
    layer = CrossStitch(2, lr_multiplier=multiplier)
    with tf.GradientTape() as tape:
        out = layer(columns)
        loss = tf.reduce_sum(out[0] * 2.0 + out[1] ** 2)
    return [np.asarray(o) for o in out], tape.gradient(loss, layer.alpha).numpy()


def test_lr_multiplier_scales_gradient_only(rng):
    columns = [rng.normal(size=(3, 4)).astype("float32") for _ in range(2)]
    out1, g1 = _alpha_grad(1.0, columns)
    out100, g100 = _alpha_grad(100.0, columns)
    for a, b in zip(out1, out100, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(g100, 100.0 * g1, rtol=1e-5)


def test_lr_multiplier_is_sgd_learning_rate_multiplier(rng):
    columns = [rng.normal(size=(3, 4)).astype("float32") for _ in range(2)]
    steps = {}
    for multiplier, lr in ((10.0, 0.01), (1.0, 0.1)):
        layer = CrossStitch(2, lr_multiplier=multiplier)
        layer(columns)
        opt = keras.optimizers.SGD(lr)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(columns)[0] ** 2)
        opt.apply([tape.gradient(loss, layer.alpha)], [layer.alpha])
        steps[multiplier] = layer.alpha.numpy()
    np.testing.assert_allclose(steps[10.0], steps[1.0], rtol=1e-5)


def test_alpha_is_task_specific():
    layer = CrossStitch(2)
    layer.build([(None, 3)] * 2)
    assert layer.task_specific_weights == [layer.alpha]


def test_one_task_rejected():
    with pytest.raises(ValueError, match=r"num_tasks` to be an integer >= 2.*num_tasks=1"):
        CrossStitch(1)


def test_wrong_number_of_columns():
    with pytest.raises(ValueError, match=r"Expected 3 task columns.*Received: 2 columns"):
        CrossStitch(3)([np.zeros((2, 4), "float32")] * 2)


def test_wrong_stacked_axis():
    with pytest.raises(ValueError, match=r"num_tasks=3.*Received: shape=\(2, 4, 5\)"):
        CrossStitch(3)(np.zeros((2, 4, 5), "float32"))


def test_mismatched_columns():
    with pytest.raises(ValueError, match=r"same shape"):
        CrossStitch(2)([np.zeros((2, 4), "float32"), np.zeros((2, 5), "float32")])


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"granularity": "pixel"}, r"granularity.*Received: granularity='pixel'"),
        ({"lr_multiplier": 0}, r"lr_multiplier.*Received: lr_multiplier=0"),
    ],
)
def test_invalid_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        CrossStitch(2, **kwargs)
