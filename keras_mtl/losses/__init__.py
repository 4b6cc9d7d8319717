"""Losses and regularisers for multi-task training: pure functions plus thin Keras classes."""

from keras_mtl.losses.related_weights_loss import (
    RelatedWeightsLoss,
    related_weights_loss,
    related_weights_regularizer,
)
from keras_mtl.losses.task_relevance_loss import TaskRelevanceLoss, task_relevance_loss
from keras_mtl.losses.triplet_loss import (
    TripletLoss,
    interleave_triplets,
    split_triplets,
    triplet_loss,
)
from keras_mtl.losses.weight_penalty import WeightPenalty

__all__ = [
    "RelatedWeightsLoss",
    "TaskRelevanceLoss",
    "TripletLoss",
    "WeightPenalty",
    "interleave_triplets",
    "related_weights_loss",
    "related_weights_regularizer",
    "split_triplets",
    "task_relevance_loss",
    "triplet_loss",
]
