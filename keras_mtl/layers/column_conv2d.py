"""`ColumnConv2D`: T independent 2D convolutions on stacked task columns (cross-stitch)."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from keras_mtl.layers.column_layer import ColumnLayer
from keras_mtl.layers.types import Shape, Tensor


@keras.saving.register_keras_serializable(package="keras_mtl")
class ColumnConv2D(ColumnLayer):
    """T independent 2D convolutions, column t applied to `inputs[:, t]`.

    The conv layer of a cross-stitch network's T task columns, held in one layer (kernel
    `(T, k, k, C, filters)`), so that `CrossStitch` can mix its stacked output directly. With
    `related_weight = lambda > 0` the columns' kernels start from the same draw and the layer
    adds Bhuin et al.'s related-weights regulariser (Eq. 6-7, `related_form` `"exp"` or
    `"l2"`, learnable `a` (init 1) and `b` (init 0) per column pair) to the model's losses.

    Reference:
        Bhuin et al., cross-stitch networks with related weights, Sec. 3.3, Eq. 6-7.

    Args:
        num_tasks: int >= 1, the number of task columns T.
        filters: output channels of each column.
        kernel_size: int, square kernel size.
        strides: int stride.
        padding: `"valid"` or `"same"`.
        activation: activation applied after the bias (None: linear).
        use_bias: whether each column has a bias.
        related_weight: the weight lambda of the related-weights regulariser (0 disables it).
        related_form: `"exp"` (Eq. 7) or `"l2"`.
        kernel_initializer: initializer of one column's kernel.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: the stacked columns, `(batch, T, H, W, C)`.

    Input shape:
        `(batch, T, H, W, C)`.

    Output shape:
        `(batch, T, H', W', filters)`.

    Example:

    >>> import numpy as np
    >>> conv = ColumnConv2D(num_tasks=2, filters=4, kernel_size=3)
    >>> tuple(conv(np.zeros((1, 2, 8, 8, 3), "float32")).shape)
    (1, 2, 6, 6, 4)
    """

    def __init__(
        self,
        num_tasks: int,
        filters: int,
        kernel_size: int,
        strides: int = 1,
        padding: str = "valid",
        activation: str | None = None,
        use_bias: bool = True,
        related_weight: float = 0.0,
        related_form: str = "exp",
        kernel_initializer: str | keras.initializers.Initializer = "glorot_uniform",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            num_tasks,
            activation=activation,
            use_bias=use_bias,
            related_weight=related_weight,
            related_form=related_form,
            kernel_initializer=kernel_initializer,
            **kwargs,
        )
        self.filters = filters
        self.kernel_size = kernel_size
        self.strides = strides
        self.padding = padding

    def build(self, input_shape: Shape) -> None:
        k = self.kernel_size
        self._build_columns((k, k, input_shape[-1], self.filters), self.filters)

    def call(self, inputs: Tensor) -> Tensor:
        return self._finish(
            [
                ops.conv(inputs[:, t], self.kernel[t], strides=self.strides, padding=self.padding)
                for t in range(self.num_tasks)
            ]
        )

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        spatial = []
        for d in input_shape[2:4]:
            if d is None:
                spatial.append(None)
            elif self.padding == "same":
                spatial.append(-(-d // self.strides))
            else:
                spatial.append((d - self.kernel_size) // self.strides + 1)
        return (input_shape[0], self.num_tasks, *spatial, self.filters)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "strides": self.strides,
                "padding": self.padding,
            }
        )
        return config
