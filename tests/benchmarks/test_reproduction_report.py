"""The reproduction report: statistics over seeds and claims from synthetic runs (checked by
hand and with NumPy), resuming without retraining, and a `--quick` end-to-end run."""

import importlib.util
import json
import math
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from keras_mtl.evaluation import to_json_compatible

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
NAMES = ["class", "closure", "gender", "heel"]
T95_2DF = 4.302653  # two-sided 95% Student t, 2 degrees of freedom (t table)


def load(name):
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def report():
    return load("reproduction_report")


def fake_run(method, seed, accuracy, related=float("nan"), independent=float("nan"),
             weighting="uniform", step=0.1):
    """A run record as `train_and_evaluate` returns it (only the fields the report reads)."""
    accuracy = list(accuracy)
    both = [related, independent]
    all_pairs = (float(np.nanmean([related] * 2 + [independent] * 4))
                 if not np.all(np.isnan(both)) else float("nan"))
    by_pair = {"related": related, "independent": independent, "all": all_pairs}
    ucr = np.full((4, 4), np.nan) if np.all(np.isnan(both)) else np.eye(4)
    return {"key": f"{method}/{weighting}/seed{seed}",
            "config": {"method": method, "loss_weighting": weighting, "seed": seed},
            "task_names": NAMES, "accuracy": accuracy, "mean": float(np.mean(accuracy)),
            "mean_se": 0.006, "correct": [0] * 4, "total": [1000] * 4, "params": 100,
            "task_specific_params": 0, "shared_params": 100, "probe": "grouped",
            "ucr": ucr.tolist(), "cosine": ucr.tolist(), "ucr_by_pair": by_pair,
            "cosine_by_pair": by_pair, "final_loss": 0.1, "step_s_median": step, "steps": 10,
            "train_s": 10.0, "total_s": 12.0, "cpu_s": 20.0}


@pytest.fixture
def runs():
    # FSN per-task accuracies per seed; modulation = FSN + (0.10, 0.08, 0.12) on every task;
    # ITN = FSN + (0.02, -0.03, 0.01): not resolved with 3 seeds.
    fsn = [[0.80, 0.90, 0.70, 0.72], [0.82, 0.92, 0.74, 0.70], [0.78, 0.88, 0.72, 0.74]]
    out = []
    for seed, (rows, bump_mod, bump_itn) in enumerate(zip(fsn, (0.10, 0.08, 0.12),
                                                          (0.02, -0.03, 0.01), strict=True)):
        out.append(fake_run("fsn", seed, rows, related=0.85 + 0.01 * seed,
                            independent=0.20 - 0.02 * seed))
        out.append(fake_run("modulation", seed, np.add(rows, bump_mod),
                            related=0.60 + 0.03 * seed, independent=0.45 + 0.01 * seed))
        out.append(fake_run("itn", seed, np.add(rows, bump_itn)))
    return out


def test_aggregate_is_mean_and_sample_sd_over_seeds(report, runs):
    agg = report.aggregate(runs, ["fsn", "modulation", "itn"], [0, 1, 2])
    fsn = np.array([r["accuracy"] for r in runs if r["config"]["method"] == "fsn"])
    np.testing.assert_allclose(agg["fsn"]["accuracy"]["mean"], fsn.mean(axis=0))
    np.testing.assert_allclose(agg["fsn"]["accuracy"]["sd"], fsn.std(axis=0, ddof=1))
    means = fsn.mean(axis=1)
    assert agg["fsn"]["mean"]["mean"] == pytest.approx(means.mean())
    assert agg["fsn"]["mean"]["sd"] == pytest.approx(np.std(means, ddof=1))
    # UCR by kind: related 0.85, 0.86, 0.87 -> 0.86 +- 0.01
    assert agg["fsn"]["ucr_by_pair"]["related"]["mean"] == pytest.approx(0.86)
    assert agg["fsn"]["ucr_by_pair"]["related"]["sd"] == pytest.approx(0.01)
    assert math.isnan(agg["itn"]["ucr_by_pair"]["all"]["mean"])  # nothing shared
    assert agg["fsn"]["cpu_s"] == 60.0 and agg["fsn"]["seeds"] == [0, 1, 2]


