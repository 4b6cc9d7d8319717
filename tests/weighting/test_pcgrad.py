"""PCGrad: sequential projections, tracked as coefficients, against the paper's Algorithm 1."""

import numpy as np
import pytest
from weighting_cases import CASES, case, random_gradients

from keras_mtl.weighting import PCGradWeighting
from keras_mtl.weighting.pcgrad import pcgrad_coefficients, task_orders


def pcgrad_numpy(g, order, present):
    """Yu et al., Algorithm 1 on explicit vectors: every g_i is projected, in the order of row
    i, onto the normal plane of each other g_j it conflicts with; the update is their sum."""
    projected = []
    for i in range(len(g)):
        g_i = g[i].copy() if present[i] else np.zeros_like(g[i])
        for j in order[i]:
            if j == i or not present[j] or not g[j].any():
                continue
            dot = g_i @ g[j]
            if dot < 0:
                g_i = g_i - dot / (g[j] @ g[j]) * g[j]
        projected.append(g_i)
    return np.array(projected)


@pytest.mark.parametrize("name", sorted(CASES))
def test_update_matches_numpy(name):
    g, present, _, gram = case(name)
    order = task_orders(len(g), [7, 0]).numpy()
    coefficients = pcgrad_coefficients(gram, order, present).numpy()
    expected = pcgrad_numpy(g, order, present)
    np.testing.assert_allclose(coefficients @ g, expected, atol=1e-5)


def test_random_problem_matches_numpy_for_several_orders():
    g = random_gradients(7, 12, seed=2)
    rng = np.random.default_rng(0)
    for _ in range(3):
        order = np.array([rng.permutation(7) for _ in range(7)])
        coefficients = pcgrad_coefficients((g @ g.T).astype("float32"), order).numpy()
        np.testing.assert_allclose(coefficients @ g, pcgrad_numpy(g, order, [True] * 7),
                                   rtol=1e-4, atol=1e-4)


def test_two_tasks_no_negative_inner_product_remains():
    g = np.array([[1.0, 0.3], [-0.9, 0.4]])  # conflicting
    coefficients = pcgrad_coefficients((g @ g.T).astype("float32"), [[0, 1], [1, 0]]).numpy()
    projected = coefficients @ g
    assert projected[0] @ projected[1] >= -1e-6
    assert projected[0] @ g[1] == pytest.approx(0.0, abs=1e-6)  # on g_2's normal plane
    assert projected[1] @ g[0] == pytest.approx(0.0, abs=1e-6)


def test_no_conflict_gives_the_plain_step():
    _, _, losses, gram = case("aligned")
    weighting = PCGradWeighting(seed=0)
    weighting.build(3)
    np.testing.assert_allclose(weighting.task_weights(losses, gram).numpy(), np.ones(3),
                               atol=1e-6)


def test_seeded_orders_are_reproducible_and_advance_per_step():
    g = random_gradients(5, 6, seed=4)
    gram = (g @ g.T).astype("float32")
    first, second = PCGradWeighting(seed=11), PCGradWeighting(seed=11)
    first.build(5)
    second.build(5)
    sequence = [first.task_weights(np.ones(5, "float32"), gram).numpy() for _ in range(4)]
    again = [second.task_weights(np.ones(5, "float32"), gram).numpy() for _ in range(4)]
    np.testing.assert_array_equal(np.array(sequence), np.array(again))
    assert int(first.step.numpy()) == 4
    orders = [task_orders(5, [11, step]).numpy() for step in range(4)]
    assert len({o.tobytes() for o in orders}) > 1  # the order changes between steps
    for order in orders:
        assert all(sorted(row) == list(range(5)) for row in order)
