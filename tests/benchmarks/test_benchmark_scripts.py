"""The issue-6 benchmark scripts run in `--quick` mode and write the JSON they describe."""

import importlib.util
import itertools
import json
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def load(name):
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_quick(name, tmp_path):
    """Runs `main(["--quick", "--output", tmp_path])`; returns the JSON it wrote, checked."""
    report = load(name).main(["--quick", "--output", str(tmp_path)])
    data = json.loads((tmp_path / f"{name}.json").read_text())
    assert data == json.loads(json.dumps(report))
    assert data["benchmark"] == name
    assert data["args"]["quick"] is True
    machine = data["machine"]
    assert machine["cpu_count"] >= 1 and machine["tensorflow_version"] and machine["devices"]
    assert data["results"]
    return data


def assert_timed(row, *keys):
    for key in ("median_s", "min_s", "mean_s") + keys:
        assert row[key] > 0, (key, row)


@pytest.mark.slow
def test_method_cost_quick(tmp_path):
    data = run_quick("method_cost", tmp_path)
    rows = data["results"]
    assert [(r["method"], r["num_tasks"]) for r in rows] == [
        (m, 2) for m in ("fsn", "cross_stitch", "top_down", "td_shared")
    ]
    for row in rows:
        assert row["status"] == "ok", row
        assert_timed(row, "first_step_s", "build_s", "peak_rss_mib", "step_ratio")
        assert row["params"] >= row["trainable_params"] > 0
        assert len(row["step_times_s"]) == 2
    by_method = {r["method"]: r for r in rows}
    assert by_method["fsn"]["step_ratio"] == by_method["td_shared"]["step_ratio"] == 1.0
    # one column per task: twice the shared network plus 6 stitch units of 2 x 2
    assert by_method["cross_stitch"]["params"] == 2 * by_method["fsn"]["params"] + 6 * 4
    assert data["peak_memory_per_config"] is False and data["growth"] == {}


def test_method_cost_stops_a_method_that_will_not_fit():
    module = load("method_cost")
    args = module.parse_args(["--steps", "3", "--warmup", "1", "--config-timeout", "100",
                              "--memory-budget-gib", "7.8125"])
    assert module.static_reason("cross_stitch", 1) and not module.static_reason("fsn", 1)

    def row(num_tasks, mib, step_s):
        return {"method": "cross_stitch", "num_tasks": num_tasks, "status": "ok",
                "peak_rss_mib": mib, "peak_gpu_mib": None, "build_s": 0.1,
                "first_step_s": 1.0, "median_s": step_s, "params": 10, "reason": None}

    history = [row(2, 1000, 0.1), row(4, 2000, 0.2)]
    assert module.predicted_reason(history, 8, args) is None
    memory = module.predicted_reason(history, 40, args)
    assert memory.startswith("predicted peak memory 19.53 GiB > budget 7.81 GiB")
    args.memory_budget_gib = 1e6
    slow = module.predicted_reason(history, 1000, args)
    assert slow.startswith("predicted 151 s > --config-timeout 100 s")
    # GPU memory has no default budget (the host's RAM says nothing about it)
    args.memory_budget_gib = None
    gpu = [dict(r, peak_gpu_mib=r["peak_rss_mib"] * 100) for r in history]
    assert module.predicted_reason(gpu, 8, args) is None

    rows = [dict(row(2, 1000, 0.1), method="fsn"), module.na_row("cross_stitch", 312, "big")]
    module.add_comparisons(rows)
    assert rows[1]["params_estimate"] == 312 * 10 + 6 * 312**2
    assert rows[0]["step_ratio"] == 1.0 and rows[1]["step_ratio"] is None


@pytest.mark.slow
def test_serving_throughput_quick(tmp_path):
    module = load("serving_throughput")
    data = run_quick("serving_throughput", tmp_path)
    rows = data["results"]
    assert [(r["batch_size"], r["path"]) for r in rows] == list(
        itertools.product([1, 8], module.PATHS)
    )
    for row in rows:
        assert_timed(row, "images_per_s", "first_call_s", "ratio_to_predict")
        assert row["max_abs_diff"] < 1e-4
    assert data["export_s"] > 0 and data["load_s"] > 0 and data["params"] > 0


@pytest.mark.slow
def test_jit_compile_quick(tmp_path):
    module = load("jit_compile")
    data = run_quick("jit_compile", tmp_path)
    rows = data["results"]
    assert [(r["probe"], r["jit_compile"], r["status"]) for r in rows] == [
        ("off", False, "ok"), ("off", True, "ok")
    ]
    for row in rows:
        assert_timed(row, "first_step_s")
    assert rows[1]["xla"] is True and rows[1]["speed_up"] > 0
    # the grouped probe's data-dependent shapes: compile refuses XLA, recorded as n/a
    args = module.parse_args(["--quick"])
    grouped = module.measure("modulation", "grouped", True, args)
    assert grouped["status"] == "n/a" and "jit_compile=False" in grouped["reason"]


