"""Task embedding: the input of the top-down stream."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

from keras_mtl.layers import task_ids as task_ids_lib
from keras_mtl.layers.types import Shape, Tensor


@keras.saving.register_keras_serializable(package="keras_mtl")
class TaskEmbedding(keras.layers.Layer):
    """Maps a task id to a learned tensor of shape `target_shape`.

    The top-down network's task embedding: "a fully connected layer" on the one-hot task
    (Sec. 4, App. A), i.e. one learned tensor per task with no bias, equivalently an embedding
    lookup. It adds `num_tasks * prod(target_shape)` parameters (the Multi-MNIST LeNet: 320
    per task, Table 5a). Out-of-range ids raise (TensorFlow, outside XLA) and give NaN
    everywhere.

    Reference:
        Top-down modulation network, Sec. 3.3 and Appendix A, Table 5.

    Args:
        num_tasks: int >= 1, the number of tasks.
        target_shape: int or tuple of ints, the shape of one task's embedding
            (e.g. `(h, w, c)` to start the TD stream at the top BU resolution).
        embeddings_initializer: initializer of the `(num_tasks, prod(target_shape))` table.
        embeddings_regularizer: optional regularizer of that table.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: task ids, integers of shape `(batch,)` or `(batch, 1)`.

    Input shape:
        `(batch,)` or `(batch, 1)`.

    Output shape:
        `(batch,) + target_shape`.

    Example:

    >>> import numpy as np
    >>> tuple(TaskEmbedding(num_tasks=3, target_shape=(4, 4, 20))(np.array([0, 2])).shape)
    (2, 4, 4, 20)
    """

    def __init__(
        self,
        num_tasks: int,
        target_shape: int | Sequence[int],
        embeddings_initializer: str | keras.initializers.Initializer = "glorot_uniform",
        embeddings_regularizer: str | keras.regularizers.Regularizer | None = None,
        **kwargs: Any,
    ) -> None:
        num_tasks = task_ids_lib.check_num_tasks(num_tasks)
        if isinstance(target_shape, int):
            target_shape = (target_shape,)
        if not isinstance(target_shape, list | tuple) or not target_shape or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in target_shape
        ):
            raise ValueError(
                "Expected `target_shape` to be a positive int or a tuple of positive ints. "
                f"Received: target_shape={target_shape!r}"
            )
        super().__init__(**kwargs)
        self.num_tasks = num_tasks
        self.target_shape = tuple(target_shape)
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.embeddings_regularizer = keras.regularizers.get(embeddings_regularizer)

    def build(self, input_shape: Shape) -> None:
        task_ids_lib.check_task_id_shape(input_shape)
        self.embeddings = self.add_weight(
            name="embeddings",
            shape=(self.num_tasks, math.prod(self.target_shape)),
            initializer=self.embeddings_initializer,
            regularizer=self.embeddings_regularizer,
        )

    @property
    def task_specific_weights(self) -> list[keras.Variable]:
        return [self.embeddings]

    def call(self, inputs: Tensor) -> Tensor:
        ids = task_ids_lib.normalize_task_ids(inputs, self.num_tasks)
        rows = task_ids_lib.gather_task_rows(self.embeddings, ids, self.num_tasks)
        return ops.reshape(rows, (-1,) + self.target_shape)

    def compute_output_spec(self, inputs: Tensor, *args: Any, **kwargs: Any) -> Any:
        task_ids_lib.check_task_id_dtype(inputs)
        return super().compute_output_spec(inputs, *args, **kwargs)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        task_ids_lib.check_task_id_shape(input_shape)
        return (tuple(input_shape)[0],) + self.target_shape

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "num_tasks": self.num_tasks,
                "target_shape": self.target_shape,
                "embeddings_initializer": keras.initializers.serialize(
                    self.embeddings_initializer
                ),
                "embeddings_regularizer": keras.regularizers.serialize(
                    self.embeddings_regularizer
                ),
            }
        )
        return config
