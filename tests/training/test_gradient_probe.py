"""Probe maths against NumPy."""

import numpy as np
import pytest
import tensorflow as tf

from keras_mtl.training import gradient_probe


def _np_cosine(g):
    norms = np.linalg.norm(g, axis=1)
    out = g @ g.T / np.maximum(norms[:, None] * norms[None, :], 1e-30)
    out[(norms[:, None] * norms[None, :]) == 0] = 0.0
    return out


def test_flatten_gradients_concatenates_and_fills_none():
    variables = [tf.Variable(np.ones((2, 2), "float32")), tf.Variable(np.ones(3, "float32"))]
    flat = gradient_probe.flatten_gradients([tf.constant([[1.0, 2.0], [3.0, 4.0]]), None],
                                            variables)
    np.testing.assert_array_equal(flat.numpy(), [1, 2, 3, 4, 0, 0, 0])
    with pytest.raises(ValueError, match="Expected `variables`"):
        gradient_probe.flatten_gradients([None])


def test_pairwise_cosine_matches_numpy_with_zero_row():
    rng = np.random.default_rng(0)
    g = rng.normal(size=(4, 7)).astype("float32")
    g[2] = 0.0
    np.testing.assert_allclose(gradient_probe.pairwise_cosine(g).numpy(), _np_cosine(g),
                               atol=1e-6)


def test_conflict_summary_skips_absent_tasks():
    # Hand-built: g0 = (1, 0), g1 = (-1, 1), g2 = (1, 1), task 3 absent (zero vector).
    g = np.array([[1, 0], [-1, 1], [1, 1], [0, 0]], "float32")
    s = gradient_probe.conflict_summary(g @ g.T, [True, True, True, False])
    # Valid pairs: (0,1) cos=-1/sqrt2, (0,2) cos=1/sqrt2, (1,2) cos=0 -> mean 0; one negative.
    assert float(s["mean_cosine"]) == pytest.approx(0.0, abs=1e-6)
    assert float(s["conflict_fraction"]) == pytest.approx(1 / 3)
    assert float(s["num_pairs"]) == 3.0
    positive = s["positive"].numpy()
    assert positive[0, 2] == 1 and positive[0, 1] == 0 and positive[1, 2] == 0
    assert positive[:, 3].sum() == 0 and s["valid"].numpy()[0, 3] == 0


def test_group_rows_orders_by_task_stably_and_task_sums():
    ids = tf.constant([2, 0, 2, 1, 0, 2])
    order, tasks, starts, sizes = gradient_probe.group_rows(ids)
    assert order.numpy().tolist() == [1, 4, 3, 0, 2, 5]  # rows of a task keep their order
    assert tasks.numpy().tolist() == [0, 1, 2]
    assert starts.numpy().tolist() == [0, 2, 3] and sizes.numpy().tolist() == [2, 1, 3]
    sums, counts = gradient_probe.task_sums(tf.constant([1.0, 2, 3, 4, 5, 6]), ids, 4)
    np.testing.assert_array_equal(sums.numpy(), [7, 4, 10, 0])
    np.testing.assert_array_equal(counts.numpy(), [2, 1, 3, 0])


def test_scatter_gram_places_present_tasks():
    gram = tf.constant([[4.0, 1.0], [1.0, 9.0]])
    full = gradient_probe.scatter_gram(gram, tf.constant([1, 3]), 4).numpy()
    expected = np.zeros((4, 4), "float32")
    expected[1, 1], expected[1, 3], expected[3, 1], expected[3, 3] = 4, 1, 1, 9
    np.testing.assert_array_equal(full, expected)


def test_unflatten_inverts_flatten():
    variables = [tf.Variable(np.zeros((2, 3), "float32")), tf.Variable(np.zeros(4, "float32"))]
    grads = [tf.constant(np.arange(6.0, dtype="float32").reshape(2, 3)), tf.ones(4)]
    back = gradient_probe.unflatten_gradients(gradient_probe.flatten_gradients(grads), variables)
    for a, b in zip(back, grads, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_count_sketch_matches_numpy_and_estimates_inner_products():
    rng = np.random.default_rng(3)
    size, dim = 20_000, 4096
    g = rng.normal(size=(3, size)).astype("float32")
    g[1] = 0.6 * g[0] + 0.8 * g[1]  # cosine(g0, g1) about 0.6
    buckets, signs = gradient_probe.sketch_hashes(size, dim, seed=7)
    sketch = gradient_probe.count_sketch(g, buckets, signs, dim).numpy()
    # NumPy re-implementation: bucket sums of sign-flipped coordinates.
    reference = np.zeros((3, dim), "float64")
    for row in range(3):
        np.add.at(reference[row], buckets.numpy(), signs.numpy() * g[row])
    np.testing.assert_allclose(sketch, reference, rtol=1e-4, atol=1e-3)
    one = gradient_probe.count_sketch(g[0], buckets, signs, dim).numpy()
    np.testing.assert_allclose(one, sketch[0], rtol=1e-5, atol=1e-5)
    exact = _np_cosine(g)
    approx = _np_cosine(sketch)
    # Standard deviation of a cosine estimate is at most sqrt(2 / dim) = 0.022.
    assert np.abs(approx - exact).max() < 4 * np.sqrt(2 / dim)
    again, _ = gradient_probe.sketch_hashes(size, dim, seed=7)
    np.testing.assert_array_equal(again.numpy(), buckets.numpy())  # seeded
