"""Loss weighting: min-norm solver against closed forms and brute force."""

import itertools

import numpy as np
import pytest

from keras_mtl.training import (
    FixedWeighting,
    MGDAWeighting,
    UniformWeighting,
    loss_weighting,
    min_norm_weights,
)


def test_min_norm_two_tasks_matches_closed_form():
    g1, g2 = np.array([1.0, 0.2]), np.array([-0.3, 1.0])
    alpha = np.clip((g2 - g1) @ g2 / np.sum((g1 - g2) ** 2), 0, 1)
    g = np.stack([g1, g2]).astype("float32")
    np.testing.assert_allclose(min_norm_weights(g @ g.T).numpy(), [alpha, 1 - alpha], atol=1e-4)


def test_min_norm_three_tasks_reaches_brute_force_minimum():
    rng = np.random.default_rng(3)
    g = rng.normal(size=(3, 5)).astype("float32")
    weights = min_norm_weights(g @ g.T).numpy()
    assert weights.min() >= 0 and weights.sum() == pytest.approx(1.0, abs=1e-5)
    grid = [(a, b, 1 - a - b) for a, b in itertools.product(np.linspace(0, 1, 201), repeat=2)
            if a + b <= 1]
    best = min(np.linalg.norm(np.array(w) @ g) for w in grid)
    assert np.linalg.norm(weights @ g) <= best + 1e-4


def test_weighting_interface():
    losses = np.array([1.0, 2.0], "float32")
    np.testing.assert_array_equal(UniformWeighting().task_weights(losses).numpy(), [1, 1])
    np.testing.assert_array_equal(FixedWeighting([0.5, 2]).task_weights(losses).numpy(),
                                  [0.5, 2])
    gram = np.array([[1.0, -1.0], [-1.0, 1.0]], "float32")  # opposed equal gradients
    np.testing.assert_allclose(MGDAWeighting().task_weights(losses, gram).numpy(), [1, 1],
                               atol=1e-5)  # alpha = (1/2, 1/2), times T
    assert isinstance(loss_weighting.get("mgda_ub"), MGDAWeighting)
    assert isinstance(loss_weighting.get([1, 2]), FixedWeighting)
    with pytest.raises(ValueError, match="Received: loss_weighting='nash'"):
        loss_weighting.get("nash")
    with pytest.raises(ValueError, match="non-negative"):
        FixedWeighting([-1.0])
