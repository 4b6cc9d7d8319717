"""Top-down modulation networks (BU1 -> TD -> BU2) on LeNet, VGG-11, ResNet-18, and baselines."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import layers

from keras_mtl.layers import SelectTaskColumn, TaskEmbedding, TaskModulation, TensorModulation
from keras_mtl.layers.tensor_modulation import CONNECTIVITIES
from keras_mtl.models.blocks import (
    ConvUnit,
    FeatureTrunk,
    Stage,
    StagePart,
    apply_stages,
    conv_specs,
    resnet_stages,
    vgg_stages,
)
from keras_mtl.models.common import (
    build_model,
    check_choice,
    check_positive_int,
    check_width_multiplier,
    layers_between,
    model_inputs,
    resolve_task_names,
    scaled,
)
from keras_mtl.training import MultiTaskModel

BACKBONES = ("lenet", "vgg11", "resnet18")
METHODS = ("top_down", "single_task", "multi_branch", "ch_mod")
TASK_ID_METHODS = ("top_down", "ch_mod")  # the network itself is conditioned on the task id
DEFAULT_INPUT_SHAPES = {"lenet": (28, 28, 1), "vgg11": (224, 224, 3), "resnet18": (224, 224, 3)}
# (shared fc after the conv stages, fc of each branch before its output layer)
DEFAULT_FC = {"lenet": ((50,), (50,)), "vgg11": ((), (4096, 4096)), "resnet18": ((), ())}
# The smallest square input side each backbone takes.
MIN_INPUT_SIZES = {"lenet": 28, "vgg11": 32, "resnet18": 32}


def lenet_stages(
    width_multiplier: float = 1.0, prefix: str = "", trainable: bool = True
) -> list[StagePart]:
    """LeNet's two conv stages (Sener & Koltun): 5x5 conv (10) + 2x2 pool, 5x5 conv (20) + pool.

    `valid` convs without bias and ReLU; 28x28x1 -> 12x12x10 -> 4x4x20 (320 features).

    Args:
        width_multiplier: scales both conv widths.
        prefix: prefix of every layer name (one independent copy per prefix).
        trainable: whether the layers are trainable.
    """
    return [
        Stage(
            [
                ConvUnit(
                    scaled(f, width_multiplier),
                    5,
                    f"{prefix}conv{i}",
                    padding="valid",
                    use_bias=False,
                    trainable=trainable,
                )
            ],
            f"{prefix}stage{i}",
            pool=2,
        )
        for i, f in ((1, 10), (2, 20))
    ]


def _stages(backbone, width_multiplier, prefix=""):
    if backbone == "lenet":
        return lenet_stages(width_multiplier, prefix)
    if backbone == "vgg11":
        return vgg_stages("vgg11", width_multiplier, batch_norm=False, prefix=prefix)
    return resnet_stages("resnet18", width_multiplier, prefix=prefix)


def _recognition(backbone, width_multiplier, shared_fc, use_bias, prefix=""):
    """One recognition network's shared part: conv stages, pooling and shared fc."""
    pooling = "avg" if backbone == "resnet18" else "flatten"
    stages = _stages(backbone, width_multiplier, prefix)
    return FeatureTrunk(stages, pooling, shared_fc, use_bias, prefix)


def _branch(x, branch_fc, num_classes, use_bias, prefix):
    """A task branch: `branch_fc` Dense + ReLU layers and a linear `Dense(num_classes)`."""
    names = []
    for i, u in enumerate(branch_fc, start=1):
        layer = layers.Dense(u, activation="relu", use_bias=use_bias, name=f"{prefix}fc{i}")
        names.append(layer.name)
        x = layer(x)
    out = layers.Dense(num_classes, use_bias=use_bias, name=f"{prefix}out")
    return out(x), names + [out.name]


