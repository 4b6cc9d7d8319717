"""keras-mtl: task-conditioned multi-task learning for Keras 3 / TensorFlow.

Submodules: `layers`, `models`, `training`, `weighting`, `losses`, `metrics`, `export` (imported
here), and
`datasets`, `evaluation`, `tuning` (imported on first access; `tuning` needs keras-tuner).
"""

import importlib

from keras_mtl import export, layers, losses, metrics, models, training, weighting
from keras_mtl.training import MultiTaskModel
from keras_mtl.version import __version__

_LAZY = ("datasets", "evaluation", "tuning")

__all__ = [
    "MultiTaskModel",
    "__version__",
    "datasets",
    "evaluation",
    "export",
    "layers",
    "losses",
    "metrics",
    "models",
    "training",
    "tuning",
    "weighting",
]


def __getattr__(name):
    if name in _LAZY:
        return importlib.import_module(f"keras_mtl.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
