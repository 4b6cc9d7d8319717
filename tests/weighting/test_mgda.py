"""MGDA: the min-norm element of the convex hull, against exact NumPy solutions."""

import itertools

import numpy as np
import pytest
from weighting_cases import CASES, case, random_gradients
from weighting_cases import project_to_simplex as numpy_projection

from keras_mtl.weighting import MGDAWeighting
from keras_mtl.weighting.mgda import min_norm_weights
from keras_mtl.weighting.solvers import project_to_simplex


def min_norm_numpy(g):
    """Exact min-norm point of the convex hull of the rows of `g` (Sener & Koltun, Eq. 3), by
    enumerating supports: on a support S the optimum of `||sum a_s g_s||^2`, `sum a_s = 1`, is
    the solution of `[G_SS 1; 1^T 0] [a; mu] = [0; 1]`; keep the best non-negative one."""
    best, best_value = None, np.inf
    for size in range(1, len(g) + 1):
        for support in itertools.combinations(range(len(g)), size):
            rows = g[list(support)]
            system = np.block([[rows @ rows.T, np.ones((size, 1))],
                               [np.ones((1, size)), np.zeros((1, 1))]])
            solution = np.linalg.lstsq(system, np.r_[np.zeros(size), 1.0], rcond=None)[0][:size]
            if solution.min() < -1e-12 or abs(solution.sum() - 1) > 1e-9:
                continue
            weights = np.zeros(len(g))
            weights[list(support)] = solution
            value = np.sum((weights @ g) ** 2)
            if value < best_value - 1e-15:
                best, best_value = weights, value
    return best


def test_two_tasks_closed_form():
    g1, g2 = np.array([1.0, 0.2]), np.array([-0.3, 1.0])
    alpha = np.clip((g2 - g1) @ g2 / np.sum((g1 - g2) ** 2), 0, 1)
    g = np.stack([g1, g2]).astype("float32")
    np.testing.assert_allclose(min_norm_weights(g @ g.T).numpy(), [alpha, 1 - alpha], atol=1e-5)


@pytest.mark.parametrize("name", sorted(CASES))
def test_update_matches_numpy(name):
    g, present, losses, gram = case(name)
    weights = MGDAWeighting().task_weights(losses, gram, present).numpy()
    alpha = np.zeros(len(g))
    alpha[present] = min_norm_numpy(g[present])
    n = present.sum()
    np.testing.assert_allclose(weights @ g, n * alpha @ g, atol=1e-5)
    assert np.all(weights[~present] == 0)
    assert weights.sum() == pytest.approx(n, abs=1e-4)


def test_zero_gradient_task_makes_the_update_zero():
    _, present, losses, gram = case("zero_gradient")  # Pareto-stationary: 0 is in the hull
    weights = MGDAWeighting().task_weights(losses, gram, present).numpy()
    np.testing.assert_allclose(weights, [0, 4, 0, 0], atol=1e-5)


@pytest.mark.parametrize("seed", range(4))
def test_no_task_loses_to_first_order_on_random_problems(seed):
    g = random_gradients(6, 10, seed)
    weights = MGDAWeighting().task_weights(np.ones(6, "float32"),
                                           (g @ g.T).astype("float32")).numpy()
    d = weights @ g
    scale = np.mean(np.sum(g * g, axis=1))
    assert np.min(g @ d) >= -1e-5 * scale  # <d, g_t> >= 0 for every task
    exact = min_norm_numpy(g)
    assert np.sum((weights / 6 @ g) ** 2) <= np.sum((exact @ g) ** 2) + 1e-6 * scale


def test_ill_conditioned_vertex_solution_is_exact():
    # norms over three orders of magnitude: plain projected gradient crawls, the polish is exact
    rng = np.random.default_rng(5)
    g = (0.8 * rng.normal(size=30) + 0.6 * rng.normal(size=(10, 30))) * np.geomspace(
        0.05, 50, 10)[:, None]
    weights = min_norm_weights((g @ g.T).astype("float32")).numpy()
    np.testing.assert_allclose(weights @ g, min_norm_numpy(g) @ g, atol=1e-4)


def project_to_simplex_numpy(v):
    return numpy_projection(v)


@pytest.mark.parametrize("normalization", ["l2", "loss", "loss+"])
def test_normalizations_match_numpy(normalization):
    g, present, losses, gram = case("conflicting")
    norms = np.linalg.norm(g, axis=1)
    scale = {"l2": norms, "loss": losses, "loss+": losses * norms}[normalization]
    alpha = min_norm_numpy(g / scale[:, None]) / scale
    alpha = alpha / alpha.sum() * 3
    weights = MGDAWeighting(normalization=normalization).task_weights(losses, gram).numpy()
    np.testing.assert_allclose(weights, alpha, atol=1e-4)


def test_project_to_simplex_with_mask_and_batch():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(5, 6)).astype("float32")
    mask = np.array([1, 0, 1, 1, 0, 1], "float32")
    projected = project_to_simplex(vectors, mask).numpy()
    for row, out in zip(vectors, projected, strict=True):
        expected = np.zeros(6)
        expected[mask > 0] = project_to_simplex_numpy(row[mask > 0].astype(float))
        np.testing.assert_allclose(out, expected, atol=1e-6)
    np.testing.assert_allclose(project_to_simplex(vectors[0], np.zeros(6)).numpy(), np.zeros(6))
