"""The tuning example runs a 2-trial search in fast mode and prints the best trial and a table."""


import pytest


def test_tune_retrieval_fast(capsys, tmp_path, load_example):
    module = load_example("tune_retrieval")
    rows = module.main([
        "--fast", "--cache-dir", str(tmp_path / "data"), "--directory", str(tmp_path / "tuner"),
    ])
    out = capsys.readouterr().out
    assert len(rows) == 2 and all(0.0 <= r["score"] <= 1.0 for r in rows)
    assert {r["method"] for r in rows} <= {"modulation", "fsn"}
    # the best configuration block names the best trial's values
    best = out.split("Best configuration")[1].split("\n\n")[0]
    assert f"val_triplet_accuracy = {module.format_value(rows[0]['score'])}" in best
    assert f"  method: {rows[0]['method']}" in best
    # the table: a header, then one line per trial, best first
    table = out.split("Trials (2, best first")[1].split("\n\n")[0].splitlines()[1:]
    header = table[0].split()
    assert header[:4] == ["trial_id", "status", "score", "method"]
    assert "learning_rate" in header and "embedding_dim" in header
    body = [line.split() for line in table[1:]]
    assert [line[0] for line in body] == [r["trial_id"] for r in rows]
    assert [float(line[2]) for line in body] == sorted(
        (float(line[2]) for line in body), reverse=True)
    assert (tmp_path / "tuner" / "tune_retrieval" / "oracle.json").is_file()


def test_tune_retrieval_help_documents_every_flag(capsys, load_example):
    module = load_example("tune_retrieval")
    with pytest.raises(SystemExit) as exit_info:
        module.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--tuner", "--fast", "--max-trials", "--epochs", "--methods", "--image-size",
                 "--width-multiplier", "--directory", "--resume", "--seed"):
        assert flag in text
    assert "hyperband" in text and "bayesian" in text
