"""A pass-through layer that checks its input's shape when the model runs, not only when traced."""

from __future__ import annotations

from typing import Any

import keras

from keras_mtl.layers.types import Shape, Tensor


@keras.saving.register_keras_serializable(package="keras_mtl")
class InputShapeCheck(keras.layers.Layer):
    """Passes its input through unchanged after checking it has the shape it was built for.

    Keras checks a model's input shapes while tracing a call. `predict` and `fit` trace with
    relaxed shapes (`None` for every dimension that varied) once they have seen a few
    differently shaped batches, and from then on an image of another size can flow through a
    network whose pooling and flattening happen to accept it (a 48x48 Zhao net gives finite,
    meaningless embeddings for 49-61 px images). This layer checks the shape of every call at
    run time (`tf.ensure_shape`; under XLA the check happens when the shape is compiled), so a
    wrong size raises `InvalidArgumentError` ("Shape of tensor ... [2,49,49,3] is not compatible
    with expected shape [?,48,48,3]") on every path. Every builder of `keras_mtl.models` puts one
    after its `image` input. The check is O(1): it reads the shape, not the data.

    The expected shape is the one the layer is built with (the batch dimension is free), saved
    with the model.

    Args:
        **kwargs: base `keras.layers.Layer` arguments (`name`, ...). Inputs are never cast
            (`autocast=False`), so the output is the input, bit for bit.

    Call arguments:
        inputs: a tensor of the shape the layer was built for.

    Input shape:
        Any; fixed when the layer is built.

    Output shape:
        Same as the input.

    Example:

    >>> import numpy as np
    >>> image = keras.Input((4, 4, 3))
    >>> model = keras.Model(image, InputShapeCheck()(image))
    >>> model(np.zeros((2, 4, 4, 3), "float32")).shape
    TensorShape([2, 4, 4, 3])
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        self.expected_shape = None

    @property
    def task_specific_weights(self) -> list[keras.Variable]:
        """None: the layer has no variables."""
        return []

    def build(self, input_shape: Shape) -> None:
        self.expected_shape = (None,) + tuple(input_shape)[1:]

    def call(self, inputs: Tensor) -> Tensor:
        if keras.backend.backend() != "tensorflow":
            return inputs
        import tensorflow as tf

        return tf.ensure_shape(inputs, self.expected_shape)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return input_shape