@pytest.mark.slow
def test_many_tasks_quick(tmp_path):
    data = run_quick("many_tasks", tmp_path)
    rows = data["results"]
    assert [(r["num_tasks"], r["probe"]) for r in rows] == [
        (t, p) for t in (2, 8) for p in ("off", "exact", "sketch")]
    for row in rows:
        assert "reason" not in row, row
        assert_timed(row, "first_step_s", "peak_rss_mib")
        assert row["step_vs_off"] > 0 and "extra_mib" in row
    assert [r["first_vs_small_t"] for r in rows[:3]] == [1.0, 1.0, 1.0]


def test_many_tasks_sketch_error_quick(tmp_path):
    report = load("many_tasks").main(["--quick", "--sketch-error", "--output", str(tmp_path)])
    rows = report["results"]
    assert [r["sketch_dim"] for r in rows] == [64, 256]
    for row in rows:
        assert row["pairs"] > 0
        assert 0 <= row["mean_abs_cosine_error"] <= row["max_abs_cosine_error"] <= 2
        assert 0 <= row["sign_flip_fraction"] <= 1


@pytest.mark.slow
def test_weighting_cost_quick(tmp_path):
    data = run_quick("weighting_cost", tmp_path)
    rows = data["results"]
    keys = {(r["method"], r["mode"]) for r in rows}
    assert ("uniform", "plain") in keys and ("pcgrad", "grouped") in keys
    assert ("mgda", "full") in keys
    for row in rows:
        assert row["median_s"] > 0 and row["vs_plain"] > 0
    assert next(r for r in rows if r["mode"] == "plain")["vs_plain"] == 1.0


@pytest.mark.slow
def test_multi_worker_quick(tmp_path):
    data = run_quick("multi_worker", tmp_path)
    assert [r["workers"] for r in data["results"]] == [1, 2]
    for row in data["results"]:
        assert row["triplets_per_s"] > 0 and row["median_s"] > 0
    agreement = data["agreement"]
    assert agreement["max_cosine_difference"] < 1e-3 and agreement["max_ucr_difference"] == 0
    assert agreement["weights_checksum_relative_difference"] < 1e-5


@pytest.mark.slow
def test_representation_probe_quick(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    data = run_quick("representation_probe", tmp_path)
    assert [r["probe"] for r in data["results"]] == ["off", "representation", "full"]
    accuracy = data["accuracy"]
    assert -1 <= accuracy["cosine_correlation"] <= 1
    assert 0 <= accuracy["sign_flip_fraction"] <= 1 and accuracy["pairs_per_batch"] == 190
    assert 0 <= accuracy["mgda_weights_total_variation"] <= 1


@pytest.mark.slow
def test_modulation_ablation_quick(tmp_path):
    module = load("modulation_ablation")
    markdown = tmp_path / "table.md"
    report = module.main(["--quick", "--deterministic", "--output", str(tmp_path),
                          "--markdown", str(markdown)])
    data = json.loads((tmp_path / "modulation_ablation.json").read_text())
    assert data == json.loads(json.dumps(report)) and data["benchmark"] == "modulation_ablation"
    rows = data["results"]
    assert [r["setting"] for r in rows] == list(module.QUICK_SETTINGS)
    for row in rows:
        for method in ("fsn", "modulation"):
            result = row[method]
            assert sum(result["total"]) == module.QUICK["test_triplets"]
            assert result["mean"] == pytest.approx(
                sum(c / t for c, t in zip(result["correct"], result["total"], strict=True)) / 4)
            assert set(result["ucr_by_pair"]) >= {"related", "independent", "all"}
        assert row["difference"]["difference"] == pytest.approx(
            row["modulation"]["mean"] - row["fsn"]["mean"])
    by_name = {r["setting"]: r for r in rows}
    # modulation weights frozen at their initial 1: the same network as FSN, step for step
    # (bit for bit with --deterministic)
    frozen = by_name["frozen_modulation"]
    assert frozen["modulation"]["correct"] == frozen["fsn"]["correct"]
    assert by_name["data_v1"]["relations"]["pairs"]["related"] == [["class", "heel"],
                                                                   ["gender", "heel"]]
    assert by_name["base"]["relations"]["pairs"]["related"] == [["class", "closure"],
                                                                ["gender", "heel"]]
    table = markdown.read_text().splitlines()
    assert len(table) == 2 + len(rows) and table[2].startswith("| `base` |")


@pytest.mark.slow
def test_data_pipeline_quick(tmp_path):
    data = run_quick("data_pipeline", tmp_path)
    results = data["results"]
    assert len(results["throughput"]) == 6
    assert all(r["batches_per_s"] > 0 for r in results["throughput"])
    feeds = {r["feed"]: r for r in results["step"]}
    assert set(feeds) == {"pipeline", "in_memory"}
    assert feeds["in_memory"]["ratio_to_in_memory"] == 1.0
    for row in feeds.values():
        assert row["ms_per_step"] > 0 and row["user_s_per_step"] > 0
        assert row["sys_s_per_step"] >= 0 and len(row["runs"]) == 1
    assert data["usable_cpus"] >= 1
