"""Statistics over training seeds: spread per method, paired differences, claimed orderings.

One training run gives one number per method; how much of a gap between two methods is the
method and how much is the luck of one run (initialisation, batch order, the sampled data) is
only seen over several runs. With `n` runs (seeds) per method:

- per method (and task), the mean over seeds and the sample standard deviation
  `sd = sqrt(sum_s (x_s - mean)^2 / (n - 1))`;
- the difference of two methods is taken *paired by seed*: run `s` of both methods used the
  same data and batch order, so `d_s = b_s - a_s` removes what the seed does to both alike.
  Its mean has standard error `se = sd(d) / sqrt(n)` and a two-sided Student-t confidence
  interval `mean(d) +- t_{(1 + confidence) / 2, n - 1} * se` (a paired t-interval; it assumes
  the `d_s` are independent draws from a normal distribution, which few seeds cannot check);
- a claim "b is above a" is *reproduced* when the whole interval is above 0, *contradicted* when
  it is entirely below 0, and otherwise *inconclusive* (the seeds cannot tell).

With 3 seeds the t quantile is 4.30 (95%), so only differences of about 2.5 standard
deviations of `d_s` are resolved: a wide interval is an honest "not enough runs", not a
failure of the method. The binomial standard error of one run's accuracy
(`keras_mtl.evaluation.comparison`) measures the finite test set only; the spread over seeds
includes it when each seed also draws its own data.
"""

from __future__ import annotations

import math

import numpy as np

OUTCOMES = ("reproduced", "contradicted", "inconclusive")


