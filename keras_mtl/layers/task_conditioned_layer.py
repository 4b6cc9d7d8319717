"""Base class of the layers called as `layer([features, task_id])`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from keras_mtl.layers import task_ids as task_ids_lib
from keras_mtl.layers.types import Shape, Tensor


class TaskConditionedLayer(keras.layers.Layer):
    """Base class for layers whose output depends on a per-sample task id.

    Subclasses are called as `layer([features, task_id])` (a list or a tuple, like
    `keras.layers.Attention`): `features` has any rank >= 2 with channels last, `task_id` is an
    integer tensor of shape `(batch,)` or `(batch, 1)` with values in `[0, num_tasks)`, so one
    batch may mix tasks. The base class validates `num_tasks`, unpacks and checks the inputs,
    and lists the variables that belong to individual tasks in `task_specific_weights` (the
    gradient-conflict probe treats every other trainable variable as shared).

    Args:
        num_tasks: int >= 1, the number of tasks.
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: list or tuple `[features, task_id]` (see above).

    Example:

    >>> from keras import ops
    >>> class TaskBias(TaskConditionedLayer):
    ...     def build(self, input_shape):
    ...         channels = self._features_shape(input_shape)[-1]
    ...         self.bias = self.add_weight(shape=(self.num_tasks, channels))
    ...     def call(self, inputs):
    ...         features, ids = self._split_and_check(inputs)
    ...         return features + ops.take(self.bias, ids, axis=0)
    """

    def __init__(self, num_tasks: int, **kwargs: Any) -> None:
        self.num_tasks = task_ids_lib.check_num_tasks(num_tasks)
        super().__init__(**kwargs)

    @property
    def task_specific_weights(self) -> list[keras.Variable]:
        """The layer's variables indexed by task (one slice per task)."""
        return []

    def _features_shape(self, input_shape: Sequence[Shape]) -> Shape:
        features_shape, task_id_shape = task_ids_lib.split_inputs(input_shape, self.name)
        task_ids_lib.check_task_id_shape(task_id_shape, features_shape)
        return tuple(features_shape)

    def _split_and_check(self, inputs: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
        features, task_id = task_ids_lib.split_inputs(inputs, self.name)
        ids = task_ids_lib.normalize_task_ids(task_id, self.num_tasks, features)
        return features, ids

    def compute_output_spec(self, inputs: Sequence, *args: Any, **kwargs: Any) -> Any:
        # Symbolic calls (functional API) use compute_output_shape and never run `call`:
        # check the task-id dtype here so a float Input fails when the model is built.
        _, task_id = task_ids_lib.split_inputs(inputs, self.name)
        task_ids_lib.check_task_id_dtype(task_id)
        return super().compute_output_spec(inputs, *args, **kwargs)

    def compute_output_shape(self, input_shape: Sequence[Shape]) -> Shape:
        return self._features_shape(input_shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"num_tasks": self.num_tasks})
        return config
