"""A step's scalar logs leave Keras' compiled function as one vector and get their names back
outside it.

Keras returns a step's logs through `tf.experimental.Optional.from_value(...)`; every log is
one component of that structure, and TensorFlow's optimisation of the function's first call
grows with the number of components. With a few logs per task that made the first step at
312 tasks take 30-185 s instead of 2-5 s (issue 15; `benchmarks/many_tasks.py`). Packing the
float32 scalars into one vector keeps the function's outputs at a handful whatever the number
of tasks; `unpack` restores the named dict (`loss`, `loss_<task>`, ...) that callbacks,
`History` and `evaluate` see. A step called directly (`model.train_step(data)`) is not
packed: packing is on only while a `LogPacking.compiled` function runs.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

PACKED_KEY = "_packed_logs"


class LogPacking:
    """Per-model packing state: whether packing is on, and each step kind's log layout."""

    def __init__(self):
        # A plain flag, not thread-local: MirroredStrategy traces replicas in its own threads.
        self.active = False
        self.layouts: dict[str, dict] = {}

    def step_logs(self, logs: dict, kind: str) -> dict:
        """`logs` packed when called (traced) inside `compiled`, else unchanged."""
        if not self.active:
            return logs
        return pack(logs, self.layouts.setdefault(kind, {}))

    def compiled(self, function: Callable, kind: str) -> Callable:
        """Wraps Keras' `iterator -> logs` function: packing on while it runs (and traces),
        names restored after."""
        def unpacked_function(iterator):
            self.active = True
            try:
                logs = function(iterator)
            finally:
                self.active = False
            return unpack(logs, self.layouts.get(kind, {}))

        return unpacked_function


def _packable(value) -> bool:
    return isinstance(value, tf.Tensor) and value.dtype == tf.float32 and value.shape.rank == 0


def pack(logs: dict, layout: dict) -> dict:
    """Replaces the float32 scalars of `logs` by one vector `logs[PACKED_KEY]`.

    Args:
        logs: a step's logs (tensors).
        layout: filled with `keys` (every log name, in order) and `packed` (the stacked
            names, in order), for `unpack`.
    """
    names = [k for k, v in logs.items() if _packable(v)]
    layout["keys"], layout["packed"] = list(logs), names
    if not names:
        return logs
    packed_names = set(names)
    out = {k: v for k, v in logs.items() if k not in packed_names}
    out[PACKED_KEY] = tf.stack([logs[k] for k in names])
    return out


def unpack(logs, layout: dict):
    """The named logs back from `pack`'s output (one `tf.unstack`: a single op)."""
    if not isinstance(logs, dict) or PACKED_KEY not in logs:
        return logs
    names = layout["packed"]
    # (1, n) when `for_strategy` added a worker axis that Keras left unreduced (one worker).
    vector = tf.reshape(logs[PACKED_KEY], [len(names)])
    values = dict(zip(names, tf.unstack(vector, num=len(names)), strict=True))
    return {k: values[k] if k in values else logs[k] for k in layout["keys"]}
