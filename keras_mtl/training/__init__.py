"""Multi-task training: the model class, gradient-conflict probe and callbacks."""

from keras_mtl.training.multi_task_model import MultiTaskModel

__all__ = ["MultiTaskModel"]
