"""GradNorm: gradient normalization for adaptive loss balancing (Chen et al., 2018)."""

import keras
import tensorflow as tf

from keras_mtl.weighting.weighting import (
    Weighting,
    add_state,
    all_finite,
    masked_gram,
    validate_number,
)


def gradnorm_loss(weights, gram, task_losses, initial_losses, alpha=1.5, present=None):
    """GradNorm's loss for the task weights (Chen et al., Eq. 2), from the Gram diagonal.

    `L_grad = sum_t | w_t ||g_t|| - mean_i(w_i ||g_i||) * r_t^alpha |`, with the inverse
    training rate `r_t = L~_t / mean_i L~_i`, `L~_t = L_t / L_t(0)`; the target
    `mean(w ||g||) r^alpha` is a constant (gradient stopped), so the gradient reaches `w` only
    through `w_t ||g_t||`.

    Args:
        weights: `(T,)` task weights (a variable or tensor; differentiable).
        gram: `(T, T)` Gram matrix of the task gradients (its diagonal: squared norms).
        task_losses: `(T,)` current task losses.
        initial_losses: `(T,)` losses at the start of training (0 where unknown: ratio 0).
        alpha: the restoring-force strength.
        present: optional `(T,)` bool; means are over the present tasks.

    Returns:
        Scalar float32.
    """
    weights = tf.convert_to_tensor(weights, tf.float32)
    task_losses = tf.stop_gradient(tf.convert_to_tensor(task_losses, tf.float32))
    initial_losses = tf.convert_to_tensor(initial_losses, tf.float32)
    mask = tf.ones_like(task_losses) if present is None else tf.cast(present, tf.float32)
    count = tf.maximum(tf.reduce_sum(mask), 1.0)
    gram = masked_gram(tf.stop_gradient(tf.convert_to_tensor(gram, tf.float32)), mask)
    norms = tf.sqrt(tf.maximum(tf.linalg.diag_part(gram), 0.0))
    weighted_norms = weights * norms * mask
    mean_norm = tf.reduce_sum(weighted_norms) / count
    ratios = tf.math.divide_no_nan(task_losses, initial_losses) * mask
    relative = tf.math.divide_no_nan(ratios, tf.reduce_sum(ratios) / count)
    target = tf.stop_gradient(mean_norm * tf.pow(relative, alpha))
    return tf.reduce_sum(mask * tf.abs(weighted_norms - target))


@keras.saving.register_keras_serializable(package="keras_mtl")
class GradNormWeighting(Weighting):
    """GradNorm: learn loss weights that equalise the tasks' gradient norms and training rates.

    Learnable weights `w` (initially 1) scale the task losses. At every step GradNorm pulls each
    weighted gradient norm `w_t ||g_t||` towards the mean weighted norm times `r_t^alpha`, where
    `r_t` is the task's loss ratio `L_t / L_t(0)` relative to the mean ratio: tasks that train
    more slowly get larger gradients. `auxiliary_loss` returns that L1 loss (Eq. 2) as a
    function of `w`, for the model's optimizer; `task_weights` first renormalises `w` to sum to
    T (the paper renormalises after each update; negative weights, which a large step could
    produce, are clipped to 0 first) and returns it, gradient stopped. Call `task_weights`
    before `auxiliary_loss` in a step.

    Differences from the paper: the gradient norms are those of the task gradients over *all*
    shared weights, read from the Gram diagonal that the probe computes anyway, not of the last
    shared layer only (which the paper chose for speed); `L_t(0)` is each task's loss at the
    first step where it is present with a positive finite loss. The weights and the initial
    losses are saved in variables.

    Reference:
        Chen, Badrinarayanan, Lee, Rabinovich, "GradNorm: Gradient Normalization for Adaptive
        Loss Balancing in Deep Multitask Networks", ICML 2018, Eq. 2 and Algorithm 1;
        `alpha = 1.5` (the NYUv2 setting, LibMTL's default).

    Args:
        alpha: strength of the restoring force towards equal training rates (default 1.5).

    Example:

    >>> import numpy as np
    >>> weighting = GradNormWeighting()
    >>> weighting.build(2)
    >>> gram = np.diag([4.0, 1.0]).astype("float32")  # gradient norms 2 and 1
    >>> weighting.task_weights([1.0, 1.0], gram).numpy()
    array([1., 1.], dtype=float32)
    >>> float(weighting.auxiliary_loss([1.0, 1.0], gram))  # |2 - 1.5| + |1 - 1.5|
    1.0
    """

    needs_task_gradients = True
    stateful = True

    def __init__(self, alpha=1.5, **kwargs):
        alpha = validate_number("alpha", alpha, low=0.0)
        super().__init__(**kwargs)
        self.alpha = alpha

    def build(self, num_tasks):
        super().build(num_tasks)
        shape = (self.num_tasks,)
        self.loss_weights = add_state(
            self, "loss_weights", shape, initializer="ones", trainable=True,
            aggregation="only_first_replica",
        )
        self.initial_losses = add_state(self, "initial_losses", shape)

    def task_weights(self, task_losses, gram=None, present=None):
        inputs = self.prepare_inputs(task_losses, gram, present)
        initial = self.initial_losses.value
        record = (initial <= 0.0) & inputs.present & (inputs.losses > 0.0) & inputs.finite
        self.initial_losses.assign(tf.where(record, inputs.losses, initial))
        weights = tf.maximum(self.loss_weights.value, 0.0)
        total = tf.reduce_sum(weights)
        usable = (total > 0.0) & all_finite(weights)
        weights = tf.where(
            usable, weights * (self.num_tasks / tf.where(usable, total, 1.0)), 1.0
        )
        self.loss_weights.assign(weights)
        return tf.stop_gradient(weights) * inputs.mask

    def auxiliary_loss(self, task_losses, gram=None, present=None):
        inputs = self.prepare_inputs(task_losses, gram, present)
        loss = gradnorm_loss(self.loss_weights.value, inputs.gram, inputs.losses,
                             self.initial_losses.value, self.alpha, inputs.present)
        return tf.where(inputs.finite, loss, 0.0)

    def get_config(self):
        config = super().get_config()
        config["alpha"] = self.alpha
        return config
