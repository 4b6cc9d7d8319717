"""TensorModulation: the connection types of the top-down paper (Eq. 2, Eq. 3, Table 2c)."""

import numpy as np
import pytest

from keras_mtl.layers import TensorModulation


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


@pytest.mark.parametrize(
    "connectivity, reference",
    [
        ("add", lambda x, z: x + z),
        ("multiply", lambda x, z: x * z),
        ("gated", lambda x, z: x + x * sigmoid(z)),  # Eq. 3
    ],
)
def test_matches_numpy(connectivity, reference, rng):
    x = rng.normal(size=(2, 3, 3, 4)).astype("float32")
    z = rng.normal(size=(2, 3, 3, 4)).astype("float32")
    np.testing.assert_allclose(
        TensorModulation(connectivity)([x, z]), reference(x, z), rtol=1e-5, atol=1e-6
    )


def test_gated_equals_scaling_by_one_plus_sigmoid(rng):
    # Sec. 3.2: the gated residual modulation is modulation by (1 + sigmoid(Z)).
    x = rng.normal(size=(2, 5)).astype("float32")
    z = rng.normal(size=(2, 5)).astype("float32")
    np.testing.assert_allclose(
        TensorModulation()([x, z]), x * (1 + sigmoid(z)), rtol=1e-5, atol=1e-6
    )


def test_channel_vector_broadcasts(rng):
    x = rng.normal(size=(2, 3, 3, 4)).astype("float32")
    z = rng.normal(size=(2, 1, 1, 4)).astype("float32")
    np.testing.assert_allclose(TensorModulation("multiply")([x, z]), x * z, rtol=1e-6)


def test_invalid_connectivity():
    with pytest.raises(ValueError, match=r"connectivity.*Received: connectivity='concat'"):
        TensorModulation("concat")


def test_not_broadcastable():
    with pytest.raises(ValueError, match=r"broadcastable.*x.shape=\(2, 4\), z.shape=\(2, 3\)"):
        TensorModulation()([np.zeros((2, 4), "float32"), np.zeros((2, 3), "float32")])
