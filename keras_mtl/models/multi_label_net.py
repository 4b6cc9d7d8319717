"""A multi-label classifier: one shared backbone, one binary logit per task (CelebA attributes)."""

from __future__ import annotations

from collections.abc import Sequence

from keras import layers

from keras_mtl.models.blocks import FeatureTrunk, resnet_stages, vgg_stages
from keras_mtl.models.common import (
    build_model,
    check_choice,
    check_positive_int,
    check_width_multiplier,
    model_inputs,
    resolve_task_names,
)
from keras_mtl.models.zhao_retrieval_net import check_zhao_input_shape, zhao_conv_stages
from keras_mtl.training import MultiTaskModel

BACKBONES = ("zhao", "vgg11", "vgg16", "resnet18", "resnet50")
DEFAULT_INPUT_SHAPES = {"zhao": (150, 150, 3)}  # others: (224, 224, 3)
DEFAULT_SHARED_FC = {"zhao": (256,), "vgg11": (4096, 4096), "vgg16": (4096, 4096)}  # others: ()


def multi_label_net(
    num_tasks: int,
    backbone: str = "zhao",
    input_shape: Sequence[int] | None = None,
    shared_fc: Sequence[int] | None = None,
    width_multiplier: float = 1.0,
    task_names: Sequence[str] | None = None,
    name: str | None = None,
) -> MultiTaskModel:
    """A shared backbone with one binary classification head per task, for every sample.

    The hard-sharing model of the setting where every sample is labelled for every task, e.g.
    CelebA's 40 binary face attributes: the image runs through the backbone's conv stages, a
    pooling and the shared Dense + ReLU layers `shared_fc1`, ...; then each task's head
    (`head_<task>`, a linear `Dense(1)`) gives that task's logit. The model has no task-id
    input; its output is a dict `{task_name: (batch, 1) logit}`. Train it with
    `fit(x, {task_name: labels})` and `BinaryCrossentropy(from_logits=True)` per task; a
    missing label (NaN in float labels, -1 in integer labels, or a per-task sample weight of
    0) leaves the sample out of that task's loss and metrics.

    The last shared layer is the model's `representation_layer`, so
    `compile(probe="representation")` gives MGDA-UB's per-task gradients with respect to the
    shared representation (Sener & Koltun) for the price of one backward pass.

    Backbones:

    - `"zhao"`: the conv stages of Zhao et al. Table 2 (conv1, block2..block5, no BatchNorm;
      `zhao_conv_stages`), flatten, and by default one shared fc of 256 units (Table 2's fc,
      followed by a ReLU since a classifier comes next). Input at least 48x48; 150x150x3 by
      default.
    - `"vgg11"`, `"vgg16"`: the VGG conv stages with BatchNorm (as the task-routing nets),
      flatten, shared fc (4096, 4096) by default.
    - `"resnet18"`, `"resnet50"`: the ResNet stem and stages, global average pooling, no
      shared fc by default.

    Parameters (`"zhao"`, T tasks): the conv stages, `F * u + u` for the shared fc on F
    flattened features (F = 7 x 7 x 128 at 150x150 and width 1), and `T * (u + 1)` for the
    heads on its `u` units: 2,953,664 + 40 x 257 = 2,963,944 for CelebA's 40 attributes.

    Reference:
        Zhao et al., ECCV 2018, Table 2 (backbone). Strezoski et al., ICCV 2019 (VGG / ResNet
        on CelebA attributes, one binary head per attribute). Sener, Koltun. "Multi-Task
        Learning as Multi-Objective Optimization". NeurIPS 2018 (hard-sharing baseline,
        MGDA-UB on the shared representation).

    Args:
        num_tasks: number of tasks (binary attributes), >= 1.
        backbone: `"zhao"`, `"vgg11"`, `"vgg16"`, `"resnet18"` or `"resnet50"`.
        input_shape: `(height, width, channels)`; default (150, 150, 3) for `"zhao"`,
            (224, 224, 3) otherwise.
        shared_fc: units of the Dense + ReLU layers shared by all tasks after the pooling
            (default `"zhao"` (256,), VGG (4096, 4096), ResNet ()).
        width_multiplier: scales every conv width (1.0 = the standard network).
        task_names: optional task names (identifiers, e.g. CelebA's attribute names with
            `5_o_Clock_Shadow` renamed); default `task_0`, `task_1`, ...
        name: model name; default `multi_label_<backbone>`.

    Returns:
        A `MultiTaskModel` with input `{"image": (batch, H, W, C) float32}` and a dict
        output `{task_name: (batch, 1)}` of logits, every task's for every sample.

    Example:

    >>> model = multi_label_net(40)
    >>> model.count_params()  # 2,953,664 + 40 x (256 + 1)
    2963944
    >>> model.representation_layer, model.output["task_0"].shape
    ('shared_fc1', (None, 1))
    """
    task_names = resolve_task_names(num_tasks, task_names)
    check_choice("backbone", backbone, BACKBONES)
    width_multiplier = check_width_multiplier(width_multiplier)
    input_shape = tuple(input_shape or DEFAULT_INPUT_SHAPES.get(backbone, (224, 224, 3)))
    shared_fc = tuple(DEFAULT_SHARED_FC.get(backbone, ()) if shared_fc is None else shared_fc)
    for units in shared_fc:
        check_positive_int("shared_fc", units)
    if backbone == "zhao":
        check_zhao_input_shape(input_shape)
        trunk = FeatureTrunk(zhao_conv_stages(width_multiplier), "flatten", shared_fc)
    elif min(input_shape[:2]) < 32:
        raise ValueError(
            f"Expected `input_shape` of at least 32x32 for backbone={backbone!r} (five "
            f"stride-2 stages). Received: input_shape={input_shape}"
        )
    elif backbone.startswith("vgg"):
        stages = vgg_stages(backbone, width_multiplier, batch_norm=True)
        trunk = FeatureTrunk(stages, "flatten", shared_fc)
    else:
        trunk = FeatureTrunk(resnet_stages(backbone, width_multiplier), "avg", shared_fc)

    inputs = model_inputs(input_shape, len(task_names), task_input=False)
    features = trunk(inputs.image)
    heads = [layers.Dense(1, name=f"head_{t}") for t in task_names]
    outputs = {t: head(features) for t, head in zip(task_names, heads, strict=True)}
    return build_model(
        inputs,
        outputs,
        task_names,
        [head.name for head in heads],
        name or f"multi_label_{backbone}",
        representation_layer=trunk.output_layer,
    )
