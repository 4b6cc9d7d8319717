"""SelectTaskColumn picks each sample's own column."""

import numpy as np
import pytest

from keras_mtl.layers import SelectTaskColumn


def test_picks_own_column_list_and_stacked(rng):
    columns = [rng.normal(size=(5, 2, 3)).astype("float32") for _ in range(3)]
    ids = np.array([2, 0, 1, 2, 0])
    expected = np.stack([columns[t][b] for b, t in enumerate(ids)])
    layer = SelectTaskColumn(3)
    np.testing.assert_array_equal(layer([columns, ids]), expected)
    np.testing.assert_array_equal(layer([np.stack(columns, 1), ids[:, None]]), expected)


def test_rank2_columns(rng):
    columns = [rng.normal(size=(4, 6)).astype("float32") for _ in range(2)]
    ids = np.array([1, 1, 0, 1])
    out = np.asarray(SelectTaskColumn(2)([columns, ids]))
    np.testing.assert_array_equal(out, np.where(ids[:, None] == 1, columns[1], columns[0]))


def test_wrong_number_of_columns():
    with pytest.raises(ValueError, match=r"Expected 3 task columns.*Received: 2 columns"):
        SelectTaskColumn(3)([[np.zeros((2, 4), "float32")] * 2, np.array([0, 1])])


def test_compute_output_shape():
    assert SelectTaskColumn(3).compute_output_shape([(None, 3, 7, 5), (None,)]) == (None, 7, 5)
