"""The CelebA example runs end to end in --fast mode on generated faces and reports Table 3."""

import json

import numpy as np
import pytest


@pytest.mark.slow
def test_fast_run_compares_fsn_and_modulation_and_writes_outputs(tmp_path, capsys,
                                                                 load_example):
    example = load_example("celeba_retrieval")
    out = tmp_path / "out"
    summary = example.main([
        "--fast", "--output-dir", str(out), "--cache-dir", str(tmp_path / "cache"),
        "--verbose", "0",
    ])
    printed = capsys.readouterr().out
    assert "Table 3" in printed and "Most compatible pairs" in printed
    assert "Least compatible pairs" in printed
    for name in ("accuracy.png", "ucr_fsn.png", "ucr_modulation.png", "results.json",
                 "celeba_fsn.keras", "celeba_modulation.keras"):
        assert (out / name).stat().st_size > 0, name
    assert any((out / "logs").rglob("events.out.tfevents.*"))
    # the embedded data went through the raw CelebA layout in the cache dir
    assert list((tmp_path / "cache").glob("celeba_generated_*/img_align_celeba/000001.jpg"))

    written = json.loads((out / "results.json").read_text())
    assert written == json.loads(json.dumps(example.evaluation.to_json_compatible(summary)))
    summary = written  # what a user reads back
    names = summary["task_names"]
    assert summary["data"] == "celeb_a_generated" and len(names) == 3
    assert list(summary["results"]) == ["fsn", "modulation"]
    for method, result in summary["results"].items():
        assert result["total"] == [10] * 3  # every task evaluated on its test triplets
        p = np.array(result["correct"]) / np.array(result["total"])
        np.testing.assert_allclose(result["accuracy"], p)
        se = np.sqrt(p * (1 - p) / 10)  # binomial, by hand
        np.testing.assert_allclose(result["se"], se)
        assert result["mean"] == pytest.approx(p.mean())
        assert result["mean_se"] == pytest.approx(np.sqrt(np.sum(se**2)) / 3)
        ucr = np.array(result["ucr"], dtype=float)  # JSON null on the diagonal
        off = ucr[~np.eye(3, dtype=bool)]
        assert ucr.shape == (3, 3) and np.all((off >= 0) & (off <= 1))
        np.testing.assert_allclose(ucr, ucr.T, equal_nan=True)
        # Smiling / High_Cheekbones related, Goatee independent of both (ground truth)
        by_pair = result["ucr_by_pair"]
        assert by_pair["related"] == pytest.approx(ucr[0, 1])
        assert by_pair["independent"] == pytest.approx((ucr[0, 2] + ucr[1, 2]) / 2)
        assert result["parameters"] > 0, method
    fsn, mod = summary["results"]["fsn"], summary["results"]["modulation"]
    verdict = summary["verdicts"]["modulation"]
    assert verdict["difference"] == pytest.approx(mod["mean"] - fsn["mean"])
    assert verdict["se"] == pytest.approx(np.hypot(fsn["mean_se"], mod["mean_se"]))
    assert "Verdict: " + verdict["sentence"] in printed
    expected = ("beats" if verdict["difference"] > 2 * verdict["se"] else "is behind"
                if verdict["difference"] < -2 * verdict["se"] else "indistinguishable")
    assert verdict["outcome"] == expected
    assert summary["relations"]["pairs"]["related"] == [["Smiling", "High_Cheekbones"]]
    assert "related pairs' mean UCR" in printed
    assert summary["results"]["modulation"]["parameters"] > summary["results"]["fsn"][
        "parameters"]


def test_table_and_pair_ranking(load_example):
    example = load_example("celeba_retrieval")
    args = example.parse_args(["--fast"])
    table = example.format_table(
        {"fsn": {"accuracy": np.array([0.5, 1.0]), "mean": 0.75, "mean_se": 0.0125,
                 "total": np.array([100, 100]), "parameters": 1000},
         "ib": {"accuracy": np.array([0.25, 0.75]), "mean": 0.5, "mean_se": 0.02,
                "total": np.array([50, 50]), "parameters": 1234}},
        ["Smiling", "Bald"], args)
    lines = table.splitlines()
    assert "FSN" in lines[0] and "IB-25" in lines[0]
    assert lines[2].split() == ["Smiling", "50.00%", "25.00%"]
    assert lines[-4].split() == ["mean", "75.00%", "50.00%"]
    assert lines[-3].split() == ["s.e.", "1.25", "2.00"]
    assert lines[-2].split() == ["test", "triplets", "200", "100"]
    assert lines[-1].split() == ["parameters", "1,000", "1,234"]

    ucr = np.array([[np.nan, 0.9, 0.1], [0.9, np.nan, 0.5], [0.1, 0.5, np.nan]])
    cosine = np.array([[1, 0.3, -0.2], [0.3, 1, 0.0], [-0.2, 0.0, 1]])
    best, worst = example.ranked_pairs(ucr, cosine, np.zeros((3, 3)), ["a", "b", "c"], 1)
    assert best[0][3:] == ("a", "b") and worst[0][3:] == ("a", "c")


def test_methods_default_to_fsn_and_the_method(load_example):
    example = load_example("celeba_retrieval")
    assert example.parse_args([]).methods == ("fsn", "modulation")
    assert example.parse_args(["--method", "csn"]).methods == ("fsn", "csn")
    assert example.parse_args(["--compare"]).methods == ("fsn", "ib", "modulation")
    assert example.parse_args(["--methods", "ib,fsn"]).methods == ("ib", "fsn")


def test_help_lists_every_flag_and_bad_batch_size_is_rejected(tmp_path, capsys, load_example):
    example = load_example("celeba_retrieval")
    with pytest.raises(SystemExit):
        example.parse_args(["--help"])
    text = capsys.readouterr().out
    for flag in ("--data-dir", "--method", "--compare", "--epochs", "--batch-size",
                 "--image-size", "--seed", "--attributes", "--fast"):
        assert flag in text
    with pytest.raises(SystemExit):  # before any data is made or model built
        example.main(["--batch-size", "50", "--output-dir", str(tmp_path / "o"),
                      "--cache-dir", str(tmp_path / "cache")])
    assert "expected a multiple of the number of tasks (20)" in capsys.readouterr().err
    assert not (tmp_path / "cache").exists()
