"""IMTL-G: the paper's closed form on explicit vectors, and equal projections."""

import numpy as np
import pytest
from weighting_cases import CASES, case, random_gradients

from keras_mtl.weighting import IMTLGWeighting
from keras_mtl.weighting.imtl_g import imtl_g_weights


def imtl_g_numpy(g):
    """Liu et al. (ICLR 2021), Sec. 3.2: with D_t = g_1 - g_t, U_t = u_1 - u_t (unit vectors),
    alpha_{2:T} = g_1 U^T (D U^T)^{-1} and alpha_1 = 1 - sum alpha_{2:T}."""
    if len(g) == 1:
        return np.ones(1)
    u = g / np.linalg.norm(g, axis=1, keepdims=True)
    d_rows, u_rows = g[0] - g[1:], u[0] - u[1:]
    rest = g[0] @ u_rows.T @ np.linalg.inv(d_rows @ u_rows.T)
    return np.r_[1.0 - rest.sum(), rest]


@pytest.mark.parametrize("name", sorted(CASES))
def test_update_matches_numpy(name):
    g, present, losses, gram = case(name)
    weights = IMTLGWeighting().task_weights(losses, gram, present).numpy()
    active = present & np.any(g != 0, axis=1)  # a zero gradient has no direction: weight 0
    alpha = np.zeros(len(g))
    alpha[active] = imtl_g_numpy(g[active])
    np.testing.assert_allclose(weights, present.sum() * alpha, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("seed", range(3))
def test_projections_onto_every_unit_gradient_are_equal(seed):
    g = random_gradients(6, 10, seed)
    weights = imtl_g_weights((g @ g.T).astype("float32")).numpy()
    assert weights.sum() == pytest.approx(6.0, rel=1e-5)
    projections = (g / np.linalg.norm(g, axis=1, keepdims=True)) @ (weights @ g)
    np.testing.assert_allclose(projections, np.full(6, projections.mean()), rtol=1e-3)
    assert projections.mean() > 0


def test_parallel_gradients_do_not_break_the_solve():
    g = np.array([[1.0, 2.0], [2.0, 4.0], [0.5, -1.0]])  # two parallel: D U^T is singular
    weights = imtl_g_weights((g @ g.T).astype("float32")).numpy()
    assert np.all(np.isfinite(weights)) and weights.sum() == pytest.approx(3.0, rel=1e-4)
    projections = (g / np.linalg.norm(g, axis=1, keepdims=True)) @ (weights @ g)
    np.testing.assert_allclose(projections, np.full(3, projections.mean()), rtol=1e-3)
