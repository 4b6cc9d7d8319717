"""`ColumnLayer`: one independent copy of a layer per task column, on `(batch, T, ...)`.

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


class ColumnLayer(keras.layers.Layer):
    """Base of `ColumnConv2D` and `ColumnDense`: T column kernels `(T, ...)` in one layer.

    When related (`related_weights > 0`) the columns start from the same draw and the layer
    adds Bhuin et al.'s related-weights regulariser between them to the model's losses. Every
    column kernel and bias is task-specific (`task_specific_weights`).

    Args:
        num_tasks: the number of task columns T.
        activation, use_bias, related_weights, related_form, kernel_initializer: see
            `ColumnConv2D`.
    """

    def __init__(
        self,
        num_tasks: int,
        activation=None,
        use_bias: bool = True,
        related_weights: float = 0.0,
        related_form: str = "exp",
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        if isinstance(num_tasks, bool) or not isinstance(num_tasks, int) or num_tasks < 1:
            raise ValueError(
                "Expected `num_tasks` (the number of task columns) to be a positive int. "
                f"Received: num_tasks={num_tasks!r}"
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
        self.num_tasks = num_tasks
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.related_weights = float(related_weights)
        self.related_form = related_form
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    @property
    def _pairs(self):
        return list(itertools.combinations(range(self.num_tasks), 2))

    def _build_columns(self, kernel_shape, units):
        self.kernel = self.add_weight(
            name="kernel", shape=(self.num_tasks,) + tuple(kernel_shape), initializer="zeros"
        )
        draws = [self.kernel_initializer(kernel_shape) for _ in range(self.num_tasks)]
        if self.related_weights > 0:  # related columns start equal (regulariser at 0)
            draws = [draws[0]] * self.num_tasks
        self.kernel.assign(ops.stack(draws))
        self.bias = (
            self.add_weight(name="bias", shape=(self.num_tasks, units), initializer="zeros")
            if self.use_bias
            else None
        )
        self.related_scales = self.related_offsets = None
        if self.related_weights > 0 and self.num_tasks > 1:
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
                self.bias, (1, self.num_tasks) + (1,) * (len(x.shape) - 3) + (-1,)
            )
        if self.related_scales is not None:
            self.add_loss(self.related_penalty())
        return self.activation(x)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_tasks": self.num_tasks,
                "activation": keras.activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "related_weights": self.related_weights,
                "related_form": self.related_form,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            }
        )
        return config
