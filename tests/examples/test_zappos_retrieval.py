"""The flagship example compares FSN and modulation end to end (--fast) and says what it found."""

import json
import math

import numpy as np
import pytest
import tensorflow as tf


@pytest.mark.slow
def test_fast_run_compares_methods_and_writes_outputs_and_a_servable_export(
        tmp_path, capsys, load_example):
    example = load_example("zappos_retrieval")
    out, export = tmp_path / "out", tmp_path / "saved_models" / "zappos_retrieval"
    summary = example.main([
        "--fast", "--output-dir", str(out), "--export-dir", str(export),
        "--cache-dir", str(tmp_path / "cache"), "--verbose", "0",
    ])
    printed = capsys.readouterr().out
    assert printed.startswith("--fast: --epochs 1")
    assert "Table 6 layout" in printed and "Verdict: modulation" in printed
    assert printed.count("UCR matrix") == 2 and "R = related pair" in printed
    assert "related pairs' mean UCR" in printed and "mean UCR over all pairs" in printed
    for name in ("accuracy.png", "retrieval_grid.png", "ucr_fsn.png", "ucr_modulation.png",
                 "results.json", "zappos_fsn.keras", "zappos_modulation.keras"):
        assert (out / name).stat().st_size > 0, name
    assert any((out / "logs").rglob("events.out.tfevents.*"))

    saved = json.loads((out / "results.json").read_text())
    assert list(saved["results"]) == ["fsn", "modulation"]
    assert saved["task_names"] == ["class", "closure", "gender", "heel"]
    assert saved["relations"]["pairs"]["related"] == [["class", "closure"], ["gender", "heel"]]
    for method, result in saved["results"].items():
        assert result["task_names"] == saved["task_names"]
        correct, total = np.array(result["correct"]), np.array(result["total"])
        assert len(total) == 4 and total.sum() == 256 and min(total) > 0, method
        accuracy = correct / total
        np.testing.assert_allclose(result["accuracy"], accuracy)
        assert result["mean"] == pytest.approx(accuracy.mean())
        se = np.sqrt(accuracy * (1 - accuracy) / total)
        assert result["mean_se"] == pytest.approx(np.sqrt(np.sum(se**2)) / 4)
        ucr = np.array(result["ucr"], dtype=float)
        assert ucr.shape == (4, 4) and np.array(result["cosine"], dtype=float).shape == (4, 4)
        off = ucr[~np.eye(4, dtype=bool)]
        assert np.all((off >= 0) & (off <= 1))
        assert set(result["ucr_by_pair"]) >= {"related", "independent", "all"}
    verdict = saved["verdicts"]["modulation"]
    fsn, mod = saved["results"]["fsn"], saved["results"]["modulation"]
    assert verdict["difference"] == pytest.approx(mod["mean"] - fsn["mean"])
    assert verdict["se"] == pytest.approx(math.hypot(fsn["mean_se"], mod["mean_se"]))
    assert verdict["outcome"] in ("beats", "is behind", "indistinguishable")
    assert saved["exported_method"] == "modulation"
    assert summary["results"].keys() == saved["results"].keys()

    serve = tf.saved_model.load(str(export / "1")).signatures["serving_default"]
    images = tf.random.uniform((3, 48, 48, 3))
    got = serve(image=images, task_id=tf.constant([0, 3, 1], tf.int32))
    assert got["embedding"].shape == (3, 16)


def test_table_shows_accuracy_mean_and_standard_error(load_example):
    example = load_example("zappos_retrieval")
    from keras_mtl.evaluation import accuracy_summary

    results = {"fsn": accuracy_summary([80, 60], [100, 100]),
               "modulation": accuracy_summary([90, 90], [100, 100])}
    lines = example.format_table(results, ["class", "heel"]).splitlines()
    assert lines[0].split() == ["method", "class", "heel", "mean", "s.e.", "triplets"]
    # FSN: mean 70%, se sqrt(.8*.2/100 + .6*.4/100) / 2 = 3.16 points
    assert lines[2].split()[-5:] == ["80.00%", "60.00%", "70.00%", "3.16", "200"]
    assert lines[3].split()[-5:] == ["90.00%", "90.00%", "90.00%", "2.12", "200"]



def test_default_run_trains_fsn_and_modulation_and_exports_modulation(load_example):
    example = load_example("zappos_retrieval")
    args = example.parse_args([])
    assert args.methods == ("fsn", "modulation") and args.method == "modulation"
    assert example.parse_args(["--compare"]).methods == ("fsn", "itn", "csn", "modulation")
    assert example.parse_args(["--methods", "ib", "--method", "fsn"]).methods == ("ib", "fsn")


def test_help_lists_every_flag(capsys, load_example):
    example = load_example("zappos_retrieval")
    with pytest.raises(SystemExit):
        example.parse_args(["--help"])
    text = capsys.readouterr().out
    for flag in ("--data-dir", "--methods", "--method", "--compare", "--epochs", "--batch-size",
                 "--image-size", "--test-triplets", "--seed", "--export-dir", "--fast"):
        assert flag in text
