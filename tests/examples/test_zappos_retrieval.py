"""The flagship example runs end to end in --fast mode and writes everything it promises."""

import json

import numpy as np
import pytest
import tensorflow as tf


@pytest.mark.slow
def test_fast_run_writes_outputs_and_a_servable_export(tmp_path, capsys, load_example):
    example = load_example("zappos_retrieval")
    out, export = tmp_path / "out", tmp_path / "saved_models" / "zappos_retrieval"
    summary = example.main([
        "--fast", "--output-dir", str(out), "--export-dir", str(export),
        "--cache-dir", str(tmp_path / "cache"), "--verbose", "0",
    ])
    printed = capsys.readouterr().out
    assert "Table 6 layout" in printed and "UCR matrix" in printed
    for name in ("accuracy.png", "retrieval_grid.png", "ucr_modulation.png", "results.json",
                 "zappos_modulation.keras"):
        assert (out / name).stat().st_size > 0, name
    assert any((out / "logs").rglob("events.out.tfevents.*"))

    result = summary["results"]["modulation"]
    assert len(result["total"]) == 4 and min(result["total"]) > 0  # every task evaluated
    np.testing.assert_allclose(
        result["accuracy"], np.array(result["correct"]) / np.array(result["total"])
    )
    assert json.loads((out / "results.json").read_text())["results"].keys() == {"modulation"}

    serve = tf.saved_model.load(str(export / "1")).signatures["serving_default"]
    images = tf.random.uniform((3, 48, 48, 3))
    got = serve(image=images, task_id=tf.constant([0, 3, 1], tf.int32))
    assert got["embedding"].shape == (3, 16)


def test_help_lists_every_flag(capsys, load_example):
    example = load_example("zappos_retrieval")
    with pytest.raises(SystemExit):
        example.parse_args(["--help"])
    text = capsys.readouterr().out
    for flag in ("--data-dir", "--method", "--compare", "--epochs", "--batch-size",
                 "--image-size", "--seed", "--export-dir", "--fast"):
        assert flag in text
