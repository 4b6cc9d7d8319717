"""Backbone pieces written once and reused by every builder.

A *stage* is a plain Python callable `stage(x, hook=None) -> x` that owns its Keras layers:
calling it twice reuses the same layers (shared weights, as BU1 / BU2 of the top-down nets),
building it twice with different `name` prefixes gives independent copies (ITN and
cross-stitch columns). `hook(x, name)` is applied after every conv (and its BatchNorm), before
the activation: the task-routing builders pass a hook that inserts a `TaskRouting` layer, which
gives the paper's conv -> BN -> TRL -> ReLU.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
from keras import layers

from keras_mtl.models.common import ConvHook, scaled

# A stage part: a callable `part(x, hook=None) -> x` owning its layers (see the module docstring).
StagePart = Callable[..., Any]


class ConvUnit:
    """conv -> [BatchNorm] -> [hook] -> [ReLU], a stage part.

    Args:
        filters: output channels.
        kernel_size: square kernel size.
        name: prefix of the layer names (`<name>_conv`, `<name>_bn`, `<name>_relu`); also
            the name passed to the hook.
        strides: conv stride.
        padding: `"same"` or `"valid"`.
        use_bias: whether the conv has a bias (never with BatchNorm).
        batch_norm: whether a BatchNormalization follows the conv.
        activation: whether a ReLU ends the unit.
        trainable: whether the unit's layers are trainable.
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int,
        name: str,
        strides: int = 1,
        padding: str = "same",
        use_bias: bool = True,
        batch_norm: bool = False,
        activation: bool = True,
        trainable: bool = True,
    ) -> None:
        self.name = name
        self.filters = filters
        self.kernel_size = kernel_size
        self.activation = activation
        self.conv = layers.Conv2D(
            filters,
            kernel_size,
            strides=strides,
            padding=padding,
            use_bias=use_bias and not batch_norm,
            name=f"{name}_conv",
            trainable=trainable,
        )
        self.bn = (
            layers.BatchNormalization(name=f"{name}_bn", trainable=trainable)
            if batch_norm
            else None
        )
        self.relu = layers.ReLU(name=f"{name}_relu") if activation else None

    def __call__(
        self, x: keras.KerasTensor, hook: ConvHook | None = None
    ) -> keras.KerasTensor:
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        if hook is not None:
            x = hook(x, self.name)
        return self.relu(x) if self.relu is not None else x


class ResidualBlock:
    """A ResNet block: basic (two 3x3 convs) or bottleneck (1x1, 3x3, 1x1 with 4x expansion).

    The shortcut is the identity when shapes match, else a strided 1x1 conv (+ BN). The last
    conv has no activation of its own: `relu(f(x) + shortcut(x))`.

    Args:
        filters: width of the block (the output has `4 * filters` channels if `bottleneck`).
        name: prefix of the layer names.
        strides: stride of the first 3x3 conv (basic) or of the 3x3 conv (bottleneck).
        bottleneck: 1x1-3x3-1x1 with 4x expansion instead of two 3x3 convs.
        in_channels: the input's channels (None: unknown, a projection shortcut is used).
        batch_norm: whether every conv is followed by BatchNormalization.
        trainable: whether the block's layers are trainable.
    """

    def __init__(
        self,
        filters: int,
        name: str,
        strides: int = 1,
        bottleneck: bool = False,
        in_channels: int | None = None,
        batch_norm: bool = True,
        trainable: bool = True,
    ) -> None:
        common = dict(batch_norm=batch_norm, trainable=trainable)
        if bottleneck:
            out = 4 * filters
            self.units = [
                ConvUnit(filters, 1, f"{name}_1", **common),
                ConvUnit(filters, 3, f"{name}_2", strides=strides, **common),
                ConvUnit(out, 1, f"{name}_3", activation=False, **common),
            ]
        else:
            out = filters
            self.units = [
                ConvUnit(filters, 3, f"{name}_1", strides=strides, **common),
                ConvUnit(filters, 3, f"{name}_2", activation=False, **common),
            ]
        self.out_channels = out
        self.shortcut = None
        if strides != 1 or in_channels != out:
            self.shortcut = ConvUnit(
                out, 1, f"{name}_shortcut", strides=strides, activation=False, **common
            )
        self.add = layers.Add(name=f"{name}_add")
        self.relu = layers.ReLU(name=f"{name}_out")

    def __call__(
        self, x: keras.KerasTensor, hook: ConvHook | None = None
    ) -> keras.KerasTensor:
        shortcut = x if self.shortcut is None else self.shortcut(x, hook)
        for unit in self.units:
            x = unit(x, hook)
        return self.relu(self.add([x, shortcut]))


