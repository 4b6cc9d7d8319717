"""Triplet loss on squared Euclidean distances (Zhao et al. 2018, Eq. 6), and the row layout.

A triplet batch reaches a model as ordinary rows: the anchor, positive and negative of each
triplet are three consecutive rows of the model's input, with the same task id
(`interleave_triplets`). The model's output for the batch is then `(3B, dim)`, which
`TripletLoss` reads back as `(B, 3, dim)` (`split_triplets`): one loss value per triplet.
`TripletLoss.rows_per_example = 3` tells `MultiTaskModel` that three input rows make one
example, so nothing else in the model knows about triplets.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from keras_mtl.layers.types import Tensor

TRIPLET_KEYS = ("anchor", "positive", "negative")


def interleave_triplets(
    batch: dict[str, Any], image_key: str = "image", task_id_key: str = "task_id"
) -> dict[str, Any]:
    """Turns a triplet batch into model inputs: three consecutive rows per triplet.

    Works on NumPy arrays and on tensors (eager, graph, inside `tf.data.Dataset.map`).

    Args:
        batch: a dict `{"anchor", "positive", "negative": (B, H, W, C), "task_id": (B,)}`.
        image_key: the model's image input name.
        task_id_key: the model's task id input name.

    Returns:
        `{image_key: (3B, H, W, C), task_id_key: (3B,)}`, rows `a0, p0, n0, a1, p1, n1, ...`.

    Example:
    >>> b = {k: np.zeros((2, 4, 4, 3), "float32") for k in TRIPLET_KEYS}
    >>> b["task_id"] = np.array([0, 1])
    >>> x = interleave_triplets(b)
    >>> x["image"].shape, x["task_id"].tolist()
    ((6, 4, 4, 3), [0, 0, 0, 1, 1, 1])
    """
    if not isinstance(batch, dict):
        raise TypeError(
            "Expected a triplet batch as a dict with keys anchor, positive, negative and "
            f"task_id. Received: {type(batch).__name__}"
        )
    missing = [key for key in (*TRIPLET_KEYS, "task_id") if key not in batch]
    if missing:
        raise ValueError(
            "Expected a triplet batch with keys anchor, positive, negative and task_id. "
            f"Received keys {sorted(batch)} (missing: {', '.join(missing)})"
        )
    images = [batch[key] for key in TRIPLET_KEYS]
    shapes = [tuple(getattr(image, "shape", np.shape(image))) for image in images]
    known = [tuple(d if d is None else int(d) for d in shape) for shape in shapes]
    if len({len(shape) for shape in known}) != 1 or any(
        a is not None and b is not None and a != b
        for shape in known[1:] for a, b in zip(known[0], shape, strict=False)
    ):
        raise ValueError(
            "Expected anchor, positive and negative images of one shape. Received shapes: "
            + ", ".join(f"{key}={shape}" for key, shape in zip(TRIPLET_KEYS, known, strict=True))
        )
    if isinstance(images[0], np.ndarray):
        stacked = np.stack(images, axis=1)
        task_id = np.repeat(np.reshape(batch["task_id"], [-1]), 3)
        return {image_key: stacked.reshape((-1,) + stacked.shape[2:]), task_id_key: task_id}
    stacked = ops.stack(images, axis=1)
    new_shape = (-1,) + tuple(stacked.shape[2:])
    task_id = ops.repeat(ops.reshape(batch["task_id"], (-1,)), 3)
    return {image_key: ops.reshape(stacked, new_shape), task_id_key: task_id}


def split_triplets(y_pred: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """`(3B, dim)` interleaved embeddings (or `(B, 3, dim)`) -> `(anchor, positive, negative)`.

    Args:
        y_pred: `(3 * batch, dim)`, three consecutive rows (anchor, positive, negative) per
            triplet, or `(batch, 3, dim)`.

    Returns:
        Three `(batch, dim)` tensors.
    """
    y_pred = ops.convert_to_tensor(y_pred)
    if len(y_pred.shape) == 2 and (y_pred.shape[0] is None or y_pred.shape[0] % 3 == 0):
        y_pred = ops.reshape(y_pred, (-1, 3, y_pred.shape[-1]))
    if len(y_pred.shape) != 3 or (y_pred.shape[1] is not None and y_pred.shape[1] != 3):
        raise ValueError(
            "Expected embeddings of shape (3 * batch, dim), three consecutive rows per "
            f"triplet, or (batch, 3, dim). Received: y_pred.shape={y_pred.shape}"
        )
    return y_pred[:, 0], y_pred[:, 1], y_pred[:, 2]


def triplet_loss(
    anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 0.2
) -> Tensor:
    """Per-triplet hinge `[||f_a - f_p||^2 + margin - ||f_a - f_n||^2]_+`.

    Reference:
        Zhao et al., "A Modulation Module for Multi-task Learning with Applications in Image
        Retrieval", ECCV 2018, Eq. 6 (summed over triplets there; reduce as you need).

    Args:
        anchor: `(batch, dim)` embeddings.
        positive: `(batch, dim)` embeddings of the samples similar to the anchor.
        negative: `(batch, dim)` embeddings of the dissimilar samples.
        margin: the margin alpha.

    Returns:
        `(batch,)` losses.
    """
    positive_distance = ops.sum(ops.square(anchor - positive), axis=-1)
    negative_distance = ops.sum(ops.square(anchor - negative), axis=-1)
    return ops.relu(positive_distance + margin - negative_distance)


@keras.saving.register_keras_serializable(package="keras_mtl")
class TripletLoss(keras.losses.Loss):
    """Triplet loss of Zhao et al. Eq. 6 on stacked (anchor, positive, negative) embeddings.

    One task per triplet. The embeddings come as `(3B, dim)`, the anchor, positive and
    negative of each triplet in three consecutive rows (see `interleave_triplets`), or as
    `(B, 3, dim)`. `rows_per_example = 3` tells `MultiTaskModel` that a loss value covers three
    input rows, and `default_metrics` adds a `TripletAccuracy` when the model is compiled.

    Reference:
        Zhao et al., ECCV 2018, Sec. 3.3, Eq. 6.

    Args:
        margin: the margin alpha between positive and negative squared distances.
        reduction: Keras loss reduction, default `"sum_over_batch_size"` (Eq. 6 sums; use
            `"sum"` for the paper's exact scale).
        name: loss name.

    Call arguments:
        y_true: ignored (may be `None`).
        y_pred: `(3 * batch, dim)` interleaved, or `(batch, 3, dim)`.

    Returns:
        The reduced loss.

    Example:

    >>> loss = TripletLoss(margin=1.0)
    >>> float(loss(None, np.array([[[0.0], [1.0], [2.0]]])))  # 1 + 1 - 4 < 0
    0.0
    """

    rows_per_example = 3
    requires_targets = False

    def __init__(
        self,
        margin: float = 0.2,
        reduction: str = "sum_over_batch_size",
        name: str = "triplet_loss",
    ) -> None:
        super().__init__(reduction=reduction, name=name)
        self.margin = float(margin)

    def call(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        return triplet_loss(*split_triplets(y_pred), self.margin)

    def default_metrics(self, num_tasks: int) -> list[keras.metrics.Metric]:
        """The metric `MultiTaskModel.compile` adds for this loss: per-task triplet accuracy.

        Args:
            num_tasks: the model's number of tasks T.
        """
        from keras_mtl.metrics.triplet_accuracy import TripletAccuracy

        return [TripletAccuracy(num_tasks)]

    def __call__(
        self, y_true: Tensor | None, y_pred: Tensor, sample_weight: Tensor | None = None
    ) -> Tensor:
        if y_true is None:
            y_true = ops.zeros(ops.shape(y_pred)[:1])
        return super().__call__(y_true, y_pred, sample_weight=sample_weight)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"margin": self.margin})
        return config
