"""Fixed gradient matrices shared by the weighting tests, and small NumPy helpers.

Every case is explicit task gradients `g` (rows, float64), the tasks present in the batch and
the task losses. The library sees only `gram = g g^T` (float32); the NumPy references in the
test files work on the rows of `g` themselves, written from the papers.
"""

import numpy as np

CASES = {
    # three tasks, two pairs in conflict, different norms
    "conflicting": (
        np.array([[1.0, 0.2, 0.0, 0.3], [-0.8, 1.0, 0.1, 0.0], [0.3, -0.9, 0.5, -0.2]]),
        [True, True, True],
    ),
    # three tasks, every pair positively aligned, different norms
    "aligned": (
        np.array([[1.0, 0.5, 0.2, 0.0], [2.0, 0.8, 0.1, 0.3], [0.6, 0.4, 0.5, 0.1]]),
        [True, True, True],
    ),
    # four tasks, one present with a zero gradient (e.g. a satisfied hinge loss)
    "zero_gradient": (
        np.array([[1.0, 0.3, 0.0], [0.0, 0.0, 0.0], [-0.5, 1.0, 0.2], [0.2, -0.4, 1.0]]),
        [True, True, True, True],
    ),
    # four tasks, one absent from the batch (zero gradient, zero Gram row)
    "absent": (
        np.array([[1.0, 0.3, 0.0], [0.0, 0.0, 0.0], [-0.5, 1.0, 0.2], [0.2, -0.4, 1.0]]),
        [True, False, True, True],
    ),
    "one_task": (np.array([[0.5, -1.0, 2.0]]), [True]),
}


def case(name):
    """Returns `(g, present, losses, gram)`: gradients, bool mask, losses (0 if absent) and
    the float32 Gram matrix the library receives."""
    g, present = CASES[name]
    present = np.array(present)
    losses = np.where(present, np.linspace(0.5, 2.0, len(g)), 0.0).astype("float32")
    return g, present, losses, (g @ g.T).astype("float32")


def random_gradients(num_tasks, dim, seed, conflict=0.6):
    """Random gradients with a shared component, about half of them pointing against it."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=dim)
    g = rng.normal(size=(num_tasks, dim)) + 0.5 * base
    g[::2] -= conflict * 2.0 * base
    return g * rng.uniform(0.2, 3.0, size=(num_tasks, 1))


def project_to_simplex(v):
    """Euclidean projection onto the probability simplex (Duchi et al. 2008), NumPy."""
    u = np.sort(v)[::-1]
    cumulative = np.cumsum(u) - 1.0
    rho = np.nonzero(u - cumulative / np.arange(1, len(v) + 1) > 0)[0][-1]
    return np.maximum(v - cumulative[rho] / (rho + 1), 0.0)
