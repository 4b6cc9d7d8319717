"""`drop_non_finite`: NaN / Inf examples leave the pipeline (whole triplets), or it raises."""

import numpy as np
import pytest
import tensorflow as tf

from keras_mtl.datasets import drop_non_finite
from keras_mtl.losses import interleave_triplets


def _triplet_dataset():
    rng = np.random.default_rng(0)
    batch = {k: rng.uniform(size=(4, 2, 2, 3)).astype("float32")
             for k in ("anchor", "positive", "negative")}
    batch["task_id"] = np.array([0, 1, 2, 0])
    batch["negative"][1, 0, 0, 0] = np.nan  # triplet 1
    batch["anchor"][3, 1, 1, 2] = np.inf  # triplet 3
    return tf.data.Dataset.from_tensors((interleave_triplets(batch),)), batch


def test_drops_whole_triplets_with_non_finite_pixels():
    ds, batch = _triplet_dataset()
    (x,) = next(iter(drop_non_finite(ds, rows_per_example=3)))
    assert x["image"].shape[0] == 6 and x["task_id"].numpy().tolist() == [0, 0, 0, 2, 2, 2]
    np.testing.assert_array_equal(x["image"][3].numpy(), batch["anchor"][2])
    assert np.isfinite(x["image"].numpy()).all()


def test_supervised_batches_drop_rows_with_non_finite_inputs_targets_or_weights():
    x = np.arange(12, dtype="float32").reshape(6, 2)
    y = np.array([0.0, 1, np.nan, 1, 0, 1], "float32")
    w = np.array([1.0, np.inf, 1, 1, 1, 1], "float32")
    x[4, 1] = -np.inf
    ds = tf.data.Dataset.from_tensors(({"x": x, "task_id": np.arange(6)}, y, w))
    got_x, got_y, got_w = next(iter(drop_non_finite(ds)))
    assert got_x["task_id"].numpy().tolist() == [0, 3, 5]
    np.testing.assert_array_equal(got_y.numpy(), [0.0, 1, 1])


def test_raise_mode_names_the_problem_and_arguments_are_checked():
    ds, _ = _triplet_dataset()
    with pytest.raises(tf.errors.InvalidArgumentError, match="Expected finite inputs"):
        next(iter(drop_non_finite(ds, rows_per_example=3, mode="raise")))
    with pytest.raises(ValueError, match="Expected `mode`"):
        drop_non_finite(ds, mode="keep")
    with pytest.raises(ValueError, match="Expected `rows_per_example`"):
        drop_non_finite(ds, rows_per_example=0)
