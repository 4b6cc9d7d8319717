"""Validation and lookup of per-sample task ids, shared by every task-conditioned layer.

A task id tensor holds one integer per sample, of shape `(batch,)` or `(batch, 1)`, with values
in `[0, num_tasks)`. `validate_task_ids` is the one check, used by the `TaskIdValidation` layer
at the input of every builder's model, by the layers themselves when they are called on ids
that were not validated yet, by the serving signature (`keras_mtl.export`) and by the training
step:

- the dtype must be an integer type (a float or bool tensor raises `TypeError` when the layer
  or function is called, before anything runs);
- the shape must be `(batch,)` or `(batch, 1)` (`ValueError`);
- the values are compared with `[0, num_tasks)` in the ids' own dtype, widened to int64, before
  anything is cast to int32: an int64 id such as `2**32 + 1` is out of range, it never wraps
  around to a valid task;
- with the TensorFlow backend, outside XLA, an id out of range raises
  `tf.errors.InvalidArgumentError` ("Expected `task_id` values in [0, num_tasks=...)") in eager
  mode and inside `tf.function`, on CPU and GPU alike (an explicit `Assert` op; it does not rely
  on the CPU kernel of `gather`);
- under XLA (`jit_compile=True`), where TensorFlow drops `Assert` ops, the range is still
  compared, but cannot raise: an out-of-range id (int64 overflow included) comes out as `-1`,
  and every task-conditioned layer replaces the parameters it looks up for an id outside
  `[0, num_tasks)` with NaN, so that sample's output is NaN (never a plausible-looking result;
  the other samples are unaffected). A training step can test `ids < 0` to refuse the batch.

The ids returned by `validate_task_ids` carry a marker, so the layers downstream of a
`TaskIdValidation` layer reuse them instead of adding one range check per layer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
from keras import ops

from keras_mtl.layers.types import Shape, Tensor

# Attribute set on the int32 ids returned by `validate_task_ids`: the `num_tasks` they were
# checked against. A layer with at least that many tasks does not check them again.
_CHECKED_ATTR = "_keras_mtl_checked_num_tasks"


def check_num_tasks(num_tasks: int, minimum: int = 1) -> int:
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


def split_inputs(inputs: Sequence, layer_name: str) -> tuple:
    """Splits `[features, task_id]` (list or tuple) or raises a clear error.

    Works on tensors and on shapes alike; `layer_name` names the layer in the error.
    """
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


def check_task_id_shape(
    task_id_shape: Shape,
    features_shape: Shape | None = None,
    min_feature_rank: int = 2,
    name: str = "task_id",
) -> None:
    """Static checks of the task id shape (and the features' shape when given).

    Args:
        task_id_shape: must be `(batch,)` or `(batch, 1)`.
        features_shape: optional; must have rank >= `min_feature_rank`, a known channel
            (last) dimension and the batch size of `task_id_shape`.
        min_feature_rank: minimum rank of `features_shape`.
        name: the name of the task-id argument in error messages.
    """
    task_id_shape = tuple(task_id_shape)
    if len(task_id_shape) not in (1, 2) or (len(task_id_shape) == 2 and task_id_shape[1] != 1):
        raise ValueError(
            f"Expected `{name}` of shape (batch,) or (batch, 1). "
            f"Received: {name}.shape={task_id_shape}"
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


def check_task_id_dtype(task_id: Tensor, name: str = "task_id") -> None:
    """Raises `TypeError` unless `task_id` has an integer dtype (checked statically, no op)."""
    dtype = keras.backend.standardize_dtype(task_id.dtype)
    if "int" not in dtype:
        raise TypeError(
            f"Expected `{name}` to have an integer dtype (e.g. int32). "
            f"Received: {name}.dtype={dtype}"
        )


def validate_task_ids(task_id: Tensor, num_tasks: int, name: str = "task_id") -> Tensor:
    """Checks per-sample task ids and returns them as an int32 tensor of shape `(batch,)`.

    The library's one task-id check (see the module docstring for what happens where): the
    dtype must be an integer type and the shape `(batch,)` or `(batch, 1)` (both checked when
    the function is called, also while tracing); the values must lie in `[0, num_tasks)`,
    compared in int64 before the cast to int32, so that no id wraps around to a valid task.
    Outside XLA a bad value raises at run time (eager, `tf.function`, CPU and GPU); under XLA it
    comes out as `-1`, which every task-conditioned layer turns into a NaN output row.

    Args:
        task_id: tensor, array or list of ids, any integer dtype, shape `(batch,)` or
            `(batch, 1)`.
        num_tasks: int >= 1, the number of tasks; valid ids are `0 .. num_tasks - 1`.
        name: the name of the argument in error messages.

    Returns:
        An int32 tensor of shape `(batch,)`: the ids, computed only after the range check passed
        (under XLA: `-1` where an id is out of range).

    Raises:
        TypeError: `task_id` does not have an integer dtype.
        ValueError: `task_id` does not have shape `(batch,)` or `(batch, 1)`.
        tf.errors.InvalidArgumentError: at run time (TensorFlow backend, not under XLA), a value
            is outside `[0, num_tasks)`. The message starts "Expected `task_id` values in
            [0, num_tasks=...)."; eagerly it lists the bad values and their positions, in a
            graph it gives the batch's min and max.

    Example:

    >>> import numpy as np
    >>> validate_task_ids(np.array([[0], [2]], "int64"), num_tasks=3).numpy().tolist()
    [0, 2]
    >>> validate_task_ids(np.array([0, 2**32 + 1], "int64"), num_tasks=3)
    Traceback (most recent call last):
    ...
    tensorflow...InvalidArgumentError: Expected `task_id` values...num_tasks=3)...[4294967297]...
    """
    num_tasks = check_num_tasks(num_tasks)
    if not ops.is_tensor(task_id):
        task_id = ops.convert_to_tensor(task_id)
    check_task_id_dtype(task_id, name)
    check_task_id_shape(task_id.shape, name=name)
    # Widening to int64 is exact for every signed and unsigned integer type but uint64, whose
    # values >= 2**63 turn negative: out of range either way.
    wide = ops.reshape(ops.cast(task_id, "int64"), (-1,))
    valid = valid_task_mask(wide, num_tasks)
    narrow = ops.cast(wide, "int32")
    ids = ops.where(valid, narrow, ops.full_like(narrow, -1))
    if keras.backend.backend() == "tensorflow":
        ids = _tf_assert_in_range(ids, wide, valid, num_tasks, name)
    _mark_checked(ids, num_tasks)
    return ids


def is_validated(task_id: Tensor, num_tasks: int) -> bool:
    """True when `task_id` came from `validate_task_ids` with at most `num_tasks` tasks."""
    checked = getattr(task_id, _CHECKED_ATTR, None)
    return checked is not None and checked <= num_tasks


def normalize_task_ids(
    task_id: Tensor,
    num_tasks: int,
    features: Tensor | None = None,
    min_feature_rank: int = 2,
) -> Tensor:
    """Validates `task_id` for a layer and returns it as an int32 tensor of shape `(batch,)`.

    Ids already returned by `validate_task_ids` (e.g. by the model's `TaskIdValidation` input
    layer) for at most `num_tasks` tasks are used as they are; any other ids go through
    `validate_task_ids`. The batch sizes of `features` and `task_id` are compared as well.

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
    ids = task_id if is_validated(task_id, num_tasks) else validate_task_ids(task_id, num_tasks)
    if features is not None and keras.backend.backend() == "tensorflow":
        ids = _tf_assert_same_batch(ids, features)
    return ids


