"""Small static-shape solvers shared by the gradient weightings (T dimensions, graph and XLA)."""

import tensorflow as tf

_LARGE = 1e30


def project_to_simplex(vector, mask=None):
    """Euclidean projection onto the probability simplex (sort-based), over masked entries.

    Args:
        vector: `(..., T)` float tensor; the projection is taken along the last axis.
        mask: optional `(..., T)` or `(T,)` 0/1 tensor; entries where it is 0 are excluded (their
            output is 0) and the simplex is the one of the remaining entries. A row with no
            entry left projects to zeros.

    Returns:
        Tensor of the shape of `vector`: non-negative, summing to 1 over the masked entries.
    """
    vector = tf.convert_to_tensor(vector, tf.float32)
    if mask is None:
        mask = tf.ones_like(vector)
    mask = tf.broadcast_to(tf.cast(mask, tf.float32), tf.shape(vector))
    masked = tf.where(mask > 0, vector, -_LARGE)
    ordered = tf.sort(masked, axis=-1, direction="DESCENDING")
    ordered_mask = tf.sort(mask, axis=-1, direction="DESCENDING")  # masked entries sort first
    cumulative = tf.cumsum(ordered * ordered_mask, axis=-1) - 1.0
    index = tf.cast(tf.range(1, tf.shape(vector)[-1] + 1), tf.float32)
    support = (ordered - cumulative / index > 0) & (ordered_mask > 0)
    rho = tf.maximum(tf.reduce_sum(tf.cast(support, tf.int32), axis=-1, keepdims=True), 1)
    theta = tf.gather(cumulative, rho - 1, axis=-1, batch_dims=vector.shape.rank - 1)
    theta = theta / tf.cast(rho, tf.float32)
    return tf.maximum(vector - theta, 0.0) * mask


def largest_eigenvalue(gram):
    """Largest eigenvalue of a symmetric positive semi-definite matrix (0 for the zero matrix)."""
    return tf.maximum(tf.reduce_max(tf.linalg.eigvalsh(gram)), 0.0)


def accelerated_projected_gradient(gradient, project, start, step, iterations, tolerance=1e-7):
    """FISTA with adaptive (gradient-based) restart, batched over rows.

    Minimises a smooth convex function over a convex set given its gradient and the Euclidean
    projection onto the set: `x <- project(y - step * gradient(y))`, then Nesterov extrapolation
    of `y`, restarted (momentum dropped) for a row whenever its step turns against the previous
    one (O'Donoghue & Candes, 2015), which restores linear convergence on strongly convex
    problems. A `tf.while_loop` with at most `iterations` steps keeps the graph static; it
    stops early once no entry moves by more than `tolerance * max(1, max |x|)` (float32
    resolution), which is where the iterates stall.

    Args:
        gradient: callable `(R, T) -> (R, T)`, the gradient of each row's objective.
        project: callable `(R, T) -> (R, T)`, the projection onto the feasible set.
        start: `(R, T)` feasible starting points.
        step: scalar or `(R, 1)` step size, at most 1 / (Lipschitz constant of the gradient).
        iterations: maximum number of iterations (static).
        tolerance: relative change below which the loop stops (0: always `iterations`).

    Returns:
        `(R, T)` the last iterate.
    """
    start = tf.convert_to_tensor(start, tf.float32)
    momentum_one = tf.ones_like(start[:, :1])

    def body(index, x, y, t, change):
        x_new = project(y - step * gradient(y))
        restart = tf.reduce_sum((y - x_new) * (x_new - x), axis=-1, keepdims=True) > 0.0
        t_next = 0.5 * (1.0 + tf.sqrt(1.0 + 4.0 * t * t))
        beta = tf.where(restart, 0.0, (t - 1.0) / t_next)
        t_next = tf.where(restart, momentum_one, t_next)
        return index + 1, x_new, x_new + beta * (x_new - x), t_next, relative_change(x_new, x)

    _, x, _, _, _ = tf.while_loop(
        lambda index, *state: (index < iterations) & (state[-1] > tolerance),
        body,
        (tf.constant(0), start, start, momentum_one, tf.constant(float("inf"))),
    )
    return x


def relative_change(new, old):
    """`max |new - old| / max(1, max |new|)`, the stopping measure of the iterative solvers."""
    return tf.reduce_max(tf.abs(new - old)) / tf.maximum(1.0, tf.reduce_max(tf.abs(new)))


def symmetric_pinv(matrix, rtol=None):
    """Pseudo-inverse of a symmetric matrix by eigendecomposition (never raises on singular
    input, unlike `tf.linalg.solve` and `tf.linalg.cholesky` on the CPU).

    Eigenvalues with `|lambda| <= rtol * max |lambda|` count as zero; the default `rtol` is
    `T * float32 eps`, the rank tolerance of NumPy and PyTorch.
    """
    size = matrix.shape[-1]
    if rtol is None:
        rtol = size * 1.1920929e-07
    values, vectors = tf.linalg.eigh(0.5 * (matrix + tf.transpose(matrix)))
    kept = tf.abs(values) > rtol * tf.reduce_max(tf.abs(values))
    inverse = tf.where(kept, 1.0 / tf.where(kept, values, 1.0), 0.0)
    return tf.matmul(vectors * inverse[None, :], vectors, transpose_b=True)
