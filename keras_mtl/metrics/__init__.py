"""Task-quality metrics: triplet accuracy and per-task classification scores.

The supported surface is `__all__`; the counting functions behind them
(`per_task_classification.confusion_counts`, `triplet_accuracy.triplet_correct`) are internal.
"""

from keras_mtl.metrics.per_task_classification import (
    PerTaskAccuracy,
    PerTaskPrecision,
    PerTaskRecall,
)
from keras_mtl.metrics.triplet_accuracy import TripletAccuracy

__all__ = [
    "PerTaskAccuracy",
    "PerTaskPrecision",
    "PerTaskRecall",
    "TripletAccuracy",
]
