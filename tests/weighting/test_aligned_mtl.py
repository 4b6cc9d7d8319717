"""Aligned-MTL: the Procrustes alignment from an SVD of the explicit gradient matrix."""

import numpy as np
import pytest
from weighting_cases import CASES, case, random_gradients

from keras_mtl.weighting import AlignedMTLWeighting
from keras_mtl.weighting.aligned_mtl import aligned_mtl_balance


def aligned_numpy(g, scale_mode="min"):
    """Senushkin et al., Sec. 4: with the SVD `g = U S V^T` (tasks as rows) over the nonzero
    singular values, the aligned gradients are `sigma_R U V^T`; the update is their sum."""
    u, s, vt = np.linalg.svd(g, full_matrices=False)
    kept = s**2 > (s**2).max() * len(g) * np.finfo(np.float32).eps
    u, s, vt = u[:, kept], s[kept], vt[kept]
    if scale_mode == "min":
        sigma = s.min()
    elif scale_mode == "median":
        sigma = np.sqrt(np.sort(s**2)[(len(s) - 1) // 2])
    else:
        sigma = np.sqrt(np.mean(s**2))
    aligned = sigma * u @ vt
    return aligned, aligned.sum(axis=0)


@pytest.mark.parametrize("name", sorted(CASES))
def test_update_matches_numpy(name):
    g, present, losses, gram = case(name)
    weights = AlignedMTLWeighting().task_weights(losses, gram, present).numpy()
    _, expected = aligned_numpy(g[present])
    np.testing.assert_allclose(weights @ g, expected, rtol=1e-4, atol=1e-5)
    assert np.all(weights[~present] == 0)


@pytest.mark.parametrize("scale_mode", ["min", "median", "rmse"])
def test_scale_modes_match_numpy(scale_mode):
    g = random_gradients(5, 8, seed=1)
    weights = AlignedMTLWeighting(scale_mode).task_weights(
        np.ones(5, "float32"), (g @ g.T).astype("float32")).numpy()
    np.testing.assert_allclose(weights @ g, aligned_numpy(g, scale_mode)[1], rtol=1e-3,
                               atol=1e-4)


@pytest.mark.parametrize("seed", range(3))
def test_aligned_gradients_have_condition_number_one(seed):
    g = random_gradients(6, 10, seed) * np.geomspace(0.1, 10, 6)[:, None]
    balance, kept = aligned_mtl_balance((g @ g.T).astype("float32"))
    singular = np.linalg.svd(balance.numpy() @ g, compute_uv=False)[: int(np.sum(kept))]
    assert singular.max() / singular.min() == pytest.approx(1.0, abs=1e-3)
    assert singular.min() == pytest.approx(np.linalg.svd(g, compute_uv=False).min(), rel=1e-3)


def test_orthogonal_equal_norms_give_the_plain_step():
    g = np.eye(3) * 2.0
    np.testing.assert_allclose(
        AlignedMTLWeighting().task_weights(np.ones(3, "float32"), (g @ g.T).astype("float32")),
        np.ones(3), atol=1e-6)
