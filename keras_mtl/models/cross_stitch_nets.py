"""Cross-stitch networks (Misra et al.; Bhuin et al.) and the split-network baseline."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
from keras import layers

from keras_mtl.layers import CrossStitch
from keras_mtl.layers.column_conv2d import ColumnConv2D
from keras_mtl.layers.column_dense import ColumnDense
from keras_mtl.layers.unstack_columns import UnstackColumns
from keras_mtl.models.common import (
    build_model,
    check_choice,
    check_positive_int,
    model_inputs,
    resolve_task_names,
)
from keras_mtl.training import MultiTaskModel

# Bhuin et al. Sec. 5 / TCDCN (Zhang et al. 2014): 40x40 input, four convs, three poolings, fc.
BHUIN_CONVS = ((16, 5), (48, 3), (64, 3), (64, 2))  # (filters, kernel); pooling after 1-3


def _per_task(name: str, value: Any, num_tasks: int, kind: Callable[[Any], bool]) -> list:
    values = list(value) if isinstance(value, list | tuple) else [value] * num_tasks
    if len(values) != num_tasks or not all(kind(v) for v in values):
        raise ValueError(
            f"Expected `{name}` to be one value or {num_tasks} values (one per task). "
            f"Received: {name}={value!r}"
        )
    return values


def _columns_network(
    image: keras.KerasTensor,
    num_tasks: int,
    filters: Sequence[int],
    fc_units: int,
    activation: str,
    stitch: Callable[[keras.KerasTensor, str], keras.KerasTensor] | None = None,
    related_weight: float = 0.0,
    related_form: str = "exp",
) -> tuple[keras.KerasTensor, list[str]]:
    """The Bhuin backbone on `num_tasks` stacked columns; `stitch(x, name)` after each layer.

    Returns the `(batch, T, fc_units)` fc output and the names of the column layers.
    """
    x = layers.Reshape((1,) + tuple(image.shape[1:]), name="add_column_axis")(image)
    x = layers.Concatenate(axis=1, name="columns")([x] * num_tasks) if num_tasks > 1 else x
    names = []
    related = dict(related_weight=related_weight, related_form=related_form)
    for i, ((_, kernel), width) in enumerate(zip(BHUIN_CONVS, filters, strict=True), start=1):
        conv = ColumnConv2D(
            num_tasks, width, kernel, activation=activation, name=f"conv{i}", **related
        )
        names.append(conv.name)
        x = conv(x)
        if i < len(BHUIN_CONVS):
            x = layers.TimeDistributed(layers.MaxPooling2D(2), name=f"pool{i}")(x)
        if stitch is not None:
            x = stitch(x, f"pool{i}" if i < len(BHUIN_CONVS) else f"conv{i}")
    x = layers.Reshape((num_tasks, -1), name="flatten")(x)
    fc = ColumnDense(num_tasks, fc_units, activation=activation, name="fc", **related)
    names.append(fc.name)
    x = fc(x)
    if stitch is not None:
        x = stitch(x, "fc")
    return x, names


def _check_common(num_tasks, task_names, head_units, head_activations, input_shape, filters):
    task_names = resolve_task_names(num_tasks, task_names)
    units = _per_task(
        "head_units",
        head_units,
        len(task_names),
        lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
    )
    acts = _per_task(
        "head_activations",
        head_activations,
        len(task_names),
        lambda v: v is None or isinstance(v, str),
    )
    filters = tuple(filters)
    if len(filters) != len(BHUIN_CONVS):
        raise ValueError(
            f"Expected `filters` to hold {len(BHUIN_CONVS)} ints (conv1..conv4). "
            f"Received: filters={filters!r}"
        )
    for f in filters:
        check_positive_int("filters", f)
    h, w = tuple(input_shape)[:2]
    for size in (h, w):
        for _, kernel in BHUIN_CONVS[:3]:
            size = (size - kernel + 1) // 2
        if size - BHUIN_CONVS[3][1] + 1 < 1:
            raise ValueError(
                "Expected `input_shape` of at least 32x32 for the cross-stitch backbone. "
                f"Received: input_shape={tuple(input_shape)}"
            )
    return task_names, units, acts, filters


def _heads(columns, task_names, units, acts):
    heads = [
        layers.Dense(u, activation=a, name=f"head_{t}")
        for t, u, a in zip(task_names, units, acts, strict=True)
    ]
    return {t: head(c) for t, head, c in zip(task_names, heads, columns, strict=True)}, heads


def cross_stitch_net(
    num_tasks: int = 2,
    head_units: int | Sequence[int] = 1,
    head_activations: str | None | Sequence[str | None] = None,
    input_shape: Sequence[int] = (40, 40, 1),
    filters: Sequence[int] = (16, 48, 64, 64),
    fc_units: int = 100,
    activation: str = "tanh",
    granularity: str = "channel",
    same_init: float = 0.9,
    diff_init: float | None = None,
    lr_multiplier: float = 1.0,
    related_weight: float = 0.0,
    related_form: str = "exp",
    task_input: bool = True,
    task_names: Sequence[str] | None = None,
    name: str | None = None,
) -> MultiTaskModel:
    """T columns of a small conv net with a cross-stitch unit after every layer.

    The backbone of Bhuin et al. (Sec. 5; TCDCN's): 40x40 input, conv 5x5 (16) + pool, conv
    3x3 (48) + pool, conv 3x3 (64) + pool, conv 2x2 (64), fc (100), `activation` after each.
    One column per task (`ColumnConv2D` / `ColumnDense`, kernels `(T, ...)`); a `CrossStitch`
    unit (`granularity`, init `same_init` / `diff_init`, `lr_multiplier` as in Misra et al.)
    after pool1, pool2, pool3, conv4 and fc; then each task's head on its own column: a
    `Dense(head_units[t], head_activations[t])` named `head_<task>`. Heads may differ in size
    and type, e.g. Bhuin's landmark regression (10 linear units, MSE) with pose classification
    (5 units, softmax cross-entropy). With `related_weight = lambda > 0` every column layer
    adds the related-weights regulariser (Bhuin Eq. 6-7) between its columns (columns then
    start from equal kernels); it is part of `model.losses`, so `fit` minimises it.

    Reference:
        Misra, Shrivastava, Gupta, Hebert. "Cross-stitch Networks for Multi-task Learning".
        CVPR 2016. Bhuin et al., Sec. 3.2-3.3 (Eq. 3, 6-7) and 5.2-5.3 (set-up).

    Args:
        num_tasks: number of tasks (columns), >= 2.
        head_units: outputs of each task's head (one int for all, or one per task).
        head_activations: activation of each head (`None` = linear logits / regression).
        input_shape: `(height, width, channels)`, at least 32x32 (40x40x1 in the paper).
        filters: widths of conv1..conv4.
        fc_units: width of the fc layer.
        activation: activation of every conv and fc layer.
        granularity: `"channel"` (Bhuin) or `"layer"` cross-stitch units.
        same_init: initial alpha of a column onto itself (0.9).
        diff_init: initial alpha between columns (None: `(1 - same_init) / (T - 1)`).
        lr_multiplier: gradient multiplier of the stitch units.
        related_weight: the weight lambda of the related-weights regulariser (0 = off).
        related_form: `"exp"` (Eq. 7) or `"l2"`.
        task_input: whether the model takes a `task_id` input. True (default): one task per
            sample, each row's loss from its own task's output (`task_id` is not used by the
            network). False: every sample labelled for every task (the Misra / Bhuin set-up),
            the model takes `image` only and `fit(x, {task_name: labels})` trains every head
            on every row (a missing label, -1 / NaN, leaves the row out of that task).
        task_names: optional task names; default `task_0`, ...
        name: model name.

    Returns:
        A `MultiTaskModel` with inputs `{"image", "task_id"}` (`{"image"}` without
        `task_input`) and a dict output `{task_name: head output}`: every sample gets every
        task's prediction; compile with a loss per task name.

    Example:

    >>> import numpy as np
    >>> model = cross_stitch_net(
    ...     2, head_units=(10, 5), head_activations=(None, "softmax"),
    ...     task_names=("landmarks", "pose"))
    >>> out = model({"image": np.zeros((1, 40, 40, 1), "float32"),
    ...              "task_id": np.zeros((1,), "int32")})
    >>> {name: tuple(y.shape) for name, y in out.items()}
    {'landmarks': (1, 10), 'pose': (1, 5)}
    """
    if isinstance(num_tasks, int) and not isinstance(num_tasks, bool) and num_tasks < 2:
        raise ValueError(
            "Expected `num_tasks` >= 2 for a cross-stitch network (use `split_network` or a "
            f"single-task net for one task). Received: num_tasks={num_tasks}"
        )
    task_names, units, acts, filters = _check_common(
        num_tasks, task_names, head_units, head_activations, input_shape, filters
    )
    check_choice("granularity", granularity, ("layer", "channel"))
    check_choice("related_form", related_form, ("exp", "l2"))
    inputs = model_inputs(input_shape, len(task_names), task_input)
    image = inputs.image
    n = len(task_names)
    stitches = []

    def stitch(x: keras.KerasTensor, point: str) -> keras.KerasTensor:
        unit = CrossStitch(
            n,
            granularity=granularity,
            same_init=same_init,
            diff_init=diff_init,
            lr_multiplier=lr_multiplier,
            name=f"cross_stitch_{point}",
        )
        stitches.append(unit.name)
        return unit(x)

    x, columns = _columns_network(
        image, n, filters, fc_units, activation, stitch, related_weight, related_form
    )
    outputs, heads = _heads(UnstackColumns(n, name="unstack")(x), task_names, units, acts)
    specific = [h.name for h in heads] + columns + stitches
    model = build_model(
        inputs, outputs, task_names, specific, name or "cross_stitch_net"
    )
    return model


def split_network(
    num_tasks: int = 2,
    head_units: int | Sequence[int] = 1,
    head_activations: str | None | Sequence[str | None] = None,
    input_shape: Sequence[int] = (40, 40, 1),
    filters: Sequence[int] = (16, 48, 64, 64),
    fc_units: int = 100,
    activation: str = "tanh",
    task_input: bool = True,
    task_names: Sequence[str] | None = None,
    name: str | None = None,
) -> MultiTaskModel:
    """The split-network baseline: one shared backbone, split into task heads at the last layer.

    The same backbone as `cross_stitch_net` (one column, no stitch units), with every task's
    head on the shared fc output (Bhuin et al. Sec. 3.1 / 5.1, after MTFL). The shared fc
    output (layer `shared_fc`) is the model's `representation_layer`, so
    `compile(probe="representation")` (MGDA-UB's shortcut) works.

    Reference:
        Bhuin et al., Sec. 3.1 and 5.1 (split network, FLD + attributes).

    Args:
        num_tasks: number of tasks (heads), >= 1.
        head_units: outputs of each task's head (one int for all, or one per task).
        head_activations: activation of each head (`None` = linear logits / regression).
        input_shape: `(height, width, channels)`, at least 32x32 (40x40x1 in the paper).
        filters: widths of conv1..conv4.
        fc_units: width of the shared fc layer.
        activation: activation of every conv and fc layer.
        task_input: whether the model takes a `task_id` input (see `cross_stitch_net`);
            False: every sample labelled for every task, input `image` only.
        task_names: optional task names; default `task_0`, ...
        name: model name.

    Returns:
        A `MultiTaskModel` with inputs `{"image", "task_id"}` (`{"image"}` without
        `task_input`) and a dict output `{task_name: head output}` (every sample gets every
        task's prediction).

    Example:

    >>> import numpy as np
    >>> model = split_network(2, head_units=(10, 2))
    >>> out = model({"image": np.zeros((1, 40, 40, 1), "float32"),
    ...              "task_id": np.zeros((1,), "int32")})
    >>> {name: tuple(y.shape) for name, y in out.items()}
    {'task_0': (1, 10), 'task_1': (1, 2)}
    """
    task_names, units, acts, filters = _check_common(
        num_tasks, task_names, head_units, head_activations, input_shape, filters
    )
    inputs = model_inputs(input_shape, len(task_names), task_input)
    image = inputs.image
    x, _ = _columns_network(image, 1, filters, fc_units, activation)
    shared = layers.Reshape((fc_units,), name="shared_fc")(x)
    outputs, heads = _heads([shared] * len(task_names), task_names, units, acts)
    return build_model(
        inputs,
        outputs,
        task_names,
        [h.name for h in heads],
        name or "split_network",
        representation_layer="shared_fc",
    )
