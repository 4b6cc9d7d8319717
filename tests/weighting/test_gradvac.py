"""GradVac: the vaccine adjustment and EMA targets against a NumPy version of the paper."""

import numpy as np
import pytest
from weighting_cases import CASES, case, random_gradients

from keras_mtl.weighting import GradVacWeighting
from keras_mtl.weighting.gradvac import gradvac_coefficients
from keras_mtl.weighting.pcgrad import pcgrad_coefficients, task_orders


def gradvac_numpy(g, order, targets, beta, present):
    """Wang et al., Sec. 3.2 on explicit vectors: for each i and each other j in order, with
    phi = cos(g_i', g_j) and target phi_T, if phi < phi_T add
    ||g_i'|| (phi_T sqrt(1 - phi^2) - phi sqrt(1 - phi_T^2)) / (||g_j|| sqrt(1 - phi_T^2)) g_j
    (Eq. 2), then phi_T <- (1 - beta) phi_T + beta phi (Eq. 3). Returns (adjusted, targets)."""
    targets = targets.copy()
    active = np.array(present) & np.any(g != 0, axis=1)
    adjusted = []
    for i in range(len(g)):
        g_i = g[i].copy() if active[i] else np.zeros_like(g[i])
        for j in order[i]:
            if j == i or not active[i] or not active[j]:
                continue
            norm_i, norm_j = np.linalg.norm(g_i), np.linalg.norm(g[j])
            phi = g_i @ g[j] / (norm_i * norm_j)
            target = targets[i, j]
            if phi < target:
                g_i = g_i + norm_i * (target * np.sqrt(1 - phi**2)
                                      - phi * np.sqrt(1 - target**2)) / (
                    norm_j * np.sqrt(1 - target**2)) * g[j]
            targets[i, j] = (1 - beta) * target + beta * phi
        adjusted.append(g_i)
    return np.array(adjusted), targets


@pytest.mark.parametrize("name", sorted(CASES))
def test_update_and_targets_match_numpy(name):
    g, present, _, gram = case(name)
    order = task_orders(len(g), [5, 1]).numpy()
    rng = np.random.default_rng(1)
    targets = rng.uniform(-0.3, 0.6, size=(len(g), len(g)))
    coefficients, new_targets = gradvac_coefficients(gram, order, targets.astype("float32"),
                                                     0.3, present)
    adjusted, expected_targets = gradvac_numpy(g, order, targets, 0.3, present)
    np.testing.assert_allclose(coefficients.numpy() @ g, adjusted, atol=1e-5)
    np.testing.assert_allclose(new_targets.numpy(), expected_targets, atol=1e-5)


def test_adjusted_pair_reaches_the_target_cosine():
    g = np.array([[1.0, 0.1, 0.0], [0.2, 1.0, 0.3]])  # cosine about 0.29
    targets = np.array([[0.0, 0.7], [0.7, 0.0]], "float32")
    coefficients, _ = gradvac_coefficients((g @ g.T).astype("float32"), [[0, 1], [1, 0]],
                                           targets, beta=0.0)
    adjusted = coefficients.numpy() @ g
    for i, j in ((0, 1), (1, 0)):
        cosine = adjusted[i] @ g[j] / np.linalg.norm(adjusted[i]) / np.linalg.norm(g[j])
        assert cosine == pytest.approx(0.7, abs=1e-5)


def test_zero_targets_are_pcgrad():
    g = random_gradients(6, 9, seed=3)
    gram = (g @ g.T).astype("float32")
    order = task_orders(6, [2, 0])
    coefficients, _ = gradvac_coefficients(gram, order, np.zeros((6, 6), "float32"), 0.0)
    np.testing.assert_allclose(coefficients.numpy() @ g,
                               pcgrad_coefficients(gram, order).numpy() @ g, atol=1e-4)


def test_state_follows_the_ema_over_steps():
    g, present, losses, gram = case("conflicting")
    weighting = GradVacWeighting(beta=0.5, seed=9)
    weighting.build(3)
    targets = np.zeros((3, 3))
    for step in range(3):
        order = task_orders(3, [9, step]).numpy()
        adjusted, targets = gradvac_numpy(g, order, targets, 0.5, present)
        weights = weighting.task_weights(losses, gram, present).numpy()
        np.testing.assert_allclose(weights @ g, adjusted.sum(axis=0), atol=1e-5)
        np.testing.assert_allclose(weighting.targets.numpy(), targets, atol=1e-5)
    bad = weighting.targets.numpy()
    weighting.task_weights(losses, np.full((3, 3), np.nan, "float32"), present)
    np.testing.assert_array_equal(weighting.targets.numpy(), bad)  # a bad batch changes nothing
