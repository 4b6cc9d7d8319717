"""Gradient-conflict metrics as Keras metric state (reset by Keras at every epoch start).

Reference:
    Zhao et al., ECCV 2018, Sec. 3.1 (Eq. 2) and Table 1: the Update Compliance Ratio (UCR) of
    tasks `t, t'` is the fraction of mini-batches of an epoch with `<grad_t, grad_t'> > 0`.
"""

import keras
import numpy as np
import tensorflow as tf

from keras_mtl.training import gradient_probe


def _pair_mean(matrix, counts):
    """Mean over unordered pairs i < j with counts > 0 of `matrix`; 0 when no pair counts."""
    upper = tf.linalg.band_part(tf.ones_like(counts), 0, -1) - tf.linalg.band_part(
        tf.ones_like(counts), 0, 0
    )
    valid = tf.cast(counts > 0, tf.float32) * upper
    return tf.math.divide_no_nan(tf.reduce_sum(matrix * valid), tf.reduce_sum(valid))


class _PairMatrixMetric(keras.metrics.Metric):
    """Accumulates a T x T matrix sum and a T x T count; result = mean over pairs of sum/count."""

    def __init__(self, num_tasks, name, dtype=None):
        super().__init__(name=name, dtype=dtype)
        if not isinstance(num_tasks, int) or num_tasks < 1:
            raise ValueError(f"Expected `num_tasks` to be a positive int. Received: {num_tasks}")
        self.num_tasks = num_tasks
        self.total = self.add_variable(
            shape=(num_tasks, num_tasks), initializer="zeros", name="total"
        )
        self.count = self.add_variable(
            shape=(num_tasks, num_tasks), initializer="zeros", name="count"
        )

    summary_key = None  # the `gradient_probe.conflict_summary` entry this metric averages

    def update_state(self, gram, present, sample_weight=1.0):
        self.update_from_summary(gradient_probe.conflict_summary(gram, present), sample_weight)

    def update_from_summary(self, summary, sample_weight=1.0):
        """Same as `update_state`, from a `gradient_probe.conflict_summary` computed once."""
        valid = summary["valid"] * sample_weight
        self.total.assign_add(tf.cast(summary[self.summary_key], self.total.dtype) * valid)
        self.count.assign_add(tf.cast(valid, self.count.dtype))

    def matrix(self):
        """The T x T matrix of per-pair averages (NaN where a pair was never probed)."""
        total = np.asarray(keras.ops.convert_to_numpy(self.total))
        count = np.asarray(keras.ops.convert_to_numpy(self.count))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / np.maximum(count, 1), np.nan)

    def result(self):
        return _pair_mean(tf.math.divide_no_nan(self.total, self.count), self.count)

    def get_config(self):
        return {"num_tasks": self.num_tasks, "name": self.name, "dtype": self.dtype}


@keras.saving.register_keras_serializable(package="keras_mtl")
class PairwiseGradientCosine(_PairMatrixMetric):
    """Epoch mean of per-task gradient cosines on the shared parameters.

    For each pair the cosine is averaged over the probed batches where both tasks were present;
    the scalar result is the mean of those pair averages over pairs i < j.

    Args:
        num_tasks: number of tasks T.
        name: metric name, default `"grad_cosine"`.

    Call arguments (`update_state`):
        gram: `(T, T)` inner products of the per-task shared gradients of one batch.
        present: `(T,)` bool, tasks with rows in the batch.
        sample_weight: scalar, 0 to skip the batch (a step without probe).
    """

    summary_key = "cosine"

    def __init__(self, num_tasks, name="grad_cosine", dtype=None):
        super().__init__(num_tasks, name=name, dtype=dtype)


