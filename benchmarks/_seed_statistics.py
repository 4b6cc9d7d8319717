"""Runs over seeds, summarised: mean ± sd per method, differences paired by seed, their text.

Shared by `reproduction_report.py` and `weighting_comparison.py` (imported as a plain module,
like `_common`). A run is the record `_seed_runs.train_and_evaluate` returns; runs are told
apart by `(method, loss_weighting, seed)` of their `config`. The statistics themselves are
`keras_mtl.evaluation.seeds` (sample sd, paired Student-t intervals, claim outcomes).
"""

import math

import numpy as np

from keras_mtl.evaluation.seeds import (
    claim_outcome,
    paired_difference,
    seed_summary,
    t_critical,
)

CONFIDENCE = 0.95  # of every interval the reports give


def as_float(value):
    """A float, NaN for None (a value a run does not have)."""
    return float("nan") if value is None else float(value)


def by_seed(runs, method, field, seeds, loss_weighting="uniform"):
    """`field` of `method`'s run for each seed (NaN where that run is missing).

    `field` is a key of the run record, or `(key, sub)` for a pair summary, e.g.
    `("ucr_by_pair", "related")`.
    """
    index = {(r["config"]["method"], r["config"]["loss_weighting"], r["config"]["seed"]): r
             for r in runs}
    values = []
    for seed in seeds:
        r = index.get((method, loss_weighting, seed))
        if r is None:
            values.append(float("nan"))
        elif isinstance(field, tuple):
            values.append(as_float((r.get(field[0]) or {}).get(field[1])))
        else:
            values.append(as_float(r[field]))
    return np.array(values)


def aggregate(runs, methods, seeds, loss_weighting="uniform"):
    """Per method: mean and sd over seeds of per-task and mean accuracy, UCR by kind of pair,
    the mean UCR and cosine matrices, sizes and times."""
    out = {}
    for method in methods:
        mine = [r for r in runs if r["config"]["method"] == method
                and r["config"]["loss_weighting"] == loss_weighting
                and r["config"]["seed"] in seeds]
        if not mine:
            continue
        mine.sort(key=lambda r: seeds.index(r["config"]["seed"]))
        accuracy = np.array([[as_float(a) for a in r["accuracy"]] for r in mine])
        matrices = {k: np.array([[[as_float(x) for x in row] for row in r[k]] for r in mine])
                    for k in ("ucr", "cosine")}
        with np.errstate(invalid="ignore"), _quiet():
            mean_matrices = {k: np.nanmean(v, axis=0) for k, v in matrices.items()}
        first = mine[0]
        out[method] = {
            "seeds": [r["config"]["seed"] for r in mine],
            "accuracy": seed_summary(accuracy),
            "mean": seed_summary([r["mean"] for r in mine]),
            "binomial_se": float(np.mean([r["mean_se"] for r in mine])),
            "ucr_by_pair": {kind: seed_summary(by_seed(mine, method, ("ucr_by_pair", kind),
                                                       seeds, loss_weighting))
                            for kind in ("related", "independent", "all")},
            "ucr_mean": mean_matrices["ucr"], "cosine_mean": mean_matrices["cosine"],
            "params": first["params"], "task_specific_params": first["task_specific_params"],
            "shared_params": first["shared_params"], "probe": first["probe"],
            "total_s": seed_summary([r["total_s"] for r in mine]),
            "cpu_s": float(sum(r["cpu_s"] for r in mine)),
            "step_s_median": seed_summary([as_float(r.get("step_s_median")) for r in mine]),
        }
    return out


class _quiet:
    """Silences NumPy's "mean of empty slice" (all-NaN matrices of unshared methods)."""

    def __enter__(self):
        import warnings

        self._catch = warnings.catch_warnings()
        self._catch.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._catch.__exit__(*exc)


def outcome_vs_baseline(difference):
    """`beats`, `is behind` or `indistinguishable`: where the interval lies relative to 0."""
    verdict = claim_outcome(difference, "above")
    return {"reproduced": "beats", "contradicted": "is behind"}.get(verdict, "indistinguishable")


def differences_from(runs, methods, seeds, baseline="fsn", loss_weighting="uniform",
                     baseline_weighting="uniform"):
    """Each method's mean (and per-task) accuracy minus the baseline's, paired by seed."""
    out = {}
    base = by_seed(runs, baseline, "mean", seeds, baseline_weighting)
    base_rows = _task_rows(runs, baseline, seeds, baseline_weighting)
    for method in methods:
        if method == baseline and loss_weighting == baseline_weighting:
            continue
        values = by_seed(runs, method, "mean", seeds, loss_weighting)
        if np.all(np.isnan(values)):
            continue
        d = paired_difference(base, values, CONFIDENCE)
        rows = _task_rows(runs, method, seeds, loss_weighting)
        per_task = ([paired_difference(base_rows[:, t], rows[:, t], CONFIDENCE)
                     for t in range(rows.shape[1])] if rows.size and base_rows.size else [])
        out[method] = {"mean": d, "per_task": per_task, "outcome": outcome_vs_baseline(d)}
    return out


def _task_rows(runs, method, seeds, loss_weighting):
    index = {(r["config"]["method"], r["config"]["loss_weighting"], r["config"]["seed"]): r
             for r in runs}
    rows = []
    width = max((len(r["accuracy"]) for r in runs), default=0)
    for seed in seeds:
        r = index.get((method, loss_weighting, seed))
        rows.append([as_float(a) for a in r["accuracy"]] if r else [float("nan")] * width)
    return np.array(rows, dtype=float)


# ------------------------------------------------------------------------------- text
def pm(summary, scale=100.0, digits=2):
    """`82.65 ± 0.58` from a `seed_summary` (scalar), or `-` when missing."""
    mean, sd = summary["mean"], summary["sd"]
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "-"
    if sd is None or math.isnan(sd):
        return f"{scale * mean:.{digits}f}"
    return f"{scale * mean:.{digits}f} ± {scale * sd:.{digits}f}"


def pm_array(summary, t, scale=100.0, digits=2):
    return pm({"mean": float(summary["mean"][t]), "sd": float(summary["sd"][t])}, scale,
              digits)


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def t_note(n):
    """`4.30 for 3 seeds`: the t multiplier of the paired interval, for a sentence."""
    return f"{t_critical(CONFIDENCE, n - 1):.2f} for {n} seeds" if n > 1 else "undefined (1 seed)"


def ci_text(d, scale=100.0, digits=2):
    """`+7.52 to +12.48` from a `paired_difference`, or `-` without an interval."""
    if math.isnan(d["ci_low"]):
        return "-"
    return f"{scale * d['ci_low']:+.{digits}f} to {scale * d['ci_high']:+.{digits}f}"
