"""`TrainingState`: what one training step leaves for the next and for the bad-batch guard."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="keras_mtl")
class TrainingState(keras.metrics.Metric):
    """Step-to-step state of `MultiTaskModel` training, outside the model's weights.

    Fields (variables, identical on every replica): `skipped`, the number of skipped steps;
    `step`, `reason` and `bad_tasks` of the last skipped one (reason 1: non-finite loss,
    2: non-finite gradients, 3: task ids out of range); `task_losses`, the last step's
    per-task mean losses (what loss weightings see before the next step's gradients). It is
    not one of `model.metrics`: Keras never resets it, and, unlike a metric, it is saved with
    the model (`.keras`, `save_weights`, `BackupAndRestore`), so a resumed run weighs its first
    step as the uninterrupted one would. `result()` gives `skipped_steps`.

    Args:
        num_tasks: T.
        name: metric name.
    """

    def __init__(self, num_tasks, name="training_state", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.num_tasks = int(num_tasks)
        first = "only_first_replica"

        def variable(name, shape=()):
            return self.add_variable(shape=shape, initializer="zeros", name=name,
                                     aggregation=first)

        self.skipped = variable("skipped")
        self.step = variable("step")
        self.reason = variable("reason")
        self.bad_tasks = variable("bad_tasks", (self.num_tasks,))
        self.task_losses = variable("task_losses", (self.num_tasks,))

    def update_state(self, ok, reason, step, bad_tasks, task_losses):
        """Records one step: `ok` (bool scalar), and when not ok why, where and which tasks."""
        bad = tf.logical_not(ok)
        self.skipped.assign_add(tf.cast(bad, tf.float32))
        self.step.assign(tf.where(bad, tf.cast(step, tf.float32), self.step))
        self.reason.assign(tf.where(bad, tf.cast(reason, tf.float32), self.reason))
        self.bad_tasks.assign(tf.where(bad, tf.cast(bad_tasks, tf.float32), self.bad_tasks))
        self.task_losses.assign(tf.where(ok, task_losses, self.task_losses))

    def result(self):
        return {"skipped_steps": tf.identity(self.skipped)}

    def reset_state(self):  # cumulative over the model's life: Keras never resets it
        pass

    def save_own_variables(self, store):
        for index, variable in enumerate(self.variables):
            store[str(index)] = variable.numpy()

    def load_own_variables(self, store):
        for index, variable in enumerate(self.variables):
            variable.assign(store[str(index)])

    def get_config(self):
        return {"num_tasks": self.num_tasks, "name": self.name, "dtype": self.dtype}
