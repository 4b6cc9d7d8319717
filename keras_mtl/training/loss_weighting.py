"""How per-task losses (or gradients) are combined into one update.

A weighting returns one weight per task; the model applies `sum_t w_t * grad_t`, where `grad_t`
is task t's share of the batch gradient. With all weights 1 this is the ordinary gradient of
the batch-mean loss. Weightings that need the per-task gradients (`needs_task_gradients`)
receive their Gram matrix from the probe and make the model compute per-task gradients on every
step.
"""

import keras
import tensorflow as tf


def project_to_simplex(vector):
    """Euclidean projection of a `(T,)` vector onto the probability simplex (sort-based)."""
    vector = tf.convert_to_tensor(vector, tf.float32)
    ordered = tf.sort(vector, direction="DESCENDING")
    cumulative = tf.cumsum(ordered) - 1.0
    index = tf.range(1, tf.shape(vector)[0] + 1, dtype=tf.float32)
    support = tf.cast(ordered - cumulative / index > 0, tf.int32)
    rho = tf.reduce_sum(support) - 1
    theta = cumulative[rho] / tf.cast(rho + 1, tf.float32)
    return tf.maximum(vector - theta, 0.0)


def min_norm_weights(gram, iterations=100):
    """Solves `min_alpha || sum_t alpha_t g_t ||^2` over the simplex from the Gram matrix.

    The min-norm problem of MGDA, solved by accelerated projected gradient descent (FISTA with
    step 1 / largest eigenvalue), which reaches the brute-force optimum more tightly than the
    Frank-Wolfe iterations of the reference code in the same number of steps.

    Reference:
        Sener & Koltun, "Multi-Task Learning as Multi-Objective Optimization", NeurIPS 2018,
        Eq. 3 (the min-norm element of the convex hull of the task gradients).

    Args:
        gram: `(T, T)` Gram matrix of the task gradients, `gram[i, j] = <g_i, g_j>`.
        iterations: number of steps (static).

    Returns:
        `(T,)` float32 weights, non-negative, summing to 1.
    """
    gram = tf.convert_to_tensor(gram, tf.float32)
    num_tasks = tf.shape(gram)[0]
    largest = tf.reduce_max(tf.linalg.eigvalsh(gram))
    step = tf.math.divide_no_nan(1.0, 2.0 * largest)
    alpha = tf.ones([num_tasks], tf.float32) / tf.cast(num_tasks, tf.float32)

    def body(index, alpha, momentum, t):
        new_alpha = project_to_simplex(momentum - step * 2.0 * tf.linalg.matvec(gram, momentum))
        t_next = (1.0 + tf.sqrt(1.0 + 4.0 * t * t)) / 2.0
        momentum = new_alpha + ((t - 1.0) / t_next) * (new_alpha - alpha)
        return index + 1, new_alpha, momentum, t_next

    _, alpha, _, _ = tf.while_loop(
        lambda index, *_: index < iterations, body,
        (tf.constant(0), alpha, alpha, tf.constant(1.0)),
    )
    return alpha


class LossWeighting:
    """Base class: maps per-task losses (and optionally gradients) to per-task weights.

    Subclasses implement `task_weights(task_losses, gram)` and `get_config`.
    """

    needs_task_gradients = False

    def task_weights(self, task_losses, gram=None, present=None):
        raise NotImplementedError

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="keras_mtl")
class UniformWeighting(LossWeighting):
    """Every task weighted 1: the plain batch-mean loss (default)."""

    def task_weights(self, task_losses, gram=None, present=None):
        return tf.ones_like(tf.convert_to_tensor(task_losses, tf.float32))