def test_differences_from_fsn_are_paired_t_intervals(report, runs):
    diffs = report.differences_from(runs, ["fsn", "modulation", "itn"], [0, 1, 2])
    assert set(diffs) == {"modulation", "itn"}
    mod = diffs["modulation"]["mean"]
    # per-seed differences of the mean are the bumps 0.10, 0.08, 0.12: mean 0.10, sd 0.02
    np.testing.assert_allclose(mod["values"], [0.10, 0.08, 0.12])
    assert mod["difference"] == pytest.approx(0.10) and mod["sd"] == pytest.approx(0.02)
    half = T95_2DF * 0.02 / math.sqrt(3)
    assert (mod["ci_low"], mod["ci_high"]) == (pytest.approx(0.10 - half, abs=1e-6),
                                              pytest.approx(0.10 + half, abs=1e-6))
    assert diffs["modulation"]["outcome"] == "beats"
    assert len(diffs["modulation"]["per_task"]) == 4
    assert diffs["modulation"]["per_task"][1]["difference"] == pytest.approx(0.10)
    # ITN: 0.02, -0.03, 0.01 -> mean 0, the interval straddles 0
    assert diffs["itn"]["mean"]["difference"] == pytest.approx(0.0, abs=1e-12)
    assert diffs["itn"]["outcome"] == "indistinguishable"


def test_claims_from_the_numbers(report, runs):
    claims = {c["id"]: c for c in report.claims(runs, [0, 1, 2])}
    # only the methods that ran are claimed about (no CSN, no IB-25 here)
    assert set(claims) == {"accuracy_modulation_vs_fsn", "accuracy_modulation_vs_itn",
                           "accuracy_itn_vs_fsn", "ucr_fsn_related_vs_independent",
                           "ucr_modulation_vs_fsn_all", "ucr_modulation_vs_fsn_independent",
                           "ucr_modulation_vs_fsn_related"}
    assert claims["accuracy_modulation_vs_fsn"]["outcome"] == "reproduced"
    assert "88.17 vs 75.46 (Table 6)" in claims["accuracy_modulation_vs_fsn"]["paper"]
    # modulation - ITN per seed: 0.08, 0.11, 0.11: mean 0.1, sd 0.01732 -> reproduced
    assert claims["accuracy_modulation_vs_itn"]["difference"]["difference"] == pytest.approx(0.1)
    assert claims["accuracy_modulation_vs_itn"]["outcome"] == "reproduced"
    assert claims["accuracy_itn_vs_fsn"]["outcome"] == "inconclusive"
    # FSN related - independent: 0.65, 0.68, 0.71 -> reproduced
    table1 = claims["ucr_fsn_related_vs_independent"]
    np.testing.assert_allclose(table1["difference"]["values"], [0.65, 0.68, 0.71])
    assert table1["outcome"] == "reproduced"
    # modulation - FSN, independent pairs: 0.25, 0.28, 0.31 -> raised (reproduced);
    # related pairs: -0.25, -0.23, -0.21 -> lowered (contradicted);
    # all pairs: (2 r + 4 i) / 6 per run -> (-0.5 + 1.0) / 6 = 0.0833, ... -> reproduced
    assert claims["ucr_modulation_vs_fsn_independent"]["outcome"] == "reproduced"
    related = claims["ucr_modulation_vs_fsn_related"]
    np.testing.assert_allclose(related["difference"]["values"], [-0.25, -0.23, -0.21])
    assert related["outcome"] == "contradicted"
    all_pairs = claims["ucr_modulation_vs_fsn_all"]["difference"]["values"]
    np.testing.assert_allclose(all_pairs, [(2 * r + 4 * i) / 6 for r, i in
                                           ((-0.25, 0.25), (-0.23, 0.28), (-0.21, 0.31))])
    assert claims["ucr_modulation_vs_fsn_all"]["outcome"] == "reproduced"
    # real data: no relations, no UCR claims
    assert all(c["unit"] == "accuracy" for c in report.claims(runs, [0, 1, 2], False))


def test_markdown_shows_the_computed_numbers(report, runs, tmp_path):
    args = report.parse_args(["--methods", "fsn,modulation,itn", "--output-dir",
                              str(tmp_path)])
    from keras_mtl.datasets.generated import shoe_relations

    summary = report.summarize(runs, args, shoe_relations(), NAMES, 0.0)
    text = report.render_markdown(summary)
    fsn = summary["aggregate"]["fsn"]
    row = re.search(r"^\| FSN \| (.*) \|$", text, re.M).group(1).split(" | ")
    assert row[0] == (f"{100 * fsn['accuracy']['mean'][0]:.2f} ± "
                      f"{100 * fsn['accuracy']['sd'][0]:.2f}")
    assert row[4] == f"{100 * fsn['mean']['mean']:.2f} ± {100 * fsn['mean']['sd']:.2f}"
    half = 100 * T95_2DF * 0.02 / math.sqrt(3)
    assert f"| Modulation | +10.00 | {10 - half:+.2f} to {10 + half:+.2f} |" in text
    assert "+10.00 points (95% CI" in text and "| **contradicted** |" in text
    assert "t = 4.30 for 3 seeds" in text
    assert "## Where we differ from the paper" in text
    assert "Modulation raises the UCR of related pairs (Tables 1 and 4): **contradicted**" in text
    assert "no shared trainable weights, so no UCR" in text  # ITN
    assert text.count("| Modulation | ") >= 2 and "![UCR fsn](ucr_fsn.png)" in text
    json.dumps(to_json_compatible(summary), allow_nan=False)  # strict JSON


