"""Task-pair matrices (UCR, gradient cosine) summarised and printed by ground-truth relation.

Zhao et al. 2018 read the Update Compliance Ratio by pair: a related pair (smile / open mouth)
complies more often than an unrelated one (smile / young) under the fully shared net (Table 1),
and modulation raises the UCR (Tables 1 and 4). With a dataset's `TaskRelations` (related,
independent, conflicting pairs) these functions give the mean of a pair matrix over each kind
of pair, and print the matrix with every pair marked.
"""

from __future__ import annotations

import numpy as np

from keras_mtl.datasets.task_relations import RELATION_KINDS, TaskRelations

MARKS = {"related": "R", "independent": "I", "conflicting": "C"}


def pair_values(matrix, task_names, pairs) -> list[float]:
    """Entries of a T x T matrix for named pairs, the mean of (i, j) and (j, i), NaN-aware.

    Example:

    >>> pair_values([[0, 0.2], [0.4, 0]], ["a", "b"], [("a", "b")])
    [0.30000000000000004]
    """
    matrix = np.asarray(matrix, dtype=float)
    index = {name: i for i, name in enumerate(task_names)}
    values = []
    for a, b in pairs:
        both = np.array([matrix[index[a], index[b]], matrix[index[b], index[a]]])
        values.append(float(np.mean(both[~np.isnan(both)])) if np.any(~np.isnan(both))
                      else float("nan"))
    return values


def _nan_mean(values) -> float:
    values = np.asarray(values, dtype=float)
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if finite.size else float("nan")


def pair_summary(matrix, relations: TaskRelations) -> dict:
    """Mean of a pair matrix over each kind of pair, and over all pairs.

    Args:
        matrix: T x T array (e.g. UCR or gradient cosine), task order of `relations`; the
            diagonal is ignored, NaN entries (pairs never probed) are skipped.
        relations: the dataset's `TaskRelations`.

    Returns:
        A dict: for each kind (`related`, `independent`, `conflicting`) the mean over its pairs
        (NaN when there are none), `all` (the mean over every pair), `related_minus_independent`,
        and `pairs` (kind -> list of `[a, b, value]`).

    Example:

    >>> r = TaskRelations.from_pairs(("a", "b", "c"), related=[("a", "b")])
    >>> s = pair_summary([[1, .8, .2], [.8, 1, .4], [.2, .4, 1]], r)
    >>> round(s["related"], 2), round(s["independent"], 2), round(s["all"], 2)
    (0.8, 0.3, 0.47)
    """
    matrix = np.asarray(matrix, dtype=float)
    t = relations.num_tasks
    if matrix.shape != (t, t):
        raise ValueError(
            f"Expected a {t} x {t} matrix for tasks {relations.task_names}. Received: shape "
            f"{matrix.shape}"
        )
    out = {"pairs": {}}
    everything = []
    for kind in RELATION_KINDS:
        pairs = relations.pairs(kind)
        values = pair_values(matrix, relations.task_names, pairs)
        out[kind] = _nan_mean(values)
        out["pairs"][kind] = [[a, b, v] for (a, b), v in zip(pairs, values, strict=True)]
        everything += values
    out["all"] = _nan_mean(everything)
    out["related_minus_independent"] = out["related"] - out["independent"]
    return out


def format_pair_matrix(matrix, task_names, relations: TaskRelations | None = None,
                       digits: int = 2) -> str:
    """A text table of a T x T matrix, each off-diagonal cell marked R / I / C by relation.

    Example:

    >>> r = TaskRelations.from_pairs(("a", "b"), related=[("a", "b")])
    >>> print(format_pair_matrix([[float("nan"), 0.8], [0.8, float("nan")]], ["a", "b"], r))
           a      b
    a      -  0.80R
    b  0.80R      -
    """
    matrix = np.asarray(matrix, dtype=float)
    names = list(task_names)
    cells = []
    for i in range(len(names)):
        row = []
        for j in range(len(names)):
            if i == j:
                row.append("-")
                continue
            value = "nan" if np.isnan(matrix[i, j]) else f"{matrix[i, j]:.{digits}f}"
            mark = MARKS[relations.kinds[i][j]] if relations is not None else ""
            row.append(value + mark)
        cells.append(row)
    width = max([len(n) for n in names] + [len(c) for row in cells for c in row]) + 2
    first = max(len(n) for n in names)
    lines = [" " * first + "".join(f"{n:>{width}}" for n in names)]
    for name, row in zip(names, cells, strict=True):
        lines.append(f"{name:<{first}}" + "".join(f"{c:>{width}}" for c in row))
    return "\n".join(line.rstrip() for line in lines)


