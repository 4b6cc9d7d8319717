"""Nash-MTL: the bargaining condition `G a = 1 / a`, solved independently in NumPy."""

import numpy as np
import pytest
from weighting_cases import CASES, case, random_gradients

from keras_mtl.weighting import NashMTLWeighting
from keras_mtl.weighting.nash_mtl import nash_mtl_weights


def nash_numpy(g):
    """Navon et al., Sec. 3: solve `(G a)_t = 1 / a_t`, `a > 0`, with `G = g g^T`, by Newton's
    method on the residual `G a - 1/a` with a backtracking line search (float64)."""
    gram = g @ g.T
    a = 1.0 / np.sqrt(np.diag(gram))
    for _ in range(200):
        residual = gram @ a - 1.0 / a
        step = np.linalg.solve(gram + np.diag(1.0 / a**2), -residual)
        size = 1.0
        while np.any(a + size * step <= 0) or np.linalg.norm(
                gram @ (a + size * step) - 1.0 / (a + size * step)) > np.linalg.norm(residual):
            size /= 2
            if size < 1e-12:
                return a
        a = a + size * step
    return a


@pytest.mark.parametrize("name", sorted(CASES))
def test_weights_match_numpy(name):
    g, present, losses, gram = case(name)
    weights = NashMTLWeighting(max_norm=0.0).task_weights(losses, gram, present).numpy()
    active = present & np.any(g != 0, axis=1)  # no utility log<g_t, d> for a zero gradient
    expected = np.zeros(len(g))
    expected[active] = nash_numpy(g[active])
    np.testing.assert_allclose(weights, expected, rtol=2e-4, atol=1e-6)


@pytest.mark.parametrize("seed", range(4))
def test_bargaining_condition_on_random_problems(seed):
    g = random_gradients(8, 20, seed)
    a = nash_mtl_weights((g @ g.T).astype("float32")).numpy().astype(float)
    assert np.all(a > 0)
    residual = (g @ g.T) @ a - 1.0 / a
    assert np.linalg.norm(residual) / np.linalg.norm(1.0 / a) < 1e-4  # (G a)_t = 1 / a_t


def test_scale_invariance_and_max_norm():
    g, _, losses, gram = case("conflicting")
    a = nash_mtl_weights(gram).numpy()
    np.testing.assert_allclose(nash_mtl_weights(gram * 100.0).numpy(), a / 10.0, rtol=1e-4)
    d = a @ g
    assert d @ d == pytest.approx(3.0, rel=1e-4)  # ||d||^2 = a^T G a = n at the solution
    clipped = NashMTLWeighting(max_norm=1.0).task_weights(losses, gram).numpy()
    assert np.linalg.norm(clipped @ g) == pytest.approx(1.0, rel=1e-4)
    np.testing.assert_allclose(clipped, a / np.sqrt(3.0), rtol=1e-4)


def test_no_solution_stays_finite():
    g = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]])  # g_1 + g_2 = 0: no bargaining point
    a = nash_mtl_weights((g @ g.T).astype("float32")).numpy()
    assert np.all(np.isfinite(a)) and np.all(a > 0)
