"""Fixed weighting: user-given constant task weights."""

import keras
import tensorflow as tf

from keras_mtl.weighting.weighting import Weighting


@keras.saving.register_keras_serializable(package="keras_mtl")
class FixedWeighting(Weighting):
    """User-given constant weights, one per task (a hand-tuned linear scalarization).

    Args:
        weights: list of T non-negative floats (the config keeps this name; the values are
            stored as `task_weight_values`, since `weights` is a `Layer` property).

    Example:

    >>> FixedWeighting([0.5, 2.0]).task_weights([1.0, 1.0]).numpy()
    array([0.5, 2. ], dtype=float32)
    """

    def __init__(self, weights, **kwargs):
        try:
            values = [float(w) for w in weights]
        except (TypeError, ValueError):
            values = None
        if not values or min(values) < 0:
            raise ValueError(
                "Expected `weights` to be a non-empty list of non-negative floats. "
                f"Received: weights={weights!r}"
            )
        super().__init__(**kwargs)
        self.task_weight_values = tuple(values)

    def build(self, num_tasks):
        super().build(num_tasks)
        if self.num_tasks != len(self.task_weight_values):
            raise ValueError(
                f"Expected one weight per task ({self.num_tasks} tasks). "
                f"Received: weights={list(self.task_weight_values)}"
            )

    def task_weights(self, task_losses, gram=None, present=None):
        inputs = self.prepare_inputs(task_losses, gram, present)
        return tf.constant(self.task_weight_values, tf.float32) * inputs.mask

    def get_config(self):
        config = super().get_config()
        config["weights"] = list(self.task_weight_values)
        return config
