"""Validation and lookup of per-sample task ids, shared by every task-conditioned layer.

A task id tensor holds one integer per sample, of shape `(batch,)` or `(batch, 1)`. The
functions here check what can be checked statically (dtype, rank, batch size) when the layer is
built or called, and guard the values at run time:

- with the TensorFlow backend, outside XLA, an id outside `[0, num_tasks)` raises
  `tf.errors.InvalidArgumentError` (eager and `tf.function`, CPU and GPU: the check is an
  explicit `Assert` op, it does not rely on the CPU kernel of `gather`);
- everywhere (XLA included, where TensorFlow drops `Assert` ops), parameters looked up for an
  out-of-range id are replaced with NaN, so such a sample can never produce a plausible-looking
  result (a silent zero row is what GPU `gather` would otherwise return).
"""

import math

import keras
from keras import ops


def check_num_tasks(num_tasks, minimum=1):
    """Returns `num_tasks` as an int, or raises a Keras-style `ValueError`."""
    if isinstance(num_tasks, bool) or not isinstance(num_tasks, int | float) or (
        isinstance(num_tasks, float) and not num_tasks.is_integer()
    ):
        raise ValueError(
            f"Expected `num_tasks` to be an integer >= {minimum}. Received: num_tasks={num_tasks!r}"
        )
    if num_tasks < minimum:
        raise ValueError(
            f"Expected `num_tasks` to be an integer >= {minimum}. Received: num_tasks={num_tasks}"
        )
    return int(num_tasks)


def split_inputs(inputs, layer_name):
    """Splits `[features, task_id]` (list or tuple) or raises a clear error."""
    is_single_shape = isinstance(inputs, list | tuple) and any(
        d is None or isinstance(d, int) for d in inputs
    )
    if not isinstance(inputs, list | tuple) or len(inputs) != 2 or is_single_shape:
        if is_single_shape or not isinstance(inputs, list | tuple):
            received = f"a single tensor or shape {getattr(inputs, 'shape', inputs)}"
        else:
            received = f"a {type(inputs).__name__} of length {len(inputs)}"
        raise ValueError(
            f"Layer '{layer_name}' expects its inputs as a list or tuple "
            f"`[features, task_id]`. Received: {received}."
        )
    return inputs[0], inputs[1]


def check_task_id_shape(task_id_shape, features_shape=None, min_feature_rank=2):
    """Static checks of the task id shape (and the features' shape when given)."""
    task_id_shape = tuple(task_id_shape)
    if len(task_id_shape) not in (1, 2) or (len(task_id_shape) == 2 and task_id_shape[1] != 1):
        raise ValueError(
            "Expected `task_id` of shape (batch,) or (batch, 1). "
            f"Received: task_id.shape={task_id_shape}"
        )
    if features_shape is None:
        return
    features_shape = tuple(features_shape)
    if len(features_shape) < min_feature_rank:
        raise ValueError(
            f"Expected `features` of rank >= {min_feature_rank} with channels last, e.g. "
            f"(batch, channels) or (batch, height, width, channels). "
            f"Received: features.shape={features_shape}"
        )
    if features_shape[-1] is None:
        raise ValueError(
            "Expected `features` to have a known channel (last) dimension. "
            f"Received: features.shape={features_shape}"
        )
    f_batch, t_batch = features_shape[0], task_id_shape[0]
    if f_batch is not None and t_batch is not None and f_batch != t_batch:
        raise ValueError(
            "Expected `features` and `task_id` to have the same batch size. "
            f"Received: features.shape={features_shape}, task_id.shape={task_id_shape}"
        )


def check_task_id_dtype(task_id):
    """Raises `TypeError` unless `task_id` has an integer dtype."""
    dtype = keras.backend.standardize_dtype(task_id.dtype)
    if "int" not in dtype:
        raise TypeError(
            "Expected `task_id` to have an integer dtype (e.g. int32). "
            f"Received: task_id.dtype={dtype}"
        )


def normalize_task_ids(task_id, num_tasks, features=None, min_feature_rank=2):
    """Validates `task_id` and returns it as an int32 tensor of shape `(batch,)`.

    Args:
        task_id: integer tensor of shape `(batch,)` or `(batch, 1)`.
        num_tasks: the number of tasks; valid ids are `0 .. num_tasks - 1`.
        features: optional features tensor whose batch size must match.
        min_feature_rank: minimum rank required of `features`.

    Returns:
        An int32 tensor of shape `(batch,)`, guarded by a run-time range check.
    """
    check_task_id_dtype(task_id)
    check_task_id_shape(
        task_id.shape,
        None if features is None else features.shape,
        min_feature_rank=min_feature_rank,
    )
    ids = ops.reshape(ops.cast(task_id, "int32"), (-1,))
    if keras.backend.backend() == "tensorflow":
        ids = _tf_guard(ids, num_tasks, features)
    return ids


def _tf_guard(ids, num_tasks, features):
    import tensorflow as tf

    checks = [
        tf.debugging.Assert(
            tf.reduce_all((ids >= 0) & (ids < num_tasks)),
            [
                f"Expected `task_id` values in [0, num_tasks={num_tasks}). "
                "Received: task_id with min",
                tf.reduce_min(ids),
                "and max",
                tf.reduce_max(ids),
            ],
        )
    ]
    if features is not None:
        checks.append(
            tf.debugging.assert_equal(
                tf.shape(features)[0],
                tf.shape(ids)[0],
                message="Expected `features` and `task_id` to have the same batch size",
            )
        )
    with tf.control_dependencies(checks):
        return tf.identity(ids)


def valid_task_mask(ids, num_tasks):
    """Boolean `(batch,)` tensor: True where `0 <= id < num_tasks`."""
    return ops.logical_and(ops.greater_equal(ids, 0), ops.less(ids, num_tasks))


def gather_task_rows(params, ids, num_tasks):
    """Gathers `params[ids]` (one row per sample), NaN for out-of-range ids.

    Args:
        params: tensor of shape `(num_tasks, ...)`.
        ids: int32 tensor of shape `(batch,)`.
        num_tasks: number of rows of `params`.

    Returns:
        A tensor of shape `(batch,) + params.shape[1:]`.
    """
    safe = ops.clip(ids, 0, num_tasks - 1)
    rows = ops.take(params, safe, axis=0)
    valid = ops.reshape(valid_task_mask(ids, num_tasks), (-1,) + (1,) * (len(rows.shape) - 1))
    return ops.where(valid, rows, ops.full_like(rows, math.nan))


def broadcast_channels(rows, rank):
    """Reshapes `(batch, C)` rows to `(batch, 1, ..., 1, C)` to broadcast over `rank` dims."""
    return ops.reshape(rows, (-1,) + (1,) * (rank - 2) + (rows.shape[-1],))
