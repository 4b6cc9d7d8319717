"""The package's multi-task `keras.Model` subclass (skeleton: the training issue fills it in)."""

import keras


@keras.saving.register_keras_serializable(package="keras_mtl")
class MultiTaskModel(keras.Model):
    """A functional `keras.Model` for task-conditioned multi-task networks.

    Built like any functional model (`MultiTaskModel(inputs=..., outputs=...)`). The custom
    `train_step` with the gradient-conflict probe is added by the training module.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
