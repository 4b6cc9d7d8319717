"""Nash-MTL: multi-task learning as a bargaining game (Navon et al., 2022)."""

import keras
import tensorflow as tf

from keras_mtl.weighting import solvers
from keras_mtl.weighting.weighting import Weighting, active_tasks, masked_gram, validate_number

_STEP_SIZES = [2.0**-k for k in range(16)] + [0.0]


def nash_mtl_weights(gram, present=None, iterations=20, ridge=1e-6):
    """Solves Nash-MTL's bargaining condition `G a = 1 / a`, `a > 0`, from the Gram matrix.

    The condition is the stationarity condition of the strictly convex
    `f(a) = a^T G a / 2 - sum_t log a_t`, so its solution is unique when it exists. We
    minimise `f` by Newton's method: far from the solution with a static line search (the
    objective is evaluated at 16 halving step sizes and the best feasible one, or none, is
    taken), and with full steps once the Newton decrement is below 1/2 (`f` is
    self-concordant, so they stay feasible and converge quadratically). The problem is solved on
    `G / s + ridge * I`, `s` the mean squared gradient norm, and mapped back:
    `a = a_s / sqrt(s)`. The ridge keeps a solution in existence when a positive combination
    of the gradients vanishes (a Pareto-stationary point, where the bargaining problem has
    none); it perturbs the condition by `ridge * a_t^2` relative.

    The reference code instead runs up to 20 rounds of a sequential convex approximation
    (cvxpy/ECOS): minimise `sum(G a) + phi'(a_prev)(a - a_prev)` subject to
    `a_t (G a)_t >= 1`, linearising the concave `phi(a) = sum log a_t + log (G a)_t`, warm
    started from the previous step's weights and stopped at `||G a - 1/a|| < 1e-3`. Both find
    the same point; Newton's method gets there in fewer, cheaper T-dimensional steps, needs no
    warm start (so no state) and runs in the graph.

    Args:
        gram: `(T, T)` Gram matrix of the task gradients.
        present: optional `(T,)` bool.
        iterations: maximum Newton iterations (static; stops earlier once `a` moves by less
            than 1e-7 relative).
        ridge: relative ridge added to the normalised Gram matrix.

    Returns:
        `(T,)` float32 `a`; absent and zero-gradient tasks get 0 (their utility
        `log <g_t, d>` is undefined).
    """
    gram = tf.convert_to_tensor(gram, tf.float32)
    num_tasks = gram.shape[0]
    mask = tf.ones([num_tasks]) if present is None else tf.cast(present, tf.float32)
    gram = masked_gram(gram, mask)
    active = active_tasks(gram, mask)
    count = tf.reduce_sum(active)
    scale = tf.math.divide_no_nan(tf.reduce_sum(tf.linalg.diag_part(gram) * active), count)
    safe_scale = tf.where(scale > 0, scale, 1.0)
    # Inactive tasks are decoupled (identity rows, solution 1) and zeroed at the end.
    matrix = (gram / safe_scale * active[:, None] * active[None, :]
              + tf.linalg.diag(ridge * active + (1.0 - active)))
    steps = tf.constant(_STEP_SIZES, tf.float32)[:, None]

    def objective(points):
        quadratic = 0.5 * tf.reduce_sum(tf.matmul(points, matrix) * points, axis=-1)
        logs = tf.reduce_sum(tf.math.log(tf.where(points > 0, points, 1.0)), axis=-1)
        return tf.where(tf.reduce_all(points > 0, axis=-1), quadratic - logs, float("inf"))

    def body(index, a, change):
        gradient = tf.linalg.matvec(matrix, a) - 1.0 / a
        hessian = matrix + tf.linalg.diag(1.0 / (a * a))
        direction = -tf.linalg.matvec(solvers.symmetric_pinv(hessian), gradient)
        direction = tf.where(tf.reduce_all(tf.math.is_finite(direction)), direction, 0.0)
        # Newton decrement below 1/2: the full step stays in the domain (Dikin ellipsoid) and
        # converges quadratically, beyond what float32 values of f could tell apart.
        decrement = tf.sqrt(tf.maximum(-tf.tensordot(gradient, direction, 1), 0.0))
        candidates = a[None, :] + steps * direction[None, :]
        searched = candidates[tf.argmin(objective(candidates))]
        full = a + direction
        best = tf.where((decrement < 0.5) & tf.reduce_all(full > 0), full, searched)
        return index + 1, best, solvers.relative_change(best, a)

    ones = tf.ones([num_tasks])
    start = ones * tf.sqrt(num_tasks / tf.reduce_sum(tf.linalg.matvec(matrix, ones)))
    _, a, _ = tf.while_loop(
        lambda index, _, change: (index < iterations) & (change > 1e-7),
        body,
        (tf.constant(0), start, tf.constant(float("inf"))),
    )
    return a / tf.sqrt(safe_scale) * active


