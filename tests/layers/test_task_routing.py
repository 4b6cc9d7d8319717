"""TaskRouting: mask generation, per-sample routing, zero output and zero gradient."""

import numpy as np
import pytest
import tensorflow as tf

from keras_mtl.layers import TaskRouting
from keras_mtl.layers.task_routing import active_units, task_routing_masks


@pytest.mark.parametrize(
    "units, ratio, expected",
    [
        (10, 1.0, 10),  # hard sharing: every unit
        (10, 0.5, 5),
        (10, 0.9, 9),  # 10 * (1 - 0.9) is 0.99999...: floor must still drop one unit
        (10, 0.7, 7),
        (64, 0.4, 26),  # 64 - floor(64 * 0.6 = 38.4)
        (10, 0.0, 1),  # never zero units
        (3, 0.5, 2),  # 3 - floor(1.5)
    ],
)
def test_active_units_hand_values(units, ratio, expected):
    assert active_units(units, ratio) == expected


def test_masks_are_binary_with_exact_counts_and_seeded():
    masks = task_routing_masks(7, 32, 0.25, seed=3)
    assert masks.shape == (7, 32) and masks.dtype == np.float32
    assert set(np.unique(masks)) <= {0.0, 1.0}
    np.testing.assert_array_equal(masks.sum(axis=1), np.full(7, active_units(32, 0.25)))
    np.testing.assert_array_equal(masks, task_routing_masks(7, 32, 0.25, seed=3))
    assert not np.array_equal(masks, task_routing_masks(7, 32, 0.25, seed=4))
    assert len({m.tobytes() for m in masks}) > 1  # tasks get different routes


def test_forward_is_mask_of_own_task(rng):
    layer = TaskRouting(3, sharing_ratio=0.5, seed=1)
    x = rng.normal(size=(4, 2, 2, 8)).astype("float32")
    ids = np.array([2, 0, 2, 1])
    y = np.asarray(layer([x, ids]))
    masks = task_routing_masks(3, 8, 0.5, seed=1)
    np.testing.assert_array_equal(np.asarray(layer.masks), masks)
    np.testing.assert_array_equal(y, x * masks[ids][:, None, None, :])
    for b, t in enumerate(ids):
        assert np.all(y[b][..., masks[t] == 0] == 0.0)


def test_masked_units_get_zero_gradient(rng):
    layer = TaskRouting(2, sharing_ratio=0.25, seed=0)
    x = tf.constant(rng.normal(size=(4, 8)).astype("float32"))
    ids = tf.constant([0, 1, 1, 0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(layer([x, ids]) * 3.0)
    grad = tape.gradient(loss, x).numpy()
    masks = task_routing_masks(2, 8, 0.25, seed=0)
    np.testing.assert_array_equal(grad, 3.0 * masks[ids.numpy()])


def test_hard_sharing_is_identity(rng):
    x = rng.normal(size=(3, 6)).astype("float32")
    np.testing.assert_array_equal(TaskRouting(4, sharing_ratio=1.0)([x, np.array([0, 3, 1])]), x)


def test_masks_are_non_trainable_and_listed():
    layer = TaskRouting(2, seed=0)
    layer.build([(None, 5), (None,)])
    assert layer.trainable_weights == []
    assert layer.non_trainable_weights == [layer.masks]
    assert layer.task_specific_weights == [layer.masks]
    assert layer.units_per_task == active_units(5, 0.5)


def test_seed_none_is_drawn_and_kept_in_config():
    layer = TaskRouting(2, seed=None)
    assert isinstance(layer.get_config()["seed"], int)
    clone = TaskRouting.from_config(layer.get_config())
    layer.build([(None, 16), (None,)])
    clone.build([(None, 16), (None,)])
    np.testing.assert_array_equal(np.asarray(layer.masks), np.asarray(clone.masks))


@pytest.mark.parametrize("bad", [-0.1, 1.5, "0.5", None, True])
def test_sharing_ratio_validated(bad):
    with pytest.raises(ValueError, match=r"Expected `sharing_ratio`.*Received: sharing_ratio="):
        TaskRouting(2, sharing_ratio=bad)


def test_seed_validated():
    with pytest.raises(ValueError, match=r"Received: seed=-1"):
        TaskRouting(2, seed=-1)
