"""Methods trained side by side against a baseline: the verdicts computed from their numbers
(accuracy, Zhao et al. Tables 3 and 6; UCR by kind of task pair, Tables 1 and 4) and the
record an example writes to its `results.json`."""

from __future__ import annotations

from collections.abc import Callable

from keras_mtl.evaluation.comparison import verdict
from keras_mtl.evaluation.task_pairs import pair_mean_raised, pair_summary, related_vs_independent


def compare_methods(results: dict, matrices: dict, relations=None, baseline: str = "fsn",
                    name: Callable[[str], str] = str) -> dict:
    """Verdicts of every method against `baseline`, from the numbers.

    Args:
        results: method -> `accuracy_summary(...)` (per-task accuracy, mean, standard errors).
        matrices: method -> the model's `conflict_matrices()` (None for a method not probed).
        relations: the data's `TaskRelations` (None: no UCR findings).
        baseline: the method the others are compared with (skipped if it was not trained).
        name: method key -> the name printed in the sentences.

    Returns:
        `{"accuracy": {method: verdict}, "ucr": {method: {"by_pair", "related_above_independent"
        [, "raised_over_fsn"]}}}`; each entry holds a computed `sentence`.
    """
    found = {"accuracy": {}, "ucr": {}}
    base = baseline if baseline in results else None
    for method in results:
        if base and method != base:
            found["accuracy"][method] = verdict(name(base), results[base], name(method),
                                                results[method])
    if relations is None:
        return found
    summaries = {m: pair_summary(v["ucr"], relations) for m, v in matrices.items()
                 if v is not None}
    for method, summary in summaries.items():
        found["ucr"][method] = {"by_pair": summary,
                                "related_above_independent": related_vs_independent(
                                    name(method), summary)}
        if base in summaries and method != base:
            found["ucr"][method]["raised_over_fsn"] = pair_mean_raised(
                name(base), summaries[base], name(method), summary)
    return found


def comparison_record(task_names, results: dict, matrices: dict, seconds: dict,
                      found: dict) -> dict:
    """The per-method part of an example's `results.json`: accuracy with triplet counts,
    standard errors, parameters, seconds, the UCR and cosine matrices; the verdicts."""
    def matrix(method, key):
        return None if matrices.get(method) is None else matrices[method].get(key)

    return {
        "results": {
            k: {"task_names": list(task_names),
                "accuracy": v["accuracy"], "se": v["se"], "correct": v["correct"],
                "total": v["total"], "mean": v["mean"], "mean_se": v["mean_se"],
                "parameters": v["parameters"], "seconds": seconds[k],
                "ucr": matrix(k, "ucr"), "cosine": matrix(k, "cosine"),
                "probed_batches": matrix(k, "probed_batches"),
                "ucr_by_pair": found["ucr"].get(k, {}).get("by_pair")}
            for k, v in results.items()
        },
        "verdicts": {k: {"outcome": v["outcome"], "sentence": v["sentence"], **v["difference"]}
                     for k, v in found["accuracy"].items()},
        "ucr_findings": {k: {"related_above_independent": v["related_above_independent"],
                             "raised_over_fsn": v.get("raised_over_fsn")}
                         for k, v in found["ucr"].items()},
    }
