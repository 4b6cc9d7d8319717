"""CAGrad: the dual solved exactly in NumPy, and the primal's worst-case optimality."""

import itertools

import numpy as np
import pytest
from weighting_cases import CASES, case, random_gradients

from keras_mtl.weighting import CAGradWeighting
from keras_mtl.weighting.cagrad import cagrad_weights


def cagrad_numpy(g, c):
    """Liu et al.'s update on explicit vectors: `d = g0 + c||g0|| g_w / ||g_w||`, where `w`
    minimises `F(w) = <g_w, g0> + r ||g_w||` (r = c ||g0||) over the simplex.

    Exact by enumerating supports S: on S, stationarity reads `G_SS y = lambda 1 - (G g0)_S`
    with `y = r w / ||g_w||` and `||g_y|| = r`, a quadratic equation in lambda; the minimiser
    of the convex F is the feasible stationary point (or vertex) of lowest F.
    """
    g0 = g.mean(axis=0)
    radius = c * np.linalg.norm(g0)
    gram = g @ g.T
    linear = g @ g0

    def objective(w):
        return w @ linear + radius * np.linalg.norm(w @ g)

    candidates = [np.eye(len(g))[i] for i in range(len(g))]
    for size in range(2, len(g) + 1):
        for support in itertools.combinations(range(len(g)), size):
            block = gram[np.ix_(support, support)]
            if np.linalg.matrix_rank(block) < size:
                continue
            p = np.linalg.solve(block, np.ones(size))
            q = np.linalg.solve(block, linear[list(support)])
            a, b, k = p @ block @ p, -2 * p @ block @ q, q @ block @ q - radius**2
            for lam in np.roots([a, b, k]):
                if abs(lam.imag) > 1e-12:
                    continue
                y = lam.real * p - q
                if y.min() < -1e-12 or y.sum() <= 0:
                    continue
                w = np.zeros(len(g))
                w[list(support)] = y / y.sum()
                candidates.append(w)
    w = min(candidates, key=objective)
    g_w = w @ g
    if np.linalg.norm(g_w) < 1e-12:  # 0 is in the hull: the official code's 1e-8 guard gives g0
        return g0
    return g0 + radius * g_w / np.linalg.norm(g_w)


def paper_update(weights, present):
    """The library's weights are `n` times the paper's coefficients (gradient shares)."""
    return weights / present.sum()


@pytest.mark.parametrize("name", sorted(set(CASES) - {"zero_gradient"}))
@pytest.mark.parametrize("c", [0.4, 0.9])
def test_update_matches_numpy(name, c):
    g, present, losses, gram = case(name)
    weights = CAGradWeighting(c=c, rescale=0).task_weights(losses, gram, present).numpy()
    expected = cagrad_numpy(g[present], c)
    np.testing.assert_allclose(paper_update(weights, present) @ g, expected, atol=2e-5)
    assert np.all(weights[~present] == 0)


def test_zero_gradient_task_counts_in_the_mean_and_the_update_is_g0():
    g, present, losses, gram = case("zero_gradient")
    weights = CAGradWeighting(c=0.4, rescale=0).task_weights(losses, gram, present).numpy()
    np.testing.assert_allclose(paper_update(weights, present) @ g, cagrad_numpy(g, 0.4),
                               atol=2e-5)


def test_c_zero_is_the_plain_step_and_rescale_divides():
    g, present, losses, gram = case("conflicting")
    np.testing.assert_allclose(cagrad_weights(gram, c=0.0).numpy(), np.ones(3), atol=1e-6)
    plain = cagrad_weights(gram, c=0.4, rescale=0).numpy()
    np.testing.assert_allclose(cagrad_weights(gram, c=0.4, rescale=1).numpy(), plain / 1.16,
                               rtol=1e-6)
    np.testing.assert_allclose(cagrad_weights(gram, c=0.4, rescale=2).numpy(), plain / 1.4,
                               rtol=1e-6)


@pytest.mark.parametrize("seed", range(3))
def test_update_maximises_the_worst_improvement_in_the_ball(seed):
    g = random_gradients(5, 8, seed)
    c = 0.5
    weights = cagrad_weights((g @ g.T).astype("float32"), c=c, rescale=0).numpy()
    d = weights / 5 @ g
    g0 = g.mean(axis=0)
    radius = c * np.linalg.norm(g0)
    assert np.linalg.norm(d - g0) <= radius * (1 + 1e-4)
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(20000, g.shape[1]))
    directions *= (rng.uniform(size=(20000, 1)) ** (1 / g.shape[1])
                   / np.linalg.norm(directions, axis=1, keepdims=True))
    feasible = g0 + radius * directions  # random points of the ball
    best_random = np.max(np.min(feasible @ g.T, axis=1))
    worst_task = np.min(g @ d)
    assert worst_task >= best_random - 1e-5 * np.sum(g0**2)
    np.testing.assert_allclose(d, cagrad_numpy(g, c), atol=1e-4)
