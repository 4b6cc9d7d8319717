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


def test_partition_by_task_and_task_sums():
    x = {"a": tf.range(6), "b": tf.reshape(tf.range(12), (6, 2))}
    ids = tf.constant([2, 0, 2, 1, 0, 2])
    groups = gradient_probe.partition_by_task(x, ids, 4)
    assert groups[2]["a"].numpy().tolist() == [0, 2, 5]
    assert groups[0]["b"].numpy().tolist() == [[2, 3], [8, 9]]
    assert groups[3]["a"].shape[0] == 0
    sums, counts = gradient_probe.task_sums(tf.constant([1.0, 2, 3, 4, 5, 6]), ids, 4)
    np.testing.assert_array_equal(sums.numpy(), [7, 4, 10, 0])
    np.testing.assert_array_equal(counts.numpy(), [2, 1, 3, 0])
