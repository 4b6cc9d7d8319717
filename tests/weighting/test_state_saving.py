"""Weighting state survives a `.keras` round trip inside a model that holds the weighting.

What works with Keras 3.15: the model keeps the weighting as an attribute (so its variables
are tracked and written to the weights file under the attribute's name) and serializes it in
`get_config` with `keras.saving.serialize_keras_object`, which records the build config
(`num_tasks`); `deserialize_keras_object` rebuilds the variables before the weights load.
"""

import keras
import numpy as np
import pytest
from weighting_cases import case

import keras_mtl.weighting as weighting_lib

STATEFUL = ["pcgrad", "gradvac", "uw", "dwa", "rlw", "famo", "gradnorm"]


@keras.saving.register_keras_serializable(package="keras_mtl_tests")
class WeightingHolder(keras.Model):
    """A tiny model that owns a weighting, the way a multi-task model does."""

    def __init__(self, weighting, **kwargs):
        super().__init__(**kwargs)
        self.weighting = weighting_lib.get(weighting)
        self.dense = keras.layers.Dense(1)

    def call(self, inputs):
        return self.dense(inputs)

    def get_config(self):
        config = super().get_config()
        config["weighting"] = keras.saving.serialize_keras_object(self.weighting)
        return config


def make(name):
    cls = weighting_lib.METHODS[name]
    weighting = cls(seed=4) if name in ("pcgrad", "gradvac", "rlw") else cls()
    if name == "dwa":
        weighting = cls(window=1)
    weighting.build(4)
    return weighting


def step(weighting, losses, gram, present):
    return weighting.task_weights(
        losses, gram if weighting.needs_task_gradients else None, present
    ).numpy()


@pytest.mark.parametrize("name", STATEFUL)
def test_state_round_trips_through_a_keras_file(name, tmp_path):
    _, present, losses, gram = case("absent")
    weighting = make(name)
    for k in range(3):
        step(weighting, losses * (1.0 - 0.2 * k), gram, present)
    if weighting.trainable_weights:  # as if the model's optimizer had moved them
        weighting.trainable_weights[0].assign(weighting.trainable_weights[0] * 0.5 + 0.3)
    model = WeightingHolder(weighting)
    model(np.ones((1, 3), "float32"))
    path = tmp_path / "holder.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    restored = loaded.weighting
    assert type(restored) is type(weighting)
    assert restored.get_config() == weighting.get_config()
    assert len(restored.weights) == len(weighting.weights) > 0
    for original, copy in zip(weighting.weights, restored.weights, strict=True):
        np.testing.assert_array_equal(copy.numpy(), original.numpy())
    # the resumed run continues exactly like the original
    np.testing.assert_allclose(step(restored, losses * 0.5, gram, present),
                               step(weighting, losses * 0.5, gram, present), rtol=1e-6)