@keras.saving.register_keras_serializable(package="keras_mtl")
class UpdateComplianceRatio(_PairMatrixMetric):
    """Update Compliance Ratio (UCR) of every task pair over the probed batches of an epoch.

    `UCR(t, t')` = (probed batches with `<grad_t, grad_t'> > 0`) / (probed batches where both
    tasks are present). The scalar result is the mean over pairs i < j. The state is reset by
    Keras at the start of every epoch, so values are per epoch.

    Reference:
        Zhao et al., ECCV 2018, Sec. 3.1, Eq. 2 and Table 1.

    Args:
        num_tasks: number of tasks T.
        name: metric name, default `"ucr"`.

    Call arguments (`update_state`):
        gram: `(T, T)` inner products of the per-task shared gradients of one batch.
        present: `(T,)` bool, tasks with rows in the batch.
        sample_weight: scalar, 0 to skip the batch.

    Example:
    >>> import numpy as np
    >>> m = UpdateComplianceRatio(2)
    >>> m.update_state(np.array([[1.0, 0.5], [0.5, 1.0]], "float32"), np.array([True, True]))
    >>> m.update_state(np.array([[1.0, -0.5], [-0.5, 1.0]], "float32"), np.array([True, True]))
    >>> float(m.result())
    0.5
    """

    summary_key = "positive"

    def __init__(self, num_tasks, name="ucr", dtype=None):
        super().__init__(num_tasks, name=name, dtype=dtype)


@keras.saving.register_keras_serializable(package="keras_mtl")
class ConflictFraction(keras.metrics.Metric):
    """Fraction of task pairs with a negative shared-gradient inner product, pooled over an epoch.

    Counts conflicting pairs / valid pairs over all probed batches (not a mean of batch means).

    Args:
        name: metric name, default `"grad_conflict_frac"`.

    Call arguments (`update_state`):
        gram: `(T, T)` inner products; present: `(T,)` bool; sample_weight: 0 to skip.
    """

    def __init__(self, name="grad_conflict_frac", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.conflicts = self.add_variable(shape=(), initializer="zeros", name="conflicts")
        self.pairs = self.add_variable(shape=(), initializer="zeros", name="pairs")

    def update_state(self, gram, present, sample_weight=1.0):
        self.update_from_summary(gradient_probe.conflict_summary(gram, present), sample_weight)

    def update_from_summary(self, summary, sample_weight=1.0):
        """Same as `update_state`, from a `gradient_probe.conflict_summary` computed once."""
        weight = tf.cast(sample_weight, tf.float32)
        self.conflicts.assign_add(summary["conflict_fraction"] * summary["num_pairs"] * weight)
        self.pairs.assign_add(summary["num_pairs"] * weight)

    def result(self):
        return tf.math.divide_no_nan(self.conflicts, self.pairs)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


@keras.saving.register_keras_serializable(package="keras_mtl")
class PerTaskMean(keras.metrics.Metric):
    """Weighted means of T per-task values, kept in two `(T,)` variables.

    One metric for all tasks (not T `Mean` trackers): its cost in the traced train step does
    not grow with the number of tasks. `result()` is a dict `{prefix + task_name: mean}`, which
    Keras spreads into the logs (`loss_<task>`, `grad_norm_<task>`).

    Args:
        task_names: the T task names.
        prefix: prefix of every logged name, e.g. `"loss_"`.
        name: metric name.

    Call arguments (`update_state`):
        values: `(T,)` per-task values; sample_weight: `(T,)` weights (0 skips a task).

    Example:
    >>> m = PerTaskMean(["a", "b"], "loss_")
    >>> m.update_state([1.0, 4.0], sample_weight=[2.0, 0.0])
    >>> {k: float(v) for k, v in m.result().items()}
    {'loss_a': 1.0, 'loss_b': 0.0}
    """

    def __init__(self, task_names, prefix, name=None, dtype=None):
        super().__init__(name=name or f"{prefix}per_task", dtype=dtype)
        self.task_names = [str(n) for n in task_names]
        self.prefix = prefix
        size = (len(self.task_names),)
        self.total = self.add_variable(shape=size, initializer="zeros", name="total")
        self.weight = self.add_variable(shape=size, initializer="zeros", name="weight")

    def update_state(self, values, sample_weight=None):
        values = tf.cast(values, tf.float32)
        weight = tf.ones_like(values) if sample_weight is None else tf.cast(
            sample_weight, tf.float32) * tf.ones_like(values)
        self.total.assign_add(values * weight)
        self.weight.assign_add(weight)

    def result(self):
        means = tf.unstack(tf.math.divide_no_nan(self.total, self.weight), num=len(self.task_names))
        return {self.prefix + name: mean for name, mean in zip(self.task_names, means, strict=True)}

    def get_config(self):
        return {"task_names": self.task_names, "prefix": self.prefix, "name": self.name,
                "dtype": self.dtype}