def _mark_checked(ids, num_tasks):
    try:
        setattr(ids, _CHECKED_ATTR, num_tasks)
    except (AttributeError, TypeError):  # a tensor type without instance attributes
        pass


def _tf_assert_in_range(ids, wide, valid, num_tasks, name):
    import tensorflow as tf

    expected = f"Expected `{name}` values in [0, num_tasks={num_tasks})."
    if tf.executing_eagerly():
        valid = valid.numpy()
        if not valid.all():
            bad = wide.numpy()[~valid]
            positions = (~valid).nonzero()[0]
            raise tf.errors.InvalidArgumentError(
                None,
                None,
                f"{expected} Received: {len(bad)} out-of-range value(s) "
                f"{bad[:5].tolist()} at position(s) {positions[:5].tolist()}",
            )
        return ids
    check = tf.debugging.Assert(
        tf.reduce_all(valid),
        [f"{expected} Received: {name} with min", tf.reduce_min(wide), "and max",
         tf.reduce_max(wide)],
    )
    with tf.control_dependencies([check]):
        return tf.identity(ids)


def _tf_assert_same_batch(ids, features):
    import tensorflow as tf

    check = tf.debugging.assert_equal(
        tf.shape(features)[0],
        tf.shape(ids)[0],
        message="Expected `features` and `task_id` to have the same batch size",
    )
    with tf.control_dependencies([check]):
        out = tf.identity(ids)
    checked = getattr(ids, _CHECKED_ATTR, None)
    if checked is not None:
        _mark_checked(out, checked)
    return out


def valid_task_mask(ids: Tensor, num_tasks: int) -> Tensor:
    """Boolean `(batch,)` tensor: True where `0 <= id < num_tasks`."""
    return ops.logical_and(ops.greater_equal(ids, 0), ops.less(ids, num_tasks))


def gather_task_rows(params: Tensor, ids: Tensor, num_tasks: int) -> Tensor:
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


def broadcast_channels(rows: Tensor, rank: int) -> Tensor:
    """Reshapes `(batch, C)` rows to `(batch, 1, ..., 1, C)` to broadcast over `rank` dims."""
    return ops.reshape(rows, (-1,) + (1,) * (rank - 2) + (rows.shape[-1],))
