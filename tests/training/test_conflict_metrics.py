"""UCR / cosine / conflict-fraction metric state from hand-built gradient sequences."""

import numpy as np
import pytest

from keras_mtl.training import ConflictFraction, PairwiseGradientCosine, UpdateComplianceRatio


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
    ucr = UpdateComplianceRatio(3)
    for gram, present in batches:
        ucr.update_state(gram, present)
    # (0,1): +,+,- -> 2/3 ; (0,2): -,+ -> 1/2 ; (1,2): -,+ -> 1/2 (batch 3 not counted).
    expected = np.array([[np.nan, 2 / 3, 1 / 2], [2 / 3, np.nan, 1 / 2], [1 / 2, 1 / 2, np.nan]])
    np.testing.assert_allclose(ucr.matrix(), expected, atol=1e-6)
    assert float(ucr.result()) == pytest.approx((2 / 3 + 1 / 2 + 1 / 2) / 3)
    ucr.update_state(_gram([1.0], [-1.0], [1.0]), [True, True, True], sample_weight=0.0)
    np.testing.assert_allclose(ucr.matrix(), expected, atol=1e-6)  # skipped batch
    ucr.reset_state()
    assert np.isnan(ucr.matrix()).all() and float(ucr.result()) == 0.0
    ucr.update_state(_gram([1.0], [-1.0], [1.0]), [True, True, True])
    assert float(ucr.result()) == pytest.approx(1 / 3)


def test_cosine_and_conflict_fraction_are_pooled_over_batches():
    cosine, conflict = PairwiseGradientCosine(2), ConflictFraction()
    for gram in (_gram([1.0, 0.0], [0.0, 1.0]), _gram([1.0, 0.0], [-1.0, 0.0]),
                 _gram([1.0, 1.0], [1.0, 1.0])):
        cosine.update_state(gram, [True, True])
        conflict.update_state(gram, [True, True])
    assert float(cosine.result()) == pytest.approx((0.0 - 1.0 + 1.0) / 3, abs=1e-6)
    assert float(conflict.result()) == pytest.approx(1 / 3)
    conflict.update_state(_gram([1.0], [-1.0], [-1.0]), [True, True, True])
    assert float(conflict.result()) == pytest.approx((1 + 2) / (3 + 3))  # counts, not means


def test_per_task_mean_hand_values():
    from keras_mtl.training import PerTaskMean

    metric = PerTaskMean(["a", "b", "c"], "loss_")
    metric.update_state([1.0, 2.0, 9.0], sample_weight=[1.0, 3.0, 0.0])
    metric.update_state([3.0, 4.0, 5.0], sample_weight=[1.0, 1.0, 2.0])
    result = {k: float(v) for k, v in metric.result().items()}
    # a: (1*1 + 3*1) / 2 = 2; b: (2*3 + 4*1) / 4 = 2.5; c: (9*0 + 5*2) / 2 = 5
    assert result == {"loss_a": 2.0, "loss_b": 2.5, "loss_c": 5.0}
    metric.reset_state()
    assert all(float(v) == 0.0 for v in metric.result().values())