class Pool:
    """Max pooling as a stage part (ignores the hook).

    Args:
        pool_size: pooling window.
        name: the layer's name.
        strides: pooling stride (None: `pool_size`).
        padding: `"valid"` or `"same"`.
    """

    def __init__(
        self, pool_size: int, name: str, strides: int | None = None, padding: str = "valid"
    ) -> None:
        self.layer = layers.MaxPooling2D(pool_size, strides=strides, padding=padding, name=name)

    def __call__(
        self, x: keras.KerasTensor, hook: ConvHook | None = None
    ) -> keras.KerasTensor:
        return self.layer(x)


class Stage:
    """A stage made of other stages / units applied in order, with an optional max pooling.

    Args:
        parts: the stage parts (callables `part(x, hook) -> x`), applied in order.
        name: the stage's name (its pooling layer is `<name>_pool`).
        pool: max-pooling window after the parts (None: no pooling).
    """

    def __init__(self, parts: Sequence[StagePart], name: str, pool: int | None = None) -> None:
        self.parts = list(parts)
        self.name = name
        self.pool = layers.MaxPooling2D(pool, name=f"{name}_pool") if pool else None

    def __call__(
        self, x: keras.KerasTensor, hook: ConvHook | None = None
    ) -> keras.KerasTensor:
        for part in self.parts:
            x = part(x, hook)
        return self.pool(x) if self.pool is not None else x


# ---------------------------------------------------------------- VGG and ResNet backbones

VGG_CONFIGS = {
    "vgg11": ((64,), (128,), (256, 256), (512, 512), (512, 512)),
    "vgg16": ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512)),
}
RESNET_CONFIGS = {
    # name: (blocks per stage, bottleneck)
    "resnet18": ((2, 2, 2, 2), False),
    "resnet50": ((3, 4, 6, 3), True),
}


def vgg_stages(
    config: str,
    width_multiplier: float = 1.0,
    batch_norm: bool = True,
    prefix: str = "",
    trainable: bool = True,
) -> list[Stage]:
    """The five conv stages of VGG-11 / VGG-16 (3x3 `same` convs, 2x2 max pooling)."""
    stages = []
    for s, widths in enumerate(VGG_CONFIGS[config], start=1):
        units = [
            ConvUnit(
                scaled(w, width_multiplier),
                3,
                f"{prefix}block{s}_conv{c}",
                batch_norm=batch_norm,
                trainable=trainable,
            )
            for c, w in enumerate(widths, start=1)
        ]
        stages.append(Stage(units, f"{prefix}block{s}", pool=2))
    return stages


def resnet_stages(
    config: str,
    width_multiplier: float = 1.0,
    prefix: str = "",
    trainable: bool = True,
) -> list[Stage]:
    """Stem (7x7/2 conv + BN + ReLU + 3x3/2 max pooling) and the four residual stages."""
    blocks, bottleneck = RESNET_CONFIGS[config]
    stem_width = scaled(64, width_multiplier)
    stem = Stage(
        [ConvUnit(stem_width, 7, f"{prefix}stem", strides=2, batch_norm=True, trainable=trainable)],
        f"{prefix}stem",
    )
    stem.pool = layers.MaxPooling2D(3, strides=2, padding="same", name=f"{prefix}stem_pool")
    stages, channels = [stem], stem_width
    for s, count in enumerate(blocks, start=1):
        width = scaled(64 * 2 ** (s - 1), width_multiplier)
        parts = []
        for b in range(count):
            block = ResidualBlock(
                width,
                f"{prefix}stage{s}_block{b + 1}",
                strides=2 if (b == 0 and s > 1) else 1,
                bottleneck=bottleneck,
                in_channels=channels,
                trainable=trainable,
            )
            channels = block.out_channels
            parts.append(block)
        stages.append(Stage(parts, f"{prefix}stage{s}"))
    return stages


