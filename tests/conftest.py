"""Shared test set-up: quiet TensorFlow, deterministic seeds, small helpers."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seed_and_policy():
    keras.utils.set_random_seed(1234)
    policy = keras.mixed_precision.dtype_policy()
    yield
    keras.mixed_precision.set_dtype_policy(policy)


@pytest.fixture
def keras_roundtrip(tmp_path):
    """Saves a model to `.keras`, loads it back (no custom_objects) and returns the copy."""

    def roundtrip(model, name="model.keras"):
        path = tmp_path / name
        model.save(path)
        return keras.saving.load_model(path)

    return roundtrip


@pytest.fixture
def rng():
    return np.random.default_rng(0)
