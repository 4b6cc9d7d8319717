"""Comparing two methods' triplet accuracies with their sampling error, and saying what was found.

Triplet accuracy is a count: task t has `correct[t]` successes out of `total[t]` test triplets
(Zhao et al. 2018, Tables 3 and 6 report the per-task rates and their mean). Treating each test
triplet as an independent Bernoulli trial with the task's observed rate p_t:

- per-task binomial standard error: `se_t = sqrt(p_t (1 - p_t) / n_t)`;
- the mean over the T tasks with triplets, `m = mean_t p_t`, has
  `se(m) = sqrt(sum_t se_t^2) / T`;
- the difference of two methods' means, `d = m_b - m_a`, has `se(d) = sqrt(se(m_a)^2 +
  se(m_b)^2)`, and a normal-approximation confidence interval `d +- z se(d)` (z = 1.96 for
  95%).

This is the error from the finite test set only: the methods are scored on the *same* triplets,
which correlates their outcomes positively, so `se(d)` above is conservative (a paired
estimate would be smaller); and it says nothing of the spread over training seeds, which needs
several runs. The verdict rule: method b "beats" a when `d > threshold * se(d)` (default 2),
"is behind" when `d < -threshold * se(d)`, and otherwise the two are "indistinguishable".
"""

from __future__ import annotations

import math
import statistics

import numpy as np


def accuracy_summary(correct, total) -> dict:
    """Per-task accuracy, its binomial standard error, the mean over tasks and its s.e.

    Args:
        correct: int array `(T,)`, correctly ordered test triplets per task.
        total: int array `(T,)`, test triplets per task (tasks with 0 are left out of the mean).

    Returns:
        A dict with float arrays `accuracy` and `se` `(T,)` (NaN where `total` is 0), ints
        `correct`, `total` (as given), and floats `mean`, `mean_se` and `num_triplets`.

    Example:

    >>> s = accuracy_summary([90, 60], [100, 100])
    >>> round(s["mean"], 3), round(s["mean_se"], 4)  # sqrt(.9*.1/100 + .6*.4/100) / 2
    (0.75, 0.0287)
    """
    correct = np.asarray(correct, dtype=np.int64)
    total = np.asarray(total, dtype=np.int64)
    if correct.shape != total.shape or correct.ndim != 1:
        raise ValueError(
            "Expected `correct` and `total` as 1-D arrays of one shape. Received: shapes "
            f"{correct.shape} and {total.shape}"
        )
    if np.any(total < 0) or np.any(correct < 0) or np.any(correct > total):
        raise ValueError(
            f"Expected 0 <= correct <= total. Received: correct={correct.tolist()}, "
            f"total={total.tolist()}"
        )
    has = total > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.where(has, correct / np.maximum(total, 1), np.nan)
        se = np.where(has, np.sqrt(accuracy * (1 - accuracy) / np.maximum(total, 1)), np.nan)
    count = int(has.sum())
    mean = float(np.mean(accuracy[has])) if count else float("nan")
    mean_se = float(np.sqrt(np.sum(se[has] ** 2)) / count) if count else float("nan")
    return {"correct": correct, "total": total, "accuracy": accuracy, "se": se, "mean": mean,
            "mean_se": mean_se, "num_triplets": int(total.sum())}


def difference(a: dict, b: dict, confidence: float = 0.95) -> dict:
    """The difference `b["mean"] - a["mean"]` of two `accuracy_summary` results, with its s.e.

    Args:
        a, b: dicts with `mean` and `mean_se` (e.g. from `accuracy_summary`).
        confidence: level of the two-sided normal confidence interval.

    Returns:
        A dict with `difference`, `se` (`sqrt(se_a^2 + se_b^2)`), `z` (difference / se),
        `ci_low`, `ci_high` and `confidence`.

    Example:

    >>> d = difference({"mean": 0.80, "mean_se": 0.006}, {"mean": 0.85, "mean_se": 0.008})
    >>> round(d["difference"], 3), round(d["se"], 3), round(d["z"], 1)
    (0.05, 0.01, 5.0)
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"Expected `confidence` in (0, 1). Received: confidence={confidence}")
    diff = float(b["mean"]) - float(a["mean"])
    se = math.sqrt(float(a["mean_se"]) ** 2 + float(b["mean_se"]) ** 2)
    z_crit = statistics.NormalDist().inv_cdf(0.5 + confidence / 2)
    z = diff / se if se > 0 else (math.copysign(math.inf, diff) if diff else 0.0)
    return {"difference": diff, "se": se, "z": z, "ci_low": diff - z_crit * se,
            "ci_high": diff + z_crit * se, "confidence": confidence}


def verdict(name_a: str, a: dict, name_b: str, b: dict, threshold: float = 2.0) -> dict:
    """Says, from the numbers, whether method b beats method a on mean triplet accuracy.

    Args:
        name_a, a: the baseline's name and its `accuracy_summary` (e.g. FSN).
        name_b, b: the other method's name and summary (e.g. modulation).
        threshold: how many standard errors of the difference count as a clear difference.

    Returns:
        A dict: `outcome` (`"beats"`, `"is behind"` or `"indistinguishable"`), `sentence`
        (one line) and the `difference` dict.

    Example:

    >>> v = verdict("FSN", {"mean": 0.80, "mean_se": 0.006},
    ...             "modulation", {"mean": 0.85, "mean_se": 0.008})
    >>> v["outcome"]
    'beats'
    """
    d = difference(a, b)
    pts = 100 * d["difference"]
    ci = f"95% CI {100 * d['ci_low']:+.2f} to {100 * d['ci_high']:+.2f} points"
    means = f"{name_b} {100 * b['mean']:.2f}% vs {name_a} {100 * a['mean']:.2f}%"
    if d["difference"] > threshold * d["se"]:
        outcome = "beats"
        sentence = (f"{name_b} beats {name_a}: {means}, {pts:+.2f} points = {d['z']:.1f} standard "
                    f"errors of the difference ({ci}).")
    elif d["difference"] < -threshold * d["se"]:
        outcome = "is behind"
        sentence = (f"{name_b} is behind {name_a}: {means}, {pts:+.2f} points = {d['z']:.1f} "
                    f"standard errors of the difference ({ci}).")
    else:
        outcome = "indistinguishable"
        sentence = (f"{name_b} and {name_a} are not clearly different: {means}, {pts:+.2f} points"
                    f" = {d['z']:.1f} standard errors, within {threshold:g} ({ci}).")
    return {"outcome": outcome, "sentence": sentence, "difference": d, "threshold": threshold}
