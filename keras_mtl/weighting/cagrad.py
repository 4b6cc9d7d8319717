"""CAGrad: conflict-averse gradient descent (Liu et al., 2021)."""

import keras
import tensorflow as tf

from keras_mtl.weighting import solvers
from keras_mtl.weighting.weighting import Weighting, masked_gram, validate_number

RESCALES = (0, 1, 2)


def cagrad_weights(gram, c=0.4, present=None, iterations=200, rescale=1):
    """CAGrad's update as weights over the task gradients, from the Gram matrix.

    CAGrad maximises the worst task improvement near the average gradient `g0`:
    `max_d min_i <g_i, d>  s.t.  ||d - g0|| <= c ||g0||`. Its dual over the simplex,
    `min_w F(w) = <g_w, g0> + c ||g0|| ||g_w||` with `g_w = sum_i w_i g_i`, is convex in T
    dimensions, and the optimum is `d = g0 + c ||g0|| / ||g_w|| g_w`. We solve the dual by
    accelerated projected gradient with a majorize-minimize step: at a point with
    `s = ||g_w||`, `F` is majorized by the quadratic `<g_w, g0> + c||g0|| (||g_w||^2 / s + s)
    / 2`, whose gradient step `w - (s / (c ||g0|| L)) G g0 - G w / L` (L = largest eigenvalue)
    never divides by `s`, so iterates near `g_w = 0` stay finite (the reference code minimises
    `F` with SciPy's SLSQP on the CPU).

    Args:
        gram: `(T, T)` Gram matrix of the task gradients.
        c: radius of the ball around `g0`, relative to `||g0||` (>= 0); `c = 0` is the
            plain mean step.
        present: optional `(T,)` bool; absent tasks get 0 and `g0` is their mean over the
            present ones.
        iterations: maximum solver iterations (static; the loop stops earlier once the
            weights move by less than 1e-7).
        rescale: 0 (none), 1 (divide by `1 + c^2`, the reference default) or 2 (divide by
            `1 + c`).

    Returns:
        `(T,)` float32 weights: `n * (1/n + c ||g0|| / ||g_w|| w_i) / rescale` for the n present
        tasks, so that `c = 0` gives all ones (the plain step).
    """
    gram = tf.convert_to_tensor(gram, tf.float32)
    num_tasks = gram.shape[0]
    mask = tf.ones([num_tasks]) if present is None else tf.cast(present, tf.float32)
    count = tf.reduce_sum(mask)
    gram = masked_gram(gram, mask)
    largest = solvers.largest_eigenvalue(gram)
    gram = tf.math.divide_no_nan(gram, largest)  # the minimiser does not depend on the scale
    mean = mask / tf.maximum(count, 1.0)
    inner_g0 = tf.linalg.matvec(gram, mean)  # <g_i, g0>
    radius = float(c) * tf.sqrt(tf.maximum(tf.tensordot(mean, inner_g0, 1), 0.0))
    safe_radius = tf.where(radius > 0, radius, 1.0)

    def body(index, x, y, t, change):
        gram_y = tf.matmul(y, gram)
        norm = tf.sqrt(tf.maximum(tf.reduce_sum(gram_y * y, axis=-1, keepdims=True), 1e-12))
        x_new = solvers.project_to_simplex(y - (norm / safe_radius) * inner_g0 - gram_y, mask)
        restart = tf.reduce_sum((y - x_new) * (x_new - x), axis=-1, keepdims=True) > 0.0
        t_next = 0.5 * (1.0 + tf.sqrt(1.0 + 4.0 * t * t))
        beta = tf.where(restart, 0.0, (t - 1.0) / t_next)
        t_next = tf.where(restart, tf.ones_like(t), t_next)
        change = solvers.relative_change(x_new, x)
        return index + 1, x_new, x_new + beta * (x_new - x), t_next, change

    start = mean[None, :]
    _, w, _, _, _ = tf.while_loop(
        lambda index, *state: (index < iterations) & (state[-1] > 1e-7),
        body,
        (tf.constant(0), start, start, tf.ones([1, 1]), tf.constant(float("inf"))),
    )
    w = w[0]
    norm_w = tf.sqrt(tf.maximum(tf.tensordot(w, tf.linalg.matvec(gram, w), 1), 0.0))
    usable = (radius > 0) & (norm_w > 1e-6)
    scale = tf.where(usable, radius / tf.where(usable, norm_w, 1.0), 0.0)
    weights = (mean + scale * w) * count
    divisor = {0: 1.0, 1: 1.0 + float(c) ** 2, 2: 1.0 + float(c)}[int(rescale)]
    return weights / divisor


@keras.saving.register_keras_serializable(package="keras_mtl")
class CAGradWeighting(Weighting):
    """CAGrad: the update that maximises the worst task's improvement near the mean gradient.

    Among the directions within `c ||g0||` of the average gradient `g0`, CAGrad takes the one
    whose smallest first-order improvement `min_i <g_i, d>` is largest; `c = 0` is plain
    gradient descent and a large `c` approaches MGDA. The optimum is
    `d = g0 + c ||g0|| g_w / ||g_w||`, where `w` solves the convex dual
    `min_{w in simplex} <g_w, g0> + c ||g0|| ||g_w||` (see `cagrad_weights`). With the
    gradient shares, `g0` is the plain step, so the weights are `n (1/n + lambda w)`: ones when
    `c = 0`. Like the reference code, the result is divided by `1 + c^2` (`rescale=1`).

    Reference:
        Liu, Liu, Jin, Stone, Liu, "Conflict-Averse Gradient Descent for Multi-task
        Learning", NeurIPS 2021, Sec. 3.1 (the primal problem and its dual) and Algorithm 1.
        Official code and the Nash-MTL benchmark use `c = 0.4` on NYUv2/Cityscapes (LibMTL
        defaults to 0.5) and `rescale = 1`.

    Args:
        c: ball radius relative to `||g0||` (default 0.4).
        rescale: 0, 1 (default, divide by `1 + c^2`) or 2 (divide by `1 + c`).
        iterations: dual solver iterations (default 200).

    Example:

    >>> import numpy as np
    >>> g = np.array([[1.0, 0.0], [0.0, 1.0]], "float32")  # no conflict, equal norms
    >>> CAGradWeighting(c=0.4, rescale=0).task_weights([1.0, 1.0], g @ g.T).numpy().round(3)
    array([1.4, 1.4], dtype=float32)
    """

    needs_task_gradients = True

    def __init__(self, c=0.4, rescale=1, iterations=200, **kwargs):
        c = validate_number("c", c, low=0.0)
        if rescale not in RESCALES or isinstance(rescale, bool):
            raise ValueError(
                f"Expected `rescale` to be one of {RESCALES}. Received: rescale={rescale!r}"
            )
        iterations = validate_number("iterations", iterations, low=1, integer=True)
        super().__init__(**kwargs)
        self.c = c
        self.rescale = int(rescale)
        self.iterations = iterations

    def task_weights(self, task_losses, gram=None, present=None):
        inputs = self.prepare_inputs(task_losses, gram, present)
        weights = cagrad_weights(inputs.gram, self.c, inputs.present, self.iterations,
                                 self.rescale)
        return weights * inputs.mask

    def get_config(self):
        config = super().get_config()
        config.update({"c": self.c, "rescale": self.rescale, "iterations": self.iterations})
        return config
