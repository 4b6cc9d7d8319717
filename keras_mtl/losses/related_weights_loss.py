"""Related-weights regulariser between tied layers of two task columns (Bhuin et al.)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

from keras_mtl.layers.types import Tensor

_FORMS = ("exp", "l2")


def related_weights_loss(
    first: Tensor,
    second: Tensor,
    scale: float | Tensor = 1.0,
    offset: float | Tensor = 0.0,
    form: str = "exp",
) -> Tensor:
    """`exp(||a W^1 + b - W^2||^2) - 1` (or the L2 form `||a W^1 + b - W^2||^2`) for one layer.

    Reference:
        Bhuin et al., cross-stitch networks with weight regularisation, Sec. 3.3, Eq. 6-7
        (`a` and `b` are learnable scalars per tied layer, initialised to 1 and 0).

    Args:
        first: the layer's weights in the first task column, `W^1`.
        second: the tied weights in the second column, `W^2` (same shape).
        scale: the scalar `a` (a float or a variable).
        offset: the scalar `b` (a float or a variable).
        form: `"exp"` (Eq. 7, default) or `"l2"`.

    Returns:
        A scalar. The exp form grows very fast: keep the distance small (it is meant for
        related columns).
    """
    if form not in _FORMS:
        raise ValueError(f"Expected `form` to be one of {_FORMS}. Received: form={form!r}")
    first, second = ops.convert_to_tensor(first), ops.convert_to_tensor(second)
    if tuple(first.shape) != tuple(second.shape):
        raise ValueError(
            "Expected tied weights of the same shape. "
            f"Received: first.shape={first.shape}, second.shape={second.shape}"
        )
    distance = ops.sum(ops.square(scale * first + offset - second))
    return ops.exp(distance) - 1.0 if form == "exp" else distance


def related_weights_regularizer(
    first_weights: Sequence[Tensor],
    second_weights: Sequence[Tensor],
    scales: Sequence[float | Tensor] | None = None,
    offsets: Sequence[float | Tensor] | None = None,
    form: str = "exp",
    weight: float = 1.0,
) -> Tensor:
    """`L_w = lambda * sum_j r_w(W_j^1, W_j^2)` over tied layers j (Bhuin Eq. 6).

    Reference:
        Bhuin et al., Sec. 3.3, Eq. 6-7.

    Args:
        first_weights: list of the first column's weights, one per tied layer.
        second_weights: list of the second column's weights, same order and shapes.
        scales: list of the scalars `a_j` (default 1 each).
        offsets: list of the scalars `b_j` (default 0 each).
        form: `"exp"` or `"l2"`.
        weight: the weight lambda.

    Returns:
        A scalar.

    Example:

    >>> import numpy as np
    >>> w = [np.ones((2, 2), "float32")]
    >>> float(related_weights_regularizer(w, [np.zeros((2, 2), "float32")], form="l2",
    ...                                   weight=0.5))  # 0.5 * 4 * 1^2
    2.0
    """
    if len(first_weights) != len(second_weights):
        raise ValueError(
            "Expected as many first as second weights. Received: "
            f"len(first_weights)={len(first_weights)}, len(second_weights)={len(second_weights)}"
        )
    scales = [1.0] * len(first_weights) if scales is None else list(scales)
    offsets = [0.0] * len(first_weights) if offsets is None else list(offsets)
    total = 0.0
    for w1, w2, a, b in zip(first_weights, second_weights, scales, offsets, strict=True):
        total = total + related_weights_loss(w1, w2, a, b, form)
    return weight * total


@keras.saving.register_keras_serializable(package="keras_mtl")
class RelatedWeightsLoss(keras.losses.Loss):
    """Related-weights regulariser of Bhuin et al. (Eq. 7) for one tied layer, times lambda.

    `weight * r_w(W^1, W^2)` with `r_w = exp(||a W^1 + b - W^2||^2) - 1` (`form="exp"`) or
    `||a W^1 + b - W^2||^2` (`form="l2"`), `a = scale`, `b = offset` fixed.

    Reference:
        Bhuin et al., Sec. 3.3, Eq. 6-7.

    Args:
        form: `"exp"` (default) or `"l2"`.
        scale: `a` (fixed here; pass variables to `related_weights_regularizer` to learn it).
        offset: `b`.
        weight: the weight lambda.
        name: loss name.

    Call arguments:
        y_true: `W^2`, the second column's weights.
        y_pred: `W^1`, the first column's weights.

    Returns:
        A scalar.

    Example:

    >>> import numpy as np
    >>> float(RelatedWeightsLoss(form="l2")(np.zeros((2, 2)), np.ones((2, 2))))  # 4 x 1^2
    4.0
    """

    def __init__(
        self,
        form: str = "exp",
        scale: float = 1.0,
        offset: float = 0.0,
        weight: float = 1.0,
        name: str = "related_weights",
    ) -> None:
        super().__init__(reduction="sum", name=name)
        if form not in _FORMS:
            raise ValueError(f"Expected `form` to be one of {_FORMS}. Received: form={form!r}")
        self.form = form
        self.scale = float(scale)
        self.offset = float(offset)
        self.weight = float(weight)

    def call(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        value = related_weights_loss(y_pred, y_true, self.scale, self.offset, self.form)
        return ops.reshape(self.weight * value, (1,))

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {"form": self.form, "scale": self.scale, "offset": self.offset,
             "weight": self.weight}
        )
        return config
