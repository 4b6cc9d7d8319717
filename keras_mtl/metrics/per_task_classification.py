"""Per-task accuracy, precision and recall of classification heads (TR paper Table 2 style)."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from keras_mtl.layers.types import Tensor


def confusion_counts(
    y_true: Tensor,
    y_pred: Tensor,
    task_id: Tensor,
    num_tasks: int,
    threshold: float = 0.5,
    sample_weight: Tensor | None = None,
) -> Tensor:
    """Per-task true/false positive/negative counts of binary predictions.

    Args:
        y_true: `(batch,)` labels in {0, 1}.
        y_pred: `(batch,)` or `(batch, 1)` scores (probabilities or logits, see `threshold`).
        task_id: `(batch,)` int task of each row.
        num_tasks: T.
        threshold: a row is predicted positive when `y_pred > threshold`.
        sample_weight: optional `(batch,)` weights.

    Returns:
        `(T, 4)` float32 counts, columns TP, FP, TN, FN.

    Example:

    >>> counts = confusion_counts([1, 0, 1], [0.9, 0.8, 0.1], [1, 1, 0], num_tasks=2)
    >>> np.asarray(counts).tolist()  # task 0: one FN; task 1: one TP, one FP
    [[0.0, 0.0, 0.0, 1.0], [1.0, 1.0, 0.0, 0.0]]
    """
    y_true = ops.reshape(ops.cast(y_true, "float32"), (-1,)) > 0.5
    y_pred = ops.reshape(ops.cast(y_pred, "float32"), (-1,)) > threshold
    weight = ops.ones(ops.shape(y_true), "float32")
    if sample_weight is not None:
        weight = weight * ops.reshape(ops.cast(sample_weight, "float32"), (-1,))
    cells = [
        ops.logical_and(y_pred, y_true),
        ops.logical_and(y_pred, ops.logical_not(y_true)),
        ops.logical_and(ops.logical_not(y_pred), ops.logical_not(y_true)),
        ops.logical_and(ops.logical_not(y_pred), y_true),
    ]
    cells = ops.stack([ops.cast(c, "float32") * weight for c in cells], axis=-1)
    one_hot = ops.one_hot(ops.reshape(ops.cast(task_id, "int32"), (-1,)), num_tasks)
    return ops.matmul(ops.transpose(one_hot), cells)


class _PerTaskConfusion(keras.metrics.Metric):
    """Accumulates per-task binary confusion counts; subclasses define the per-task score."""

    def __init__(
        self,
        num_tasks: int,
        threshold: float = 0.5,
        name: str | None = None,
        dtype: str | None = None,
    ) -> None:
        super().__init__(name=name, dtype=dtype)
        if isinstance(num_tasks, bool) or not isinstance(num_tasks, int) or num_tasks < 1:
            raise ValueError(
                f"Expected `num_tasks` to be a positive int. Received: num_tasks={num_tasks!r}"
            )
        self.num_tasks = num_tasks
        self.threshold = float(threshold)
        self.counts = self.add_variable(shape=(num_tasks, 4), initializer="zeros", name="counts")

    def update_state(
        self,
        y_true: Tensor,
        y_pred: Tensor,
        sample_weight: Tensor | None = None,
        task_id: Tensor | None = None,
    ) -> None:
        if task_id is None:
            raise ValueError(
                f"Expected `task_id` for the per-task metric {self.name!r}. Received: None"
            )
        self.counts.assign_add(
            confusion_counts(y_true, y_pred, task_id, self.num_tasks, self.threshold,
                             sample_weight)
        )

    def _score(self, counts: Tensor) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def _per_task(self) -> tuple[Tensor, Tensor]:
        score, denominator = self._score(self.counts)
        return ops.divide_no_nan(score, denominator), ops.cast(denominator > 0, "float32")

    def result(self) -> Tensor:
        per_task, seen = self._per_task()
        return ops.divide_no_nan(ops.sum(per_task * seen), ops.sum(seen))

    def per_task_result(self) -> np.ndarray:
        """NumPy `(T,)` scores (NaN where undefined, e.g. no predicted positives)."""
        score, denominator = (np.asarray(ops.convert_to_numpy(v)) for v in self._score(
            self.counts))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(denominator > 0, score / np.maximum(denominator, 1e-12), np.nan)

    def get_config(self) -> dict[str, Any]:
        return {"num_tasks": self.num_tasks, "threshold": self.threshold, "name": self.name,
                "dtype": self.dtype}


@keras.saving.register_keras_serializable(package="keras_mtl")
class PerTaskAccuracy(_PerTaskConfusion):
    """Binary accuracy per task; result = mean over the tasks seen (macro average).

    Counts (TP, FP, TN, FN) are accumulated per task, never as an average of batch means;
    `per_task_result()` gives each task's accuracy `(TP + TN) / N`.

    Args:
        num_tasks: number of tasks T.
        threshold: a row is predicted positive when `y_pred > threshold` (0.5 for
            probabilities, 0 for logits).
        name: metric name.
        dtype: dtype of the metric's result.

    Call arguments (`update_state`):
        y_true: `(batch,)` labels in {0, 1}.
        y_pred: `(batch,)` or `(batch, 1)` scores.
        sample_weight: optional `(batch,)` weights (counts are weighted).
        task_id: `(batch,)` task of each row (required; `MultiTaskModel` passes it).

    Example:

    >>> m = PerTaskAccuracy(num_tasks=2)
    >>> m.update_state([1, 0, 1], [0.9, 0.8, 0.1], task_id=[1, 1, 0])
    >>> m.per_task_result().tolist()  # task 0: 0 of 1 right; task 1: 1 of 2
    [0.0, 0.5]
    """

    def __init__(
        self,
        num_tasks: int,
        threshold: float = 0.5,
        name: str = "per_task_accuracy",
        dtype: str | None = None,
    ) -> None:
        super().__init__(num_tasks, threshold, name=name, dtype=dtype)

    def _score(self, counts: Tensor) -> tuple[Tensor, Tensor]:
        return counts[:, 0] + counts[:, 2], ops.sum(counts, axis=-1)


@keras.saving.register_keras_serializable(package="keras_mtl")
class PerTaskPrecision(_PerTaskConfusion):
    """Binary precision TP / (TP + FP) per task; result = mean over tasks with predictions.

    Args:
        num_tasks: number of tasks T.
        threshold: a row is predicted positive when `y_pred > threshold` (0.5 for
            probabilities, 0 for logits).
        name: metric name.
        dtype: dtype of the metric's result.

    Call arguments (`update_state`):
        y_true: `(batch,)` labels in {0, 1}.
        y_pred: `(batch,)` or `(batch, 1)` scores.
        sample_weight: optional `(batch,)` weights (counts are weighted).
        task_id: `(batch,)` task of each row (required; `MultiTaskModel` passes it).

    Example:

    >>> m = PerTaskPrecision(num_tasks=2)
    >>> m.update_state([1, 0, 1], [0.9, 0.8, 0.1], task_id=[1, 1, 0])
    >>> m.per_task_result().tolist()  # task 0 predicts no positive: undefined
    [nan, 0.5]
    """

    def __init__(
        self,
        num_tasks: int,
        threshold: float = 0.5,
        name: str = "per_task_precision",
        dtype: str | None = None,
    ) -> None:
        super().__init__(num_tasks, threshold, name=name, dtype=dtype)

    def _score(self, counts: Tensor) -> tuple[Tensor, Tensor]:
        return counts[:, 0], counts[:, 0] + counts[:, 1]


@keras.saving.register_keras_serializable(package="keras_mtl")
class PerTaskRecall(_PerTaskConfusion):
    """Binary recall TP / (TP + FN) per task; result = mean over tasks with positives.

    Args:
        num_tasks: number of tasks T.
        threshold: a row is predicted positive when `y_pred > threshold` (0.5 for
            probabilities, 0 for logits).
        name: metric name.
        dtype: dtype of the metric's result.

    Call arguments (`update_state`):
        y_true: `(batch,)` labels in {0, 1}.
        y_pred: `(batch,)` or `(batch, 1)` scores.
        sample_weight: optional `(batch,)` weights (counts are weighted).
        task_id: `(batch,)` task of each row (required; `MultiTaskModel` passes it).

    Example:

    >>> m = PerTaskRecall(num_tasks=2)
    >>> m.update_state([1, 0, 1], [0.9, 0.8, 0.1], task_id=[1, 1, 0])
    >>> m.per_task_result().tolist()  # task 0 misses its positive; task 1 finds its one
    [0.0, 1.0]
    """

    def __init__(
        self,
        num_tasks: int,
        threshold: float = 0.5,
        name: str = "per_task_recall",
        dtype: str | None = None,
    ) -> None:
        super().__init__(num_tasks, threshold, name=name, dtype=dtype)

    def _score(self, counts: Tensor) -> tuple[Tensor, Tensor]:
        return counts[:, 0], counts[:, 0] + counts[:, 3]
