"""Selects each sample's own task column (the output of a cross-stitch network)."""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import ops

from keras_mtl.layers import task_columns
from keras_mtl.layers import task_ids as task_ids_lib
from keras_mtl.layers.task_conditioned_layer import TaskConditionedLayer
from keras_mtl.layers.types import Shape, Tensor


def select_columns(stacked: Tensor, ids: Tensor) -> Tensor:
    """Returns `stacked[b, ids[b]]` for every sample `b`.

    Args:
        stacked: tensor `(batch, T, ...)`.
        ids: int32 tensor `(batch,)` with values in `[0, T)`.
    """
    index = ops.reshape(ids, (-1, 1) + (1,) * (len(stacked.shape) - 2))
    index = ops.broadcast_to(index, (ops.shape(stacked)[0], 1) + tuple(ops.shape(stacked)[2:]))
    return ops.squeeze(ops.take_along_axis(stacked, index, axis=1), axis=1)


@keras.saving.register_keras_serializable(package="keras_mtl")
class SelectTaskColumn(TaskConditionedLayer):
    """Picks, for each sample, the task column named by its task id.

    A cross-stitch network (Misra et al. 2016) keeps one column per task; a sample of task t
    is predicted by column t. This layer turns the T columns into one tensor per sample, so a
    cross-stitch model has the same `[image, task_id] -> output` interface as the other
    task-conditioned models. Out-of-range ids raise (TensorFlow, outside XLA) and give NaN
    everywhere, never another task's column.

    Args:
        num_tasks: int >= 1, the number of columns T.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: list or tuple `[columns, task_id]`; `columns` is a list of T tensors of shape
            `(batch, ...)` or one stacked tensor `(batch, T, ...)`; `task_id` integers of shape
            `(batch,)` or `(batch, 1)`.

    Input shape:
        `[T x (batch, ...) or (batch, T, ...), (batch,) or (batch, 1)]`.

    Output shape:
        `(batch, ...)`.

    Example:

    >>> import numpy as np
    >>> cols = [np.zeros((2, 3), "float32"), np.ones((2, 3), "float32")]
    >>> np.asarray(SelectTaskColumn(2)([cols, np.array([1, 0])])).tolist()
    [[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]
    """

    def _features_shape(self, input_shape: Sequence) -> Shape:
        columns_shape, task_id_shape = task_ids_lib.split_inputs(input_shape, self.name)
        column = task_columns.column_shape(columns_shape, self.num_tasks)
        task_ids_lib.check_task_id_shape(task_id_shape, column)
        return column

    def build(self, input_shape: Sequence) -> None:
        self._features_shape(input_shape)

    def call(self, inputs: Sequence) -> Tensor:
        columns, task_id = task_ids_lib.split_inputs(inputs, self.name)
        columns, _ = task_columns.stack_columns(columns, self.num_tasks)
        ids = task_ids_lib.normalize_task_ids(task_id, self.num_tasks, columns)
        safe = ops.clip(ids, 0, self.num_tasks - 1)
        out = select_columns(columns, safe)
        valid = ops.reshape(
            task_ids_lib.valid_task_mask(ids, self.num_tasks), (-1,) + (1,) * (len(out.shape) - 1)
        )
        return ops.where(valid, out, ops.full_like(out, float("nan")))
