"""Losses and regularisers for multi-task training: pure functions plus thin Keras classes.

`TripletLoss` (Zhao et al. Eq. 6) with `interleave_triplets`, which lays triplets out as the
consecutive rows it reads; the task-relevance regulariser (Zhao Eq. 8), the related-weights
regulariser (Bhuin et al. Eq. 6-7) and `WeightPenalty`, a serializable weight penalty for
`MultiTaskModel.compile(regularizers=...)`. The supported surface is `__all__`.
"""

from keras_mtl.losses.related_weights_loss import (
    RelatedWeightsLoss,
    related_weights_loss,
    related_weights_regularizer,
)
from keras_mtl.losses.task_relevance_loss import TaskRelevanceLoss, task_relevance_loss
from keras_mtl.losses.triplet_loss import TripletLoss, interleave_triplets, triplet_loss
from keras_mtl.losses.weight_penalty import WeightPenalty

__all__ = [
    "RelatedWeightsLoss",
    "TaskRelevanceLoss",
    "TripletLoss",
    "WeightPenalty",
    "interleave_triplets",
    "related_weights_loss",
    "related_weights_regularizer",
    "task_relevance_loss",
    "triplet_loss",
]
