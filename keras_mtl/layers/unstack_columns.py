"""`UnstackColumns`: `(batch, T, ...)` -> a list of T column tensors."""

from __future__ import annotations

from typing import Any

import keras

from keras_mtl.layers import task_ids as task_ids_lib
from keras_mtl.layers.types import Shape, Tensor


@keras.saving.register_keras_serializable(package="keras_mtl")
class UnstackColumns(keras.layers.Layer):
    """Splits stacked task columns `(batch, T, ...)` into a list of T tensors `(batch, ...)`.

    The last layer of a stack of column layers (`ColumnConv2D`, `ColumnDense`, `CrossStitch`
    on a stacked tensor): it hands each task's column to that task's head.

    Args:
        num_tasks: int >= 1, the number of task columns T.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: the stacked columns, `(batch, T, ...)`.

    Input shape:
        `(batch, T, ...)`.

    Output shape:
        A list of T tensors `(batch, ...)`.

    Example:

    >>> import numpy as np
    >>> [tuple(c.shape) for c in UnstackColumns(2)(np.zeros((4, 2, 3), "float32"))]
    [(4, 3), (4, 3)]
    """

    def __init__(self, num_tasks: int, **kwargs: Any) -> None:
        num_tasks = task_ids_lib.check_num_tasks(num_tasks)
        super().__init__(**kwargs)
        self.num_tasks = num_tasks

    @property
    def task_specific_weights(self) -> list[keras.Variable]:
        """None: the layer has no variables."""
        return []

    def call(self, inputs: Tensor) -> list[Tensor]:
        return [inputs[:, t] for t in range(self.num_tasks)]

    def compute_output_shape(self, input_shape: Shape) -> list[Shape]:
        return [(input_shape[0],) + tuple(input_shape[2:])] * self.num_tasks

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"num_tasks": self.num_tasks})
        return config
