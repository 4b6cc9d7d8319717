"""The Multi-MNIST example runs end to end in --fast mode on rendered digits (Table 1 layout)."""

import json

import numpy as np
import pytest


@pytest.mark.slow
def test_fast_run_trains_top_down_and_writes_outputs(tmp_path, capsys, load_example):
    example = load_example("multi_mnist_top_down")
    out = tmp_path / "out"
    summary = example.main(["--fast", "--num-tasks", "3", "--method", "top_down",
                            "--output-dir", str(out), "--verbose", "0"])
    printed = capsys.readouterr().out
    assert "Table 1 layout" in printed and "Ours: top-down" in printed
    r = summary["results"]["top_down"]
    assert list(summary["results"]) == ["top_down"]
    assert r["params"] == 21_250 + 3_000 + 6_000 + 3 * 320  # Table 5a, see top_down_net
    assert len(r["accuracy"]) == 3 and r["mean"] == pytest.approx(np.mean(r["accuracy"]))
    assert 0.0 <= min(r["accuracy"]) <= max(r["accuracy"]) <= 1.0
    for name in ("accuracy.png", "td_maps.png", "results.json", "multi_mnist_top_down.keras"):
        assert (out / name).stat().st_size > 0, name
    assert json.loads((out / "results.json").read_text())["task_names"] == ["LU", "RL", "LL"]


class _Oracle:
    """Stands in for a model: returns one-hot logits of the targets, in the pipeline's order."""

    def predict(self, ds, verbose=0):
        return np.concatenate([np.eye(10)[y.numpy()] for _, y in ds])


def test_per_task_accuracy_matches_pipeline_order(load_example):
    example = load_example("multi_mnist_top_down")
    args = example.parse_args(["--num-tasks", "3"])
    rng = np.random.default_rng(0)
    data = example.datasets.MultiDigitDataset(
        images=rng.integers(0, 255, (700, 36, 36, 1), dtype=np.uint8),
        labels=rng.integers(0, 10, (700, 3)).astype(np.int32), task_names=("LU", "RL", "LL"))
    np.testing.assert_array_equal(example.per_task_accuracy(_Oracle(), data, args), [1, 1, 1])


def test_table_layout_with_all_methods(load_example):
    example = load_example("multi_mnist_top_down")
    results = {m: {"accuracy": np.array([0.9, 0.8]), "mean": 0.85, "params": 48_500,
                   "ratio": 2.0} for m in example.METHODS}
    lines = example.format_table(results, ["LU", "RL"]).splitlines()
    assert lines[0].split() == ["method", "params", "#P", "LU", "RL", "mean"]
    assert lines[2].split() == ["Single", "task", "48,500", "x2.00", "90.00%", "80.00%",
                                "85.00%"]
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
