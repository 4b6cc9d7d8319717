"""Helpers shared by the export tests."""

import numpy as np


def images(n, size=48, channels=3, seed=0):
    """`n` random float32 images in [0, 1), `(n, size, size, channels)`."""
    return np.random.default_rng(seed).uniform(size=(n, size, size, channels)).astype("float32")
