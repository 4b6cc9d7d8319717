"""The Multi-MNIST example runs end to end in --fast mode on rendered digits (Table 1 layout)."""

import json

import numpy as np
import pytest


@pytest.mark.slow
def test_fast_run_trains_every_method_and_gives_verdicts(tmp_path, capsys, load_example):
    example = load_example("multi_mnist_top_down")
    out = tmp_path / "out"
    summary = example.main(["--fast", "--num-tasks", "3", "--output-dir", str(out),
                            "--verbose", "0"])
    printed = capsys.readouterr().out
    assert "Table 1 layout" in printed and "Ours: top-down" in printed
    assert list(summary["results"]) == list(example.METHODS)
    r = summary["results"]["top_down"]
    assert r["params"] == 21_250 + 3_000 + 6_000 + 3 * 320  # Table 5a, see top_down_net
    assert r["total"].tolist() == [200] * 3  # every test image asked every task
    p = r["correct"] / 200
    np.testing.assert_allclose(r["accuracy"], p)
    assert r["mean"] == pytest.approx(p.mean())
    assert r["mean_se"] == pytest.approx(np.sqrt(np.sum(p * (1 - p) / 200)) / 3)
    base = summary["results"]["multi_branch"]
    assert set(summary["verdicts"]) == {"single_task", "ch_mod", "top_down"}
    v = summary["verdicts"]["top_down"]
    assert v["difference"] == pytest.approx(r["mean"] - base["mean"])
    assert v["se"] == pytest.approx(np.hypot(r["mean_se"], base["mean_se"]))
    assert "Verdict: " + v["sentence"] in printed and "uniform scaling" in v["sentence"]
    for name in ("accuracy.png", "td_maps.png", "results.json", "multi_mnist_top_down.keras"):
        assert (out / name).stat().st_size > 0, name
    written = json.loads((out / "results.json").read_text())
    assert written["task_names"] == ["LU", "RL", "LL"]
    assert written["verdicts"]["top_down"]["outcome"] == v["outcome"]


class _Oracle:
    """Stands in for a model: returns one-hot logits of the targets, in the pipeline's order."""

    def __init__(self, wrong=()):
        self.wrong = list(wrong)

    def predict(self, ds, verbose=0):
        logits = np.concatenate([np.eye(10)[y.numpy()] for _, y in ds])
        logits[self.wrong] = np.roll(logits[self.wrong], 1, axis=1)  # another digit
        return logits


def test_per_task_counts_match_pipeline_order(load_example):
    example = load_example("multi_mnist_top_down")
    args = example.parse_args(["--num-tasks", "3"])
    rng = np.random.default_rng(0)
    data = example.datasets.MultiDigitDataset(
        images=rng.integers(0, 255, (700, 36, 36, 1), dtype=np.uint8),
        labels=rng.integers(0, 10, (700, 3)).astype(np.int32), task_names=("LU", "RL", "LL"))
    correct, total = example.per_task_counts(_Oracle(), data, args)
    np.testing.assert_array_equal(correct, [700, 700, 700])
    np.testing.assert_array_equal(total, [700, 700, 700])
    # wrong answers on the first 7 questions of task 1 (questions 700-706 in stored order)
    correct, _ = example.per_task_counts(_Oracle(wrong=range(700, 707)), data, args)
    np.testing.assert_array_equal(correct, [700, 693, 700])


def test_table_layout_with_all_methods(load_example):
    example = load_example("multi_mnist_top_down")
    results = {m: {"accuracy": np.array([0.9, 0.8]), "mean": 0.85, "mean_se": 0.0125,
                   "params": 48_500, "ratio": 2.0} for m in example.METHODS}
    lines = example.format_table(results, ["LU", "RL"]).splitlines()
    assert lines[0].split() == ["method", "params", "#P", "LU", "RL", "mean", "s.e."]
    assert lines[2].split() == ["Single", "task", "48,500", "x2.00", "90.00%", "80.00%",
                                "85.00%", "1.25"]
    assert len(lines) == 2 + len(example.METHODS)


def test_help_and_batch_rounding(capsys, load_example):
    example = load_example("multi_mnist_top_down")
    args = example.parse_args(["--num-tasks", "3", "--batch-size", "100"])
    assert args.batch_size == 99  # a multiple of the number of tasks, for balanced batches
    with pytest.raises(SystemExit):
        example.parse_args(["--help"])
    text = capsys.readouterr().out
    for flag in ("--data-dir", "--num-tasks", "--method", "--compare", "--epochs",
                 "--batch-size", "--seed", "--fast"):
        assert flag in text


def test_a_single_method_is_trained_with_its_baseline(load_example):
    example = load_example("multi_mnist_top_down")
    assert example.chosen_methods(example.parse_args([])) == list(example.METHODS)
    assert example.chosen_methods(example.parse_args(["--method", "top_down"])) == [
        "multi_branch", "top_down"]
    assert example.chosen_methods(example.parse_args(["--method", "multi_branch"])) == [
        "multi_branch"]
    assert example.chosen_methods(example.parse_args(["--method", "ch_mod", "--compare"])) == (
        list(example.METHODS))
