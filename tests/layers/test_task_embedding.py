"""TaskEmbedding: one learned tensor per task (top-down paper, Table 5)."""

import keras
import numpy as np
import pytest

from keras_mtl.layers import TaskEmbedding


def test_lookup_matches_table(rng):
    layer = TaskEmbedding(3, (2, 2))
    layer.build((None,))
    table = rng.normal(size=(3, 4)).astype("float32")
    layer.embeddings.assign(table)
    out = np.asarray(layer(np.array([2, 0, 2])))
    np.testing.assert_array_equal(out, table[[2, 0, 2]].reshape(3, 2, 2))


def test_lenet_parameter_count_per_task():
    # Table 5a: the Multi-MNIST task embedding adds 320 parameters per task (4 x 4 x 20).
    for k in (1, 2, 4):
        layer = TaskEmbedding(k, (4, 4, 20))
        layer.build((None,))
        assert layer.count_params() == 320 * k


@pytest.mark.parametrize("bad", [0, (2, 0), "4", (2.5,)])
def test_invalid_target_shape(bad):
    with pytest.raises(ValueError, match=r"target_shape"):
        TaskEmbedding(2, bad)


def test_float_ids_rejected_symbolically():
    with pytest.raises(TypeError, match=r"integer dtype"):
        TaskEmbedding(2, 3)(keras.Input((), dtype="float32"))
