"""`PerTaskMean`: weighted means of T per-task values in two `(T,)` variables."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="keras_mtl")
class PerTaskMean(keras.metrics.Metric):
    """Weighted means of T per-task values, kept in two `(T,)` variables.

    One metric for all tasks (not T `Mean` trackers): its cost in the traced train step does
    not grow with the number of tasks. `result()` is a dict `{prefix + task_name: mean}`, which
    Keras spreads into the logs (`loss_<task>`).

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
        self.total.assign_add(tf.where(weight > 0, values * weight, 0.0))
        self.weight.assign_add(weight)

    def result(self):
        means = tf.unstack(tf.math.divide_no_nan(self.total, self.weight), num=len(self.task_names))
        return {self.prefix + name: mean for name, mean in zip(self.task_names, means, strict=True)}

    def get_config(self):
        return {"task_names": self.task_names, "prefix": self.prefix, "name": self.name,
                "dtype": self.dtype}