@keras.saving.register_keras_serializable(package="keras_mtl")
class NashMTLWeighting(Weighting):
    """Nash-MTL: the Nash bargaining solution between the tasks.

    The update `d = sum_t a_t g_t` maximises `sum_t log <g_t, d>` within a ball; its
    weights solve `G a = 1 / a` (each task's improvement `<g_t, d>` is `1 / a_t`), which makes
    the method invariant to the scale of each task's gradient (degree 0: the gradient-share
    convention does not change the update). At the solution `||d||^2 = a^T G a = n` (n tasks
    with nonzero gradients); like the reference code, the update is then scaled so that its
    norm is at most `max_norm` (the reference clips the shared gradient to norm 1). See
    `nash_mtl_weights` for the solver and how it differs from the reference's sequential
    convex approximation. The reference's `update_weights_every` (reuse weights for k steps)
    is not offered: the Gram matrix is computed on every step anyway and the solve is cheap.

    Reference:
        Navon, Shamsian, Achituve, Maron, Kawaguchi, Chechik, Fetaya, "Multi-Task Learning as a
        Bargaining Game", ICML 2022, Sec. 3 (the bargaining solution satisfies
        `G^T G alpha = 1 / alpha`) and Sec. 3.2 (its sequential convex approximation);
        reference defaults `max_norm = 1.0`, `optim_niter = 20`.

    Args:
        max_norm: largest norm of the update `sum_t a_t g_t` (default 1.0); 0 disables the
            clipping (the update then has norm `sqrt(n)`).
        iterations: Newton iterations (default 20).
        ridge: relative ridge of the solver (default 1e-6).

    Example:

    >>> import numpy as np
    >>> g = np.array([[2.0, 0.0], [0.0, 1.0]], "float32")
    >>> NashMTLWeighting(max_norm=0.0).task_weights([1.0, 1.0], g @ g.T).numpy().round(4)
    array([0.5, 1. ], dtype=float32)
    """

    needs_task_gradients = True

    def __init__(self, max_norm=1.0, iterations=20, ridge=1e-6, **kwargs):
        max_norm = validate_number("max_norm", max_norm, low=0.0)
        iterations = validate_number("iterations", iterations, low=1, integer=True)
        ridge = validate_number("ridge", ridge, low=0.0)
        super().__init__(**kwargs)
        self.max_norm = max_norm
        self.iterations = iterations
        self.ridge = ridge

    def task_weights(self, task_losses, gram=None, present=None):
        inputs = self.prepare_inputs(task_losses, gram, present)
        a = nash_mtl_weights(inputs.gram, inputs.present, self.iterations, self.ridge)
        if self.max_norm > 0:
            norm = tf.sqrt(tf.maximum(tf.tensordot(a, tf.linalg.matvec(inputs.gram, a), 1), 0.0))
            a = a * tf.minimum(1.0, tf.math.divide_no_nan(self.max_norm, norm))
        return a * inputs.mask

    def get_config(self):
        config = super().get_config()
        config.update(
            {"max_norm": self.max_norm, "iterations": self.iterations, "ridge": self.ridge}
        )
        return config
