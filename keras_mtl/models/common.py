"""Helpers shared by every model builder: inputs, argument checks, heads, the model class."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import keras

from keras_mtl.layers import SelectTaskColumn, TaskRouting
from keras_mtl.layers.input_shape_check import InputShapeCheck
from keras_mtl.layers.task_id_validation import TaskIdValidation
from keras_mtl.layers.task_ids import check_num_tasks
from keras_mtl.training import MultiTaskModel

# A hook called as `hook(x, name)` right after a conv (and its BatchNorm, if any), before the
# activation; it returns the tensor to continue with. Used to insert task routing.
ConvHook = Callable[[keras.KerasTensor, str], keras.KerasTensor]


def check_choice(name: str, value: Any, allowed: Sequence) -> None:
    """Raises `ValueError("Expected `name` to be one of ... Received: name=...")`."""
    if value not in tuple(allowed):
        raise ValueError(
            f"Expected `{name}` to be one of {tuple(allowed)}. Received: {name}={value!r}"
        )


def check_positive_int(name: str, value: Any) -> int:
    """Returns `value`, or raises `ValueError` unless it is an int >= 1 (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"Expected `{name}` to be a positive int. Received: {name}={value!r}")
    return value


def check_width_multiplier(width_multiplier: Any) -> float:
    """Returns `width_multiplier` as a float, or raises `ValueError` unless it is > 0."""
    if (
        isinstance(width_multiplier, bool)
        or not isinstance(width_multiplier, int | float)
        or (width_multiplier <= 0)
    ):
        raise ValueError(
            "Expected `width_multiplier` to be a positive number. "
            f"Received: width_multiplier={width_multiplier!r}"
        )
    return float(width_multiplier)


def scaled(filters: int, width_multiplier: float) -> int:
    """`filters * width_multiplier`, rounded, at least 1."""
    return max(1, int(round(filters * width_multiplier)))


def resolve_task_names(num_tasks: int, task_names: Sequence[str] | None) -> list[str]:
    """Validates `num_tasks` and returns `task_names` or `["task_0", ...]`."""
    num_tasks = check_num_tasks(num_tasks)
    if task_names is None:
        return [f"task_{i}" for i in range(num_tasks)]
    task_names = list(task_names)
    if (
        len(task_names) != num_tasks
        or len(set(task_names)) != num_tasks
        or not all(isinstance(n, str) and n.isidentifier() for n in task_names)
    ):
        raise ValueError(
            f"Expected `task_names` to be {num_tasks} distinct identifiers (one per task). "
            f"Received: task_names={task_names!r}"
        )
    return task_names


class ModelInputs(NamedTuple):
    """The builders' `keras.Input`s and the checked tensors their layers use."""

    image_input: keras.KerasTensor  # float32 (batch, H, W, C), the model input `image`
    task_input: keras.KerasTensor | None  # int64 (batch,), the model input `task_id`
    image: keras.KerasTensor  # `image_input` after `InputShapeCheck`
    task_id: keras.KerasTensor | None  # `task_input` after `TaskIdValidation`: int32 (batch,)


def model_inputs(
    input_shape: Sequence[int], num_tasks: int, task_input: bool = True
) -> ModelInputs:
    """The inputs of every builder, each checked once per model call.

    `image` is a float32 input of shape `(batch,) + input_shape`, followed by an
    `InputShapeCheck` so that an image of another size raises on every path (Keras checks input
    shapes only while tracing, and `predict` retraces with relaxed shapes). `task_id` is
    declared int64, shape `(batch,)`: a functional model casts every input to its declared
    dtype before any layer runs, and int32 or int64 ids (and smaller types) widen to int64
    exactly, so an int64 id outside the int32 range is seen (and rejected) instead of wrapping
    around to a valid task. A `TaskIdValidation` layer then checks the ids once (integer dtype,
    shape, values in `[0, num_tasks)`) and gives the task-conditioned layers int32 ids.

    Args:
        input_shape: `(height, width, channels)` of the images.
        num_tasks: T, the range of valid task ids.
        task_input: whether the model takes a `task_id` input; False (every sample labelled
            for every task) leaves `task_input` and `task_id` None.

    Returns:
        A `ModelInputs`: build the network on `.image` and `.task_id`, and pass the whole
        tuple to `build_model`.
    """
    input_shape = tuple(input_shape)
    if len(input_shape) != 3 or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in input_shape
    ):
        raise ValueError(
            "Expected `input_shape` to be (height, width, channels) of positive ints. "
            f"Received: input_shape={input_shape!r}"
        )
    image_input = keras.Input(shape=input_shape, dtype="float32", name="image")
    image = InputShapeCheck(name="check_image")(image_input)
    if not task_input:
        return ModelInputs(image_input, None, image, None)
    ids_input = keras.Input(shape=(), dtype="int64", name="task_id")
    return ModelInputs(
        image_input=image_input,
        task_input=ids_input,
        image=image,
        task_id=TaskIdValidation(num_tasks, name="check_task_id")(ids_input),
    )


