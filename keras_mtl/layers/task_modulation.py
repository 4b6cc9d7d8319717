"""Task-specific channel modulation (Zhao et al., ECCV 2018)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

from keras_mtl.layers import task_ids as task_ids_lib
from keras_mtl.layers.task_conditioned_layer import TaskConditionedLayer
from keras_mtl.layers.types import Shape, Tensor

MODES = ("scale", "projection")


def modulate_scale(features: Tensor, weights: Tensor) -> Tensor:
    """Zhao Eq. 5: `x'[..., c] = x[..., c] * w[c]` with one row of `weights` per sample.

    Args:
        features: tensor `(batch, ..., C)`.
        weights: tensor `(batch, C)`, each sample's task vector.

    Returns:
        The modulated features, shape of `features`.
    """
    return features * task_ids_lib.broadcast_channels(weights, len(features.shape))


def modulate_projection(features: Tensor, weights: Tensor) -> Tensor:
    """Zhao Eq. 4: `x'[..., i] = sum_j x[..., j] * W[i, j]` with one `W` per sample.

    Args:
        features: tensor `(batch, ..., C)`.
        weights: tensor `(batch, C, C)`, each sample's task matrix.

    Returns:
        The projected features, shape of `features`.
    """
    channels = features.shape[-1]
    flat = ops.reshape(features, (ops.shape(features)[0], -1, channels))
    out = ops.matmul(flat, ops.transpose(weights, (0, 2, 1)))
    return ops.reshape(out, ops.shape(features))


@keras.saving.register_keras_serializable(package="keras_mtl")
class StackedIdentity(keras.initializers.Initializer):
    """Initialises a `(num_tasks, C, C)` tensor with one identity matrix per task.

    The default kernel initializer of `TaskModulation(mode="projection")`: every task starts
    with the identity projection (Zhao et al. Sec. 4.1 initialise the modules to the identity).

    Example:

    >>> tuple(StackedIdentity()((2, 3, 3)).shape)
    (2, 3, 3)
    """

    def __call__(self, shape: Sequence[int], dtype: str | None = None) -> Tensor:
        if len(shape) != 3 or shape[1] != shape[2]:
            raise ValueError(
                f"Expected a shape (num_tasks, C, C) for StackedIdentity. Received: shape={shape}"
            )
        eye = ops.eye(shape[1], dtype=dtype)
        return ops.broadcast_to(eye[None], shape)


@keras.saving.register_keras_serializable(package="keras_mtl")
class TaskModulation(TaskConditionedLayer):
    """Modulates features with learned per-task channel weights.

    The modulation module of Zhao et al. (Sec. 3.2): each task `t` owns a small set of
    parameters `W_t` that re-weights the channels of a shared feature map, so that tasks can
    couple or decouple their use of shared features. With `mode="scale"` (Eq. 5, the paper's
    default) `W_t` is a vector of size C and `x'[..., c] = x[..., c] * W_t[c]`; with
    `mode="projection"` (Eq. 4) `W_t` is a C x C matrix and
    `x'[..., i] = sum_j x[..., j] * W_t[i, j]`. Parameters are initialised to ones / identity
    (Sec. 4.1), so a fresh layer is the identity for every task. Each sample is modulated with
    its own task's parameters; tasks absent from a batch receive zero gradient.

    Added parameters: `num_tasks * C` (scale) or `num_tasks * C * C` (projection); e.g. the
    Table 2 network modulated at block4, block5 and fc for 20 tasks adds
    20 x (128 + 128 + 256) = 10,240 (Table 3, "10k").

    Reference:
        Zhao, Li, Shen, Liang, Wu. "A Modulation Module for Multi-task Learning with
        Applications in Image Retrieval". ECCV 2018. Eq. 4 and 5.

    Args:
        num_tasks: int >= 1, the number of tasks.
        mode: `"scale"` (per-task channel vector, Eq. 5) or `"projection"` (per-task C x C
            channel projection, Eq. 4).
        kernel_initializer: initializer of the `(num_tasks, C)` or `(num_tasks, C, C)` task
            kernel. Defaults to ones (scale) or one identity per task (projection).
        kernel_regularizer: optional regularizer of the task kernel.
        kernel_constraint: optional constraint of the task kernel.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: list or tuple `[features, task_id]`; `features` of shape `(batch, ..., C)`,
            `task_id` integers of shape `(batch,)` or `(batch, 1)` in `[0, num_tasks)`.

    Input shape:
        `[(batch, ..., C), (batch,) or (batch, 1)]`.

    Output shape:
        `(batch, ..., C)`, the shape of `features`.

    Example:

    >>> import numpy as np
    >>> layer = TaskModulation(num_tasks=3)
    >>> x = np.ones((2, 4, 4, 8), "float32")
    >>> tuple(layer([x, np.array([0, 2])]).shape)
    (2, 4, 4, 8)
    """

    def __init__(
        self,
        num_tasks: int,
        mode: str = "scale",
        kernel_initializer: str | keras.initializers.Initializer | None = None,
        kernel_regularizer: str | keras.regularizers.Regularizer | None = None,
        kernel_constraint: str | keras.constraints.Constraint | None = None,
        **kwargs: Any,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"Expected `mode` to be one of {MODES}. Received: mode={mode!r}")
        super().__init__(num_tasks, **kwargs)
        self.mode = mode
        if kernel_initializer is None:
            kernel_initializer = "ones" if mode == "scale" else StackedIdentity()
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)

    def build(self, input_shape: Sequence[Shape]) -> None:
        channels = self._features_shape(input_shape)[-1]
        shape = (self.num_tasks, channels)
        if self.mode == "projection":
            shape += (channels,)
        self.task_kernel = self.add_weight(
            name="task_kernel",
            shape=shape,
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )

    @property
    def task_specific_weights(self) -> list[keras.Variable]:
        return [self.task_kernel]

    def call(self, inputs: Sequence[Tensor]) -> Tensor:
        features, ids = self._split_and_check(inputs)
        weights = task_ids_lib.gather_task_rows(self.task_kernel, ids, self.num_tasks)
        if self.mode == "scale":
            return modulate_scale(features, weights)
        return modulate_projection(features, weights)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "mode": self.mode,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
                "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
            }
        )
        return config
