"""Uncertainty weighting: learned homoscedastic task uncertainty (Kendall et al., 2018)."""

import keras
import tensorflow as tf

from keras_mtl.weighting.weighting import Weighting, add_state, validate_number


def uncertainty_loss(log_variances, task_losses, present=None):
    """Kendall et al.'s objective in the log-variance `s = log sigma^2`:
    `sum_t exp(-s_t) L_t + s_t` over the present tasks (twice Eq. 7, see the class)."""
    log_variances = tf.convert_to_tensor(log_variances, tf.float32)
    task_losses = tf.stop_gradient(tf.convert_to_tensor(task_losses, tf.float32))
    mask = tf.ones_like(task_losses) if present is None else tf.cast(present, tf.float32)
    return tf.reduce_sum(mask * (tf.exp(-log_variances) * task_losses + log_variances))


@keras.saving.register_keras_serializable(package="keras_mtl")
class UncertaintyWeighting(Weighting):
    """Uncertainty weighting: each task loss is scaled by a learned inverse variance.

    Every task t has a learnable log-variance `s_t = log sigma_t^2`; the model minimises
    `sum_t exp(-s_t) L_t + s_t`, so a task with a larger loss (more uncertain) gets a smaller
    weight `exp(-s_t)`, and the `+ s_t` term stops the variances from growing without bound (at
    the optimum `exp(s_t) = L_t`). The weights returned are `exp(-s_t)` (gradient stopped; the
    network's update uses them), and `auxiliary_loss` returns the objective above as a function
    of the `s` variables (the task losses constant), whose gradient trains them with the
    model's optimizer. This is twice Kendall et al.'s Eq. 7 (`L / (2 sigma^2) + log sigma`):
    without the factors 1/2 the initial weights `exp(0) = 1` are the uniform weighting; the
    stationary point is the same.

    Reference:
        Kendall, Gal, Cipolla, "Multi-Task Learning Using Uncertainty to Weigh Losses for Scene
        Geometry and Semantics", CVPR 2018, Eq. 7 (regression) and Eq. 10 (classification),
        trained in the log-variance `s := log sigma^2` (Sec. 3.2); initial `s = 0` as in the
        Nash-MTL benchmark code (LibMTL starts at -0.5 with the 1/2 factors).

    Args:
        initial_log_variance: initial value of every `s_t` (default 0.0: weights 1).

    Example:

    >>> weighting = UncertaintyWeighting()
    >>> weighting.build(2)
    >>> weighting.task_weights([1.0, 3.0]).numpy()
    array([1., 1.], dtype=float32)
    >>> float(weighting.auxiliary_loss([1.0, 3.0]))  # exp(0)*1 + 0 + exp(0)*3 + 0
    4.0
    """

    stateful = True

    def __init__(self, initial_log_variance=0.0, **kwargs):
        initial_log_variance = validate_number("initial_log_variance", initial_log_variance)
        super().__init__(**kwargs)
        self.initial_log_variance = initial_log_variance

    def build(self, num_tasks):
        super().build(num_tasks)
        self.log_variances = add_state(
            self, "log_variances", (self.num_tasks,),
            initializer=keras.initializers.Constant(self.initial_log_variance), trainable=True,
        )

    def task_weights(self, task_losses, gram=None, present=None):
        inputs = self.prepare_inputs(task_losses, gram, present)
        return tf.stop_gradient(tf.exp(-self.log_variances.value)) * inputs.mask

    def auxiliary_loss(self, task_losses, gram=None, present=None):
        inputs = self.prepare_inputs(task_losses, gram, present)
        loss = uncertainty_loss(self.log_variances.value, inputs.losses, inputs.present)
        return tf.where(inputs.finite, loss, 0.0)

    def get_config(self):
        config = super().get_config()
        config["initial_log_variance"] = self.initial_log_variance
        return config
