"""Task-id validation shared by every task-conditioned layer."""

import numpy as np
import pytest
import tensorflow as tf

from keras_mtl.layers import task_ids


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "3", None])
def test_check_num_tasks_rejects(bad):
    with pytest.raises(ValueError, match=r"Expected `num_tasks`.*Received: num_tasks="):
        task_ids.check_num_tasks(bad)


def test_check_num_tasks_accepts_integral():
    assert task_ids.check_num_tasks(3) == 3
    assert task_ids.check_num_tasks(4.0) == 4


def test_normalize_accepts_both_shapes():
    a = task_ids.normalize_task_ids(tf.constant([0, 2, 1]), 3)
    b = task_ids.normalize_task_ids(tf.constant([[0], [2], [1]]), 3)
    np.testing.assert_array_equal(a, [0, 2, 1])
    np.testing.assert_array_equal(b, [0, 2, 1])
    assert a.dtype == tf.int32


@pytest.mark.parametrize("ids", [[0, 3], [-1, 0]])
def test_normalize_raises_eager_and_graph(ids):
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"num_tasks=3"):
        task_ids.normalize_task_ids(tf.constant(ids), 3)

    @tf.function
    def graph(x):
        return task_ids.normalize_task_ids(x, 3)

    with pytest.raises(tf.errors.InvalidArgumentError, match=r"num_tasks=3"):
        graph(tf.constant(ids))


def test_float_ids_raise_type_error():
    with pytest.raises(TypeError, match=r"integer dtype.*Received: task_id.dtype=float32"):
        task_ids.normalize_task_ids(tf.constant([0.0, 1.0]), 3)


@pytest.mark.parametrize("shape", [(2, 2), (2, 1, 1), ()])
def test_wrong_rank_raises(shape):
    with pytest.raises(ValueError, match=r"\(batch,\) or \(batch, 1\).*Received: task_id.shape"):
        task_ids.normalize_task_ids(tf.zeros(shape, "int32"), 3)


def test_batch_mismatch_raises():
    with pytest.raises(ValueError, match=r"same batch size.*Received: features.shape=\(3, 4\)"):
        task_ids.normalize_task_ids(tf.zeros((2,), "int32"), 3, features=tf.zeros((3, 4)))


def test_features_without_channel_axis_raise():
    with pytest.raises(ValueError, match=r"rank >= 2.*Received: features.shape=\(3,\)"):
        task_ids.normalize_task_ids(tf.zeros((3,), "int32"), 3, features=tf.zeros((3,)))


def test_gather_poisons_out_of_range_rows():
    params = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    rows = task_ids.gather_task_rows(params, tf.constant([1, 2, -1, 0]), 2)
    rows = np.asarray(rows)
    np.testing.assert_array_equal(rows[0], [3.0, 4.0])
    np.testing.assert_array_equal(rows[3], [1.0, 2.0])
    assert np.isnan(rows[1]).all() and np.isnan(rows[2]).all()
