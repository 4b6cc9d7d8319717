"""Run summaries as strict JSON: what the examples and the reproduction report write."""

import json
import math

import numpy as np


def to_json_compatible(value):
    """`value` made writable as strict JSON.

    NumPy arrays become lists, NumPy scalars Python numbers, tuples lists, dict keys strings,
    non-finite floats (NaN: a pair never probed, a task without triplets) `None`, and any
    other object (a path) its `str`.

    Example:
    >>> to_json_compatible({"ucr": np.array([np.nan, 0.5]), "n": np.int64(3)})
    {'ucr': [None, 0.5], 'n': 3}
    """
    if isinstance(value, dict):
        return {str(k): to_json_compatible(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json_compatible(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_json_compatible(value.tolist())
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    return str(value)


def save_json(path, value):
    """Writes `to_json_compatible(value)` to `path` (indented, strict JSON); returns `path`."""
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(to_json_compatible(value), handle, indent=2, allow_nan=False)
    return path
