"""Statistics over seeds, checked against t tables, closed forms and hand-computed values."""

import math
import statistics

import numpy as np
import pytest

from keras_mtl.evaluation import seeds


# Two-sided critical values from a printed t table (e.g. NIST/SEMATECH e-Handbook 1.3.6.7.2).
@pytest.mark.parametrize("confidence, df, expected", [
    (0.95, 1, 12.706), (0.95, 2, 4.303), (0.95, 3, 3.182), (0.95, 4, 2.776),
    (0.95, 5, 2.571), (0.95, 9, 2.262), (0.95, 10, 2.228), (0.95, 30, 2.042),
    (0.90, 2, 2.920), (0.99, 2, 9.925), (0.99, 7, 3.499),
])
def test_t_critical_matches_the_table(confidence, df, expected):
    assert seeds.t_critical(confidence, df) == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize("confidence", [0.5, 0.8, 0.95, 0.99])
def test_t_critical_closed_forms_and_normal_limit(confidence):
    # df = 1 is the Cauchy: P(|T| <= t) = 2 atan(t) / pi  =>  t = tan(pi c / 2).
    assert seeds.t_critical(confidence, 1) == pytest.approx(math.tan(math.pi * confidence / 2))
    # df = 2: P(|T| <= t) = t / sqrt(t^2 + 2)  =>  t = c sqrt(2 / (1 - c^2)).
    assert seeds.t_critical(confidence, 2) == pytest.approx(
        confidence * math.sqrt(2 / (1 - confidence**2)))
    # many degrees of freedom: the normal quantile (t_1000 - z ~ (z^3 + z) / (4 df)).
    z = statistics.NormalDist().inv_cdf(0.5 + confidence / 2)
    assert seeds.t_critical(confidence, 1000) == pytest.approx(z + (z**3 + z) / 4000, abs=2e-5)


def test_t_cdf_is_monotone_and_bad_arguments_raise():
    values = [seeds.t_cdf_two_sided(t, 3) for t in np.linspace(0, 20, 41)]
    assert values[0] == 0.0 and np.all(np.diff(values) > 0) and values[-1] < 1
    assert seeds.t_cdf_two_sided(math.inf, 4) == 1.0
    with pytest.raises(ValueError, match="df"):
        seeds.t_cdf_two_sided(1.0, 0)
    with pytest.raises(ValueError, match="df"):
        seeds.t_cdf_two_sided(1.0, 2.5)
    with pytest.raises(ValueError, match="confidence"):
        seeds.t_critical(1.0, 3)


def test_seed_summary_scalar_and_per_task():
    # 0.80, 0.83, 0.86: mean 0.83, deviations -0.03, 0, 0.03 -> sd sqrt(0.0018 / 2) = 0.03
    s = seeds.seed_summary([0.80, 0.83, 0.86])
    assert s["mean"] == pytest.approx(0.83) and s["sd"] == pytest.approx(0.03)
    assert s["se"] == pytest.approx(0.03 / math.sqrt(3)) and s["n"] == 3
    assert (s["min"], s["max"]) == (0.80, 0.86)
    rows = np.array([[0.9, 0.5, np.nan], [0.7, 0.6, np.nan], [0.8, np.nan, np.nan]])
    t = seeds.seed_summary(rows)
    np.testing.assert_allclose(t["mean"], [0.8, 0.55, np.nan])
    np.testing.assert_allclose(t["sd"], [np.std([0.9, 0.7, 0.8], ddof=1),
                                         np.std([0.5, 0.6], ddof=1), np.nan])
    np.testing.assert_array_equal(t["n"], [3, 2, 0])
    one = seeds.seed_summary([0.7])
    assert one["mean"] == 0.7 and math.isnan(one["sd"]) and math.isnan(one["se"])
    with pytest.raises(ValueError, match="one row per seed"):
        seeds.seed_summary(np.zeros((0,)))


def test_paired_difference_by_hand():
    a = [0.80, 0.70, 0.75]
    b = [0.86, 0.74, 0.83]  # differences 0.06, 0.04, 0.08: mean 0.06, sd 0.02
    d = seeds.paired_difference(a, b)
    np.testing.assert_allclose(d["values"], [0.06, 0.04, 0.08])
    assert d["difference"] == pytest.approx(0.06) and d["sd"] == pytest.approx(0.02)
    assert d["se"] == pytest.approx(0.02 / math.sqrt(3)) and d["df"] == 2 and d["n"] == 3
    assert d["t"] == pytest.approx(0.06 / (0.02 / math.sqrt(3)))
    half = 4.302653 * 0.02 / math.sqrt(3)
    assert d["ci_low"] == pytest.approx(0.06 - half, abs=1e-6)
    assert d["ci_high"] == pytest.approx(0.06 + half, abs=1e-6)
    # pairing matters: the same values unpaired have a spread of 0.05 per method
    assert d["sd"] < np.std(a, ddof=1)
    # a seed where one method has no value is dropped from both
    e = seeds.paired_difference([0.5, np.nan, 0.4, 0.6], [0.6, 0.9, 0.45, 0.75])
    assert e["n"] == 3 and e["difference"] == pytest.approx((0.1 + 0.05 + 0.15) / 3)
    single = seeds.paired_difference([0.5], [0.6])
    assert single["difference"] == pytest.approx(0.1) and math.isnan(single["ci_low"])
    with pytest.raises(ValueError, match="one value per seed"):
        seeds.paired_difference([0.1, 0.2], [0.1])


def test_claim_outcomes_and_sentence():
    assert seeds.claim_outcome({"ci_low": 0.01, "ci_high": 0.2}) == "reproduced"
    assert seeds.claim_outcome({"ci_low": -0.2, "ci_high": -0.01}) == "contradicted"
    assert seeds.claim_outcome({"ci_low": -0.01, "ci_high": 0.2}) == "inconclusive"
    assert seeds.claim_outcome({"ci_low": -0.2, "ci_high": -0.01}, "below") == "reproduced"
    assert seeds.claim_outcome({"ci_low": 0.01, "ci_high": 0.2}, "below") == "contradicted"
    assert seeds.claim_outcome({"ci_low": math.nan, "ci_high": math.nan}) == "inconclusive"
    with pytest.raises(ValueError, match="'above' or 'below'"):
        seeds.claim_outcome({"ci_low": 0, "ci_high": 1}, "higher")
    d = seeds.paired_difference([0.80, 0.70, 0.75], [0.86, 0.74, 0.83])
    half = 100 * 4.302653 * 0.02 / math.sqrt(3)
    assert seeds.format_difference(d) == (
        f"+6.00 points (95% CI {6 - half:+.2f} to {6 + half:+.2f}; paired t, 2 df)")
    assert seeds.format_difference(seeds.paired_difference([0.5], [0.4])).endswith(
        "(one seed: no interval)")
