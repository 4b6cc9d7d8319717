"""The model-input layer that checks task ids once per call."""

from __future__ import annotations

from typing import Any

import keras

from keras_mtl.layers import task_ids as task_ids_lib
from keras_mtl.layers.types import Shape, Tensor


@keras.saving.register_keras_serializable(package="keras_mtl")
class TaskIdValidation(keras.layers.Layer):
    """Checks a model's task-id input once and passes the ids on as int32.

    Placed right after the `task_id` input (every builder of `keras_mtl.models` does so), it
    runs `keras_mtl.layers.task_ids.validate_task_ids` once per model call; the task-conditioned
    layers downstream reuse the checked ids instead of checking them again. The checks: an
    integer dtype (a float `Input` raises `TypeError` when the model is built), shape
    `(batch,)` or `(batch, 1)`, and values in `[0, num_tasks)` compared in int64 before the cast
    to int32, so an int64 id such as `2**32 + 1` is out of range instead of wrapping around to a
    valid task. Declare the `task_id` input as int64 for that last check to see such ids: a
    functional model casts each input to its `Input` dtype before any layer runs.

    Outside XLA an out-of-range id raises `tf.errors.InvalidArgumentError` ("Expected `task_id`
    values in [0, num_tasks=...)"), eagerly, in `tf.function` and in `predict`, on CPU and GPU.
    Under XLA (`jit_compile=True`) TensorFlow drops `Assert` ops: the layer outputs `-1` for
    such an id and the task-conditioned layers make that sample's output NaN.

    Args:
        num_tasks: int >= 1, the number of tasks.
        **kwargs: base `keras.layers.Layer` arguments (`name`, ...).

    Call arguments:
        inputs: integer tensor of task ids, shape `(batch,)` or `(batch, 1)`.

    Input shape:
        `(batch,)` or `(batch, 1)`, any integer dtype.

    Output shape:
        `(batch,)`, int32.

    Example:

    >>> import numpy as np
    >>> TaskIdValidation(num_tasks=3)(np.array([[2], [0]], "int64")).numpy().tolist()
    [2, 0]
    """

    def __init__(self, num_tasks: int, **kwargs: Any) -> None:
        self.num_tasks = task_ids_lib.check_num_tasks(num_tasks)
        super().__init__(**kwargs)

    @property
    def task_specific_weights(self) -> list[keras.Variable]:
        """None: the layer has no variables."""
        return []

    def call(self, inputs: Tensor) -> Tensor:
        return task_ids_lib.validate_task_ids(inputs, self.num_tasks)

    def compute_output_spec(self, inputs: Tensor) -> keras.KerasTensor:
        task_ids_lib.check_task_id_dtype(inputs)
        return keras.KerasTensor(self.compute_output_shape(inputs.shape), dtype="int32")

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        task_ids_lib.check_task_id_shape(input_shape)
        return (tuple(input_shape)[0],)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"num_tasks": self.num_tasks})
        return config
