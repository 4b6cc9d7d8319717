"""Collects the task-specific variables of a model from its layers' marking."""


def task_specific_variables(layer_or_model):
    """Returns the variables listed in `task_specific_weights` by any (nested) layer.

    Args:
        layer_or_model: a `keras.layers.Layer` or `keras.Model`.

    Returns:
        A list of variables without duplicates, in layer order.
    """
    found, seen = [], set()
    for layer in layer_or_model._flatten_layers(include_self=True, recursive=True):
        for variable in getattr(layer, "task_specific_weights", ()):
            if id(variable) not in seen:
                seen.add(id(variable))
                found.append(variable)
    return found