def conv_specs(stage: StagePart) -> list[tuple[int, int]]:
    """`(kernel_size, filters)` of the main-path convs of a stage, in order (no shortcuts)."""
    if isinstance(stage, ConvUnit):
        return [(stage.kernel_size, stage.filters)]
    if isinstance(stage, ResidualBlock):
        return [spec for unit in stage.units for spec in conv_specs(unit)]
    if isinstance(stage, Stage):
        return [spec for part in stage.parts for spec in conv_specs(part)]
    return []


def apply_stages(
    x: keras.KerasTensor, stages: Sequence[StagePart], hook: ConvHook | None = None
) -> list[keras.KerasTensor]:
    """Runs `x` through `stages`; returns every stage's output."""
    outputs = []
    for stage in stages:
        x = stage(x, hook)
        outputs.append(x)
    return outputs


def dense_stack(
    units: Sequence[int], prefix: str, trainable: bool = True, use_bias: bool = True
) -> Callable[[keras.KerasTensor], keras.KerasTensor]:
    """Dense + ReLU layers `<prefix>fc1`, ... (a classifier trunk), as a callable `f(x) -> x`."""
    dense = [
        layers.Dense(
            u, activation="relu", name=f"{prefix}fc{i}", trainable=trainable, use_bias=use_bias
        )
        for i, u in enumerate(units, start=1)
    ]

    def apply(x: keras.KerasTensor) -> keras.KerasTensor:
        for layer in dense:
            x = layer(x)
        return x

    return apply


POOLINGS = ("flatten", "avg")


class FeatureTrunk:
    """Conv stages, then flatten or global average pooling, then shared Dense + ReLU layers.

    The shared part of a classification network (everything before the task heads), built
    once and called on the top stage's output (`trunk(x)`), so that the conv stages can be run
    plain or with modulation in between (the top-down builders). Layers: `<prefix>pool_features`
    and `<prefix>shared_fc1`, `<prefix>shared_fc2`, ...

    Args:
        stages: the conv stages (callables `stage(x, hook) -> x`).
        pooling: `"flatten"` or `"avg"` (global average pooling) after the last stage.
        shared_fc: units of the Dense + ReLU layers after the pooling (may be empty).
        use_bias: whether the Dense layers have biases.
        prefix: prefix of the layer names.
    """

    def __init__(
        self,
        stages: Sequence[StagePart],
        pooling: str,
        shared_fc: Sequence[int],
        use_bias: bool = True,
        prefix: str = "",
    ) -> None:
        self.stages = list(stages)
        pool = layers.Flatten if pooling == "flatten" else layers.GlobalAveragePooling2D
        self.pool = pool(name=f"{prefix}pool_features")
        self.fc = [
            layers.Dense(u, activation="relu", use_bias=use_bias, name=f"{prefix}shared_fc{i}")
            for i, u in enumerate(shared_fc, start=1)
        ]

    @property
    def output_layer(self) -> str:
        """The name of the trunk's last layer: its output is the shared representation."""
        return (self.fc[-1] if self.fc else self.pool).name

    def trunk(self, features: keras.KerasTensor) -> keras.KerasTensor:
        """Pooling and shared Dense layers on the top stage's output `features`."""
        x = self.pool(features)
        for layer in self.fc:
            x = layer(x)
        return x

    def __call__(self, x: keras.KerasTensor) -> keras.KerasTensor:
        """The whole trunk: every stage, then `trunk`."""
        return self.trunk(apply_stages(x, self.stages)[-1])
