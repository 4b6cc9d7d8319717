"""UPGrad: projections onto the dual cone computed by Dykstra's algorithm in NumPy."""

import numpy as np
import pytest
from weighting_cases import CASES, case, random_gradients

from keras_mtl.weighting import UPGradWeighting
from keras_mtl.weighting.upgrad import upgrad_weights


def project_onto_dual_cone(x, g, sweeps=4000):
    """Dykstra's alternating projections onto the half-spaces `<g_t, y> >= 0` (float64): the
    Euclidean projection of x onto their intersection, the dual cone of the rows of g."""
    rows = g[np.any(g != 0, axis=1)]
    y, corrections = x.copy(), np.zeros((len(rows), len(x)))
    for _ in range(sweeps):
        for t, row in enumerate(rows):
            z = y + corrections[t]
            projected = z - min(z @ row, 0.0) / (row @ row) * row
            corrections[t] = z - projected
            y = projected
    return y


def upgrad_numpy(g):
    """Quinton & Rey, Sec. 3: the sum (here; the paper averages) of every row's projection
    onto the dual cone of all rows."""
    return sum(project_onto_dual_cone(row, g) for row in g)


@pytest.mark.parametrize("name", sorted(CASES))
def test_update_matches_numpy(name):
    g, present, losses, gram = case(name)
    weights = UPGradWeighting().task_weights(losses, gram, present).numpy()
    np.testing.assert_allclose(weights @ g, upgrad_numpy(g[present]), atol=2e-5)
    assert np.all(weights[~present] == 0)


@pytest.mark.parametrize("seed", range(3))
def test_no_task_loses_to_first_order_and_numpy_agrees(seed):
    g = random_gradients(5, 8, seed)
    weights = upgrad_weights((g @ g.T).astype("float32")).numpy()
    d = weights @ g
    scale = np.mean(np.sum(g * g, axis=1))
    assert np.min(g @ d) >= -1e-5 * scale  # <d, g_t> >= 0 for every task
    np.testing.assert_allclose(d, upgrad_numpy(g), atol=1e-4 * np.sqrt(scale))


def test_ridge_is_torchjd_style_and_bounded():
    g, _, losses, gram = case("conflicting")
    plain = upgrad_weights(gram).numpy()
    ridged = UPGradWeighting(reg_eps=1e-4).task_weights(losses, gram).numpy()
    np.testing.assert_allclose(ridged, plain, atol=1e-2)


def test_no_conflict_gives_the_plain_step():
    _, _, losses, gram = case("aligned")
    np.testing.assert_allclose(upgrad_weights(gram).numpy(), np.ones(3), atol=1e-6)
