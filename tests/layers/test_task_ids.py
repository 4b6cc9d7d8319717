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


# --- validate_task_ids: the one check (dtype, shape, range before any cast) ------------------


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64", "uint8", "uint16",
                                   "uint32", "uint64"])
@pytest.mark.parametrize("column", [False, True])
def test_validate_accepts_every_integer_dtype(dtype, column):
    ids = np.array([0, 2, 1], dtype)
    got = task_ids.validate_task_ids(ids[:, None] if column else ids, 3)
    assert got.dtype == tf.int32 and tuple(got.shape) == (3,)
    np.testing.assert_array_equal(got, [0, 2, 1])


def test_int64_ids_beyond_int32_raise_eager_and_graph():
    # 2**32 + 1 is 1 after a cast to int32: the range must be checked before that cast.
    ids = tf.constant([0, 2**32 + 1], tf.int64)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"num_tasks=3.*\[4294967297\]"):
        task_ids.normalize_task_ids(ids, 3)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"(?s)num_tasks=3.*4294967297"):
        tf.function(lambda t: task_ids.normalize_task_ids(t, 3))(ids)


@pytest.mark.parametrize("bad", [-(2**31) - 5, 2**31, 2**40, -1, 3])
def test_validate_rejects_out_of_range_int64(bad):
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"Expected `task_id` values in"):
        task_ids.validate_task_ids(np.array([1, bad], "int64"), 3)


def test_validate_rejects_uint64_above_int64_range():
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"num_tasks=3"):
        task_ids.validate_task_ids(np.array([1, 2**64 - 1], "uint64"), 3)


def test_validate_compares_small_dtypes_without_overflow():
    # 120 as int8 is a valid id for 200 tasks; 200 would not fit in int8 for the comparison.
    np.testing.assert_array_equal(task_ids.validate_task_ids(np.array([120], "int8"), 200), [120])


@pytest.mark.parametrize("ids", [np.array([0.0, 1.0], "float32"), np.array([0.0]),
                                 np.array([True, False]), [0.5, 1.0]])
def test_validate_rejects_non_integer_dtypes(ids):
    with pytest.raises(TypeError, match=r"Expected `task_id` to have an integer dtype.*Received: "
                                        r"task_id.dtype=(float32|float64|bool)"):
        task_ids.validate_task_ids(ids, 3)


def test_validate_names_the_argument():
    with pytest.raises(TypeError, match=r"Expected `tid` to have an integer dtype"):
        task_ids.validate_task_ids(np.zeros(2, "float32"), 3, name="tid")
    with pytest.raises(ValueError, match=r"Expected `tid` of shape \(batch,\)"):
        task_ids.validate_task_ids(np.zeros((2, 2), "int32"), 3, name="tid")
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"Expected `tid` values in"):
        task_ids.validate_task_ids(np.array([5]), 3, name="tid")


def test_validate_under_xla_returns_minus_one_for_bad_ids():
    # XLA drops Assert ops: the range is still compared, bad ids come out as -1 (which every
    # task-conditioned layer turns into a NaN row); int64 overflow does not wrap to task 1.
    ids = tf.constant([0, 2, 3, -1, 2**32 + 1, -(2**32) + 1], tf.int64)
    got = tf.function(lambda t: task_ids.validate_task_ids(t, 3), jit_compile=True)(ids)
    np.testing.assert_array_equal(got, [0, 2, -1, -1, -1, -1])


def test_validated_ids_are_not_checked_again(monkeypatch):
    ids = task_ids.validate_task_ids(tf.constant([0, 1]), 3)
    calls = []
    original = task_ids.validate_task_ids
    monkeypatch.setattr(task_ids, "validate_task_ids", lambda *a, **k: calls.append(a) or
                        original(*a, **k))
    task_ids.normalize_task_ids(ids, 3)  # same number of tasks: reused
    task_ids.normalize_task_ids(ids, 5, features=tf.zeros((2, 4)))  # more tasks: still valid
    assert calls == []
    task_ids.normalize_task_ids(ids, 2)  # fewer tasks: checked again
    task_ids.normalize_task_ids(tf.constant([0, 1]), 3)  # not validated yet
    assert len(calls) == 2
