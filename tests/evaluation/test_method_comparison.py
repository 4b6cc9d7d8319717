"""Side-by-side verdicts and the results record the examples write."""

import numpy as np
import pytest

from keras_mtl.datasets import TaskRelations
from keras_mtl.evaluation import accuracy_summary, compare_methods, comparison_record

NAMES = ("class", "closure", "gender", "heel")
NAN = float("nan")
FSN_UCR = np.array([[NAN, .8, .2, .2], [.8, NAN, .2, .2], [.2, .2, NAN, .9], [.2, .2, .9, NAN]])


def _inputs():
    results = {"fsn": accuracy_summary([800] * 4, [1000] * 4),
               "modulation": accuracy_summary([900] * 4, [1000] * 4)}
    matrices = {"fsn": {"ucr": FSN_UCR, "cosine": FSN_UCR - 0.5},
                "modulation": {"ucr": FSN_UCR + 0.05, "cosine": FSN_UCR}}
    return results, matrices


def test_compare_gives_verdicts_and_relation_findings():
    results, matrices = _inputs()
    relations = TaskRelations.from_pairs(NAMES, related=[("class", "closure"),
                                                         ("gender", "heel")])
    found = compare_methods(results, matrices, relations, "fsn", name=str.upper)
    assert list(found["accuracy"]) == ["modulation"]
    assert found["accuracy"]["modulation"]["outcome"] == "beats"
    assert found["accuracy"]["modulation"]["sentence"].startswith("MODULATION beats FSN")
    fsn = found["ucr"]["fsn"]
    assert fsn["related_above_independent"]["holds"] is True
    assert fsn["by_pair"]["related"] == pytest.approx(0.85)  # (0.8 + 0.9) / 2
    assert fsn["by_pair"]["independent"] == pytest.approx(0.2)
    assert found["ucr"]["modulation"]["raised_over_fsn"]["holds"] is True
    assert "raised_over_fsn" not in fsn


def test_compare_without_relations_or_baseline():
    results, matrices = _inputs()
    real = compare_methods(results, matrices, None)
    assert real["ucr"] == {} and real["accuracy"]["modulation"]["outcome"] == "beats"
    alone = compare_methods({"modulation": results["modulation"]}, matrices, None)
    assert alone == {"accuracy": {}, "ucr": {}}


def test_comparison_record_holds_counts_matrices_and_verdicts():
    results, matrices = _inputs()
    for method, value in results.items():
        value["parameters"] = {"fsn": 10, "modulation": 12}[method]
    matrices["fsn"] = None  # a method not probed
    found = compare_methods(results, matrices, None)
    record = comparison_record(NAMES, results, matrices, {"fsn": 1.5, "modulation": 2.0}, found)
    fsn, mod = record["results"]["fsn"], record["results"]["modulation"]
    assert fsn["ucr"] is None and fsn["cosine"] is None and fsn["parameters"] == 10
    np.testing.assert_array_equal(mod["correct"], [900] * 4)
    np.testing.assert_array_equal(mod["total"], [1000] * 4)
    assert mod["mean"] == pytest.approx(0.9) and mod["seconds"] == 2.0
    np.testing.assert_array_equal(mod["cosine"], FSN_UCR)
    assert record["verdicts"]["modulation"]["outcome"] == "beats"
    assert record["verdicts"]["modulation"]["sentence"] == found["accuracy"]["modulation"][
        "sentence"]
