"""keras-mtl: task-conditioned multi-task learning for Keras 3 / TensorFlow."""

from keras_mtl import layers
from keras_mtl.training import MultiTaskModel
from keras_mtl.version import __version__

__all__ = ["MultiTaskModel", "__version__", "layers"]
