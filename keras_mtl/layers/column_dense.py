"""`ColumnDense`: T independent dense layers on stacked task columns (cross-stitch)."""

import keras
from keras import ops

from keras_mtl.layers.column_layer import ColumnLayer


@keras.saving.register_keras_serializable(package="keras_mtl")
class ColumnDense(ColumnLayer):
    """T independent dense layers on `(batch, T, features)`; see `ColumnConv2D`.

    Args:
        num_tasks: int >= 1.
        units: output units of each column.
        **kwargs: as `ColumnConv2D` (activation, use_bias, related_weights, ...).
    """

    def __init__(self, num_tasks, units, **kwargs):
        super().__init__(num_tasks, **kwargs)
        self.units = units

    def build(self, input_shape):
        self._build_columns((input_shape[-1], self.units), self.units)

    def call(self, inputs):
        return self._finish(
            [ops.matmul(inputs[:, t], self.kernel[t]) for t in range(self.num_tasks)]
        )

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_tasks, self.units)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units})
        return config
