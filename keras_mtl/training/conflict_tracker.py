"""`ConflictTracker`: the gradient-conflict probe's epoch state (cosine, UCR, norms).

Reference:
    Zhao et al., ECCV 2018, Sec. 3.1 (Eq. 2) and Table 1: the Update Compliance Ratio (UCR) of
    tasks `t, t'` is the fraction of mini-batches of an epoch with `<grad_t, grad_t'> > 0`.
"""

import keras
import numpy as np
import tensorflow as tf

from keras_mtl.training import gradient_probe


def pair_mean(matrix, counts):
    """Mean of `matrix` over unordered pairs `i < j` with `counts > 0`; 0 when none counts."""
    upper = tf.linalg.band_part(tf.ones_like(counts), 0, -1) - tf.linalg.band_part(
        tf.ones_like(counts), 0, 0)
    valid = tf.cast(counts > 0, tf.float32) * upper
    return tf.math.divide_no_nan(tf.reduce_sum(matrix * valid), tf.reduce_sum(valid))


@keras.saving.register_keras_serializable(package="keras_mtl")
class ConflictTracker(keras.metrics.Metric):
    """Per-epoch gradient-conflict statistics of T tasks, from the probe's Gram matrices.

    Each probed batch gives the Gram matrix `G[i, j] = <g_i, g_j>` of the per-task gradients of
    the shared variables and which tasks were present. The tracker accumulates, per task pair
    (both present): the cosine, whether the inner product was positive (UCR) or negative, and
    the number of batches; per task, the gradient norm. Its fields:

    - `grad_cosine`: mean over pairs `i < j` of the pair's mean cosine;
    - `ucr`: mean over pairs of UCR(i, j) = (batches with `<g_i, g_j> > 0`) / (batches with
      both present) (Zhao et al. Eq. 2, Table 1);
    - `grad_conflict_frac`: conflicting pairs / pairs, pooled over the batches;
    - `grad_norm_<task>`: mean gradient norm of each task over the batches it was present in.

    `result()` returns all of them as a dict (what `MultiTaskModel` logs); `matrices()` the
    T x T matrices. `MultiTaskModel` keeps its tracker out of `model.metrics`, so validation
    does not reset it, and resets it at the start of every training epoch: values are per
    epoch.

    Args:
        task_names: the T task names.
        name: metric name.

    Call arguments (`update_state`):
        gram: `(T, T)` Gram matrix of one batch's per-task shared gradients.
        present: `(T,)` bool, the tasks with examples in the batch.
        sample_weight: scalar; 0 skips the batch (a step without probe, or a skipped step).

    Example:
    >>> tracker = ConflictTracker(["a", "b"])
    >>> tracker.update_state(np.array([[1.0, 0.5], [0.5, 1.0]], "float32"), [True, True])
    >>> tracker.update_state(np.array([[1.0, -0.5], [-0.5, 1.0]], "float32"), [True, True])
    >>> {k: round(float(v), 3) for k, v in tracker.result().items()}
    {'grad_cosine': 0.0, 'ucr': 0.5, 'grad_conflict_frac': 0.5, 'grad_norm_a': 1.0, \
'grad_norm_b': 1.0}
    """

    def __init__(self, task_names, name="conflict", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.task_names = [str(n) for n in task_names]
        num_tasks = len(self.task_names)
        if num_tasks < 1:
            raise ValueError(f"Expected at least one task name. Received: {task_names!r}")
        pair = (num_tasks, num_tasks)
        self.cosine_sum = self.add_variable(shape=pair, initializer="zeros", name="cosine_sum")
        self.positive = self.add_variable(shape=pair, initializer="zeros", name="positive")
        self.negative = self.add_variable(shape=pair, initializer="zeros", name="negative")
        self.batches = self.add_variable(shape=pair, initializer="zeros", name="batches")
        self.norm_sum = self.add_variable(shape=(num_tasks,), initializer="zeros",
                                          name="norm_sum")
        self.norm_count = self.add_variable(shape=(num_tasks,), initializer="zeros",
                                            name="norm_count")

    @property
    def num_tasks(self):
        return len(self.task_names)

    def update_state(self, gram, present, sample_weight=1.0):
        gram = tf.convert_to_tensor(gram, tf.float32)
        present = tf.convert_to_tensor(present)
        weight = tf.cast(sample_weight, tf.float32)
        summary = gradient_probe.conflict_summary(gram, present)
        valid = summary["valid"] * weight
        self.cosine_sum.assign_add(summary["cosine"] * valid)
        self.positive.assign_add(summary["positive"] * weight)
        self.negative.assign_add(tf.cast(gram < 0.0, tf.float32) * valid)
        self.batches.assign_add(valid)
        norms = tf.sqrt(tf.maximum(tf.linalg.diag_part(gram), 0.0))
        seen = tf.cast(present, tf.float32) * weight
        self.norm_sum.assign_add(norms * seen)
        self.norm_count.assign_add(seen)

    def result(self):
        cosine = tf.math.divide_no_nan(self.cosine_sum, self.batches)
        ucr = tf.math.divide_no_nan(self.positive, self.batches)
        norms = tf.unstack(tf.math.divide_no_nan(self.norm_sum, self.norm_count),
                           num=self.num_tasks)
        logs = {
            "grad_cosine": pair_mean(cosine, self.batches),
            "ucr": pair_mean(ucr, self.batches),
            # Ordered pairs count each unordered pair twice, in numerator and denominator.
            "grad_conflict_frac": tf.math.divide_no_nan(
                tf.reduce_sum(self.negative), tf.reduce_sum(self.batches)),
        }
        logs.update({f"grad_norm_{n}": v for n, v in zip(self.task_names, norms, strict=True)})
        return logs

    def matrices(self):
        """The epoch's T x T matrices as NumPy arrays.

        Returns:
            A dict with `cosine` (mean per-pair cosine), `ucr`, `probed_batches` (per pair, the
            probed batches where both tasks were present; NaN entries of the other matrices
            are pairs never probed) and `task_names`.
        """
        total = {k: np.asarray(keras.ops.convert_to_numpy(v)) for k, v in
                 (("cosine", self.cosine_sum), ("ucr", self.positive), ("n", self.batches))}
        with np.errstate(invalid="ignore", divide="ignore"):
            seen = total["n"] > 0
            return {
                "cosine": np.where(seen, total["cosine"] / np.maximum(total["n"], 1), np.nan),
                "ucr": np.where(seen, total["ucr"] / np.maximum(total["n"], 1), np.nan),
                "probed_batches": total["n"],
                "task_names": list(self.task_names),
            }

    def get_config(self):
        return {"task_names": self.task_names, "name": self.name, "dtype": self.dtype}