@keras.saving.register_keras_serializable(package="keras_mtl")
class FixedWeighting(LossWeighting):
    """User-given constant weights, one per task.

    Args:
        weights: list of T non-negative floats.
    """

    def __init__(self, weights):
        weights = [float(w) for w in weights]
        if not weights or min(weights) < 0:
            raise ValueError(
                f"Expected `weights` to be a non-empty list of non-negative floats. "
                f"Received: weights={weights}"
            )
        self.weights = weights

    def task_weights(self, task_losses, gram=None, present=None):
        task_losses = tf.convert_to_tensor(task_losses, tf.float32)
        weights = tf.constant(self.weights, tf.float32)
        tf.debugging.assert_equal(
            tf.size(weights), tf.size(task_losses), message="Expected one weight per task."
        )
        return weights

    def get_config(self):
        return {"weights": self.weights}


@keras.saving.register_keras_serializable(package="keras_mtl")
class MGDAWeighting(LossWeighting):
    """Multiple-gradient descent: the min-norm convex combination of the task gradients.

    Uses the Gram matrix of the per-task shared-parameter gradients that the gradient-conflict
    probe computes anyway (so the MGDA-UB shortcut of differentiating only w.r.t. the shared
    representation is not needed: the grouped probe gives exact per-task parameter gradients at
    about the cost of one backward pass). The simplex weights `alpha` are multiplied by T so that
    equal weights reproduce the uniform weighting.

    Reference:
        Sener & Koltun, "Multi-Task Learning as Multi-Objective Optimization", NeurIPS 2018
        (MGDA / MGDA-UB); the MOO baseline of the top-down modulation paper.

    Args:
        normalization: `"none"`, `"l2"` (each gradient scaled to unit norm before solving) or
            `"loss"` (each gradient divided by its task loss), as in Sener & Koltun's code.
        iterations: solver iterations (see `min_norm_weights`).
    """

    needs_task_gradients = True

    def __init__(self, normalization="none", iterations=100):
        if normalization not in ("none", "l2", "loss"):
            raise ValueError(
                "Expected `normalization` to be one of 'none', 'l2', 'loss'. "
                f"Received: normalization={normalization!r}"
            )
        self.normalization = normalization
        self.iterations = int(iterations)

    def task_weights(self, task_losses, gram=None, present=None):
        if gram is None:
            raise ValueError("Expected the Gram matrix of task gradients. Received: gram=None")
        gram = tf.convert_to_tensor(gram, tf.float32)
        if self.normalization == "l2":
            scale = tf.sqrt(tf.maximum(tf.linalg.diag_part(gram), 0.0))
        elif self.normalization == "loss":
            scale = tf.convert_to_tensor(task_losses, tf.float32)
        else:
            scale = tf.ones([tf.shape(gram)[0]], tf.float32)
        scale = tf.where(scale > 0, scale, 1.0)
        alpha = min_norm_weights(gram / (scale[:, None] * scale[None, :]), self.iterations)
        alpha = alpha / scale
        alpha = alpha / tf.maximum(tf.reduce_sum(alpha), 1e-12)
        return alpha * tf.cast(tf.shape(gram)[0], tf.float32)

    def get_config(self):
        return {"normalization": self.normalization, "iterations": self.iterations}


_ALIASES = {
    "uniform": UniformWeighting,
    "mgda": MGDAWeighting,
    "mgda_ub": MGDAWeighting,
}


def get(identifier):
    """Returns a `LossWeighting` from a name, a list of weights, an instance or a config dict."""
    if identifier is None:
        return UniformWeighting()
    if isinstance(identifier, LossWeighting):
        return identifier
    if isinstance(identifier, str):
        if identifier.lower() not in _ALIASES:
            raise ValueError(
                f"Expected `loss_weighting` to be one of {sorted(_ALIASES)}, a list of "
                f"weights or a LossWeighting. Received: loss_weighting={identifier!r}"
            )
        return _ALIASES[identifier.lower()]()
    if isinstance(identifier, (list, tuple)):
        return FixedWeighting(identifier)
    if isinstance(identifier, dict):
        return keras.saving.deserialize_keras_object(identifier)
    raise TypeError(
        "Expected `loss_weighting` to be a string, a list of floats or a LossWeighting. "
        f"Received: loss_weighting={identifier!r} of type {type(identifier)}"
    )
