"""FAMO: fast adaptive multitask optimization (Liu et al., 2023)."""

import keras
import tensorflow as tf

from keras_mtl.weighting.weighting import (
    Weighting,
    add_state,
    all_finite,
    validate_number,
)

_ADAM_BETA_1, _ADAM_BETA_2, _ADAM_EPSILON = 0.9, 0.999, 1e-8  # torch.optim.Adam defaults


def famo_task_weights(logits, task_losses, present=None, epsilon=1e-8):
    """FAMO's loss weights: `n * (z_t / L_t) / sum_i (z_i / L_i)`, `z = softmax(logits)`.

    The update of FAMO is the gradient of `sum_t z_t log(L_t)`, normalised by
    `c = sum_t z_t / L_t`: `sum_t (z_t / (c L_t)) grad L_t`, weights on the simplex (times n,
    the number of present tasks, for the gradient-share convention). `L_t` is clipped at 0 and
    `epsilon` added, as in the reference code (`losses - min_losses + 1e-8`, `min_losses = 0`).
    """
    logits = tf.convert_to_tensor(logits, tf.float32)
    task_losses = tf.convert_to_tensor(task_losses, tf.float32)
    mask = tf.ones_like(task_losses) if present is None else tf.cast(present, tf.float32)
    ratio = tf.nn.softmax(logits) / (tf.maximum(task_losses, 0.0) + epsilon) * mask
    return tf.math.divide_no_nan(ratio, tf.reduce_sum(ratio)) * tf.reduce_sum(mask)


def famo_logit_gradient(logits, delta):
    """FAMO's gradient for the logits, `J_softmax(logits)^T delta = z * (delta - z . delta)`,
    where `delta_t = log L_t(before) - log L_t(after)` is each task's log-loss decrease."""
    z = tf.nn.softmax(tf.convert_to_tensor(logits, tf.float32))
    delta = tf.convert_to_tensor(delta, tf.float32)
    return z * (delta - tf.reduce_sum(z * delta))


@keras.saving.register_keras_serializable(package="keras_mtl")
class FAMOWeighting(Weighting):
    """FAMO: balance the rates at which the task losses decrease, at the cost of a loss weighting.

    FAMO keeps task logits `xi` (weights `z = softmax(xi)`) and steps along the normalised
    gradient of `sum_t z_t log L_t`, i.e. loss weights proportional to `z_t / L_t` (see
    `famo_task_weights`). After each step it measures every task's log-loss decrease
    `delta_t = log L_t(before) - log L_t(after)` and moves the logits against
    `J_softmax^T delta` plus the decay `gamma * xi`, so that tasks that improved less gain
    weight. As in the reference code, the logits are updated with Adam (learning rate `beta`,
    L2 decay `gamma` added to the gradient, PyTorch's Adam constants), whose moments are part of
    the state.

    One-pass approximation: the reference re-evaluates the same batch after the parameter
    update to get `L(after)`; a weighting sees one loss vector per step, so `L(after)` is the
    next step's task losses (on the next batch), and `L(before)` the previous step's. The
    logits therefore move once per call, from the second call on, using the tasks present in
    both steps. The state (logits, Adam moments, the previous losses and presence) lives in
    variables; a step with non-finite losses changes nothing.

    Reference:
        Liu, Liu, Stone, Liu, "FAMO: Fast Adaptive Multitask Optimization", NeurIPS 2023,
        Algorithm 1; reference code defaults `w_lr = 0.025` (`beta`), `gamma = 0.01`,
        `max_norm = 1.0` (a clip of the shared gradient, left to the optimizer's `clipnorm`),
        `min_losses = 0`.

    Args:
        beta: learning rate of the logits (default 0.025).
        gamma: decay of the logits (default 0.01).
        epsilon: added to the losses before the log and the division (default 1e-8).

    Example:

    >>> weighting = FAMOWeighting()
    >>> weighting.build(2)
    >>> weighting.task_weights([1.0, 3.0]).numpy().round(4)  # z uniform: weights ~ 1 / L
    array([1.5, 0.5], dtype=float32)
    """

    stateful = True

    def __init__(self, beta=0.025, gamma=0.01, epsilon=1e-8, **kwargs):
        beta = validate_number("beta", beta, low=0.0, low_open=True)
        gamma = validate_number("gamma", gamma, low=0.0)
        epsilon = validate_number("epsilon", epsilon, low=0.0, low_open=True)
        super().__init__(**kwargs)
        self.beta = beta
        self.gamma = gamma
        self.epsilon = epsilon

    def build(self, num_tasks):
        super().build(num_tasks)
        shape = (self.num_tasks,)
        self.logits = add_state(self, "logits", shape)
        self.adam_m = add_state(self, "adam_m", shape)
        self.adam_v = add_state(self, "adam_v", shape)
        self.adam_steps = add_state(self, "adam_steps", ())
        self.previous_losses = add_state(self, "previous_losses", shape)
        self.previous_present = add_state(self, "previous_present", shape)

    def task_weights(self, task_losses, gram=None, present=None):
        inputs = self.prepare_inputs(task_losses, gram, present)
        logits = self.logits.value
        both = self.previous_present.value * inputs.mask
        delta = (tf.math.log(tf.maximum(self.previous_losses.value, 0.0) + self.epsilon)
                 - tf.math.log(tf.maximum(inputs.losses, 0.0) + self.epsilon))
        delta = tf.where(both > 0, delta, 0.0)
        gradient = famo_logit_gradient(logits, delta) + self.gamma * logits
        steps = self.adam_steps.value + 1.0
        m = _ADAM_BETA_1 * self.adam_m.value + (1.0 - _ADAM_BETA_1) * gradient
        v = _ADAM_BETA_2 * self.adam_v.value + (1.0 - _ADAM_BETA_2) * gradient * gradient
        m_hat = m / (1.0 - _ADAM_BETA_1**steps)
        v_hat = v / (1.0 - _ADAM_BETA_2**steps)
        new_logits = logits - self.beta * m_hat / (tf.sqrt(v_hat) + _ADAM_EPSILON)
        finite = inputs.finite
        update = finite & tf.reduce_any(both > 0) & all_finite(new_logits)
        logits = tf.where(update, new_logits, logits)
        self.logits.assign(logits)
        self.adam_m.assign(tf.where(update, m, self.adam_m.value))
        self.adam_v.assign(tf.where(update, v, self.adam_v.value))
        self.adam_steps.assign(tf.where(update, steps, self.adam_steps.value))
        self.previous_losses.assign(tf.where(finite, inputs.losses, self.previous_losses.value))
        self.previous_present.assign(tf.where(finite, inputs.mask, self.previous_present.value))
        return famo_task_weights(logits, inputs.losses, inputs.present, self.epsilon)

    def get_config(self):
        config = super().get_config()
        config.update({"beta": self.beta, "gamma": self.gamma, "epsilon": self.epsilon})
        return config
