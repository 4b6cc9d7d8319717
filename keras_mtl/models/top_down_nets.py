"""Top-down modulation networks (BU1 -> TD -> BU2) on LeNet, VGG-11, ResNet-18, and baselines."""

from collections.abc import Sequence

from keras import layers

from keras_mtl.layers import SelectTaskColumn, TaskEmbedding, TaskModulation, TensorModulation
from keras_mtl.layers.tensor_modulation import CONNECTIVITIES
from keras_mtl.models.blocks import (
    ConvUnit,
    Stage,
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

BACKBONES = ("lenet", "vgg11", "resnet18")
METHODS = ("top_down", "single_task", "multi_branch", "ch_mod")
DEFAULT_INPUT_SHAPES = {"lenet": (28, 28, 1), "vgg11": (224, 224, 3), "resnet18": (224, 224, 3)}
# (shared fc after the conv stages, fc of each branch before its output layer)
DEFAULT_FC = {"lenet": ((50,), (50,)), "vgg11": ((), (4096, 4096)), "resnet18": ((), ())}
# The smallest square input side each backbone takes.
MIN_INPUT_SIZES = {"lenet": 28, "vgg11": 32, "resnet18": 32}


def lenet_stages(width_multiplier: float = 1.0, prefix: str = "", trainable: bool = True):
    """LeNet's two conv stages (Sener & Koltun): 5x5 conv (10) + 2x2 pool, 5x5 conv (20) + pool.

    `valid` convs without bias and ReLU; 28x28x1 -> 12x12x10 -> 4x4x20 (320 features).
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


class _Recognition:
    """The parts of one recognition network: conv stages, shared fc, and its classifier."""

    def __init__(self, backbone, width_multiplier, shared_fc, use_bias, prefix=""):
        self.backbone = backbone
        self.stages = _stages(backbone, width_multiplier, prefix)
        pool = layers.Flatten if backbone != "resnet18" else layers.GlobalAveragePooling2D
        self.pool = pool(name=f"{prefix}pool_features")
        self.fc = [
            layers.Dense(u, activation="relu", use_bias=use_bias, name=f"{prefix}shared_fc{i}")
            for i, u in enumerate(shared_fc, start=1)
        ]

    def trunk(self, features):
        x = self.pool(features)
        for layer in self.fc:
            x = layer(x)
        return x


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
    td_output: bool = False,
    width_multiplier: float = 1.0,
    shared_fc: Sequence[int] | None = None,
    branch_fc: Sequence[int] | None = None,
    task_names: Sequence[str] | None = None,
    name: str | None = None,
):
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
      branch per task (`branch_<task>_...`), the sample's own selected.
    - `"ch_mod"`: channel modulation (Zhao et al.): one shared network and classifier with a
      `TaskModulation` (scale) after each conv stage.

    Parameter counts, LeNet (Table 5a, K tasks): backbone 21,250 and each branch 3,000
    exactly; single-task 24,250 per task; multi-branch 21,250 + 3,000 K; ch-mod
    24,250 + 30 K; top-down 21,250 + 3,000 + 6,000 (TD conv 5,000 + four 1x1 laterals 1,000;
    paper: 6,651) + 320 K. See `docs/readme_sections/models.md` for VGG-11 / ResNet-18.

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
        td_output: also output `"td_map"`, a 1x1 conv of the lowest TD tensor to one channel
            (logits of an attention / localisation map for an auxiliary loss, Sec. 4.3.4).
        width_multiplier: scales every conv width.
        shared_fc: units of the fc layers shared by all tasks after the conv stages
            (default LeNet (50,), else ()).
        branch_fc: hidden units of each branch before its output layer (default LeNet
            (50,), VGG-11 (4096, 4096), ResNet-18 ()).
        task_names: optional task names; default `task_0`, ...
        name: model name; default `<method>_<backbone>`.

    Returns:
        A `MultiTaskModel` with inputs `{"image", "task_id"}` and output `"logits"`
        `(batch, num_classes)`, the sample's prediction for its own task; with `td_output`
        a dict `{"logits": ..., "td_map": (batch, h0, w0, 1)}` (top-down only).

    Example:

    >>> model = top_down_net(2, backbone="lenet", method="top_down")
    >>> model.count_params()  # 21,250 + 3,000 + 6,000 + 2 x 320
    30890
    """
    task_names = resolve_task_names(num_tasks, task_names)
    check_choice("backbone", backbone, BACKBONES)
    check_choice("method", method, METHODS)
    check_choice("connectivity", connectivity, CONNECTIVITIES)
    check_choice("td_connectivity", td_connectivity, CONNECTIVITIES)
    check_positive_int("num_classes", num_classes)
    width_multiplier = check_width_multiplier(width_multiplier)
    if td_output and method != "top_down":
        raise ValueError(
            "Expected `td_output=True` only with method='top_down' (the baselines have no TD "
            f"stream). Received: method={method!r}, td_output=True"
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
    image, task_id = model_inputs(input_shape)
    n = len(task_names)
    specific: list[str] = []
    outputs = {}

    if method == "single_task":
        columns = []
        for t in task_names:
            net = _Recognition(backbone, width_multiplier, shared_fc, use_bias, f"{t}_")
            x = net.trunk(apply_stages(image, net.stages)[-1])
            columns.append(_branch(x, branch_fc, num_classes, use_bias, f"{t}_branch_")[0])
        outputs["logits"] = _select(columns, task_id, n)
        # every layer of a single-task network belongs to its task
        specific = layers_between([image], columns)
    else:
        net = _Recognition(backbone, width_multiplier, shared_fc, use_bias)
        if method == "top_down":
            top, td, names = _top_down_features(
                image, task_id, net, n, connectivity, td_connectivity, use_bias
            )
            specific += names
            if td_output:
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
            outputs["logits"] = _select(columns, task_id, n)
        else:
            logits, _ = _branch(x, branch_fc, num_classes, use_bias, "branch_")
            outputs["logits"] = layers.Identity(name="logits")(logits)

    result = outputs if len(outputs) > 1 else outputs["logits"]
    return build_model(image, task_id, result, task_names, specific, name or f"{method}_{backbone}")


def _select(columns, task_id, num_tasks):
    if num_tasks == 1:
        return layers.Identity(name="logits")(columns[0])
    return SelectTaskColumn(num_tasks, name="logits")([columns, task_id])


def top_down_lenet(num_tasks: int, **kwargs):
    """`top_down_net(num_tasks, backbone="lenet", **kwargs)` (Multi-MNIST, Table 1 / 5a)."""
    return top_down_net(num_tasks, backbone="lenet", **kwargs)


def top_down_vgg11(num_tasks: int, **kwargs):
    """`top_down_net(num_tasks, backbone="vgg11", **kwargs)` (CLEVR, Table 3 / 5b)."""
    return top_down_net(num_tasks, backbone="vgg11", **kwargs)


def top_down_resnet18(num_tasks: int, **kwargs):
    """`top_down_net(num_tasks, backbone="resnet18", **kwargs)` (CUB-200, Table 4)."""
    return top_down_net(num_tasks, backbone="resnet18", **kwargs)