def _top_down_features(image, task_id, net, num_tasks, connectivity, td_connectivity, use_bias):
    """BU1 -> TD -> BU2 over `net.stages` (BU1 and BU2 are the same layers).

    Returns the top BU2 tensor, the level-0 TD tensor and the TD layer names.
    """
    bu1 = apply_stages(image, net.stages)
    channels = [int(x.shape[-1]) for x in bu1]
    top = tuple(int(d) for d in bu1[-1].shape[1:])
    embedding = TaskEmbedding(num_tasks, top, name="task_embedding")
    td = embedding(task_id)
    mods = [None] * len(bu1)
    for i in reversed(range(len(bu1))):
        if i < len(bu1) - 1:
            h, w = (int(d) for d in bu1[i].shape[1:3])
            td = layers.Resizing(h, w, interpolation="bilinear", name=f"td_upsample{i}")(td)
            # mirror the convs of BU stage i + 1, from its output width back to level i's
            specs = conv_specs(net.stages[i + 1])[::-1]
            widths = [f for _, f in specs[1:]] + [channels[i]]
            for j, ((kernel, _), width) in enumerate(zip(specs, widths, strict=True)):
                td = layers.Conv2D(
                    width,
                    kernel,
                    padding="same",
                    activation="relu",
                    use_bias=use_bias,
                    name=f"td{i}_conv{j + 1}",
                )(td)
        lateral = layers.Conv2D(channels[i], 1, use_bias=use_bias, name=f"lateral_bu{i}")
        td = TensorModulation(td_connectivity, name=f"td_combine{i}")([td, lateral(bu1[i])])
        mods[i] = layers.Conv2D(channels[i], 1, use_bias=use_bias, name=f"lateral_td{i}")(td)
    x = image
    for i, stage in enumerate(net.stages):
        x = TensorModulation(connectivity, name=f"bu2_modulation{i}")([stage(x), mods[i]])
    return x, td, [embedding.name]