def t_cdf_two_sided(t: float, df: int) -> float:
    """`P(|T| <= t)` for Student's t with an integer number of degrees of freedom.

    The finite series of Abramowitz & Stegun 26.7.3 (odd `df`) and 26.7.4 (even `df`), with
    `theta = atan(t / sqrt(df))`; exact up to rounding.

    Example:

    >>> round(t_cdf_two_sided(1.0, 1), 6)  # Cauchy: 2 atan(1) / pi
    0.5
    """
    if isinstance(df, bool) or int(df) != df or df < 1:
        raise ValueError(f"Expected `df` to be a positive integer. Received: df={df!r}")
    df = int(df)
    t = abs(float(t))
    if math.isinf(t):
        return 1.0
    theta = math.atan(t / math.sqrt(df))
    s, c = math.sin(theta), math.cos(theta)
    if df % 2:  # odd: (2 / pi) (theta + sin cos (1 + 2/3 cos^2 + 2*4/(3*5) cos^4 + ...))
        total, term = 0.0, 1.0
        if df > 1:
            total = term
            for k in range(1, (df - 3) // 2 + 1):
                term *= (2 * k) / (2 * k + 1) * c * c
                total += term
        return (2.0 / math.pi) * (theta + s * c * total)
    total, term = 1.0, 1.0  # even: sin (1 + 1/2 cos^2 + 1*3/(2*4) cos^4 + ...)
    for k in range(1, (df - 2) // 2 + 1):
        term *= (2 * k - 1) / (2 * k) * c * c
        total += term
    return s * total


def t_critical(confidence: float, df: int) -> float:
    """The two-sided Student-t critical value: `P(|T| <= t) = confidence` with `df` dof.

    Solved by bisection on `t_cdf_two_sided` (to about 1e-12).

    Example:

    >>> round(t_critical(0.95, 2), 4)  # the 3-seed paired interval's multiplier
    4.3027
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"Expected `confidence` in (0, 1). Received: confidence={confidence}")
    low, high = 0.0, 1.0
    while t_cdf_two_sided(high, df) < confidence:
        high *= 2.0
    for _ in range(200):
        mid = 0.5 * (low + high)
        if t_cdf_two_sided(mid, df) < confidence:
            low = mid
        else:
            high = mid
        if high - low < 1e-12 * max(1.0, high):
            break
    return 0.5 * (low + high)


def seed_summary(values) -> dict:
    """Mean, sample standard deviation and standard error over seeds (axis 0), NaN-aware.

    Args:
        values: `(n,)` one number per seed, or `(n, T)` one row per seed (e.g. per-task
            accuracies); NaN entries (a task or pair without a value in that run) are left
            out of that column.

    Returns:
        A dict with `mean`, `sd` (ddof 1; NaN with fewer than 2 values), `se` (`sd / sqrt(n)`),
        `n` (values used), `min`, `max`: floats for `(n,)` input, arrays `(T,)` otherwise;
        and `values` (the input as a float array).

    Example:

    >>> s = seed_summary([0.80, 0.82, 0.84])
    >>> round(s["mean"], 3), round(s["sd"], 3), s["n"]
    (0.82, 0.02, 3)
    """
    x = np.asarray(values, dtype=float)
    if x.ndim not in (1, 2) or x.shape[0] == 0:
        raise ValueError(
            f"Expected one value or one row per seed, shape (n,) or (n, T) with n >= 1. "
            f"Received: shape {x.shape}"
        )
    finite = ~np.isnan(x)
    n = finite.sum(axis=0)
    safe = np.where(finite, x, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, safe.sum(axis=0) / np.maximum(n, 1), np.nan)
        squares = np.where(finite, (x - mean) ** 2, 0.0).sum(axis=0)
        sd = np.where(n > 1, np.sqrt(squares / np.maximum(n - 1, 1)), np.nan)
        se = np.where(n > 1, sd / np.sqrt(np.maximum(n, 1)), np.nan)
        low = np.where(n > 0, np.where(finite, x, np.inf).min(axis=0), np.nan)
        high = np.where(n > 0, np.where(finite, x, -np.inf).max(axis=0), np.nan)
    out = {"mean": mean, "sd": sd, "se": se, "n": n, "min": low, "max": high}
    if x.ndim == 1:
        out = {k: (int(v) if k == "n" else float(v)) for k, v in out.items()}
    out["values"] = x
    return out


def paired_difference(a, b, confidence: float = 0.95) -> dict:
    """The difference `b - a` over seeds, paired by seed, with a Student-t confidence interval.

    Args:
        a, b: `(n,)` values of the baseline and of the other method, entry `s` from seed `s`
            of each. Seeds where either is NaN are dropped.
        confidence: level of the two-sided interval.

    Returns:
        A dict: `difference` (mean of `b_s - a_s`), `sd` (of the differences, ddof 1), `se`
        (`sd / sqrt(n)`), `n`, `df` (`n - 1`), `t` (`difference / se`), `t_critical`,
        `ci_low`, `ci_high`, `confidence`, `method` (a short description) and `values` (the
        per-seed differences). With fewer than 2 seeds the spread is unknown: `sd`, `se`,
        `t`, `t_critical` and the interval are NaN.

    Example:

    >>> d = paired_difference([0.80, 0.82, 0.81], [0.90, 0.93, 0.90])
    >>> round(d["difference"], 3), round(d["sd"], 4), d["df"]
    (0.1, 0.01, 2)
    >>> round(d["ci_low"], 4), round(d["ci_high"], 4)  # 0.1 -+ 4.3027 * 0.01 / sqrt(3)
    (0.0752, 0.1248)
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"Expected `confidence` in (0, 1). Received: confidence={confidence}")
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(
            f"Expected `a` and `b` as 1-D arrays of one shape (one value per seed). Received: "
            f"shapes {a.shape} and {b.shape}"
        )
    keep = ~(np.isnan(a) | np.isnan(b))
    d = b[keep] - a[keep]
    n = int(d.size)
    nan = float("nan")
    out = {"difference": float(d.mean()) if n else nan, "sd": nan, "se": nan, "n": n,
           "df": n - 1 if n else 0, "t": nan, "t_critical": nan, "ci_low": nan, "ci_high": nan,
           "confidence": confidence, "values": d,
           "method": f"paired t-interval over seeds, {n - 1 if n else 0} degrees of freedom"}
    if n < 2:
        return out
    sd = float(np.std(d, ddof=1))
    se = sd / math.sqrt(n)
    crit = t_critical(confidence, n - 1)
    diff = out["difference"]
    out.update(sd=sd, se=se, t_critical=crit, ci_low=diff - crit * se, ci_high=diff + crit * se,
               t=diff / se if se > 0 else (math.copysign(math.inf, diff) if diff else 0.0))
    return out


def claim_outcome(difference: dict, expected: str = "above") -> str:
    """Whether a claimed ordering is reproduced by a `paired_difference` (b - a) interval.

    Args:
        difference: a `paired_difference` result.
        expected: `"above"` (the claim is b > a) or `"below"` (b < a).

    Returns:
        `"reproduced"` when the whole interval lies on the claimed side of 0, `"contradicted"`
        when it lies entirely on the other side, else `"inconclusive"` (including an interval
        that could not be computed, from fewer than 2 seeds).

    Example:

    >>> claim_outcome({"ci_low": 0.02, "ci_high": 0.09}), claim_outcome(
    ...     {"ci_low": -0.01, "ci_high": 0.09})
    ('reproduced', 'inconclusive')
    """
    if expected not in ("above", "below"):
        raise ValueError(f"Expected `expected` to be 'above' or 'below'. Received: "
                         f"expected={expected!r}")
    low, high = float(difference["ci_low"]), float(difference["ci_high"])
    if math.isnan(low) or math.isnan(high):
        return "inconclusive"
    sign = 1.0 if expected == "above" else -1.0
    low, high = sorted((sign * low, sign * high))
    if low > 0:
        return "reproduced"
    if high < 0:
        return "contradicted"
    return "inconclusive"


def format_difference(difference: dict, scale: float = 100.0, unit: str = " points",
                      digits: int = 2) -> str:
    """`+9.37 points (95% CI +7.10 to +11.64; paired t, 2 df)`: a difference for a sentence.

    Example:

    >>> format_difference({"difference": 0.1, "ci_low": 0.0752, "ci_high": 0.1248, "df": 2,
    ...                    "confidence": 0.95})
    '+10.00 points (95% CI +7.52 to +12.48; paired t, 2 df)'
    """
    text = f"{scale * difference['difference']:+.{digits}f}{unit}"
    low, high = difference["ci_low"], difference["ci_high"]
    if math.isnan(float(low)) or math.isnan(float(high)):
        return text + " (one seed: no interval)"
    level = f"{100 * difference['confidence']:g}%"
    return (f"{text} ({level} CI {scale * low:+.{digits}f} to {scale * high:+.{digits}f}; "
            f"paired t, {difference['df']} df)")