def test_resume_reuses_matching_runs_without_training(report, tmp_path, monkeypatch):
    args = report.parse_args(["--quick", "--methods", "fsn,modulation", "--output-dir",
                              str(tmp_path), "--resume", str(tmp_path / "old.json")])
    runs_module = report.seed_runs
    configs = [runs_module.run_config(args, m, s) for s in args.seeds for m in args.methods]
    old = []
    for config in configs:
        r = fake_run(config["method"], config["seed"], [0.7] * 4, 0.8, 0.3)
        old.append(dict(r, config=to_json_compatible(config)))
    changed = dict(old[0], config=dict(old[0]["config"], epochs=99))  # another budget
    (tmp_path / "old.json").write_text(json.dumps({"runs": [changed] + old[1:]}))
    trained = []

    def train(config, data, run_dir=None, verbose=0):
        trained.append(runs_module.run_key(config))
        return old[0]

    monkeypatch.setattr(runs_module, "train_and_evaluate", train)
    monkeypatch.setattr(runs_module, "load_data", lambda config, cache_dir=None: None)
    runs = runs_module.run_all(configs, args)
    assert trained == ["fsn/uniform/seed0"]  # only the run whose configuration changed
    assert [r["key"] for r in runs] == [runs_module.run_key(c) for c in configs]


def test_quick_flags_and_bad_values(report, capsys):
    args = report.parse_args(["--quick", "--epochs", "2"])
    assert args.epochs == 2 and args.image_size == 48 and args.seeds == [0, 1]
    assert report.parse_args([]).seeds == [0, 1, 2]
    for argv, message in ((["--seeds", "0,0"], "distinct"), (["--seeds", "a"], "integers"),
                          (["--methods", "fsn,bogus"], "unknown --methods")):
        with pytest.raises(SystemExit):
            report.parse_args(argv)
        assert message in capsys.readouterr().err


@pytest.mark.slow
def test_quick_report_end_to_end_and_resume(report, tmp_path, monkeypatch):
    out = tmp_path / "out"
    argv = ["--quick", "--methods", "fsn,modulation", "--output-dir", str(out),
            "--cache-dir", str(tmp_path / "cache")]
    summary = report.main(argv)
    for name in ("report.md", "results.json", "accuracy.png", "ucr_fsn.png",
                 "ucr_modulation.png"):
        assert (out / name).stat().st_size > 0, name
    data = json.loads((out / "results.json").read_text())
    assert data == json.loads(json.dumps(to_json_compatible(summary)))
    assert data["complete"] is True and len(data["runs"]) == 4 and data["seeds"] == [0, 1]
    for r in data["runs"]:
        assert sum(r["total"]) == 128 and 0 <= sum(r["correct"]) <= 128
        assert r["cpu_s"] > 0 and r["steps"] > 0 and len(r["ucr"]) == 4
        assert r["mean"] == pytest.approx(np.mean(r["accuracy"]))
    fsn = [r["mean"] for r in data["runs"] if r["config"]["method"] == "fsn"]
    agg = data["aggregate"]["fsn"]["mean"]
    assert agg["mean"] == pytest.approx(np.mean(fsn))
    assert agg["sd"] == pytest.approx(np.std(fsn, ddof=1))
    text = (out / "report.md").read_text()
    assert "## The paper's claims" in text and "t = 12.71 for 2 seeds" in text
    assert {c["id"] for c in data["claims"]} >= {"accuracy_modulation_vs_fsn",
                                                  "ucr_fsn_related_vs_independent"}

    def no_training(*args, **kwargs):
        raise AssertionError("--resume should not train")

    monkeypatch.setattr(report.seed_runs, "train_and_evaluate", no_training)
    again = report.main(argv + ["--resume", str(out / "results.json")])
    assert again["aggregate"]["fsn"]["mean"]["mean"] == pytest.approx(agg["mean"])
    assert (out / "report.md").read_text().split("## Set-up")[1] == text.split("## Set-up")[1]
