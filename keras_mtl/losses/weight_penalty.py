"""`WeightPenalty`: a loss on one layer's weights, usable as a saved `compile` regularizer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras

from keras_mtl.layers.types import Tensor


@keras.saving.register_keras_serializable(package="keras_mtl")
class WeightPenalty:
    """Applies a loss to the weights of a named layer: `penalty(None, layer.weights[index])`.

    A serializable form of `compile(regularizers=[fn])`: `MultiTaskModel` saves it in the
    `.keras` file with the rest of the training configuration, so a loaded model resumes with
    the same objective (a plain function or lambda cannot be saved and is dropped with a
    warning when the model is saved).

    Args:
        penalty: a loss taking `(None, weights)`, e.g. `TaskRelevanceLoss` (Zhao et al.
            Eq. 8) on a `TaskModulation` layer's `(T, C)` scaling vectors.
        layer: the layer's name.
        index: which of the layer's weights (default 0, the modulation kernel).

    Call arguments:
        model: the model holding the layer.

    Example:

    >>> import numpy as np
    >>> from keras_mtl.layers import TaskModulation
    >>> from keras_mtl.losses import TaskRelevanceLoss
    >>> x, t = keras.Input((4,)), keras.Input((), dtype="int32")
    >>> model = keras.Model([x, t], TaskModulation(3, name="mod")([x, t]))
    >>> penalty = WeightPenalty(TaskRelevanceLoss([(0, 1, 2)], weight=0.1), "mod")
    >>> round(float(penalty(model)), 4)  # fresh modulation: all ones, 0.1 * (0 + 1 - 0)
    0.1

    With a `keras_mtl.MultiTaskModel`: `model.compile(..., regularizers=[penalty])`.
    """

    def __init__(
        self, penalty: Callable[[Tensor | None, Tensor], Tensor], layer: str, index: int = 0
    ) -> None:
        if not callable(penalty):
            raise TypeError(f"Expected `penalty` to be a loss. Received: penalty={penalty!r}")
        self.penalty = penalty
        self.layer = str(layer)
        self.index = int(index)

    def __call__(self, model: keras.Model) -> Tensor:
        return self.penalty(None, model.get_layer(self.layer).weights[self.index])

    def get_config(self) -> dict[str, Any]:
        return {"penalty": keras.saving.serialize_keras_object(self.penalty),
                "layer": self.layer, "index": self.index}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> WeightPenalty:
        config = dict(config)
        config["penalty"] = keras.saving.deserialize_keras_object(config["penalty"])
        return cls(**config)