def format_pair_summary(summaries: dict, label: str = "UCR") -> str:
    """One line per method: the mean of a pair matrix over related, independent and all pairs.

    Args:
        summaries: method name -> `pair_summary` result.
        label: what the matrix is, for the header.
    """
    header = f"{'method':<22}{'related':>10}{'independent':>13}{'all pairs':>11}"
    lines = [f"{label} by kind of pair (mean over pairs)", header, "-" * len(header)]
    for name, s in summaries.items():
        cells = [f"{v:>{w}.3f}" if not np.isnan(v) else f"{'-':>{w}}"
                 for v, w in ((s["related"], 10), (s["independent"], 13), (s["all"], 11))]
        lines.append(f"{name:<22}" + "".join(cells))
    return "\n".join(lines)


def related_vs_independent(name: str, summary: dict, label: str = "UCR") -> dict:
    """Whether related pairs score above independent ones (Zhao Table 1), as a sentence.

    Args:
        name: the method (e.g. `"FSN"`).
        summary: its `pair_summary`.
        label: what the matrix is.

    Returns:
        `{"holds": bool or None (no pairs of a kind), "sentence": str}`.

    Example:

    >>> related_vs_independent("FSN", {"related": 0.8, "independent": 0.3})["sentence"]
    "FSN: related pairs' mean UCR (0.800) is above independent pairs' (0.300), by +0.500."
    """
    r, i = summary["related"], summary["independent"]
    if np.isnan(r) or np.isnan(i):
        return {"holds": None, "sentence": f"{name}: no related or no independent pairs to "
                                           f"compare the {label} of."}
    holds = bool(r > i)
    verb = "is above" if holds else "is not above"
    return {"holds": holds, "sentence": f"{name}: related pairs' mean {label} ({r:.3f}) {verb} "
                                        f"independent pairs' ({i:.3f}), by {r - i:+.3f}."}


def pair_mean_raised(name_a: str, summary_a: dict, name_b: str, summary_b: dict,
           label: str = "UCR") -> dict:
    """Whether method b's mean over all pairs is above method a's (Zhao Tables 1 and 4).

    Returns:
        `{"holds": bool or None, "pairs_higher": int, "pairs": int, "sentence": str}`; pairs
        are counted where both methods have a value.

    Example:

    >>> a = {"all": 0.4, "pairs": {"related": [["x", "y", 0.4]]}}
    >>> b = {"all": 0.5, "pairs": {"related": [["x", "y", 0.5]]}}
    >>> r = pair_mean_raised("FSN", a, "modulation", b)
    >>> r["holds"], r["pairs_higher"], r["sentence"].split(";")[0]
    (True, 1, "modulation's mean UCR over all pairs (0.500) is above FSN's (0.400), by +0.100")
    """
    x, y = summary_a["all"], summary_b["all"]
    if np.isnan(x) or np.isnan(y):
        return {"holds": None, "pairs_higher": 0, "pairs": 0,
                "sentence": f"{name_b} vs {name_a}: no probed pairs to compare the {label} of."}
    values_a = {(p[0], p[1]): p[2] for ps in summary_a["pairs"].values() for p in ps}
    values_b = {(p[0], p[1]): p[2] for ps in summary_b["pairs"].values() for p in ps}
    both = [k for k in values_a if k in values_b
            and not (np.isnan(values_a[k]) or np.isnan(values_b[k]))]
    higher = sum(values_b[k] > values_a[k] for k in both)
    holds = bool(y > x)
    verb = "is above" if holds else "is not above"
    return {"holds": holds, "pairs_higher": int(higher), "pairs": len(both),
            "sentence": f"{name_b}'s mean {label} over all pairs ({y:.3f}) {verb} {name_a}'s "
                        f"({x:.3f}), by {y - x:+.3f}; higher on {higher} of {len(both)} pairs."}