def top_down_net(
    num_tasks: int,
    backbone: str = "lenet",
    method: str = "top_down",
    input_shape: Sequence[int] | None = None,
    num_classes: int = 10,
    connectivity: str = "gated",
    td_connectivity: str = "add",
    return_td_map: bool = False,
    width_multiplier: float = 1.0,
    shared_fc: Sequence[int] | None = None,
    branch_fc: Sequence[int] | None = None,
    task_input: bool = True,
    task_names: Sequence[str] | None = None,
    name: str | None = None,
) -> MultiTaskModel:
    """The top-down modulation network of Levi & Ullman, or one of its baselines.

    Backbones (split in conv stages and a classifier, Sec. 4.2): `"lenet"` (Multi-MNIST,
    28x28x1: 5x5 conv 10, 5x5 conv 20, fc 50, no biases as in Table 5a), `"vgg11"` (CLEVR;
    no BatchNorm) and `"resnet18"` (CUB-200). `method`:

    - `"top_down"`: BU1 and BU2 are the *same* conv stages (shared weights). A
      `TaskEmbedding` (one tensor of the top stage's shape per task: 4x4x20 = 320 for LeNet)
      starts the TD stream; from the top down, each level combines the TD tensor with a
      lateral 1x1 conv of the BU1 stage output (`td_connectivity`, additive by default),
      emits the modulation tensor through a 1x1 conv (lateral TD -> BU2), and goes one level
      down by bilinear upsampling and the mirrored convs of the BU stage. Each BU2 stage
      output is modulated (`connectivity`; gated `X + X * sigmoid(Z)`, Eq. 3, by default).
      One classifier (shared fc + one branch) on BU2 serves every task.
    - `"single_task"`: one independent network (conv stages, fc, branch) per task
      (`<task>_...`), the sample's own selected.
    - `"multi_branch"`: hard sharing ("uniform scaling"): shared conv stages and fc, one
      branch per task (`branch_<task>_...`), the sample's own selected. The last shared
      layer (the shared fc, or the pooled features without one) is the model's
      `representation_layer`, for `compile(probe="representation")` (MGDA-UB's shortcut).
    - `"ch_mod"`: channel modulation (Zhao et al.): one shared network and classifier with a
      `TaskModulation` (scale) after each conv stage.

    With `task_input=False` the model is built for the setting where every sample is
    labelled for every task (Multi-MNIST: every image is labelled for every corner digit, the
    multi-branch baseline of Sener & Koltun): input `image` only, and every branch's logits
    as a dict keyed by task name, trained with `fit(x, {task_name: labels})` (a missing
    label, -1 or NaN, leaves the sample out of that task). Only `"multi_branch"` and
    `"single_task"` can be built so: `"top_down"` and `"ch_mod"` condition the network on the
    task id.

    Parameter counts, LeNet (Table 5a, K tasks): backbone 21,250 and each branch 3,000
    exactly; single-task 24,250 per task; multi-branch 21,250 + 3,000 K; ch-mod
    24,250 + 30 K; top-down 21,250 + 3,000 + 6,000 (TD conv 5,000 + four 1x1 laterals 1,000;
    paper: 6,651) + 320 K. See `docs/guides/models.md` for VGG-11 / ResNet-18.

    Reference:
        Levi, Ullman. "Multi-task learning by a top-down control network". Sec. 3.2-3.3
        (Eq. 3, Fig. 1d, 3c), Sec. 4 (baselines), Table 2c (connectivity), Appendix A and
        Table 5 (architecture and parameter counts).

    Args:
        num_tasks: number of tasks.
        backbone: `"lenet"`, `"vgg11"` or `"resnet18"`.
        method: `"top_down"`, `"single_task"`, `"multi_branch"` or `"ch_mod"`.
        input_shape: `(height, width, channels)`; default (28, 28, 1) for LeNet, (224, 224, 3)
            otherwise.
        num_classes: outputs of the classifier (the same for every task).
        connectivity: TD -> BU2 modulation, `"gated"`, `"multiply"` or `"add"` (top-down).
        td_connectivity: BU1 -> TD lateral combination (top-down).
        return_td_map: also output `"td_map"`, a 1x1 conv of the lowest TD tensor to one channel
            (logits of an attention / localisation map for an auxiliary loss, Sec. 4.3.4).
        width_multiplier: scales every conv width.
        shared_fc: units of the fc layers shared by all tasks after the conv stages
            (default LeNet (50,), else ()).
        branch_fc: hidden units of each branch before its output layer (default LeNet
            (50,), VGG-11 (4096, 4096), ResNet-18 ()).
        task_input: whether the model takes a `task_id` input (one task per sample). False:
            every sample labelled for every task, input `image` only and one output per task
            (`"multi_branch"` and `"single_task"` only).
        task_names: optional task names; default `task_0`, ...
        name: model name; default `<method>_<backbone>`.

    Returns:
        A `MultiTaskModel` with inputs `{"image", "task_id"}` and output `"logits"`
        `(batch, num_classes)`, the sample's prediction for its own task; with
        `return_td_map` a dict `{"logits": ..., "td_map": (batch, h0, w0, 1)}` (top-down
        only). With `task_input=False`: input `{"image"}` and a dict output
        `{task_name: (batch, num_classes) logits}`.

    Example:

    >>> model = top_down_net(2, backbone="lenet", method="top_down")
    >>> model.count_params()  # 21,250 + 3,000 + 6,000 + 2 x 320
    30890
    >>> model = top_down_net(4, method="multi_branch", task_input=False)
    >>> sorted(model.output), model.representation_layer
    (['task_0', 'task_1', 'task_2', 'task_3'], 'shared_fc1')
    """
    task_names = resolve_task_names(num_tasks, task_names)
    check_choice("backbone", backbone, BACKBONES)
    check_choice("method", method, METHODS)
    check_choice("connectivity", connectivity, CONNECTIVITIES)
    check_choice("td_connectivity", td_connectivity, CONNECTIVITIES)
    check_positive_int("num_classes", num_classes)
    width_multiplier = check_width_multiplier(width_multiplier)
    if return_td_map and method != "top_down":
        raise ValueError(
            "Expected `return_td_map=True` only with method='top_down' (the baselines have no "
            f"TD stream). Received: method={method!r}, return_td_map=True"
        )
    if not task_input and method in TASK_ID_METHODS:
        raise ValueError(
            f"Expected `task_input=True` for method={method!r}: its network is conditioned on "
            "the task id. Without a task input (every sample labelled for every task) use "
            f"method='multi_branch' or 'single_task'. Received: method={method!r}, "
            "task_input=False"
        )
    input_shape = tuple(input_shape or DEFAULT_INPUT_SHAPES[backbone])
    minimum = MIN_INPUT_SIZES[backbone]
    if min(input_shape[:2]) < minimum:
        raise ValueError(
            f"Expected `input_shape` of at least {minimum}x{minimum} for backbone="
            f"{backbone!r}. Received: input_shape={input_shape}"
        )
    shared_fc = tuple(DEFAULT_FC[backbone][0] if shared_fc is None else shared_fc)
    branch_fc = tuple(DEFAULT_FC[backbone][1] if branch_fc is None else branch_fc)
    use_bias = backbone != "lenet"
    inputs = model_inputs(input_shape, len(task_names), task_input)
    image, task_id = inputs.image, inputs.task_id
    n = len(task_names)
    specific: list[str] = []
    outputs = {}
    representation = None

    if method == "single_task":
        columns = []
        for t in task_names:
            net = _recognition(backbone, width_multiplier, shared_fc, use_bias, f"{t}_")
            logits, _ = _branch(net(image), branch_fc, num_classes, use_bias, f"{t}_branch_")
            columns.append(logits)
        outputs = _task_outputs(columns, task_id, task_names)
        # every layer of a single-task network belongs to its task
        specific = layers_between([image], columns)
    else:
        net = _recognition(backbone, width_multiplier, shared_fc, use_bias)
        if method == "top_down":
            top, td, names = _top_down_features(
                image, task_id, net, n, connectivity, td_connectivity, use_bias
            )
            specific += names
            if return_td_map:
                outputs["td_map"] = layers.Conv2D(1, 1, name="td_map")(td)
        elif method == "ch_mod":
            x = image
            for i, stage in enumerate(net.stages):
                mod = TaskModulation(n, mode="scale", name=f"ch_mod{i}")
                x = mod([stage(x), task_id])
                specific.append(mod.name)
            top = x
        else:
            top = apply_stages(image, net.stages)[-1]
        x = net.trunk(top)
        if method == "multi_branch":
            columns = []
            for t in task_names:
                logits, names = _branch(x, branch_fc, num_classes, use_bias, f"branch_{t}_")
                columns.append(logits)
                specific += names
            outputs = _task_outputs(columns, task_id, task_names)
            representation = net.output_layer
        else:
            logits, _ = _branch(x, branch_fc, num_classes, use_bias, "branch_")
            outputs["logits"] = layers.Identity(name="logits")(logits)

    result = outputs if len(outputs) > 1 or task_id is None else outputs["logits"]
    return build_model(
        inputs, result, task_names, specific, name or f"{method}_{backbone}", representation
    )


