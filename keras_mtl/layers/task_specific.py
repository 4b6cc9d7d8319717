"""Which variables of a model belong to individual tasks: the one walk over a model's layers."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import keras


def iter_layers(model: keras.Layer) -> Iterator[keras.Layer]:
    """Every layer of `model`, each once, depth first, through nested models (public API only).

    Layers are reached through `model.layers` and, for nested models, their `layers`. A
    task-conditioned layer used inside a custom composite layer must be declared by that
    composite layer's own `task_specific_weights`.
    """
    seen = set()
    stack = list(reversed(getattr(model, "layers", [])))
    while stack:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        yield layer
        stack.extend(reversed(list(getattr(layer, "layers", None) or [])))


def task_specific_variables(
    model: keras.Layer, task_specific_layers: Sequence[str] = ()
) -> list[keras.Variable]:
    """Variables that belong to individual tasks.

    A variable is task-specific when a layer lists it in its `task_specific_weights` property
    (how keras_mtl layers mark per-task parameters: modulation vectors, routing masks, task
    columns) or when it belongs to a layer named in `task_specific_layers` (per-task heads,
    independent branches). All other trainable variables are shared: the gradient-conflict
    probe measures them.

    Args:
        model: a built `keras.Model` (or layer).
        task_specific_layers: names of layers whose weights all belong to individual tasks.

    Returns:
        A list of variables in the order of `model.weights` (non-trainable ones included, e.g.
        routing masks; the probe uses the trainable ones).

    Example:
    >>> image = keras.Input((4,), name="x")
    >>> task_id = keras.Input((), dtype="int32", name="task_id")
    >>> from keras_mtl.layers import TaskModulation
    >>> trunk = keras.layers.Dense(3, name="trunk")(image)
    >>> out = TaskModulation(2, name="mod")([trunk, task_id])
    >>> model = keras.Model([image, task_id], out)
    >>> [v.path for v in task_specific_variables(model)]
    ['mod/task_kernel']
    """
    layers = list(iter_layers(model))
    names = {layer.name for layer in layers}
    missing = [name for name in task_specific_layers or () if name not in names]
    if missing:
        raise ValueError(
            "Expected `task_specific_layers` to name layers of the model. "
            f"Received unknown names: {missing}"
        )
    wanted = set(task_specific_layers or ())
    marked = set()
    for layer in layers:
        marked.update(id(v) for v in getattr(layer, "task_specific_weights", None) or [])
        if layer.name in wanted:
            marked.update(id(v) for v in layer.weights)
    return [v for v in model.weights if id(v) in marked]
