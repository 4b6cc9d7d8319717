"""Zhao et al. Table 2 retrieval network, with the modulation module and every baseline."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import layers

from keras_mtl.layers import (
    CrossStitch,
    SelectTaskColumn,
    TaskModulation,
)
from keras_mtl.layers.types import Tensor
from keras_mtl.models.blocks import ConvUnit, Pool, ResidualBlock, Stage, StagePart
from keras_mtl.models.common import (
    build_model,
    check_choice,
    check_positive_int,
    check_width_multiplier,
    layers_between,
    model_inputs,
    resolve_task_names,
    routing_hook,
    scaled,
)
from keras_mtl.training import MultiTaskModel

METHODS = (
    "modulation",
    "fsn",
    "itn",
    "ib",
    "csn",
    "only_mask",
    "routing",
    "cross_stitch",
)
ZHAO_STAGES = ("conv1", "block2", "block3", "block4", "block5", "fc")
MODULATE_FROM = ("block2", "block3", "block4", "block5", "fc")
ZHAO_WIDTHS = (32, 64, 128, 128, 128)
# The smallest square input the Table 2 network takes: five valid 3x3 convs and four stride-2
# poolings leave a 1x1 map at 48x48 (and nothing at 47x47).
ZHAO_MIN_INPUT_SIZE = 48
CSN_MASKS = ("fixed", "learned")


@keras.saving.register_keras_serializable(package="keras_mtl")
class DisjointMasks(keras.initializers.Initializer):
    """CSN's fixed masks (Veit et al.): task t keeps its own block of `C // T` dimensions.

    Initialises a `(num_tasks, C)` tensor with ones on `[t * C // T, (t + 1) * C // T)` in row
    t and zeros elsewhere (dimensions left over by the division are used by no task).

    Example:

    >>> import numpy as np
    >>> np.asarray(DisjointMasks()((2, 5))).tolist()
    [[1.0, 1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0, 0.0]]
    """

    def __call__(self, shape: Sequence[int], dtype: str | None = None) -> Tensor:
        if len(shape) != 2 or shape[1] < shape[0]:
            raise ValueError(
                "Expected a shape (num_tasks, C) with C >= num_tasks for DisjointMasks. "
                f"Received: shape={tuple(shape)}"
            )
        num_tasks, channels = shape
        block = channels // num_tasks
        masks = np.zeros((num_tasks, channels), "float32")
        for t in range(num_tasks):
            masks[t, t * block : (t + 1) * block] = 1.0
        return keras.ops.convert_to_tensor(masks, dtype=dtype)


class _FlattenDense:
    """The Table 2 `fc` stage: flatten, then a linear Dense(embedding_dim)."""

    def __init__(self, units: int, name: str, trainable: bool) -> None:
        self.flatten = layers.Flatten(name=f"{name}_flatten")
        self.dense = layers.Dense(units, name=name, trainable=trainable)

    def __call__(self, x: keras.KerasTensor, hook: object = None) -> keras.KerasTensor:
        return self.dense(self.flatten(x))


def zhao_conv_stages(
    width_multiplier: float = 1.0, prefix: str = "", trainable: bool = True
) -> list[StagePart]:
    """The five conv stages of Zhao et al. Table 2: conv1, block2..block5.

    conv1 is a 3x3 `valid` conv; each block is a 3x3 `valid` conv, a 2x2 stride-2 max pooling
    and a residual block of two 3x3 `same` convs (identity shortcut); all convs have biases and
    ReLU, no BatchNorm (not in the paper; it also keeps the grouped gradient probe exact).
    150x150 input: 148x148x32, 73x73x64, 35x35x128, 16x16x128, 7x7x128.

    Args:
        width_multiplier: scales every conv width (1.0 in the paper).
        prefix: prefix of every layer name (one independent copy per prefix).
        trainable: whether the layers are trainable.
    """
    w = [scaled(f, width_multiplier) for f in ZHAO_WIDTHS]
    stages = [ConvUnit(w[0], 3, f"{prefix}conv1", padding="valid", trainable=trainable)]
    for b, width in zip(range(2, 6), w[1:], strict=True):
        name = f"{prefix}block{b}"
        parts = [
            ConvUnit(width, 3, f"{name}_conv", padding="valid", trainable=trainable),
            Pool(2, f"{name}_pool"),
            ResidualBlock(
                width, f"{name}_res", in_channels=width, batch_norm=False, trainable=trainable
            ),
        ]
        stages.append(Stage(parts, name))
    return stages


def zhao_stages(
    width_multiplier: float = 1.0,
    embedding_dim: int = 256,
    prefix: str = "",
    trainable: bool = True,
) -> list[StagePart]:
    """The six stages of Zhao et al. Table 2: conv1, block2..block5 (`zhao_conv_stages`), fc.

    fc flattens the block5 output and applies a linear `Dense(embedding_dim)` (256 in the
    paper), the embedding.

    Args:
        width_multiplier: scales every conv width (1.0 in the paper).
        embedding_dim: units of fc.
        prefix: prefix of every layer name (one independent copy per prefix).
        trainable: whether the layers are trainable.
    """
    stages = zhao_conv_stages(width_multiplier, prefix, trainable)
    stages.append(_FlattenDense(embedding_dim, f"{prefix}fc", trainable))
    return stages


def check_zhao_input_shape(input_shape: Sequence[int]) -> None:
    """Raises `ValueError` for an input smaller than 48x48 (too small for Table 2's stages)."""
    sizes = []
    for d in tuple(input_shape)[:2]:
        d -= 2
        for _ in range(4):
            d = (d - 2) // 2
        sizes.append(d)
    if min(sizes) < 1:
        raise ValueError(
            f"Expected `input_shape` of at least {ZHAO_MIN_INPUT_SIZE}x{ZHAO_MIN_INPUT_SIZE} for "
            "the Table 2 network (five valid 3x3 "
            f"convs and four stride-2 poolings). Received: input_shape={tuple(input_shape)}"
        )


def zhao_retrieval_net(
    num_tasks: int,
    method: str = "modulation",
    input_shape: Sequence[int] = (150, 150, 3),
    embedding_dim: int = 256,
    modulation_mode: str = "scale",
    modulate_from: str | int = "block4",
    branch_dim: int = 256,
    csn_masks: str = "fixed",
    sharing_ratio: float = 0.5,
    routing_seed: int = 0,
    granularity: str = "layer",
    same_init: float = 0.9,
    width_multiplier: float = 1.0,
    task_names: Sequence[str] | None = None,
    name: str | None = None,
) -> MultiTaskModel:
    """The Table 2 retrieval network of Zhao et al. with one multi-task method.

    Backbone (Table 2): conv1, block2..block5 (3x3 conv, stride-2 pool, residual block of two
    3x3 convs), fc (the embedding); see `zhao_stages`. `method` selects the Table 3 / Table 5
    row (20 tasks, default sizes; `count_params()` includes non-trainable masks):

    - `"modulation"` (Ours): a `TaskModulation` on the output of every stage from
      `modulate_from` through fc; from block4: +20 x (128 + 128 + 256) = 10,240 (Table 3
      "10k"); Table 5 rows "from block5/4/3/2"; `modulation_mode="projection"` is the
      "channel-wise projection" row.
    - `"fsn"`: single fully-shared network, 2,953,664 parameters (Table 3 "3M").
    - `"itn"`: independent task networks, one full copy per task (columns `<task>_...`),
      the sample's own column selected by task id: +19 x 2,953,664 = 56.1M (paper "51M").
    - `"ib"`: independent branches after fc: shared fc (256) + ReLU, then per task a
      `Dense(branch_dim)` branch (`branch_<task>`): +20 x (256 k + k) = 1,315,840 for
      k = 256 (IB-256, "1.3M") and 128,500 for k = 25 (IB-25, "128k").
    - `"csn"`: Conditional Similarity Network (Veit et al.): the embedding multiplied by a
      per-task mask (`csn_masks`): `"fixed"` disjoint blocks of `embedding_dim // T`
      dimensions (non-trainable), or `"learned"` (init N(0.9, 0.7), kept non-negative);
      20 x 256 = 5,120 mask entries (paper "3k").
    - `"only_mask"`: the modulation network with every shared layer frozen
      (`trainable=False`): only the modulation (10,240) trains. Start it from a trained IB or
      FSN model with `copy_weights_by_layer_name` (shared layers carry the same names).
    - `"routing"`: a `TaskRouting` after every conv (conv -> TRL -> ReLU; Strezoski et al.)
      with `sharing_ratio`, seeds `routing_seed + i`; no extra trainable parameters.
    - `"cross_stitch"`: one column per task and a `CrossStitch` unit after conv1, each block
      and fc (`granularity`, `same_init`), the sample's own column selected by task id.

    Reference:
        Zhao, Li, Shen, Liang, Wu. "A Modulation Module for Multi-task Learning with
        Applications in Image Retrieval". ECCV 2018. Table 2 (network), Table 3 (methods and
        parameter counts), Table 5 (ablation of `modulate_from` / projection).

    Args:
        num_tasks: number of tasks (conditions), >= 2 for `"cross_stitch"`.
        method: one of `"modulation"`, `"fsn"`, `"itn"`, `"ib"`, `"csn"`, `"only_mask"`,
            `"routing"`, `"cross_stitch"`.
        input_shape: `(height, width, channels)`, at least 48x48; (150, 150, 3) in the paper.
        embedding_dim: units of fc, the embedding (256).
        modulation_mode: `"scale"` (Eq. 5) or `"projection"` (Eq. 4), for `"modulation"` and
            `"only_mask"`.
        modulate_from: first modulated stage, `"block2"`..`"block5"` or `"fc"` (or the int
            2..5); for `"modulation"` and `"only_mask"`.
        branch_dim: k of IB-k (256 or 25 in the paper), for `"ib"`.
        csn_masks: `"fixed"` or `"learned"`, for `"csn"`.
        sharing_ratio: fraction of units each task keeps, for `"routing"` (1 = hard sharing).
        routing_seed: seed of the first routing layer's masks, for `"routing"`.
        granularity: `"layer"` (one T x T unit) or `"channel"` (one per channel) cross-stitch
            units, for `"cross_stitch"`.
        same_init: initial weight of a column onto itself in every stitch unit
            (off-diagonal `(1 - same) / (T - 1)`), for `"cross_stitch"`.
        width_multiplier: scales every conv width (1.0 in the paper; small for tests).
        task_names: optional task names (identifiers); default `task_0`, `task_1`, ...
        name: model name; default `zhao_<method>`.

    Returns:
        A `MultiTaskModel` with inputs `{"image": (batch, H, W, C) float32, "task_id": (batch,)
        int32}` and one output `"embedding"`: `(batch, embedding_dim)` (`(batch, branch_dim)`
        for `"ib"`), the sample's embedding under its own task, for a triplet loss.

    Example:

    >>> model = zhao_retrieval_net(num_tasks=20, method="modulation")
    >>> model.count_params() - zhao_retrieval_net(20, method="fsn").count_params()
    10240
    """
    task_names = resolve_task_names(num_tasks, task_names)
    check_choice("method", method, METHODS)
    if isinstance(modulate_from, int) and not isinstance(modulate_from, bool):
        modulate_from = f"block{modulate_from}"
    check_choice("modulate_from", modulate_from, MODULATE_FROM)
    check_choice("modulation_mode", modulation_mode, ("scale", "projection"))
    check_choice("csn_masks", csn_masks, CSN_MASKS)
    check_choice("granularity", granularity, ("layer", "channel"))
    check_positive_int("embedding_dim", embedding_dim)
    check_positive_int("branch_dim", branch_dim)
    width_multiplier = check_width_multiplier(width_multiplier)
    if method == "cross_stitch" and num_tasks < 2:
        raise ValueError(
            "Expected `num_tasks` >= 2 for method='cross_stitch' (one column per task). "
            f"Received: num_tasks={num_tasks}"
        )
    if method == "csn" and embedding_dim < num_tasks:
        raise ValueError(
            "Expected `embedding_dim` >= `num_tasks` for method='csn' (one mask block per "
            f"task). Received: embedding_dim={embedding_dim}, num_tasks={num_tasks}"
        )
    check_zhao_input_shape(input_shape)
    inputs = model_inputs(input_shape, len(task_names))
    image, task_id = inputs.image, inputs.task_id
    num_tasks = len(task_names)
    specific: list[str] = []

    def stages(prefix: str = "", trainable: bool = True) -> list[StagePart]:
        return zhao_stages(width_multiplier, embedding_dim, prefix, trainable)

    if method in ("itn", "cross_stitch"):
        columns = [stages(prefix=f"{t}_") for t in task_names]
        xs = [image] * num_tasks
        for s, stage_name in enumerate(ZHAO_STAGES):
            xs = [column[s](x) for column, x in zip(columns, xs, strict=True)]
            if method == "cross_stitch":
                stitch = CrossStitch(
                    num_tasks,
                    granularity=granularity,
                    same_init=same_init,
                    name=f"cross_stitch_{stage_name}",
                )
                xs = stitch(xs)
        embedding = SelectTaskColumn(num_tasks, name="embedding")([xs, task_id])
        specific = layers_between([image], xs)  # every column layer (and stitch)
    else:
        trainable = method != "only_mask"
        hook = None
        if method == "routing":
            hook = routing_hook(num_tasks, task_id, sharing_ratio, routing_seed, specific)

        first = ZHAO_STAGES.index(modulate_from)
        x = image
        for s, stage in enumerate(stages(trainable=trainable)):
            x = stage(x, hook)
            if method in ("modulation", "only_mask") and s >= first:
                layer = TaskModulation(
                    num_tasks, mode=modulation_mode, name=f"modulation_{ZHAO_STAGES[s]}"
                )
                x = layer([x, task_id])
                specific.append(layer.name)
        if method == "ib":
            x = layers.ReLU(name="fc_relu")(x)
            branches = [layers.Dense(branch_dim, name=f"branch_{t}") for t in task_names]
            specific += [b.name for b in branches]
            embedding = SelectTaskColumn(num_tasks, name="embedding")(
                [[b(x) for b in branches], task_id]
            )
        else:
            if method == "csn":
                fixed = csn_masks == "fixed"
                layer = TaskModulation(
                    num_tasks,
                    mode="scale",
                    kernel_initializer=DisjointMasks()
                    if fixed
                    else keras.initializers.RandomNormal(0.9, 0.7),
                    kernel_constraint=None if fixed else keras.constraints.NonNeg(),
                    trainable=not fixed,
                    name="csn_masks",
                )
                x = layer([x, task_id])
                specific.append(layer.name)
            embedding = layers.Identity(name="embedding")(x)
    return build_model(inputs, embedding, task_names, specific, name or f"zhao_{method}")
