"""Losses against NumPy re-implementations."""

import keras
import numpy as np
import pytest

from keras_mtl.losses import (
    RelatedWeightsLoss,
    TaskRelevanceLoss,
    TripletLoss,
    related_weights_loss,
    related_weights_regularizer,
    task_relevance_loss,
    triplet_loss,
)


def test_triplet_loss_matches_numpy_eq6():
    rng = np.random.default_rng(0)
    a, p, n = (rng.normal(size=(5, 4)).astype("float32") for _ in range(3))
    want = np.maximum(((a - p) ** 2).sum(-1) + 0.5 - ((a - n) ** 2).sum(-1), 0)
    np.testing.assert_allclose(triplet_loss(a, p, n, 0.5), want, rtol=1e-5)
    stacked = np.stack([a, p, n], axis=1)
    assert float(TripletLoss(0.5)(None, stacked)) == pytest.approx(want.mean(), rel=1e-5)
    assert float(TripletLoss(0.5, reduction="sum")(None, stacked)) == pytest.approx(
        want.sum(), rel=1e-5)
    # Hand-derived: d(a,p) = 1, d(a,n) = 4, margin 1 -> max(0, 1 + 1 - 4) = 0; margin 4 -> 1.
    one = np.array([[[0.0], [1.0], [2.0]]], "float32")
    assert float(TripletLoss(1.0)(None, one)) == 0.0
    assert float(TripletLoss(4.0)(None, one)) == pytest.approx(1.0)
    interleaved = stacked.reshape(15, 4)  # a0, p0, n0, a1, ... : three rows per triplet
    assert float(TripletLoss(0.5)(None, interleaved)) == pytest.approx(want.mean(), rel=1e-5)
    with pytest.raises(ValueError, match=r"Expected embeddings of shape \(3 \* batch, dim\)"):
        TripletLoss()(None, np.zeros((2, 4)))


def test_task_relevance_loss_matches_numpy_eq8():
    rng = np.random.default_rng(1)
    w = rng.normal(size=(4, 6)).astype("float32")
    triples = [(0, 1, 2), (3, 2, 0)]
    want = [max(0.0, ((w[i] - w[j]) ** 2).sum() + 0.7 - ((w[i] - w[k]) ** 2).sum())
            for i, j, k in triples]
    np.testing.assert_allclose(task_relevance_loss(w, triples, 0.7), want, rtol=1e-5)
    loss = TaskRelevanceLoss(triples, margin=0.7, weight=0.1)
    assert float(loss(None, w)) == pytest.approx(0.1 * sum(want), rel=1e-5)
    clone = TaskRelevanceLoss.from_config(loss.get_config())
    assert float(clone(None, w)) == pytest.approx(0.1 * sum(want), rel=1e-5)
    with pytest.raises(ValueError, match="Expected `triples`"):
        TaskRelevanceLoss([(0, 1)])


def test_related_weights_exp_and_l2_forms():
    w1 = np.array([[0.1, -0.2], [0.3, 0.0]], "float32")
    w2 = np.array([[0.0, 0.1], [0.2, 0.1]], "float32")
    d = ((1.5 * w1 + 0.1 - w2) ** 2).sum()
    assert float(related_weights_loss(w1, w2, 1.5, 0.1)) == pytest.approx(np.expm1(d), rel=1e-5)
    assert float(related_weights_loss(w1, w2, 1.5, 0.1, "l2")) == pytest.approx(d, rel=1e-5)
    a = keras.Variable(1.0)
    total = related_weights_regularizer([w1, w1], [w2, w1], scales=[a, a], form="l2", weight=2.0)
    assert float(total) == pytest.approx(2.0 * ((w1 - w2) ** 2).sum(), rel=1e-5)
    loss = RelatedWeightsLoss(form="l2", weight=0.5)
    assert float(loss(np.ones((2, 2)), np.zeros((2, 2)))) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="Expected `form`"):
        related_weights_loss(w1, w2, form="l1")
    with pytest.raises(ValueError, match="same shape"):
        related_weights_loss(w1, w2[0])
