"""An exported package model shared by the serving tests."""

import keras
import pytest
import tensorflow as tf

from keras_mtl.export import export_for_serving
from keras_mtl.models import zhao_retrieval_net


@pytest.fixture(scope="package")
def served48(tmp_path_factory):
    """`(model, path, serving_default)`: a small Zhao net at 48x48 (4 tasks), exported and
    loaded back with `tf.saved_model.load`."""
    keras.utils.set_random_seed(0)
    model = zhao_retrieval_net(4, input_shape=(48, 48, 3), width_multiplier=0.125,
                               embedding_dim=8)
    path = export_for_serving(model, tmp_path_factory.mktemp("serving48") / "zhao")
    return model, path, tf.saved_model.load(str(path)).signatures["serving_default"]
