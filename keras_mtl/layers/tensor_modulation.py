"""Full-tensor modulation of a bottom-up tensor by a top-down tensor (Eq. 2-3)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

from keras_mtl.layers.types import Shape, Tensor

CONNECTIVITIES = ("add", "multiply", "gated")


def modulate_tensor(x: Tensor, z: Tensor, connectivity: str = "gated") -> Tensor:
    """Combines `x` with the modulation tensor `z` (top-down paper Table 2c).

    - `"add"`: `x + z`;
    - `"multiply"`: `x * z` (Eq. 2);
    - `"gated"`: `x + x * sigmoid(z)` (Eq. 3, the paper's default, written `x (x) z`).

    Args:
        x: the modulated tensor.
        z: the modulation tensor, broadcastable to `x`.
        connectivity: `"add"`, `"multiply"` or `"gated"`.

    Returns:
        A tensor of the shape of `x`.
    """
    if connectivity == "add":
        return x + z
    if connectivity == "multiply":
        return x * z
    if connectivity == "gated":
        return x + x * ops.sigmoid(z)
    raise ValueError(
        f"Expected `connectivity` to be one of {CONNECTIVITIES}. "
        f"Received: connectivity={connectivity!r}"
    )


def check_connectivity(connectivity: str, name: str = "connectivity") -> str:
    """Returns `connectivity`, or raises `ValueError` unless it is one of `CONNECTIVITIES`.

    Args:
        connectivity: the value to check.
        name: the argument's name in the error message.
    """
    if connectivity not in CONNECTIVITIES:
        raise ValueError(
            f"Expected `{name}` to be one of {CONNECTIVITIES}. Received: {name}={connectivity!r}"
        )
    return connectivity


@keras.saving.register_keras_serializable(package="keras_mtl")
class TensorModulation(keras.layers.Layer):
    """Modulates a tensor `X` by a same-shape (or broadcastable) tensor `Z`.

    The connection types of the top-down modulation network (Table 2c): additive
    (`Y = X + Z`), multiplicative (`Y = X * Z`, Eq. 2, a full channel and spatial tensor
    modulation) and gated with a residual connection (`Y = X + X * sigmoid(Z)`, Eq. 3, the
    paper's default). Used on the TD stream (lateral BU1 -> TD, default additive) and on the
    BU2 stream (TD -> BU2, default gated).

    Reference:
        Levi, Ullman. "Multi-task learning by a top-down control network" (top-down
        modulation network), Sec. 3.2, Eq. 2-3, Table 2c.

    Args:
        connectivity: `"add"`, `"multiply"` or `"gated"`.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: list or tuple `[x, z]`, `z` broadcastable to `x`.

    Input shape:
        `[(batch, ..., C), (batch, ..., C)]`.

    Output shape:
        The shape of `x`.

    Example:

    >>> import numpy as np
    >>> x, z = np.full((1, 2), 2.0, "float32"), np.zeros((1, 2), "float32")
    >>> np.asarray(TensorModulation("gated")([x, z])).tolist()  # 2 + 2 * sigmoid(0)
    [[3.0, 3.0]]
    """

    def __init__(self, connectivity: str = "gated", **kwargs: Any) -> None:
        check_connectivity(connectivity)
        super().__init__(**kwargs)
        self.connectivity = connectivity

    @property
    def task_specific_weights(self) -> list[keras.Variable]:
        """None: the layer has no variables."""
        return []

    def _check(self, input_shape: Sequence[Shape]) -> Shape:
        if not isinstance(input_shape, list | tuple) or len(input_shape) != 2:
            raise ValueError(
                f"Layer '{self.name}' expects its inputs as a list or tuple `[x, z]`. "
                f"Received: {input_shape!r}"
            )
        x_shape, z_shape = (tuple(s) for s in input_shape)
        if len(z_shape) > len(x_shape):
            raise ValueError(
                "Expected `z` to be broadcastable to `x`. "
                f"Received: x.shape={x_shape}, z.shape={z_shape}"
            )
        for dx, dz in zip(x_shape[::-1], z_shape[::-1], strict=False):
            if dx is not None and dz is not None and dz not in (1, dx):
                raise ValueError(
                    "Expected `z` to be broadcastable to `x`. "
                    f"Received: x.shape={x_shape}, z.shape={z_shape}"
                )
        return x_shape

    def build(self, input_shape: Sequence[Shape]) -> None:
        self._check(input_shape)

    def call(self, inputs: Sequence[Tensor]) -> Tensor:
        x, z = inputs
        self._check([x.shape, z.shape])
        return modulate_tensor(x, ops.cast(z, x.dtype), self.connectivity)

    def compute_output_shape(self, input_shape: Sequence[Shape]) -> Shape:
        return self._check(input_shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"connectivity": self.connectivity})
        return config
