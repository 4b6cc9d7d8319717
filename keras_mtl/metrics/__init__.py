"""Task-quality metrics: triplet accuracy and per-task classification scores."""

from keras_mtl.metrics.per_task_classification import (
    PerTaskAccuracy,
    PerTaskPrecision,
    PerTaskRecall,
    confusion_counts,
)
from keras_mtl.metrics.triplet_accuracy import TripletAccuracy, triplet_correct

__all__ = [
    "PerTaskAccuracy",
    "PerTaskPrecision",
    "PerTaskRecall",
    "TripletAccuracy",
    "confusion_counts",
    "triplet_correct",
]
