"""`ColumnLayer`: one independent copy of a layer per task column, on `(batch, T, ...)`.

A cross-stitch network keeps T columns with the same architecture. Holding the T copies of a
layer in one layer (kernels `(T, ...)`) gives the stacked layout that `CrossStitch` mixes
directly, and lets the layer compute the related-weights regulariser of Bhuin et al. between
its columns' kernels (the scalars `a`, `b` are its own weights, so it is saved and restored
with the model).
"""

from __future__ import annotations

import itertools
from typing import Any

import keras
from keras import ops

from keras_mtl.layers.types import Tensor
from keras_mtl.losses import related_weights_loss

RELATED_FORMS = ("exp", "l2")


class ColumnLayer(keras.layers.Layer):
    """Base of `ColumnConv2D` and `ColumnDense`: T column kernels `(T, ...)` in one layer.

    When related (`related_weight > 0`) the columns start from the same draw and the layer
    adds Bhuin et al.'s related-weights regulariser between them to the model's losses:
    `related_weight * sum_{i<j} r_w(W_i, W_j)` over the column pairs (Eq. 6-7, see
    `keras_mtl.losses.related_weights_loss`). Every column kernel and bias is task-specific
    (`task_specific_weights`), except with a single column (T = 1, e.g. the shared backbone of
    `keras_mtl.models.split_network`), which every task of the model uses. Subclasses call
    `_build_columns` in `build` and `_finish` on the per-column outputs in `call`.

    Reference:
        Bhuin et al., cross-stitch networks with related weights, Sec. 3.3, Eq. 6-7.

    Args:
        num_tasks: int >= 1, the number of task columns T.
        activation: activation applied after the bias (None: linear).
        use_bias: whether each column has a bias.
        related_weight: the weight lambda of the related-weights regulariser (0 disables
            it), the `weight` of `keras_mtl.losses.RelatedWeightsLoss`.
        related_form: `"exp"` (Eq. 7) or `"l2"`, the regulariser's `form`.
        kernel_initializer: initializer of one column's kernel.
        **kwargs: base layer arguments (`name`, `dtype`, ...).
    """

    def __init__(
        self,
        num_tasks: int,
        activation: str | None = None,
        use_bias: bool = True,
        related_weight: float = 0.0,
        related_form: str = "exp",
        kernel_initializer: str | keras.initializers.Initializer = "glorot_uniform",
        **kwargs: Any,
    ) -> None:
        if isinstance(num_tasks, bool) or not isinstance(num_tasks, int) or num_tasks < 1:
            raise ValueError(
                "Expected `num_tasks` (the number of task columns) to be a positive int. "
                f"Received: num_tasks={num_tasks!r}"
            )
        if related_form not in RELATED_FORMS:
            raise ValueError(
                f"Expected `related_form` to be one of {RELATED_FORMS}. "
                f"Received: related_form={related_form!r}"
            )
        if (
            isinstance(related_weight, bool)
            or not isinstance(related_weight, int | float)
            or related_weight < 0
        ):
            raise ValueError(
                "Expected `related_weight` (lambda) to be a non-negative number. "
                f"Received: related_weight={related_weight!r}"
            )
        super().__init__(**kwargs)
        self.num_tasks = num_tasks
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.related_weight = float(related_weight)
        self.related_form = related_form
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    @property
    def _pairs(self) -> list[tuple[int, int]]:
        return list(itertools.combinations(range(self.num_tasks), 2))

    def _build_columns(self, kernel_shape: tuple[int, ...], units: int) -> None:
        self.kernel = self.add_weight(
            name="kernel", shape=(self.num_tasks,) + tuple(kernel_shape), initializer="zeros"
        )
        draws = [self.kernel_initializer(kernel_shape) for _ in range(self.num_tasks)]
        if self.related_weight > 0:  # related columns start equal (regulariser at 0)
            draws = [draws[0]] * self.num_tasks
        self.kernel.assign(ops.stack(draws))
        self.bias = (
            self.add_weight(name="bias", shape=(self.num_tasks, units), initializer="zeros")
            if self.use_bias
            else None
        )
        self.related_scales = self.related_offsets = None
        if self.related_weight > 0 and self.num_tasks > 1:
            pairs = len(self._pairs)
            self.related_scales = self.add_weight(
                name="related_scales", shape=(pairs,), initializer="ones"
            )
            self.related_offsets = self.add_weight(
                name="related_offsets", shape=(pairs,), initializer="zeros"
            )

    @property
    def task_specific_weights(self) -> list[keras.Variable]:
        if self.num_tasks == 1:  # one column, shared by every task
            return []
        return [w for w in (self.kernel, self.bias) if w is not None]

    def related_penalty(self) -> Tensor:
        """`lambda * sum_{i<j} r_w(W_i, W_j)` with the learned `a`, `b` of each pair (Eq. 6-7)."""
        total = 0.0
        for p, (i, j) in enumerate(self._pairs):
            total = total + related_weights_loss(
                self.kernel[i],
                self.kernel[j],
                self.related_scales[p],
                self.related_offsets[p],
                self.related_form,
            )
        return self.related_weight * total

    def _finish(self, outputs: list[Tensor]) -> Tensor:
        x = ops.stack(outputs, axis=1)
        if self.bias is not None:
            x = x + ops.reshape(
                self.bias, (1, self.num_tasks) + (1,) * (len(x.shape) - 3) + (-1,)
            )
        if self.related_scales is not None:
            self.add_loss(self.related_penalty())
        return self.activation(x)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "num_tasks": self.num_tasks,
                "activation": keras.activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "related_weight": self.related_weight,
                "related_form": self.related_form,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            }
        )
        return config