def _task_outputs(
    columns: list[keras.KerasTensor], task_id: keras.KerasTensor | None, task_names: list[str]
) -> dict[str, keras.KerasTensor]:
    """`{"logits": the sample's own column}`, or `{task: column}` without task ids."""
    if task_id is None:
        return dict(zip(task_names, columns, strict=True))
    if len(columns) == 1:
        return {"logits": layers.Identity(name="logits")(columns[0])}
    return {"logits": SelectTaskColumn(len(columns), name="logits")([columns, task_id])}


def top_down_lenet(num_tasks: int, **kwargs: Any) -> MultiTaskModel:
    """`top_down_net(num_tasks, backbone="lenet", **kwargs)` (Multi-MNIST, Table 1 / 5a).

    Args:
        num_tasks: number of tasks.
        **kwargs: the other arguments of `top_down_net` (not `backbone`).
    """
    return top_down_net(num_tasks, backbone="lenet", **kwargs)


def top_down_vgg11(num_tasks: int, **kwargs: Any) -> MultiTaskModel:
    """`top_down_net(num_tasks, backbone="vgg11", **kwargs)` (CLEVR, Table 3 / 5b).

    Args:
        num_tasks: number of tasks.
        **kwargs: the other arguments of `top_down_net` (not `backbone`).
    """
    return top_down_net(num_tasks, backbone="vgg11", **kwargs)


def top_down_resnet18(num_tasks: int, **kwargs: Any) -> MultiTaskModel:
    """`top_down_net(num_tasks, backbone="resnet18", **kwargs)` (CUB-200, Table 4).

    Args:
        num_tasks: number of tasks.
        **kwargs: the other arguments of `top_down_net` (not `backbone`).
    """
    return top_down_net(num_tasks, backbone="resnet18", **kwargs)
