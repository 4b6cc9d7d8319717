"""Triplet loss on squared Euclidean distances (Zhao et al. 2018, Eq. 6)."""

import keras
from keras import ops


def triplet_loss(anchor, positive, negative, margin=0.2):
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

    One task per triplet: `MultiTaskModel` computes it per task from triplet batches
    `{"anchor", "positive", "negative", "task_id"}`.

    Reference:
        Zhao et al., ECCV 2018, Sec. 3.3, Eq. 6.

    Args:
        margin: the margin alpha between positive and negative squared distances.
        reduction: Keras loss reduction, default `"sum_over_batch_size"` (Eq. 6 sums; use
            `"sum"` for the paper's exact scale).
        name: loss name.

    Call arguments:
        y_true: ignored (may be `None`).
        y_pred: `(batch, 3, dim)`, the anchor, positive and negative embeddings along axis 1.

    Returns:
        The reduced loss.

    Example:
    >>> loss = TripletLoss(margin=1.0)
    >>> loss(None, np.array([[[0.0], [1.0], [2.0]]]))  # 1 + 1 - 4 < 0
    0.0
    """

    def __init__(self, margin=0.2, reduction="sum_over_batch_size", name="triplet_loss"):
        super().__init__(reduction=reduction, name=name)
        self.margin = float(margin)

    def call(self, y_true, y_pred):
        y_pred = ops.convert_to_tensor(y_pred)
        if len(y_pred.shape) != 3 or (y_pred.shape[1] is not None and y_pred.shape[1] != 3):
            raise ValueError(
                "Expected `y_pred` of shape (batch, 3, dim) stacking anchor, positive and "
                f"negative. Received: y_pred.shape={y_pred.shape}"
            )
        return triplet_loss(y_pred[:, 0], y_pred[:, 1], y_pred[:, 2], self.margin)

    def __call__(self, y_true, y_pred, sample_weight=None):
        if y_true is None:
            y_true = ops.zeros(ops.shape(y_pred)[:1])
        return super().__call__(y_true, y_pred, sample_weight=sample_weight)

    def get_config(self):
        config = super().get_config()
        config.update({"margin": self.margin})
        return config
