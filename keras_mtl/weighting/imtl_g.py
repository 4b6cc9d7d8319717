"""IMTL-G: impartial multi-task learning, the gradient part (Liu et al., 2021)."""

import keras
import tensorflow as tf

from keras_mtl.weighting import solvers
from keras_mtl.weighting.weighting import Weighting, active_tasks, masked_gram


def imtl_g_weights(gram, present=None):
    """IMTL-G's weights: the update has equal projections onto every unit task gradient.

    IMTL-G looks for `d = sum_t alpha_t g_t` with `sum_t alpha_t = 1` and
    `<d, u_t>` equal for all t, `u_t = g_t / ||g_t||`. The paper's closed form is
    `alpha_{2:T} = g_1 U^T (D U^T)^{-1}`, `alpha_1 = 1 - sum alpha_{2:T}`, with rows
    `D_t = g_1 - g_t` and `U_t = u_1 - u_t`. In Gram terms the conditions read
    `G alpha = lambda * norms`, i.e. with the cosine matrix `C = N^{-1} G N^{-1}`:
    `alpha = N^{-1} C^+ 1 / (1^T N^{-1} C^+ 1)` (the same solution when `D U^T` is
    invertible; the pseudo-inverse, as in torchjd, also handles linearly dependent gradients).

    Args:
        gram: `(T, T)` Gram matrix of the task gradients.
        present: optional `(T,)` bool.

    Returns:
        `(T,)` float32 `alpha * n` (n = number of present tasks). Absent and zero-gradient
        tasks get 0 (their unit gradient is undefined); all zeros when the normaliser
        `1^T N^{-1} C^+ 1` vanishes (no update has equal positive projections).
    """
    gram = tf.convert_to_tensor(gram, tf.float32)
    num_tasks = gram.shape[0]
    mask = tf.ones([num_tasks]) if present is None else tf.cast(present, tf.float32)
    gram = masked_gram(gram, mask)
    active = active_tasks(gram, mask)
    norms = tf.sqrt(tf.maximum(tf.linalg.diag_part(gram), 0.0))
    inverse_norms = tf.where(active > 0, 1.0 / tf.where(active > 0, norms, 1.0), 0.0)
    cosine = gram * inverse_norms[:, None] * inverse_norms[None, :] + tf.linalg.diag(1.0 - active)
    beta = tf.linalg.matvec(solvers.symmetric_pinv(cosine), active) * active
    alpha = beta * inverse_norms
    total = tf.reduce_sum(alpha)
    usable = tf.abs(total) > 1e-6 * tf.reduce_sum(tf.abs(alpha))
    alpha = tf.where(usable, alpha / tf.where(usable, total, 1.0), 0.0)
    return alpha * tf.reduce_sum(mask)


@keras.saving.register_keras_serializable(package="keras_mtl")
class IMTLGWeighting(Weighting):
    """IMTL-G: the combination of task gradients that is impartial to every task.

    The aggregated gradient has the same projection onto each task's unit gradient, so no
    task dominates the direction by the size of its gradient; the weights sum to 1 (times n,
    the number of present tasks, so that orthogonal gradients of equal norm give all ones).
    Only the gradient part of IMTL is implemented (IMTL-L, its learnable loss scaling, is a
    separate loss weighting in the paper).

    Reference:
        Liu, Li, Kuang, Xue, Chen, Yang, Liao, Zhang, "Towards Impartial Multi-task
        Learning", ICLR 2021, Sec. 3.2 (IMTL-G: equal projections, closed-form `alpha`).
        No hyperparameters.

    Example:

    >>> import numpy as np
    >>> g = np.array([[2.0, 0.0], [0.0, 1.0]], "float32")
    >>> IMTLGWeighting().task_weights([1.0, 1.0], g @ g.T).numpy().round(4)
    array([0.6667, 1.3333], dtype=float32)
    """

    needs_task_gradients = True

    def task_weights(self, task_losses, gram=None, present=None):
        inputs = self.prepare_inputs(task_losses, gram, present)
        return imtl_g_weights(inputs.gram, inputs.present) * inputs.mask
