"""A self-contained BU1 -> TD -> BU2 top-down modulation block."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import layers, ops

from keras_mtl.layers.task_conditioned_layer import TaskConditionedLayer
from keras_mtl.layers.task_embedding import TaskEmbedding
from keras_mtl.layers.tensor_modulation import check_connectivity, modulate_tensor
from keras_mtl.layers.types import Shape, Tensor


def stage_sizes(
    height: int, width: int, num_stages: int, pool_size: int
) -> list[tuple[int, int]]:
    """Spatial size `(h, w)` after each stage of `same` conv + `pool_size` max pooling.

    Args:
        height: input height.
        width: input width.
        num_stages: the number of stages.
        pool_size: the pooling factor of each stage.
    """
    sizes = []
    for _ in range(num_stages):
        height, width = height // pool_size, width // pool_size
        if height < 1 or width < 1:
            raise ValueError(
                f"Expected an input large enough for {num_stages} stages of pooling by "
                f"{pool_size}. Received: a feature map that shrinks to {height}x{width}."
            )
        sizes.append((height, width))
    return sizes


@keras.saving.register_keras_serializable(package="keras_mtl")
class TopDownModulator(TaskConditionedLayer):
    """Image-aware, task-dependent top-down modulation of a bottom-up conv stack.

    Implements the three streams of the top-down modulation network (Sec. 3.3, Fig. 1d, 3c)
    over a stack of conv stages (`same` conv + ReLU + max pooling, one per entry of
    `filters`):

    1. BU1: the input runs through the stages; each stage output `X1_i` is kept.
    2. TD: a task embedding (Sec. 3.3; one learned tensor per task) of the top stage's shape
       starts the stream; at each level, from the top down, a lateral 1x1 conv of `X1_i` is
       combined with the TD tensor (`td_connectivity`, additive by default as in Table 2c),
       a 1x1 conv turns it into the modulation tensor `Z_i`, and the stream goes one level
       down by bilinear upsampling and a conv mirroring the BU stage.
    3. BU2: the input runs through the *same* stages (shared weights with BU1), and each
       stage output is modulated, `Y_i = X2_i (x) Z_i` (`connectivity`; gated residual
       `X + X * sigmoid(Z)`, Eq. 3, by default).

    The output is the top BU2 tensor; with `return_td_map=True` also the lowest TD tensor, to
    attach an auxiliary loss (localisation / attention map, Sec. 4.3.4). For other backbones
    (VGG, ResNet) the same wiring is assembled from `TaskEmbedding`, `TensorModulation` and
    shared Keras layers by the model builders.

    Reference:
        Top-down modulation network, Sec. 3.2-3.3, Eq. 3, Table 2c, Fig. 1d and 3c.

    Args:
        num_tasks: int >= 1, the number of tasks.
        filters: tuple of ints, channels of each BU stage (the TD stream mirrors them).
        kernel_size: int, kernel size of the BU and TD convs.
        pool_size: int >= 1, max-pooling factor of each stage (1: no pooling).
        connectivity: TD -> BU2 modulation, `"gated"` (default), `"multiply"` or `"add"`.
        td_connectivity: BU1 -> TD lateral combination, `"add"` (default), `"multiply"` or
            `"gated"`.
        return_td_map: whether to also return the lowest TD tensor.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: list or tuple `[images, task_id]`; `images` of shape `(batch, H, W, C)` with
            static H and W, `task_id` integers of shape `(batch,)` or `(batch, 1)`.

    Input shape:
        `[(batch, H, W, C), (batch,) or (batch, 1)]`.

    Output shape:
        `(batch, h, w, filters[-1])` with `h = H // pool_size**len(filters)`; with
        `return_td_map`, a list `[that, (batch, H // pool_size, W // pool_size, filters[0])]`.

    Example:

    >>> import numpy as np
    >>> block = TopDownModulator(num_tasks=2, filters=(8, 16))
    >>> tuple(block([np.zeros((3, 28, 28, 1), "float32"), np.array([0, 1, 1])]).shape)
    (3, 7, 7, 16)
    """

    def __init__(
        self,
        num_tasks: int,
        filters: Sequence[int] = (32, 64),
        kernel_size: int = 3,
        pool_size: int = 2,
        connectivity: str = "gated",
        td_connectivity: str = "add",
        return_td_map: bool = False,
        **kwargs: Any,
    ) -> None:
        if (
            not isinstance(filters, list | tuple)
            or not filters
            or not all(isinstance(f, int) and not isinstance(f, bool) and f >= 1 for f in filters)
        ):
            raise ValueError(
                "Expected `filters` to be a non-empty tuple of positive ints. "
                f"Received: filters={filters!r}"
            )
        for name, value in (("kernel_size", kernel_size), ("pool_size", pool_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"Expected `{name}` to be a positive int. Received: {name}={value!r}"
                )
        check_connectivity(connectivity, "connectivity")
        check_connectivity(td_connectivity, "td_connectivity")
        super().__init__(num_tasks, **kwargs)
        self.filters = tuple(filters)
        self.kernel_size = kernel_size
        self.pool_size = pool_size
        self.connectivity = connectivity
        self.td_connectivity = td_connectivity
        self.return_td_map = bool(return_td_map)

        conv = dict(kernel_size=kernel_size, padding="same", activation="relu")
        n = len(self.filters)
        self.bu_convs = [
            layers.Conv2D(f, name=f"bu_conv{i}", **conv) for i, f in enumerate(filters)
        ]
        self.pool = layers.MaxPooling2D(pool_size) if pool_size > 1 else None
        self.bu_to_td = [layers.Conv2D(f, 1, name=f"lateral_bu{i}") for i, f in enumerate(filters)]
        self.td_to_bu = [layers.Conv2D(f, 1, name=f"lateral_td{i}") for i, f in enumerate(filters)]
        # td_convs[i] brings the TD stream from level i + 1 down to level i.
        self.td_convs = [
            layers.Conv2D(filters[i], name=f"td_conv{i}", **conv) for i in range(n - 1)
        ]
        self.embedding = None

    def _image_shape(self, input_shape: Sequence[Shape]) -> Shape:
        shape = self._features_shape(input_shape)
        if len(shape) != 4 or shape[1] is None or shape[2] is None:
            raise ValueError(
                "Expected images of shape (batch, height, width, channels) with static height "
                f"and width. Received: shape={shape}"
            )
        return shape

    def build(self, input_shape: Sequence[Shape]) -> None:
        shape = self._image_shape(input_shape)
        self._sizes = stage_sizes(shape[1], shape[2], len(self.filters), self.pool_size)
        top = self._sizes[-1] + (self.filters[-1],)
        self.embedding = TaskEmbedding(self.num_tasks, top, name="task_embedding")
        self.embedding.build((shape[0],))
        channels = shape[-1]
        for i, f in enumerate(self.filters):
            size = (shape[0],) + self._sizes[i]
            self.bu_convs[i].build(size[:1] + (None, None, channels))
            self.bu_to_td[i].build(size + (f,))
            self.td_to_bu[i].build(size + (f,))
            if i < len(self.filters) - 1:
                self.td_convs[i].build(size[:1] + (None, None, self.filters[i + 1]))
            channels = f

    @property
    def task_specific_weights(self) -> list[keras.Variable]:
        return [self.embedding.embeddings]

    def _stage(self, i: int, x: Tensor) -> Tensor:
        x = self.bu_convs[i](x)
        return self.pool(x) if self.pool is not None else x

    def call(self, inputs: Sequence[Tensor]) -> Tensor | list[Tensor]:
        images, ids = self._split_and_check(inputs)
        bu1, x = [], images
        for i in range(len(self.filters)):
            x = self._stage(i, x)
            bu1.append(x)

        td = ops.cast(self.embedding(ids), images.dtype)
        mods = [None] * len(self.filters)
        for i in reversed(range(len(self.filters))):
            if i < len(self.filters) - 1:
                td = ops.image.resize(td, self._sizes[i], interpolation="bilinear")
                td = self.td_convs[i](td)
            td = modulate_tensor(td, self.bu_to_td[i](bu1[i]), self.td_connectivity)
            mods[i] = self.td_to_bu[i](td)
            if i == 0:
                td_map = td

        x = images
        for i in range(len(self.filters)):
            x = modulate_tensor(self._stage(i, x), mods[i], self.connectivity)
        return [x, td_map] if self.return_td_map else x

    def compute_output_shape(self, input_shape: Sequence[Shape]) -> Shape | list[Shape]:
        shape = self._image_shape(input_shape)
        sizes = stage_sizes(shape[1], shape[2], len(self.filters), self.pool_size)
        top = (shape[0],) + sizes[-1] + (self.filters[-1],)
        if self.return_td_map:
            return [top, (shape[0],) + sizes[0] + (self.filters[0],)]
        return top

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "pool_size": self.pool_size,
                "connectivity": self.connectivity,
                "td_connectivity": self.td_connectivity,
                "return_td_map": self.return_td_map,
            }
        )
        return config
