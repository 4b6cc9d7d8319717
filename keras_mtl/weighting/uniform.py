"""Uniform weighting: the plain batch-mean loss."""

import keras
import tensorflow as tf

from keras_mtl.weighting.weighting import Weighting


@keras.saving.register_keras_serializable(package="keras_mtl")
class UniformWeighting(Weighting):
    """Every present task weighted 1: the plain gradient of the batch-mean loss (default).

    The baseline that every other method is compared with ("equal weighting" or "linear
    scalarization" in LibMTL and the Nash-MTL benchmark). Absent tasks get 0 (their gradient
    share is zero anyway).

    Example:

    >>> UniformWeighting().task_weights([0.3, 2.0, 1.0]).numpy()
    array([1., 1., 1.], dtype=float32)
    """

    def task_weights(self, task_losses, gram=None, present=None):
        return tf.identity(self.prepare_inputs(task_losses, gram, present).mask)
