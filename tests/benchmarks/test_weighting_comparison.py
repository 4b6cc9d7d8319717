"""The weighting comparison: differences from uniform and step ratios from synthetic runs
(checked by hand), its flags, and a `--quick` end-to-end run."""

import json
import math

import numpy as np
import pytest
from test_reproduction_report import T95_2DF, fake_run, load

from keras_mtl.evaluation import to_json_compatible


@pytest.fixture(scope="module")
def comparison():
    return load("weighting_comparison")


def test_every_weighting_by_default_uniform_first(comparison, capsys):
    from keras_mtl.weighting import METHODS

    args = comparison.parse_args([])
    assert args.methods[0] == "uniform" and sorted(args.methods) == sorted(METHODS)
    assert args.network == "fsn" and args.seeds == [0, 1, 2]
    # one budget for all, no larger than the report's
    assert args.epochs * args.train_triplets <= (comparison.report.BUDGET["epochs"]
                                                 * comparison.report.BUDGET["train_triplets"])
    assert args.output.endswith("benchmarks/results/weighting_comparison.json")
    assert args.markdown.endswith("docs/reproduction/weighting_comparison.md")
    assert set(comparison.KINDS) == set(METHODS)
    assert comparison.parse_args(["--methods", "pcgrad"]).methods == ["uniform", "pcgrad"]
    quick = comparison.parse_args(["--quick"])
    assert quick.methods == ["uniform", "pcgrad", "uw"] and quick.image_size == 48
    with pytest.raises(SystemExit):
        comparison.parse_args(["--methods", "uniform,bogus"])
    assert "expected names from" in capsys.readouterr().err


def test_summary_differences_and_step_ratio_by_hand(comparison, tmp_path):
    args = comparison.parse_args(["--methods", "uniform,pcgrad,mgda"])
    runs = []
    for seed, base in enumerate((0.80, 0.82, 0.78)):
        runs.append(fake_run("fsn", seed, [base] * 4, 0.8, 0.2, "uniform", step=0.10))
        # pcgrad: +0.03, +0.02, +0.04 (clearly ahead); mgda: -0.01, +0.01, 0.00 (no difference)
        runs.append(fake_run("fsn", seed, [base + (0.03, 0.02, 0.04)[seed]] * 4, 0.7, 0.4,
                             "pcgrad", step=0.11))
        runs.append(fake_run("fsn", seed, [base + (-0.01, 0.01, 0.0)[seed]] * 4, 0.8, 0.2,
                             "mgda", step=0.12))
    pairs = {"related": [("class", "closure")], "independent": [("class", "gender")]}
    summary = comparison.summarize(runs, args, ["class", "closure", "gender", "heel"], pairs,
                                   0.0)
    results = summary["results"]
    assert list(results) == ["uniform", "pcgrad", "mgda"] and "difference" not in results[
        "uniform"]
    d = results["pcgrad"]["difference"]["mean"]
    assert d["difference"] == pytest.approx(0.03) and d["sd"] == pytest.approx(0.01)
    half = T95_2DF * 0.01 / math.sqrt(3)
    assert d["ci_low"] == pytest.approx(0.03 - half, abs=1e-6)
    assert results["pcgrad"]["difference"]["outcome"] == "beats"
    assert results["mgda"]["difference"]["outcome"] == "indistinguishable"
    assert results["pcgrad"]["step_ratio"] == pytest.approx(1.1)
    assert results["mgda"]["step_ratio"] == pytest.approx(1.2)
    assert results["pcgrad"]["ucr_by_pair"]["independent"]["mean"] == pytest.approx(0.4)
    text = comparison.render_markdown(summary)
    # pcgrad means 0.83, 0.84, 0.82: 83.00 +- 1.00
    assert "| `pcgrad` | gradient | 83.00 ± 1.00 | +3.00 |" in text
    assert f"{3 - 100 * half:+.2f} to {3 + 100 * half:+.2f} | beats |" in text
    assert "`pcgrad` is ahead" in text and "none is clearly behind" in text
    assert "| 110 | 1.10 | 1.00 |" in text and "FSN" in text  # equal CPU time per run
    # UCR, paired by seed: pcgrad independent 0.4 vs 0.2, all pairs (2 r + 4 i) / 6 = 0.5 vs
    # 0.4 on every seed (raised); mgda equal to uniform (neither)
    ucr = results["pcgrad"]["ucr_difference"]
    assert ucr["independent"]["difference"] == pytest.approx(0.2)
    assert ucr["all"]["difference"] == pytest.approx(0.1)
    assert "UCR of all pairs above uniform's (interval above 0): `pcgrad`; below: none" in text
    assert "UCR of independent pairs above uniform's (interval above 0): `pcgrad`" in text
    steps = args.epochs * (args.train_triplets // args.batch_size)
    assert f"Each run trains {steps} steps" in text and "at 80.00% mean" in text  # uniform
    assert "`pcgrad` moved the accuracy beyond the interval" in text
    assert results["mgda"]["cpu_ratio"] == pytest.approx(1.0)
    assert "CPU time of a run relative to uniform: 1.00x to 1.00x" in text
    # both differences have sd 0.01 over 3 seeds: half-width t * 0.01 / sqrt(3)
    assert f"is {100 * half:.2f} points" in text
    json.dumps(to_json_compatible(summary), allow_nan=False)


@pytest.mark.slow
def test_quick_comparison_end_to_end(comparison, tmp_path):
    out = tmp_path / "out"
    summary = comparison.main(["--quick", "--methods", "uniform,pcgrad", "--seeds", "0",
                               "--output", str(out / "w.json"), "--markdown",
                               str(out / "w.md"), "--cache-dir", str(tmp_path / "c")])
    data = json.loads((out / "w.json").read_text())
    assert data["complete"] is True and [r["key"] for r in data["runs"]] == [
        "fsn/uniform/seed0", "fsn/pcgrad/seed0"]
    pcgrad = data["runs"][1]
    assert pcgrad["config"]["loss_weighting"] == "pcgrad" and pcgrad["step_s_median"] > 0
    assert sum(pcgrad["total"]) == 128
    row = summary["results"]["pcgrad"]
    assert row["mean"]["mean"] == pytest.approx(pcgrad["mean"])
    assert row["difference"]["mean"]["difference"] == pytest.approx(
        pcgrad["mean"] - data["runs"][0]["mean"])
    assert np.isnan(row["difference"]["mean"]["ci_low"])  # one seed: no interval
    text = (out / "w.md").read_text()
    assert "| `pcgrad` | gradient |" in text and "Fully" not in text.split("##")[0]
