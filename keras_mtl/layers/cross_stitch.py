"""Cross-stitch units mixing task columns (Misra et al., CVPR 2016)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

from keras_mtl.layers import task_columns
from keras_mtl.layers import task_ids as task_ids_lib
from keras_mtl.layers.types import Shape, Tensor

GRANULARITIES = ("layer", "channel")


def cross_stitch_init(
    num_tasks: int, same_init: float = 0.9, diff_init: float | None = None
) -> np.ndarray:
    """The initial `(T, T)` mixing matrix: `same_init` on the diagonal, `diff_init` elsewhere.

    Args:
        num_tasks: the number of task columns T, >= 2.
        same_init: initial weight of a column onto itself.
        diff_init: initial weight between different columns; None for
            `(1 - same_init) / (T - 1)`, so each row sums to one (for T = 2: 0.9 / 0.1,
            Bhuin et al. Sec. 5.2).

    Returns:
        A float32 array `(T, T)`.
    """
    if diff_init is None:
        diff_init = (1.0 - same_init) / (num_tasks - 1)
    alpha = np.full((num_tasks, num_tasks), diff_init, dtype="float32")
    np.fill_diagonal(alpha, same_init)
    return alpha


def cross_stitch_mix(columns: Tensor, alpha: Tensor) -> Tensor:
    """Misra Eq. 1 / Bhuin Eq. 3: `x~_i = sum_j alpha_ij x_j`.

    Args:
        columns: tensor `(batch, T, ..., C)`, the stacked task columns.
        alpha: `(T, T)` (one unit per layer) or `(T, T, C)` (one unit per channel).

    Returns:
        The mixed columns, shape of `columns`.
    """
    shape = ops.shape(columns)
    num_tasks, channels = columns.shape[1], columns.shape[-1]
    flat = ops.reshape(columns, (shape[0], num_tasks, -1, channels))
    if len(alpha.shape) == 2:
        mixed = ops.einsum("ij,bjnc->binc", alpha, flat)
    else:
        mixed = ops.einsum("ijc,bjnc->binc", alpha, flat)
    return ops.reshape(mixed, shape)


def scale_gradient(x: Tensor, multiplier: float) -> Tensor:
    """Identity in the forward pass; multiplies the gradient by `multiplier`.

    Args:
        x: any tensor.
        multiplier: the factor applied to the gradient flowing back through `x`.

    Returns:
        `x` (same value), with its gradient scaled.
    """
    if multiplier == 1.0:
        return x
    return x + (multiplier - 1.0) * (x - ops.stop_gradient(x))


@keras.saving.register_keras_serializable(package="keras_mtl")
class CrossStitch(keras.layers.Layer):
    """Mixes the activations of T task columns with a learned T x T matrix.

    A cross-stitch unit (Misra et al.) sits between the same layer of T task-specific
    networks ("columns") and outputs, for each task i, `x~_i = sum_j alpha_ij x_j` (Misra
    Eq. 1; Bhuin Eq. 3). With `granularity="layer"` one T x T matrix is shared by all channels
    (T^2 parameters); with `"channel"` every channel has its own (T^2 * C parameters, Bhuin
    Sec. 5.2). Initialisation: `same_init` on the diagonal and `diff_init` off it (default
    0.9 / 0.1 for two tasks; `diff_init=None` gives `(1 - same_init) / (T - 1)`).

    Misra et al. train the stitch units with a larger learning rate; `lr_multiplier` scales
    the gradient reaching `alpha` (the forward pass is unchanged). That is an exact
    learning-rate multiplier for SGD and momentum; adaptive optimisers (Adam, Adagrad)
    normalise gradient scale away, so there it mostly has no effect.

    Each row of `alpha` belongs to one task, so `alpha` is listed in `task_specific_weights`.

    Reference:
        Misra, Shrivastava, Gupta, Hebert. "Cross-stitch Networks for Multi-task Learning".
        CVPR 2016. Eq. 1. Bhuin et al., cross-stitch with related weights, Eq. 3, Sec. 5.2.

    Args:
        num_tasks: int >= 2, the number of task columns T.
        granularity: `"layer"` (one T x T unit) or `"channel"` (one per channel).
        same_init: initial weight of a column onto itself.
        diff_init: initial weight between different columns; None for
            `(1 - same_init) / (T - 1)`.
        lr_multiplier: positive float multiplying the gradient of `alpha`.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: either a list/tuple of T tensors of identical shape `(batch, ..., C)` (one
            per column), or one stacked tensor `(batch, T, ..., C)`.

    Input shape:
        T x `(batch, ..., C)`, or `(batch, T, ..., C)`.

    Output shape:
        Same structure as the input: a list of T tensors, or one stacked tensor.

    Example:

    >>> import numpy as np
    >>> stitch = CrossStitch(num_tasks=2)
    >>> a, b = np.ones((1, 3), "float32"), np.zeros((1, 3), "float32")
    >>> [np.asarray(y, "float64").round(2).tolist() for y in stitch([a, b])]
    [[[0.9, 0.9, 0.9]], [[0.1, 0.1, 0.1]]]
    """

    def __init__(
        self,
        num_tasks: int,
        granularity: str = "layer",
        same_init: float = 0.9,
        diff_init: float | None = None,
        lr_multiplier: float = 1.0,
        **kwargs: Any,
    ) -> None:
        num_tasks = task_ids_lib.check_num_tasks(num_tasks, minimum=2)
        if granularity not in GRANULARITIES:
            raise ValueError(
                f"Expected `granularity` to be one of {GRANULARITIES}. "
                f"Received: granularity={granularity!r}"
            )
        if isinstance(lr_multiplier, bool) or not (
            isinstance(lr_multiplier, int | float) and lr_multiplier > 0
        ):
            raise ValueError(
                f"Expected `lr_multiplier` to be a positive number. "
                f"Received: lr_multiplier={lr_multiplier!r}"
            )
        super().__init__(**kwargs)
        self.num_tasks = num_tasks
        self.granularity = granularity
        self.same_init = float(same_init)
        self.diff_init = None if diff_init is None else float(diff_init)
        self.lr_multiplier = float(lr_multiplier)

    def build(self, input_shape: Shape | Sequence[Shape]) -> None:
        column_shape = task_columns.column_shape(input_shape, self.num_tasks)
        channels = column_shape[-1]
        if channels is None:
            raise ValueError(
                f"Expected a known channel (last) dimension. Received: shape={column_shape}"
            )
        init = cross_stitch_init(self.num_tasks, self.same_init, self.diff_init)
        shape = (self.num_tasks, self.num_tasks)
        if self.granularity == "channel":
            shape += (channels,)
            init = np.repeat(init[:, :, None], channels, axis=-1)
        self.alpha = self.add_weight(
            name="alpha", shape=shape, initializer=keras.initializers.Constant(0.0)
        )
        self.alpha.assign(init)

    @property
    def task_specific_weights(self) -> list[keras.Variable]:
        return [self.alpha]

    def call(self, inputs: Tensor | Sequence[Tensor]) -> Tensor | list[Tensor]:
        stacked, as_list = task_columns.stack_columns(inputs, self.num_tasks)
        alpha = ops.cast(scale_gradient(self.alpha, self.lr_multiplier), stacked.dtype)
        mixed = cross_stitch_mix(stacked, alpha)
        if as_list:
            return [mixed[:, i] for i in range(self.num_tasks)]
        return mixed

    def compute_output_shape(
        self, input_shape: Shape | Sequence[Shape]
    ) -> Shape | list[Shape]:
        task_columns.column_shape(input_shape, self.num_tasks)
        if task_columns.is_shape_list(input_shape):
            return [tuple(s) for s in input_shape]
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "num_tasks": self.num_tasks,
                "granularity": self.granularity,
                "same_init": self.same_init,
                "diff_init": self.diff_init,
                "lr_multiplier": self.lr_multiplier,
            }
        )
        return config
