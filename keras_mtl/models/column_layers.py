"""Layers holding one independent copy per task column, on stacked `(batch, T, ...)` tensors.

A cross-stitch network keeps T columns with the same architecture. Holding the T copies of a
layer in one layer (kernels `(T, ...)`) gives the stacked layout that `CrossStitch` mixes
directly, and lets the layer compute the related-weights regulariser of Bhuin et al. between
its columns' kernels (the scalars `a`, `b` are its own weights, so it is saved and restored
with the model).
"""

import itertools

import keras
from keras import ops

from keras_mtl.losses import related_weights_loss

RELATED_FORMS = ("exp", "l2")


class _ColumnLayer(keras.layers.Layer):
    """Base: T column kernels with the same initial draw (when related) and the regulariser."""

    def __init__(
        self,
        num_columns: int,
        activation=None,
        use_bias: bool = True,
        related_weights: float = 0.0,
        related_form: str = "exp",
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        if isinstance(num_columns, bool) or not isinstance(num_columns, int) or num_columns < 1:
            raise ValueError(
                "Expected `num_columns` to be a positive int. "
                f"Received: num_columns={num_columns!r}"
            )
        if related_form not in RELATED_FORMS:
            raise ValueError(
                f"Expected `related_form` to be one of {RELATED_FORMS}. "
                f"Received: related_form={related_form!r}"
            )
        if not isinstance(related_weights, int | float) or related_weights < 0:
            raise ValueError(
                "Expected `related_weights` (lambda) to be a non-negative number. "
                f"Received: related_weights={related_weights!r}"
            )
        super().__init__(**kwargs)
        self.num_columns = num_columns
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.related_weights = float(related_weights)
        self.related_form = related_form
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    @property
    def _pairs(self):
        return list(itertools.combinations(range(self.num_columns), 2))

    def _build_columns(self, kernel_shape, units):
        self.kernel = self.add_weight(
            name="kernel", shape=(self.num_columns,) + tuple(kernel_shape), initializer="zeros"
        )
        draws = [self.kernel_initializer(kernel_shape) for _ in range(self.num_columns)]
        if self.related_weights > 0:  # related columns start equal (regulariser at 0)
            draws = [draws[0]] * self.num_columns
        self.kernel.assign(ops.stack(draws))
        self.bias = (
            self.add_weight(name="bias", shape=(self.num_columns, units), initializer="zeros")
            if self.use_bias
            else None
        )
        self.related_scales = self.related_offsets = None
        if self.related_weights > 0 and self.num_columns > 1:
            pairs = len(self._pairs)
            self.related_scales = self.add_weight(
                name="related_scales", shape=(pairs,), initializer="ones"
            )
            self.related_offsets = self.add_weight(
                name="related_offsets", shape=(pairs,), initializer="zeros"
            )

    @property
    def task_specific_weights(self):
        return [w for w in (self.kernel, self.bias) if w is not None]

    def related_penalty(self):
        """`lambda * sum_{i<j} r_w(W_i, W_j)` with the learned `a`, `b` of each pair (Eq. 6-7)."""
        total = 0.0
        for p, (i, j) in enumerate(self._pairs):
            total = total + related_weights_loss(
                self.kernel[i],
                self.kernel[j],
                self.related_scales[p],
                self.related_offsets[p],
                self.related_form,
            )
        return self.related_weights * total

    def _finish(self, outputs):
        x = ops.stack(outputs, axis=1)
        if self.bias is not None:
            x = x + ops.reshape(
                self.bias, (1, self.num_columns) + (1,) * (len(x.shape) - 3) + (-1,)
            )
        if self.related_scales is not None:
            self.add_loss(self.related_penalty())
        return self.activation(x)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_columns": self.num_columns,
                "activation": keras.activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "related_weights": self.related_weights,
                "related_form": self.related_form,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            }
        )
        return config


@keras.saving.register_keras_serializable(package="keras_mtl")
class ColumnConv2D(_ColumnLayer):
    """T independent 2D convolutions, column t applied to `inputs[:, t]`.

    With `related_weights = lambda > 0` the columns' kernels start from the same draw and the
    layer adds Bhuin et al.'s related-weights regulariser (Eq. 6-7, `related_form` `"exp"` or
    `"l2"`, learnable `a` (init 1) and `b` (init 0) per column pair) to the model's losses.

    Reference:
        Bhuin et al., cross-stitch networks with related weights, Sec. 3.3, Eq. 6-7.

    Args:
        num_columns: int >= 1, the number of columns T.
        filters: output channels of each column.
        kernel_size: int, square kernel size.
        strides: int stride.
        padding: `"valid"` or `"same"`.
        activation: activation applied after the bias.
        use_bias: whether each column has a bias.
        related_weights: lambda of the regulariser (0 disables it).
        related_form: `"exp"` or `"l2"`.
        kernel_initializer: initializer of one column's kernel.
        **kwargs: base layer arguments.

    Input shape:
        `(batch, T, H, W, C)`.

    Output shape:
        `(batch, T, H', W', filters)`.
    """

    def __init__(self, num_columns, filters, kernel_size, strides=1, padding="valid", **kwargs):
        super().__init__(num_columns, **kwargs)
        self.filters = filters
        self.kernel_size = kernel_size
        self.strides = strides
        self.padding = padding

    def build(self, input_shape):
        k = self.kernel_size
        self._build_columns((k, k, input_shape[-1], self.filters), self.filters)

    def call(self, inputs):
        return self._finish(
            [
                ops.conv(inputs[:, t], self.kernel[t], strides=self.strides, padding=self.padding)
                for t in range(self.num_columns)
            ]
        )

    def compute_output_shape(self, input_shape):
        spatial = []
        for d in input_shape[2:4]:
            if d is None:
                spatial.append(None)
            elif self.padding == "same":
                spatial.append(-(-d // self.strides))
            else:
                spatial.append((d - self.kernel_size) // self.strides + 1)
        return (input_shape[0], self.num_columns, *spatial, self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "strides": self.strides,
                "padding": self.padding,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="keras_mtl")
class ColumnDense(_ColumnLayer):
    """T independent dense layers on `(batch, T, features)`; see `ColumnConv2D`.

    Args:
        num_columns: int >= 1.
        units: output units of each column.
        **kwargs: as `ColumnConv2D` (activation, use_bias, related_weights, ...).
    """

    def __init__(self, num_columns, units, **kwargs):
        super().__init__(num_columns, **kwargs)
        self.units = units

    def build(self, input_shape):
        self._build_columns((input_shape[-1], self.units), self.units)

    def call(self, inputs):
        return self._finish(
            [ops.matmul(inputs[:, t], self.kernel[t]) for t in range(self.num_columns)]
        )

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_columns, self.units)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units})
        return config


@keras.saving.register_keras_serializable(package="keras_mtl")
class UnstackColumns(keras.layers.Layer):
    """Splits `(batch, T, ...)` into a list of T tensors `(batch, ...)`."""

    def __init__(self, num_columns, **kwargs):
        super().__init__(**kwargs)
        self.num_columns = num_columns

    def call(self, inputs):
        return [inputs[:, t] for t in range(self.num_columns)]

    def compute_output_shape(self, input_shape):
        return [(input_shape[0],) + tuple(input_shape[2:])] * self.num_columns

    def get_config(self):
        config = super().get_config()
        config.update({"num_columns": self.num_columns})
        return config
