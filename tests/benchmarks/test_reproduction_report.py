"""The reproduction report: its pure comparison helpers, and a `--quick` end-to-end run."""

import importlib.util
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "reproduction_report.py"
NAMES = ["class", "closure", "gender", "heel"]


@pytest.fixture(scope="module")
def report():
    spec = importlib.util.spec_from_file_location("reproduction_report", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_related_vs_unrelated_by_hand(report):
    # Not symmetric on purpose: a pair's value is the mean of (i, j) and (j, i).
    ucr = np.array([[np.nan, 0.2, 0.5, 0.8],
                    [0.4, np.nan, 0.1, 0.3],
                    [0.5, 0.1, np.nan, 0.6],
                    [0.8, 0.3, 0.6, np.nan]])
    # related: class/closure (0.2 + 0.4) / 2 = 0.3, gender/heel 0.6 -> 0.45
    # unrelated: class/gender 0.5, class/heel 0.8, closure/gender 0.1, closure/heel 0.3
    #            -> 1.7 / 4
    groups = report.related_vs_unrelated(ucr, NAMES)
    assert groups["related"] == pytest.approx(0.45)
    assert groups["unrelated"] == pytest.approx(1.7 / 4)
    assert groups["difference"] == pytest.approx(0.45 - 1.7 / 4)
    # off-diagonal: (0.2 + 0.5 + 0.8 + 0.4 + 0.1 + 0.3 + 0.5 + 0.1 + 0.6 + 0.8 + 0.3 + 0.6) / 12
    assert report.off_diagonal_mean(ucr) == pytest.approx(5.2 / 12)
    # a pair probed in one direction only keeps that value; never probed -> NaN
    ucr[0, 3] = np.nan
    assert report.pair_values(ucr, NAMES, [("class", "heel")]) == [pytest.approx(0.8)]
    ucr[3, 0] = np.nan
    assert math.isnan(report.pair_values(ucr, NAMES, [("class", "heel")])[0])
    assert math.isnan(report.related_vs_unrelated(np.full((4, 4), np.nan), NAMES)["related"])


def test_generator_pairs_are_the_data_relations(report):
    from keras_mtl.datasets.generated import shoe_relations

    relations = shoe_relations()
    assert list(report.RELATED_PAIRS) == relations.pairs("related")
    assert list(report.UNRELATED_PAIRS) == relations.pairs("independent")


def test_mean_standard_error_by_hand(report):
    # p = 0.5 and 0.8 on 100 triplets each: sqrt(0.25 / 100 + 0.16 / 100) / 2 = 0.0320156
    assert report.mean_standard_error([50, 80], [100, 100]) == pytest.approx(0.0320156, abs=1e-6)


def test_verdict_and_orderings(report):
    assert report.verdict("Modulation", 0.712, "FSN", 0.68) == (
        "Modulation (71.20%) beats FSN (68.00%)")
    assert report.verdict("Modulation", 0.60, "FSN", 0.68) == (
        "Modulation (60.00%) does not beat FSN (68.00%)")
    assert report.verdict("a", 0.7, "b", 0.6, se=0.01).endswith(
        "the gap of +10.00 points is more than two standard errors (2 x 1.00)")
    assert "within two standard errors" in report.verdict("a", 0.7, "b", 0.69, se=0.01)
    paper = {"fsn": 75.46, "itn": 86.61, "csn": 86.73, "modulation": 88.17}
    ours = {"fsn": 60.0, "itn": 70.0, "csn": 65.0, "modulation": 50.0, "routing": 99.0}
    assert report.order_disagreements(ours, paper) == [
        ("fsn", "modulation"), ("itn", "csn"), ("itn", "modulation"), ("csn", "modulation")]
    assert report.order_disagreements({"fsn": 1.0, "itn": 1.0}, paper) == []  # a tie is no claim
    assert report.without_nan({"a": [float("nan"), np.float32(1.5)], "b": (2,)}) == {
        "a": [None, 1.5], "b": [2]}


@pytest.mark.slow
def test_quick_report(report, tmp_path):
    summary = report.main(["--quick", "--methods", "fsn,modulation", "--output-dir",
                           str(tmp_path), "--verbose", "0"])
    for name in ("report.md", "results.json", "accuracy.png", "ucr_fsn.png",
                 "ucr_modulation.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    data = json.loads((tmp_path / "results.json").read_text())
    assert data == json.loads(json.dumps(report.without_nan(summary)))
    assert list(data["results"]) == ["fsn", "modulation"] and data["args"]["quick"] is True
    text = (tmp_path / "report.md").read_text()
    for r in data["results"].values():
        assert sum(r["total"]) == data["num_triplets"]["test"]
        assert sum(r["correct"]) <= sum(r["total"]) and r["params"] >= r["task_specific_params"]
        row = re.search(rf"^\| {r['label']} \| (.*) \|$", text, re.M).group(1).split(" | ")
        expected = [f"{100 * a:.2f}" for a in r["accuracy"]] + [f"{100 * r['mean']:.2f}"]
        assert row[:5] == expected and row[6] == f"{r['params']:,}"
        assert len(r["ucr"]) == 4 and r["shared_params"] > 0
    fsn, mod = (data["results"][m]["mean"] for m in ("fsn", "modulation"))
    claim = "beats" if mod > fsn else "does not beat"
    assert f"Modulation ({100 * mod:.2f}%) {claim} FSN ({100 * fsn:.2f}%)" in text
    assert len(data["comparisons"]["answers"]) == 3
    assert "## Where we differ from the paper" in text and "![UCR fsn](ucr_fsn.png)" in text
