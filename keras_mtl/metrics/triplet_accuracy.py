"""Triplet accuracy per task, counted correct / total (Zhao et al. 2018, Tables 3 and 6)."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from keras_mtl.layers.types import Tensor
from keras_mtl.losses.triplet_loss import split_triplets


def triplet_correct(anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
    """`(batch,)` bool: the anchor is strictly nearer (squared Euclidean) the positive.

    Args:
        anchor: `(batch, dim)` embeddings.
        positive: `(batch, dim)` embeddings of the samples similar to the anchor.
        negative: `(batch, dim)` embeddings of the dissimilar samples.

    Returns:
        A boolean `(batch,)` tensor.
    """
    positive_distance = ops.sum(ops.square(anchor - positive), axis=-1)
    negative_distance = ops.sum(ops.square(anchor - negative), axis=-1)
    return ops.less(positive_distance, negative_distance)


@keras.saving.register_keras_serializable(package="keras_mtl")
class TripletAccuracy(keras.metrics.Metric):
    """Fraction of test triplets whose anchor is nearer the positive, per task and averaged.

    Counts are accumulated per task (correct and total), never as an average of batch means.
    The scalar result is the mean of the per-task accuracies over the tasks seen so far, as
    the "average" column of Zhao et al.'s tables; `per_task_result()` gives each task's value.

    Reference:
        Zhao et al., ECCV 2018, Sec. 4 (triplet prediction accuracy), Tables 3 and 6.

    Args:
        num_tasks: number of tasks T.
        name: metric name.
        dtype: dtype of the metric's result.

    Call arguments (`update_state`):
        y_true: ignored when `task_id` is given; else `(batch,)` int task ids of the triplets.
        y_pred: `(3 * batch, dim)` embeddings, three consecutive rows (anchor, positive,
            negative) per triplet, or `(batch, 3, dim)`.
        sample_weight: optional `(batch,)` weights (counts are weighted).
        task_id: `(batch,)` int task ids of the triplets (what `MultiTaskModel` passes).

    Example:

    >>> m = TripletAccuracy(num_tasks=2)
    >>> rows = np.array([[0.0], [0.1], [1.0], [0.0], [1.0], [0.1]], "float32")  # 2 triplets
    >>> m.update_state(None, rows, task_id=[0, 1])
    >>> m.per_task_result().tolist()
    [1.0, 0.0]
    """

    def __init__(
        self, num_tasks: int, name: str = "triplet_accuracy", dtype: str | None = None
    ) -> None:
        super().__init__(name=name, dtype=dtype)
        if isinstance(num_tasks, bool) or not isinstance(num_tasks, int) or num_tasks < 1:
            raise ValueError(
                f"Expected `num_tasks` to be a positive int. Received: num_tasks={num_tasks!r}"
            )
        self.num_tasks = num_tasks
        self.correct = self.add_variable(shape=(num_tasks,), initializer="zeros", name="correct")
        self.total = self.add_variable(shape=(num_tasks,), initializer="zeros", name="total")

    def update_state(
        self,
        y_true: Tensor | None,
        y_pred: Tensor,
        sample_weight: Tensor | None = None,
        task_id: Tensor | None = None,
    ) -> None:
        task_ids = ops.reshape(ops.cast(y_true if task_id is None else task_id, "int32"), (-1,))
        correct = ops.cast(triplet_correct(*split_triplets(y_pred)), "float32")
        weight = ops.ones_like(correct)
        if sample_weight is not None:
            weight = ops.reshape(ops.cast(sample_weight, "float32"), (-1,)) * weight
        one_hot = ops.one_hot(task_ids, self.num_tasks, dtype="float32")
        self.correct.assign_add(ops.sum(one_hot * (correct * weight)[:, None], axis=0))
        self.total.assign_add(ops.sum(one_hot * weight[:, None], axis=0))

    def result(self) -> Tensor:
        seen = ops.cast(self.total > 0, "float32")
        per_task = ops.divide_no_nan(self.correct, self.total)
        return ops.divide_no_nan(ops.sum(per_task * seen), ops.sum(seen))

    def per_task_result(self) -> np.ndarray:
        """NumPy `(T,)` accuracies (NaN for tasks without triplets)."""
        correct = np.asarray(ops.convert_to_numpy(self.correct))
        total = np.asarray(ops.convert_to_numpy(self.total))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, correct / np.maximum(total, 1), np.nan)

    def get_config(self) -> dict[str, Any]:
        return {"num_tasks": self.num_tasks, "name": self.name, "dtype": self.dtype}
