"""Which trainable variables of a model are shared and which belong to individual tasks."""

import keras


def iter_layers(model):
    """All layers of `model`, nested ones included, each once (depth first)."""
    seen = set()
    stack = list(reversed(getattr(model, "layers", [])))
    while stack:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        yield layer
        children = getattr(layer, "_layers", None) or getattr(layer, "layers", None) or []
        stack.extend(reversed(list(children)))


def task_specific_variables(model, task_specific_layers=()):
    """Trainable variables marked task-specific.

    A variable is task-specific when a layer lists it in its `task_specific_weights`
    property (the marking of keras_mtl layers) or when it belongs to a layer whose name is in
    `task_specific_layers` (per-task heads, independent branches, cross-stitch columns).

    Args:
        model: a built `keras.Model`.
        task_specific_layers: layer names whose weights are all task-specific.

    Returns:
        A list of variables in the order of `model.trainable_variables`.
    """
    layers = list(iter_layers(model))
    names = {layer.name for layer in layers}
    missing = [name for name in task_specific_layers or () if name not in names]
    if missing:
        raise ValueError(
            "Expected `task_specific_layers` to name layers of the model. "
            f"Received unknown names: {missing}"
        )
    marked = set()
    wanted = set(task_specific_layers or ())
    for layer in layers:
        for variable in getattr(layer, "task_specific_weights", None) or []:
            marked.add(id(variable))
        if layer.name in wanted:
            marked.update(id(v) for v in layer.trainable_weights)
    return [v for v in model.trainable_variables if id(v) in marked]


def has_cross_row_layers(model):
    """Whether a layer mixes rows of the batch in training (trainable BatchNormalization).

    Such layers make per-task sub-batch gradients differ from the full-batch gradient, so the
    grouped probe is not exact for them.
    """
    return any(
        isinstance(layer, keras.layers.BatchNormalization) and layer.trainable
        for layer in iter_layers(model)
    )