def selected_heads(
    features: keras.KerasTensor,
    task_id: keras.KerasTensor,
    task_names: Sequence[str],
    units: int,
    name: str = "logits",
    **dense: Any,
) -> tuple[keras.KerasTensor, list[str]]:
    """One `Dense(units)` head per task, applied to every sample; each sample keeps its own.

    Returns the `(batch, units)` output of the sample's own task head (layer `name`, a
    `SelectTaskColumn`) and the head layer names (`head_<task>`).
    """
    heads = [keras.layers.Dense(units, name=f"head_{t}", **dense) for t in task_names]
    columns = [head(features) for head in heads]
    if len(columns) == 1:
        return keras.layers.Identity(name=name)(columns[0]), [heads[0].name]
    out = SelectTaskColumn(len(task_names), name=name)([columns, task_id])
    return out, [head.name for head in heads]


def layers_between(
    inputs: Sequence[keras.KerasTensor], outputs: Sequence[keras.KerasTensor]
) -> list[str]:
    """Names of the layers on the paths from `inputs` to `outputs` (inputs excluded).

    Used to list every layer of an independent column (ITN, single-task nets) as task-specific.
    """
    graph = keras.Model(inputs=list(inputs), outputs=list(outputs))
    return [layer.name for layer in graph.layers if not isinstance(layer, keras.layers.InputLayer)]


def build_model(
    inputs: ModelInputs,
    outputs: keras.KerasTensor | dict[str, keras.KerasTensor],
    task_names: Sequence[str],
    task_specific_layers: Sequence[str],
    name: str,
    representation_layer: str | None = None,
) -> MultiTaskModel:
    """Wraps the functional graph from `model_inputs(...)` to `outputs` into a `MultiTaskModel`.

    The model's inputs are `{"image"}`, plus `"task_id"` when `inputs` has a task input.
    """
    model_input = {"image": inputs.image_input}
    if inputs.task_input is not None:
        model_input["task_id"] = inputs.task_input
    return MultiTaskModel(
        inputs=model_input,
        outputs=outputs,
        task_names=list(task_names),
        num_tasks=len(task_names),
        task_specific_layers=list(task_specific_layers),
        representation_layer=representation_layer,
        name=name,
    )


def copy_weights_by_layer_name(source: keras.Model, target: keras.Model) -> list[str]:
    """Copies the weights of every layer of `source` into the same-named layer of `target`.

    For example to start an only-mask model (`zhao_retrieval_net(method="only_mask")`) from a
    trained FSN or IB model: the shared layers carry the same names in every variant. Layers
    whose weights differ in number or shape are skipped.

    Args:
        source: the model to copy from.
        target: the model to copy into (changed in place).

    Returns:
        The names of the layers copied.
    """
    copied = []
    target_layers = {layer.name: layer for layer in target.layers}
    for layer in source.layers:
        other = target_layers.get(layer.name)
        if other is None or not layer.weights or len(layer.weights) != len(other.weights):
            continue
        if any(a.shape != b.shape for a, b in zip(layer.weights, other.weights, strict=True)):
            continue
        other.set_weights(layer.get_weights())
        copied.append(layer.name)
    return copied


def routing_hook(
    num_tasks: int,
    task_id: keras.KerasTensor,
    sharing_ratio: float,
    seed: int,
    names: list[str],
) -> ConvHook:
    """A conv hook inserting a `TaskRouting` layer (seeds `seed`, `seed + 1`, ...).

    The names of the inserted layers are appended to `names`.
    """
    counter = iter(range(10**9))

    def hook(x: keras.KerasTensor, unit_name: str) -> keras.KerasTensor:
        layer = TaskRouting(
            num_tasks,
            sharing_ratio=sharing_ratio,
            seed=seed + next(counter),
            name=f"routing_{unit_name}",
        )
        names.append(layer.name)
        return layer([x, task_id])

    return hook
