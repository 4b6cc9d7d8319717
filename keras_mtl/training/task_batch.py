"""Turns what `fit` / `evaluate` pass to a step into a checked `TaskBatch`.

Errors name what is missing or wrong and what was received; task ids are checked by
`keras_mtl.layers.task_ids.validate_task_ids` on their original dtype (before any cast), so an
int64 id outside the int32 range cannot wrap around to a valid task.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from keras_mtl.layers.task_ids import validate_task_ids
from keras_mtl.losses.triplet_loss import TRIPLET_KEYS
from keras_mtl.training.task_gradients import TaskBatch
from keras_mtl.training.task_losses import examples_share_task


def parse_batch(model, data, *, raise_now=True):
    """Unpacks `(x, y, sample_weight)` and checks it against the model's inputs.

    Args:
        model: the `MultiTaskModel`.
        data: what Keras passes to a step.
        raise_now: raise at once for invalid rows (outside XLA); under XLA, where TensorFlow
            drops `Assert` ops, pass False and act on the returned flag.

    Returns:
        `(TaskBatch, valid)`: the batch with int32 task ids (None for a model without a task
        id input) and a boolean scalar, False when a task id was out of range or an
        example's rows did not share one (only when `raise_now` is False).
    """
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    if isinstance(x, dict) and all(key in x for key in TRIPLET_KEYS):
        raise ValueError(
            "Expected the model's inputs (three consecutive rows per triplet). Received a "
            "triplet dict with keys anchor, positive and negative: convert it with "
            "`keras_mtl.losses.interleave_triplets(batch)` (the triplet pipelines of "
            "`keras_mtl.datasets` already do)."
        )
    if isinstance(model.input, dict):
        names = list(model.input)
        if not isinstance(x, dict) and len(names) == 1:  # an image-only model: a bare array
            x = {names[0]: x}
        if not isinstance(x, dict):
            raise ValueError(
                f"Expected inputs as a dict with keys {sorted(names)}. Received: "
                f"{type(x).__name__}"
            )
        missing = [key for key in names if key not in x]
        if missing:
            raise ValueError(
                f"Expected inputs with keys {sorted(names)}. Received keys {sorted(x)} "
                f"(missing: {', '.join(missing)})"
            )
    if model.plan is not None and y is None and any(
        getattr(head.loss, "requires_targets", True) for head in model.plan.heads
    ):
        raise ValueError(
            "Expected targets `y` for the compiled loss. Received: y=None (only losses "
            "that need no targets, such as `TripletLoss`, train on inputs alone)"
        )
    if not model.takes_task_ids:
        return TaskBatch(x, y, sample_weight, None), tf.constant(True)
    # Raises outside XLA; under XLA (`raise_now=False`) a bad id comes back as -1.
    ids = validate_task_ids(x[model.task_id_key], model.num_tasks, name=model.task_id_key)
    valid = tf.reduce_all(ids >= 0)
    ids = tf.maximum(ids, 0)  # the step is skipped; nothing downstream reads out of bounds
    if model.plan is not None and model.plan.rows_per_example > 1:
        grouped = examples_share_task(model.plan, ids)
        g = model.plan.rows_per_example
        message = (f"Expected {g} consecutive rows per example with one task id (e.g. a "
                   "triplet's anchor, positive and negative; see "
                   "`keras_mtl.losses.interleave_triplets`). Shuffling in-memory rows breaks "
                   "them: pass shuffle=False or use `keras_mtl.datasets.triplet_pipeline`.")
        if raise_now:
            with tf.control_dependencies([tf.debugging.Assert(grouped, [message])]):
                ids = tf.identity(ids)
        valid = tf.logical_and(valid, grouped)
    x = dict(x)
    x[model.task_id_key] = tf.reshape(ids, tf.shape(x[model.task_id_key]))
    return TaskBatch(x, y, sample_weight, ids), valid
