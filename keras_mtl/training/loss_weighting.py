"""Deprecated location: the weightings now live in `keras_mtl.weighting`.

A thin re-export kept while the training step moves to the new package; import from
`keras_mtl.weighting` in new code. `LossWeighting` is the old name of `Weighting`.
"""

from keras_mtl.weighting import (
    FixedWeighting,
    MGDAWeighting,
    UniformWeighting,
    Weighting,
    get,
    min_norm_weights,
    project_to_simplex,
)

LossWeighting = Weighting

__all__ = [
    "FixedWeighting",
    "LossWeighting",
    "MGDAWeighting",
    "UniformWeighting",
    "Weighting",
    "get",
    "min_norm_weights",
    "project_to_simplex",
]
