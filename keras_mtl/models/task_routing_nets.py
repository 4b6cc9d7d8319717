"""Task Routing networks (Strezoski et al., ICCV 2019): VGG-11, VGG-16 and ResNet-50."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from keras import layers

from keras_mtl.models.blocks import apply_stages, dense_stack, resnet_stages, vgg_stages
from keras_mtl.models.common import (
    build_model,
    check_choice,
    check_positive_int,
    check_width_multiplier,
    model_inputs,
    resolve_task_names,
    routing_hook,
    selected_heads,
)
from keras_mtl.training import MultiTaskModel

BACKBONES = ("vgg11", "vgg16", "resnet50")


def task_routing_net(
    num_tasks: int,
    backbone: str = "vgg11",
    input_shape: Sequence[int] = (224, 224, 3),
    num_classes: int = 1,
    sharing_ratio: float = 0.5,
    routing_seed: int = 0,
    width_multiplier: float = 1.0,
    shared_fc: Sequence[int] = (4096, 4096),
    task_names: Sequence[str] | None = None,
    name: str | None = None,
) -> MultiTaskModel:
    """A VGG or ResNet with a Task Routing Layer after every conv and one head per task.

    Every conv is followed by BatchNorm, a `TaskRouting` layer and ReLU (conv -> BN -> TRL ->
    ReLU, the placement of Strezoski et al.; in residual blocks the last conv's TRL comes
    before the addition, and projection shortcuts are routed too). VGG: the five conv stages,
    flatten, `shared_fc` Dense + ReLU layers (the VGG classifier trunk, not routed); ResNet-50:
    the bottleneck stages and global average pooling. Then one `Dense(num_classes)` head per
    task (`head_<task>`, logits; 1 unit = a binary attribute, the paper's set-up).
    `sharing_ratio=1.0` reverts to hard sharing (every unit active for every task), 0.0 keeps
    a single unit per task; each TRL draws its masks with seed `routing_seed + i`.

    Reference:
        Strezoski, van Noord, Worring. "Many Task Learning with Task Routing". ICCV 2019.
        Sec. 3 and 4 (VGG-11 / VGG-16 / ResNet-50 with a TRL after each conv), Tables 2-3.

    Args:
        num_tasks: number of tasks.
        backbone: `"vgg11"`, `"vgg16"` or `"resnet50"`.
        input_shape: `(height, width, channels)`, at least 32x32.
        num_classes: outputs of each task head (1 for binary attributes).
        sharing_ratio: float in [0, 1], fraction of units each task keeps (see `TaskRouting`).
        routing_seed: seed of the first TRL's masks.
        width_multiplier: scales every conv width (1.0 = the standard network).
        shared_fc: units of the VGG classifier's hidden Dense + ReLU layers `fc1`, `fc2`, ...,
            shared by all tasks (ignored for ResNet-50).
        task_names: optional task names (identifiers); default `task_0`, ...
        name: model name; default `task_routing_<backbone>`.

    Returns:
        A `MultiTaskModel` with inputs `{"image", "task_id"}` and one output `"logits"` of shape
        `(batch, num_classes)`: each sample's own task head (all heads run, `SelectTaskColumn`
        keeps the sample's), so a per-task loss groups rows by `task_id`.

    Example:

    >>> model = task_routing_net(40, backbone="vgg11", input_shape=(64, 64, 3),
    ...                          width_multiplier=0.25, shared_fc=(128,))
    >>> model.output_names
    ['logits']
    """
    task_names = resolve_task_names(num_tasks, task_names)
    check_choice("backbone", backbone, BACKBONES)
    check_positive_int("num_classes", num_classes)
    width_multiplier = check_width_multiplier(width_multiplier)
    if min(tuple(input_shape)[:2]) < 32:
        raise ValueError(
            "Expected `input_shape` of at least 32x32 (five stride-2 stages). "
            f"Received: input_shape={tuple(input_shape)}"
        )
    inputs = model_inputs(input_shape, len(task_names))
    image, task_id = inputs.image, inputs.task_id
    specific: list[str] = []
    hook = routing_hook(len(task_names), task_id, sharing_ratio, routing_seed, specific)
    if backbone.startswith("vgg"):
        stages = vgg_stages(backbone, width_multiplier, batch_norm=True)
        x = apply_stages(image, stages, hook)[-1]
        x = layers.Flatten(name="flatten")(x)
        x = dense_stack(shared_fc, prefix="")(x)
    else:
        x = apply_stages(image, resnet_stages(backbone, width_multiplier), hook)[-1]
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    logits, heads = selected_heads(x, task_id, task_names, num_classes)
    return build_model(
        inputs, logits, task_names, heads + specific, name or f"task_routing_{backbone}"
    )


def task_routing_vgg11(num_tasks: int, **kwargs: Any) -> MultiTaskModel:
    """`task_routing_net(num_tasks, backbone="vgg11", **kwargs)` (Strezoski et al.).

    Args:
        num_tasks: number of tasks.
        **kwargs: the other arguments of `task_routing_net` (not `backbone`).
    """
    return task_routing_net(num_tasks, backbone="vgg11", **kwargs)


def task_routing_vgg16(num_tasks: int, **kwargs: Any) -> MultiTaskModel:
    """`task_routing_net(num_tasks, backbone="vgg16", **kwargs)` (Strezoski et al.).

    Args:
        num_tasks: number of tasks.
        **kwargs: the other arguments of `task_routing_net` (not `backbone`).
    """
    return task_routing_net(num_tasks, backbone="vgg16", **kwargs)


def task_routing_resnet50(num_tasks: int, **kwargs: Any) -> MultiTaskModel:
    """`task_routing_net(num_tasks, backbone="resnet50", **kwargs)` (Strezoski et al.).

    Args:
        num_tasks: number of tasks.
        **kwargs: the other arguments of `task_routing_net` (not `backbone`).
    """
    return task_routing_net(num_tasks, backbone="resnet50", **kwargs)
