"""Pair matrices summarised by ground-truth relation (related / independent), by hand."""

import numpy as np
import pytest

from keras_mtl.datasets import TaskRelations
from keras_mtl.evaluation import (
    format_pair_matrix,
    format_pair_summary,
    pair_mean_raised,
    pair_summary,
    pair_values,
    related_vs_independent,
)

NAMES = ("class", "closure", "gender", "heel")
RELATIONS = TaskRelations.from_pairs(NAMES, related=[("class", "closure"), ("gender", "heel")])
NAN = float("nan")
UCR = np.array([[NAN, 0.8, 0.2, 0.3],
                [0.8, NAN, 0.1, 0.2],
                [0.2, 0.1, NAN, 0.9],
                [0.3, 0.2, 0.9, NAN]])


def test_pair_summary_by_kind():
    s = pair_summary(UCR, RELATIONS)
    assert s["related"] == pytest.approx((0.8 + 0.9) / 2)
    assert s["independent"] == pytest.approx((0.2 + 0.3 + 0.1 + 0.2) / 4)
    assert s["all"] == pytest.approx((0.8 + 0.9 + 0.2 + 0.3 + 0.1 + 0.2) / 6)
    assert np.isnan(s["conflicting"])
    assert s["related_minus_independent"] == pytest.approx(0.85 - 0.2)
    assert s["pairs"]["related"] == [["class", "closure", 0.8], ["gender", "heel", 0.9]]


def test_asymmetric_and_missing_entries():
    m = UCR.copy()
    m[0, 1], m[1, 0] = 0.6, NAN  # one side never probed: the other is used
    m[2, 3], m[3, 2] = NAN, NAN  # pair never probed: skipped in the means
    assert pair_values(m, NAMES, [("closure", "class"), ("gender", "heel")])[0] == 0.6
    s = pair_summary(m, RELATIONS)
    assert s["related"] == pytest.approx(0.6)
    with pytest.raises(ValueError, match="4 x 4 matrix"):
        pair_summary(np.zeros((3, 3)), RELATIONS)


def test_findings_sentences_follow_the_numbers():
    fsn = pair_summary(UCR, RELATIONS)
    better = pair_summary(np.where(np.isnan(UCR), NAN, UCR + 0.05), RELATIONS)
    r = related_vs_independent("FSN", fsn)
    assert r["holds"] is True and "is above" in r["sentence"] and "+0.650" in r["sentence"]
    flipped = related_vs_independent("X", {"related": 0.2, "independent": 0.4})
    assert flipped["holds"] is False and "is not above" in flipped["sentence"]
    assert related_vs_independent("X", {"related": NAN, "independent": 0.4})["holds"] is None
    up = pair_mean_raised("FSN", fsn, "modulation", better)
    assert up["holds"] is True and up["pairs_higher"] == 6 and up["pairs"] == 6
    down = pair_mean_raised("modulation", better, "FSN", fsn)
    assert down["holds"] is False and down["pairs_higher"] == 0 and "is not above" in \
        down["sentence"]


def test_printed_matrix_marks_every_pair():
    text = format_pair_matrix(UCR, NAMES, RELATIONS)
    lines = text.splitlines()
    assert lines[0].split() == list(NAMES)
    assert lines[1].split() == ["class", "-", "0.80R", "0.20I", "0.30I"]
    assert lines[4].split() == ["heel", "0.30I", "0.20I", "0.90R", "-"]
    plain = format_pair_matrix(UCR, NAMES)  # real data: no relations, no marks
    assert plain.splitlines()[1].split() == ["class", "-", "0.80", "0.20", "0.30"]
    table = format_pair_summary({"FSN": pair_summary(UCR, RELATIONS)})
    assert table.splitlines()[-1].split() == ["FSN", "0.850", "0.200", "0.417"]
