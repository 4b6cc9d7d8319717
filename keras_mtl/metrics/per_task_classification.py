"""Per-task accuracy, precision and recall of classification heads (TR paper Table 2 style)."""

import keras
import numpy as np
from keras import ops


def confusion_counts(y_true, y_pred, task_ids, num_tasks, threshold=0.5, sample_weight=None):
    """Per-task true/false positive/negative counts of binary predictions.

    Args:
        y_true: `(batch,)` labels in {0, 1}.
        y_pred: `(batch,)` or `(batch, 1)` scores (probabilities or logits, see `threshold`).
        task_ids: `(batch,)` int task of each row.
        num_tasks: T.
        threshold: a row is predicted positive when `y_pred > threshold`.
        sample_weight: optional `(batch,)` weights.

    Returns:
        `(T, 4)` float32 counts, columns TP, FP, TN, FN.
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
    one_hot = ops.one_hot(ops.reshape(ops.cast(task_ids, "int32"), (-1,)), num_tasks)
    return ops.matmul(ops.transpose(one_hot), cells)


class _PerTaskConfusion(keras.metrics.Metric):
    """Accumulates per-task binary confusion counts; subclasses define the per-task score."""

    def __init__(self, num_tasks, threshold=0.5, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        if not isinstance(num_tasks, int) or num_tasks < 1:
            raise ValueError(f"Expected `num_tasks` to be a positive int. Received: {num_tasks}")
        self.num_tasks = num_tasks
        self.threshold = float(threshold)
        self.counts = self.add_variable(shape=(num_tasks, 4), initializer="zeros", name="counts")

    def update_state(self, y_true, y_pred, sample_weight=None, task_id=None):
        if task_id is None:
            raise ValueError(
                f"Expected `task_id` for the per-task metric {self.name!r}. Received: None"
            )
        self.counts.assign_add(
            confusion_counts(y_true, y_pred, task_id, self.num_tasks, self.threshold,
                             sample_weight)
        )

    def _score(self, counts):
        raise NotImplementedError

    def _per_task(self):
        score, denominator = self._score(self.counts)
        return ops.divide_no_nan(score, denominator), ops.cast(denominator > 0, "float32")

    def result(self):
        per_task, seen = self._per_task()
        return ops.divide_no_nan(ops.sum(per_task * seen), ops.sum(seen))

    def per_task_result(self):
        """NumPy `(T,)` scores (NaN where undefined, e.g. no predicted positives)."""
        score, denominator = (np.asarray(ops.convert_to_numpy(v)) for v in self._score(
            self.counts))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(denominator > 0, score / np.maximum(denominator, 1e-12), np.nan)

    def get_config(self):
        return {"num_tasks": self.num_tasks, "threshold": self.threshold, "name": self.name,
                "dtype": self.dtype}


@keras.saving.register_keras_serializable(package="keras_mtl")
class PerTaskAccuracy(_PerTaskConfusion):
    """Binary accuracy per task; result = mean over tasks seen (macro average).

    Args:
        num_tasks: T. threshold: positive when `y_pred > threshold` (0 for logits).
        name: metric name.

    Call arguments (`update_state`):
        y_true, y_pred: `(batch,)` labels and scores; sample_weight: optional;
        task_id: `(batch,)` task of each row (required).
    """

    def __init__(self, num_tasks, threshold=0.5, name="per_task_accuracy", dtype=None):
        super().__init__(num_tasks, threshold, name=name, dtype=dtype)

    def _score(self, counts):
        return counts[:, 0] + counts[:, 2], ops.sum(counts, axis=-1)


@keras.saving.register_keras_serializable(package="keras_mtl")
class PerTaskPrecision(_PerTaskConfusion):
    """Binary precision TP / (TP + FP) per task; result = mean over tasks with predictions.

    Args and call arguments: as `PerTaskAccuracy`.
    """

    def __init__(self, num_tasks, threshold=0.5, name="per_task_precision", dtype=None):
        super().__init__(num_tasks, threshold, name=name, dtype=dtype)

    def _score(self, counts):
        return counts[:, 0], counts[:, 0] + counts[:, 1]


@keras.saving.register_keras_serializable(package="keras_mtl")
class PerTaskRecall(_PerTaskConfusion):
    """Binary recall TP / (TP + FN) per task; result = mean over tasks with positives.

    Args and call arguments: as `PerTaskAccuracy`.
    """

    def __init__(self, num_tasks, threshold=0.5, name="per_task_recall", dtype=None):
        super().__init__(num_tasks, threshold, name=name, dtype=dtype)

    def _score(self, counts):
        return counts[:, 0], counts[:, 0] + counts[:, 3]
