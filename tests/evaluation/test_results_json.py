"""Strict-JSON run summaries: NumPy values converted, NaN written as null, files parse back."""

import json
from pathlib import Path

import numpy as np
import pytest

from keras_mtl.evaluation import save_json, to_json_compatible


def test_numpy_values_tuples_and_non_finite_floats():
    value = {"accuracy": np.array([0.5, np.nan], np.float32), "total": np.array([3, 4]),
             "mean": np.float64(0.5), "ok": np.bool_(True), 7: (1, np.inf), "path": Path("a/b"),
             "none": None}
    assert to_json_compatible(value) == {
        "accuracy": [0.5, None], "total": [3, 4], "mean": 0.5, "ok": True, "7": [1, None],
        "path": str(Path("a/b")), "none": None}
    assert type(to_json_compatible(np.int64(3))) is int


def test_save_json_writes_strict_json(tmp_path):
    ucr = np.full((2, 2), np.nan)
    ucr[0, 1] = 0.25
    path = save_json(tmp_path / "results.json", {"ucr": ucr})
    text = path.read_text()
    assert "NaN" not in text
    assert json.loads(text, parse_constant=pytest.fail) == {"ucr": [[None, 0.25], [None, None]]}
