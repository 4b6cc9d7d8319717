"""`ColumnDense`: T independent dense layers on stacked task columns (cross-stitch)."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from keras_mtl.layers.column_layer import ColumnLayer
from keras_mtl.layers.types import Shape, Tensor


@keras.saving.register_keras_serializable(package="keras_mtl")
class ColumnDense(ColumnLayer):
    """T independent dense layers, column t applied to `inputs[:, t]`.

    The dense layer of a cross-stitch network's T task columns, held in one layer (kernel
    `(T, features, units)`); see `ColumnConv2D` for the related-weights regulariser
    (`related_weight`, `related_form`).

    Reference:
        Bhuin et al., cross-stitch networks with related weights, Sec. 3.3, Eq. 6-7.

    Args:
        num_tasks: int >= 1, the number of task columns T.
        units: output units of each column.
        activation: activation applied after the bias (None: linear).
        use_bias: whether each column has a bias.
        related_weight: the weight lambda of the related-weights regulariser (0 disables it).
        related_form: `"exp"` (Eq. 7) or `"l2"`.
        kernel_initializer: initializer of one column's kernel.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: the stacked columns, `(batch, T, features)`.

    Input shape:
        `(batch, T, features)`.

    Output shape:
        `(batch, T, units)`.

    Example:

    >>> import numpy as np
    >>> tuple(ColumnDense(num_tasks=3, units=5)(np.zeros((2, 3, 4), "float32")).shape)
    (2, 3, 5)
    """

    def __init__(
        self,
        num_tasks: int,
        units: int,
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
        self.units = units

    def build(self, input_shape: Shape) -> None:
        self._build_columns((input_shape[-1], self.units), self.units)

    def call(self, inputs: Tensor) -> Tensor:
        return self._finish(
            [ops.matmul(inputs[:, t], self.kernel[t]) for t in range(self.num_tasks)]
        )

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (input_shape[0], self.num_tasks, self.units)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"units": self.units})
        return config
