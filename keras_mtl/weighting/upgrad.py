"""UPGrad: unconflicting projection of gradients, Jacobian descent (Quinton & Rey, 2024)."""

import keras
import tensorflow as tf

from keras_mtl.weighting import solvers
from keras_mtl.weighting.weighting import Weighting, masked_gram, validate_number


def dual_cone_projection_weights(gram, targets, present=None, iterations=300):
    """Weights of the projections of `J^T u` onto the dual cone of the rows of `J`.

    The dual cone of the task gradients is `{x : <g_t, x> >= 0 for all t}`. By Proposition 1
    of Quinton & Rey, the projection of `J^T u` onto it is `J^T v` with
    `v = argmin_{v >= u} v^T G v`. With `v = u + z` this is the non-negative quadratic program
    `min_{z >= 0} z^T G z / 2 + (G u)^T z`, solved here for every row of `targets` at once by
    accelerated projected gradient with restart (step 1 / largest eigenvalue); torchjd calls
    the quadprog active-set solver once per row on the CPU.

    Args:
        gram: `(T, T)` PSD matrix (already normalised and regularised by the caller).
        targets: `(R, T)` rows `u` to project.
        present: optional `(T,)` bool; absent coordinates of `v` stay 0.
        iterations: solver iterations (static).

    Returns:
        `(R, T)` float32 rows `v`.
    """
    gram = tf.convert_to_tensor(gram, tf.float32)
    targets = tf.convert_to_tensor(targets, tf.float32)
    num_tasks = gram.shape[0]
    mask = tf.ones([num_tasks]) if present is None else tf.cast(present, tf.float32)
    step = tf.math.divide_no_nan(1.0, solvers.largest_eigenvalue(gram))
    z = solvers.accelerated_projected_gradient(
        gradient=lambda z: tf.matmul(z + targets, gram),
        project=lambda z: tf.maximum(z, 0.0) * mask,
        start=tf.zeros_like(targets),
        step=step,
        iterations=iterations,
    )
    return targets + z


def upgrad_weights(gram, present=None, iterations=300, reg_eps=0.0):
    """UPGrad's weights: project every task gradient onto the dual cone of all of them, sum.

    As in torchjd, the Gram matrix is divided by its trace (the squared Frobenius norm of the
    Jacobian); `reg_eps * I` may be added over the present tasks (torchjd adds 1e-4 so that its
    QP solver sees a positive definite matrix; projected gradient does not need it, and the
    ridge lets `<d, g_t>` go negative by up to `reg_eps * trace * v_t`, so the default is 0).
    Each task's row `e_t` is projected with
    `dual_cone_projection_weights`; the weights are the sum of the projected rows (torchjd
    averages them, mean-like; we sum, so that non-conflicting gradients give all ones).

    Args:
        gram: `(T, T)` Gram matrix of the task gradients.
        present: optional `(T,)` bool; absent tasks get 0 and constrain nothing.
        iterations: solver iterations (static).
        reg_eps: ridge added to the trace-normalised Gram matrix (default 0; torchjd: 1e-4).

    Returns:
        `(T,)` float32 weights.
    """
    gram = tf.convert_to_tensor(gram, tf.float32)
    num_tasks = gram.shape[0]
    mask = tf.ones([num_tasks]) if present is None else tf.cast(present, tf.float32)
    gram = masked_gram(gram, mask)
    normalised = tf.math.divide_no_nan(gram, tf.linalg.trace(gram))
    normalised += tf.linalg.diag(reg_eps * mask + (1.0 - mask))
    projected = dual_cone_projection_weights(
        normalised, tf.linalg.diag(mask), mask, iterations
    )
    return tf.reduce_sum(projected, axis=0) * mask


@keras.saving.register_keras_serializable(package="keras_mtl")
class UPGradWeighting(Weighting):
    """UPGrad: average of the task gradients projected onto their dual cone (Jacobian descent).

    Each task gradient is projected onto the dual cone of all task gradients, the set of
    directions that conflict with none of them, and the projections are summed. The update
    therefore never decreases any task's loss to first order (`<d, g_t> >= 0` for every t,
    up to the solver's tolerance), equals the plain step when no pair conflicts, and is a
    non-conflicting aggregator that is also weighted like the mean (unlike MGDA, its norm does
    not collapse). The sum (torchjd: the mean) keeps the gradient-share convention: all ones
    without conflict.

    Reference:
        Quinton & Rey, "Jacobian Descent for Multi-Objective Optimization", 2024, Sec. 3
        (`A_UPGrad(J) = (1/m) sum_i pi_J(J^T e_i)`) and Proposition 1 (the projection as a
        quadratic program on the Gram matrix). The paper's UPGrad has no hyperparameter.
        torchjd adds `reg_eps = 1e-4` (for its QP solver; here 0 by default, see
        `upgrad_weights`) and zeroes a Gram matrix whose trace is below `norm_eps = 1e-4`, an
        absolute threshold that the small gradient shares would trip; we only guard a zero
        trace.

    Args:
        reg_eps: ridge added to the trace-normalised Gram matrix (default 0, the paper;
            torchjd uses 1e-4).
        iterations: solver iterations (default 300).

    Example:

    >>> import numpy as np
    >>> g = np.array([[1.0, 0.0], [-1.0, 1.0]], "float32")
    >>> w = UPGradWeighting().task_weights([1.0, 1.0], g @ g.T).numpy()
    >>> bool(np.all((w @ g) @ g.T >= -1e-4))  # no task's loss increases to first order
    True
    """

    needs_task_gradients = True

    def __init__(self, reg_eps=0.0, iterations=300, **kwargs):
        reg_eps = validate_number("reg_eps", reg_eps, low=0.0)
        iterations = validate_number("iterations", iterations, low=1, integer=True)
        super().__init__(**kwargs)
        self.reg_eps = reg_eps
        self.iterations = iterations

    def task_weights(self, task_losses, gram=None, present=None):
        inputs = self.prepare_inputs(task_losses, gram, present)
        return upgrad_weights(inputs.gram, inputs.present, self.iterations, self.reg_eps)

    def get_config(self):
        config = super().get_config()
        config.update({"reg_eps": self.reg_eps, "iterations": self.iterations})
        return config
