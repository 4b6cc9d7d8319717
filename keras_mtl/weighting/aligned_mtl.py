"""Aligned-MTL: independent component alignment (Senushkin et al., 2023)."""

import keras
import tensorflow as tf

from keras_mtl.weighting.weighting import Weighting, masked_gram

SCALE_MODES = ("min", "median", "rmse")


def aligned_mtl_balance(gram, present=None, scale_mode="min"):
    """Aligned-MTL's balance matrix `B` and the rank mask of the Gram's eigenvalues.

    With the eigendecomposition `G = V diag(lambda) V^T` of the task gradients' Gram matrix,
    `B = sqrt(lambda_R) V diag(lambda)^{-1/2} V^T` over the eigenvalues above the rank
    tolerance (`max lambda * T * float32 eps`, as in the reference code). The aligned gradients
    `B g` (rows) have the Gram matrix `B G B = lambda_R V_r V_r^T`: every nonzero singular
    value equals `sqrt(lambda_R)`, condition number 1. `lambda_R` is the smallest kept
    eigenvalue (`"min"`, the paper), their lower median (`"median"`) or their mean
    (`"rmse"`, i.e. the root mean square of the singular values).

    Args:
        gram: `(T, T)` Gram matrix of the task gradients.
        present: optional `(T,)` bool.
        scale_mode: `"min"`, `"median"` or `"rmse"`.

    Returns:
        `(B, kept)`: `(T, T)` float32 balance matrix (the identity when every gradient is
        zero) and `(T,)` bool mask of the kept eigenvalues.
    """
    gram = tf.convert_to_tensor(gram, tf.float32)
    num_tasks = gram.shape[0]
    mask = tf.ones([num_tasks]) if present is None else tf.cast(present, tf.float32)
    gram = masked_gram(gram, mask)
    values, vectors = tf.linalg.eigh(gram)  # ascending
    tolerance = tf.reduce_max(values) * num_tasks * 1.1920929e-07
    kept = values > tf.maximum(tolerance, 0.0)
    rank = tf.reduce_sum(tf.cast(kept, tf.int32))
    safe_values = tf.where(kept, values, 1.0)
    if scale_mode == "min":
        reference = tf.reduce_min(tf.where(kept, values, float("inf")))
    elif scale_mode == "median":  # lower median of the kept eigenvalues, like torch.median
        reference = tf.gather(values, num_tasks - rank + (rank - 1) // 2)
    else:
        reference = tf.math.divide_no_nan(
            tf.reduce_sum(tf.where(kept, values, 0.0)), tf.cast(rank, tf.float32)
        )
    reference = tf.where(rank > 0, reference, 0.0)
    inverse_sqrt = tf.where(kept, tf.math.rsqrt(safe_values), 0.0)
    balance = tf.sqrt(tf.maximum(reference, 0.0)) * tf.matmul(
        vectors * inverse_sqrt[None, :], vectors, transpose_b=True
    )
    balance = tf.where(rank > 0, balance, tf.eye(num_tasks))
    return balance, kept


def aligned_mtl_weights(gram, present=None, scale_mode="min"):
    """Aligned-MTL's weights: the sum of the aligned gradients, `B 1` (see
    `aligned_mtl_balance`). Orthogonal gradients of equal norm give all ones."""
    num_tasks = gram.shape[0]
    mask = tf.ones([num_tasks]) if present is None else tf.cast(present, tf.float32)
    balance, _ = aligned_mtl_balance(gram, present, scale_mode)
    return tf.linalg.matvec(balance, mask) * mask


@keras.saving.register_keras_serializable(package="keras_mtl")
class AlignedMTLWeighting(Weighting):
    """Aligned-MTL: align the principal components of the task gradients before summing.

    The task gradients, as the rows of a matrix, are replaced by the closest (Procrustes)
    matrix whose nonzero singular values are all equal, `sqrt(lambda_R)`: the condition
    number of the linear system of gradients becomes 1, which removes both dominance (one
    large gradient) and conflict (strongly anti-correlated ones). The update is the sum of the
    aligned gradients (uniform task preferences), a combination of the original gradients with
    weights `B 1`. Absent and zero-gradient tasks fall out of the rank and get 0.

    Reference:
        Senushkin, Patakin, Kuznetsov, Konushin, "Independent Component Alignment for
        Multi-Task Learning", CVPR 2023, Sec. 4 (the alignment `G_hat = sigma_min U V^T`,
        computed from the Gram matrix's eigendecomposition) and Algorithm 1; reference
        `scale_mode = "min"`.

    Args:
        scale_mode: `"min"` (default, the paper), `"median"` or `"rmse"`, the singular value
            the aligned gradients share (the reference code's options).

    Example:

    >>> import numpy as np
    >>> g = np.array([[1.0, 0.0], [0.0, 1.0]], "float32")
    >>> AlignedMTLWeighting().task_weights([1.0, 1.0], g @ g.T).numpy()
    array([1., 1.], dtype=float32)
    """

    needs_task_gradients = True

    def __init__(self, scale_mode="min", **kwargs):
        if scale_mode not in SCALE_MODES:
            raise ValueError(
                f"Expected `scale_mode` to be one of {SCALE_MODES}. "
                f"Received: scale_mode={scale_mode!r}"
            )
        super().__init__(**kwargs)
        self.scale_mode = scale_mode

    def task_weights(self, task_losses, gram=None, present=None):
        inputs = self.prepare_inputs(task_losses, gram, present)
        return aligned_mtl_weights(inputs.gram, inputs.present, self.scale_mode)

    def get_config(self):
        config = super().get_config()
        config["scale_mode"] = self.scale_mode
        return config
