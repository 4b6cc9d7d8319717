"""Standard errors, differences and verdicts, checked against hand-computed values."""

import math

import numpy as np
import pytest

from keras_mtl.evaluation import accuracy_summary, difference, verdict


def test_accuracy_summary_binomial_standard_errors():
    # task 0: 180/200 = 0.9, se sqrt(.9*.1/200) = 0.0212132; task 1: 60/100 = 0.6,
    # se sqrt(.6*.4/100) = 0.0489898; mean 0.75, se sqrt(0.0212132^2 + 0.0489898^2) / 2.
    s = accuracy_summary([180, 60], [200, 100])
    np.testing.assert_allclose(s["accuracy"], [0.9, 0.6])
    np.testing.assert_allclose(s["se"], [math.sqrt(0.9 * 0.1 / 200), math.sqrt(0.6 * 0.4 / 100)])
    assert s["mean"] == pytest.approx(0.75)
    assert s["mean_se"] == pytest.approx(math.sqrt(0.09 / 200 + 0.24 / 100) / 2)
    assert s["num_triplets"] == 300


def test_tasks_without_triplets_are_left_out():
    s = accuracy_summary([5, 0], [10, 0])
    assert np.isnan(s["accuracy"][1]) and np.isnan(s["se"][1])
    assert s["mean"] == 0.5 and s["mean_se"] == pytest.approx(math.sqrt(0.25 / 10))
    empty = accuracy_summary([0], [0])
    assert np.isnan(empty["mean"]) and np.isnan(empty["mean_se"])


def test_bad_counts_raise():
    with pytest.raises(ValueError, match="0 <= correct <= total"):
        accuracy_summary([11], [10])
    with pytest.raises(ValueError, match="1-D arrays of one shape"):
        accuracy_summary([1, 2], [3])


def test_difference_and_its_confidence_interval():
    d = difference({"mean": 0.80, "mean_se": 0.03}, {"mean": 0.85, "mean_se": 0.04})
    assert d["difference"] == pytest.approx(0.05) and d["se"] == pytest.approx(0.05)
    assert d["z"] == pytest.approx(1.0)
    # 95%: +-1.959964 se
    assert d["ci_low"] == pytest.approx(0.05 - 1.959964 * 0.05, abs=1e-6)
    assert d["ci_high"] == pytest.approx(0.05 + 1.959964 * 0.05, abs=1e-6)
    d90 = difference({"mean": 0.5, "mean_se": 0.1}, {"mean": 0.5, "mean_se": 0.0}, 0.9)
    assert d90["ci_high"] == pytest.approx(1.644854 * 0.1, abs=1e-6) and d90["z"] == 0.0
    with pytest.raises(ValueError, match="confidence"):
        difference({"mean": 0, "mean_se": 0}, {"mean": 0, "mean_se": 0}, 1.0)


@pytest.mark.parametrize("b_mean, outcome", [(0.83, "beats"), (0.81, "indistinguishable"),
                                             (0.77, "is behind")])
def test_verdict_outcomes_at_two_standard_errors(b_mean, outcome):
    # se of the difference = sqrt(0.01^2 + 0.01^2) = 0.01414; 2 se = 2.83 points.
    a, b = {"mean": 0.80, "mean_se": 0.01}, {"mean": b_mean, "mean_se": 0.01}
    v = verdict("FSN", a, "modulation", b)
    assert v["outcome"] == outcome
    assert f"modulation {100 * b_mean:.2f}% vs FSN 80.00%" in v["sentence"]
    assert v["sentence"].count("\n") == 0
    assert v["difference"]["difference"] == pytest.approx(b_mean - 0.8)
