"""A step's scalar logs leave the compiled function as one vector and get their names back
outside it.

Keras returns a step's logs through `tf.experimental.Optional.from_value(...)`; every log
is one component of that structure, and TensorFlow's graph optimisation of the first call
grows with the number of components. With a few logs per task that made the first step at
312 tasks take 30-180 s instead of 4-6 s (issue 15; `benchmarks/many_tasks.py`). Stacking
the float32 scalars into one vector keeps the function's outputs at a handful whatever the
number of tasks; `unpacked` restores the named dict (`loss`, `loss_<task>`, ...) that
callbacks, `History` and `evaluate` see.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

PACKED_KEY = "_packed_logs"


def _packable(value) -> bool:
    return (isinstance(value, tf.Tensor) and value.dtype == tf.float32
            and value.shape.rank == 0)


def packed(step: Callable, layout: dict) -> Callable:
    """Wraps a step function so that its float32 scalar logs come out as one vector.

    Args:
        step: `data -> logs` (a dict of tensors), e.g. `model.train_step`.
        layout: filled at trace time with `keys` (every log name, in order) and `packed`
            (the names stacked into `logs[PACKED_KEY]`, in order), for `unpacked`.

    Returns:
        `data -> logs` with the packable logs replaced by one `PACKED_KEY` vector.
    """
    def packed_step(data):
        logs = step(data)
        names = [k for k, v in logs.items() if _packable(v)]
        layout["keys"], layout["packed"] = list(logs), names
        if not names:
            return logs
        out = {k: v for k, v in logs.items() if k not in set(names)}
        out[PACKED_KEY] = tf.stack([logs[k] for k in names])
        return out

    return packed_step


def unpacked(function: Callable, layout: dict) -> Callable:
    """Wraps a compiled Keras function (`iterator -> logs`) to restore the named logs.

    One `tf.unstack` per call (a single op whatever the number of logs).
    """
    def unpacked_function(iterator):
        logs = function(iterator)
        if not isinstance(logs, dict) or PACKED_KEY not in logs:
            return logs
        values = dict(zip(layout["packed"], tf.unstack(logs[PACKED_KEY],
                                                         num=len(layout["packed"])),
                          strict=True))
        return {k: values[k] if k in values else logs[k] for k in layout["keys"]}

    return unpacked_function
