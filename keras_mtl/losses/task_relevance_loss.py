"""Task-relevance regulariser over modulation weights (Zhao et al. 2018, Eq. 8)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

from keras_mtl.layers.types import Tensor


def _validate_triples(triples: Sequence[Sequence[int]]) -> list[tuple[int, ...]]:
    triples = [tuple(int(i) for i in triple) for triple in triples]
    if not triples or any(len(triple) != 3 for triple in triples):
        raise ValueError(
            "Expected `triples` to be a non-empty list of (i, j, k) task indices. "
            f"Received: triples={triples}"
        )
    return triples


def task_relevance_loss(
    task_weights: Tensor, triples: Sequence[Sequence[int]], margin: float = 1.0
) -> Tensor:
    """Per-triple `max(0, ||W_i - W_j||^2 + margin - ||W_i - W_k||^2)`.

    A triple (i, j, k) states that task i is more related to task j than to task k.

    Reference:
        Zhao et al., ECCV 2018, Sec. 3.3, Eq. 8 (margin beta; weighted by lambda outside).

    Args:
        task_weights: `(T, ...)` tensor, the modulation weights of every task (e.g. the
            `(T, C)` scaling vectors of a `TaskModulation` layer).
        triples: list of `(i, j, k)` task indices.
        margin: the margin beta.

    Returns:
        `(len(triples),)` losses.

    Example:

    >>> import numpy as np
    >>> w = np.array([[0.0], [1.0], [3.0]], "float32")  # tasks 0, 1, 2 on a line
    >>> np.asarray(task_relevance_loss(w, [(0, 1, 2), (0, 2, 1)])).tolist()  # 1+1-9, 9+1-1
    [0.0, 9.0]
    """
    triples = _validate_triples(triples)
    task_weights = ops.convert_to_tensor(task_weights)
    flat = ops.reshape(task_weights, (ops.shape(task_weights)[0], -1))
    i, j, k = (ops.convert_to_tensor([t[n] for t in triples], "int32") for n in range(3))
    w_i, w_j, w_k = ops.take(flat, i, axis=0), ops.take(flat, j, axis=0), ops.take(flat, k, axis=0)
    close = ops.sum(ops.square(w_i - w_j), axis=-1)
    far = ops.sum(ops.square(w_i - w_k), axis=-1)
    return ops.relu(close + margin - far)


@keras.saving.register_keras_serializable(package="keras_mtl")
class TaskRelevanceLoss(keras.losses.Loss):
    """Task-relevance regulariser L_a of Zhao et al. Eq. 8, times lambda.

    Reference:
        Zhao et al., ECCV 2018, Sec. 3.3, Eq. 8.

    Args:
        triples: list of `(i, j, k)`: task i is closer to task j than to task k.
        margin: the margin beta.
        weight: the weight lambda.
        reduction: reduction over triples, default `"sum"`.
        name: loss name.

    Call arguments:
        y_true: ignored (may be `None`).
        y_pred: `(T, ...)` task weights, e.g. `layer.task_specific_weights[0]` of a
            `TaskModulation` layer.

    Returns:
        The reduced loss.

    Example:

    >>> import numpy as np
    >>> reg = TaskRelevanceLoss([(0, 1, 2)], margin=1.0, weight=0.1)
    >>> w = np.array([[0.0], [2.0], [1.0]], "float32")  # task 0 nearer task 2 than task 1
    >>> round(float(reg(None, w)), 4)  # 0.1 * (4 + 1 - 1)
    0.4

    In training, wrap it in `WeightPenalty` to apply it to a layer's weights (saved with the
    model): `compile(..., regularizers=[WeightPenalty(reg, "modulation_fc")])`.
    """

    def __init__(
        self,
        triples: Sequence[Sequence[int]],
        margin: float = 1.0,
        weight: float = 1.0,
        reduction: str = "sum",
        name: str = "task_relevance",
    ) -> None:
        super().__init__(reduction=reduction, name=name)
        self.triples = _validate_triples(triples)
        self.margin = float(margin)
        self.weight = float(weight)

    def call(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        return self.weight * task_relevance_loss(y_pred, self.triples, self.margin)

    def __call__(
        self, y_true: Tensor | None, y_pred: Tensor, sample_weight: Tensor | None = None
    ) -> Tensor:
        if y_true is None:
            y_true = ops.zeros((len(self.triples),))
        return super().__call__(y_true, y_pred, sample_weight=sample_weight)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {"triples": [list(t) for t in self.triples], "margin": self.margin,
             "weight": self.weight}
        )
        return config
