"""`UnstackColumns`: `(batch, T, ...)` -> a list of T column tensors."""

import keras


@keras.saving.register_keras_serializable(package="keras_mtl")
class UnstackColumns(keras.layers.Layer):
    """Splits `(batch, T, ...)` into a list of T tensors `(batch, ...)`."""

    def __init__(self, num_tasks, **kwargs):
        super().__init__(**kwargs)
        self.num_tasks = num_tasks

    @property
    def task_specific_weights(self):
        return []  # no weights

    def call(self, inputs):
        return [inputs[:, t] for t in range(self.num_tasks)]

    def compute_output_shape(self, input_shape):
        return [(input_shape[0],) + tuple(input_shape[2:])] * self.num_tasks

    def get_config(self):
        config = super().get_config()
        config.update({"num_tasks": self.num_tasks})
        return config
