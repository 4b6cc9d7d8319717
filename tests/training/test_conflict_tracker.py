"""ConflictTracker (UCR, cosine, conflict fraction, norms) from hand-built gradient sequences."""

import numpy as np
import pytest

from keras_mtl.training.conflict_tracker import ConflictTracker
from keras_mtl.training.per_task_mean import PerTaskMean


def _gram(*vectors):
    g = np.array(vectors, "float32")
    return g @ g.T


def test_ucr_accumulates_per_pair_and_resets():
    # Three probed batches of three tasks in 1-D: signs decide every inner product.
    batches = [
        (_gram([1.0], [2.0], [-1.0]), [True, True, True]),  # (0,1)+ (0,2)- (1,2)-
        (_gram([1.0], [1.0], [1.0]), [True, True, True]),  # all +
        (_gram([-1.0], [1.0], [0.0]), [True, True, False]),  # (0,1)-, task 2 absent
    ]
    tracker = ConflictTracker(["a", "b", "c"])
    for gram, present in batches:
        tracker.update_state(gram, present)
    # (0,1): +,+,- -> 2/3 ; (0,2): -,+ -> 1/2 ; (1,2): -,+ -> 1/2 (batch 3 not counted).
    expected = np.array([[np.nan, 2 / 3, 1 / 2], [2 / 3, np.nan, 1 / 2], [1 / 2, 1 / 2, np.nan]])
    np.testing.assert_allclose(tracker.matrices()["ucr"], expected, atol=1e-6)
    assert float(tracker.result()["ucr"]) == pytest.approx((2 / 3 + 1 / 2 + 1 / 2) / 3)
    np.testing.assert_array_equal(tracker.matrices()["probed_batches"][0], [0, 3, 2])
    tracker.update_state(_gram([1.0], [-1.0], [1.0]), [True, True, True], sample_weight=0.0)
    np.testing.assert_allclose(tracker.matrices()["ucr"], expected, atol=1e-6)  # skipped
    # Norms: a: |1|,|1|,|-1| -> 1 ; b: 2, 1, 1 -> 4/3 ; c: 1, 1 (absent in batch 3) -> 1.
    result = {k: float(v) for k, v in tracker.result().items()}
    assert result["grad_norm_b"] == pytest.approx(4 / 3)
    assert result["grad_norm_c"] == pytest.approx(1.0)
    tracker.reset_state()
    assert np.isnan(tracker.matrices()["ucr"]).all() and float(tracker.result()["ucr"]) == 0.0
    tracker.update_state(_gram([1.0], [-1.0], [1.0]), [True, True, True])
    assert float(tracker.result()["ucr"]) == pytest.approx(1 / 3)


def test_cosine_and_conflict_fraction_are_pooled_over_batches():
    tracker = ConflictTracker(["a", "b"])
    for gram in (_gram([1.0, 0.0], [0.0, 1.0]), _gram([1.0, 0.0], [-1.0, 0.0]),
                 _gram([1.0, 1.0], [1.0, 1.0])):
        tracker.update_state(gram, [True, True])
    result = tracker.result()
    assert float(result["grad_cosine"]) == pytest.approx((0.0 - 1.0 + 1.0) / 3, abs=1e-6)
    assert float(result["grad_conflict_frac"]) == pytest.approx(1 / 3)
    three = ConflictTracker(["a", "b", "c"])
    three.update_state(_gram([1.0, 0.0], [-1.0, 0.0], [1.0, 0.0]), [True, True, True])
    three.update_state(_gram([1.0], [-1.0], [-1.0]), [True, True, True])
    # Pairs pooled: batch 1 has 2 conflicts of 3 pairs, batch 2 has 2 of 3 -> 4 / 6.
    assert float(three.result()["grad_conflict_frac"]) == pytest.approx(4 / 6)


def test_per_task_mean_hand_values():
    metric = PerTaskMean(["a", "b", "c"], "loss_")
    metric.update_state([1.0, 2.0, 9.0], sample_weight=[1.0, 3.0, 0.0])
    metric.update_state([3.0, 4.0, 5.0], sample_weight=[1.0, 1.0, 2.0])
    result = {k: float(v) for k, v in metric.result().items()}
    # a: (1*1 + 3*1) / 2 = 2; b: (2*3 + 4*1) / 4 = 2.5; c: (9*0 + 5*2) / 2 = 5
    assert result == {"loss_a": 2.0, "loss_b": 2.5, "loss_c": 5.0}
    metric.reset_state()
    assert all(float(v) == 0.0 for v in metric.result().values())
    metric.update_state([np.nan, 1.0, 1.0], sample_weight=[0.0, 1.0, 1.0])  # skipped: no NaN
    assert float(metric.result()["loss_a"]) == 0.0
