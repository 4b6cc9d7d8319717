"""Per-task losses of a batch: the one helper shared by `train_step` and `test_step`.

A batch is parsed once into a small dict (`kind` = `"triplet"` or `"supervised"`); the per-task
sums of per-sample losses are then computed for the whole batch or for a task group.
"""

import keras
import numpy as np
import tensorflow as tf

from keras_mtl.losses.triplet_loss import TripletLoss
from keras_mtl.training import gradient_probe

TRIPLET_KEYS = ("anchor", "positive", "negative")


def resolve_losses(loss, task_names):
    """One loss per task from a single loss, a `{task: loss}` dict or a list (None stays None)."""
    if loss is None:
        return None
    num_tasks = len(task_names)
    if isinstance(loss, dict):
        missing = [name for name in task_names if name not in loss]
        if missing:
            raise ValueError(
                f"Expected a loss for every task {task_names}. Received: loss keys "
                f"{sorted(loss)} (missing {missing})"
            )
        return [_get_loss(loss[name]) for name in task_names]
    if isinstance(loss, (list, tuple)):
        if len(loss) != num_tasks:
            raise ValueError(
                f"Expected a list of {num_tasks} losses, one per task. Received: {len(loss)}"
            )
        return [_get_loss(item) for item in loss]
    return [_get_loss(loss)] * num_tasks


def _get_loss(loss):
    return keras.losses.get(loss) if isinstance(loss, (str, dict)) else loss


def per_sample_loss(loss, y_true, y_pred):
    """Unreduced loss, one value per row (extra axes averaged)."""
    values = loss.call(y_true, y_pred) if isinstance(loss, keras.losses.Loss) else loss(
        y_true, y_pred)
    values = tf.cast(values, tf.float32)
    if values.shape.rank is not None and values.shape.rank > 1:
        values = tf.reduce_mean(values, axis=list(range(1, values.shape.rank)))
    return values


def parse_batch(model, data):
    """Returns `{"kind", "task_id", ...}` for a triplet dict or an `(x, y[, sample_weight])`."""
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    if isinstance(x, dict) and all(key in x for key in TRIPLET_KEYS):
        if "task_id" not in x:
            raise ValueError(
                "Expected triplet batches with keys anchor, positive, negative and task_id. "
                f"Received keys: {sorted(x)}"
            )
        batch = {key: x[key] for key in TRIPLET_KEYS}
        batch.update(kind="triplet", task_id=_task_ids(x["task_id"]))
        return batch
    if not isinstance(x, dict) or model.task_id_key not in x:
        raise ValueError(
            f"Expected inputs as a dict holding the task ids under {model.task_id_key!r}. "
            f"Received: {type(x).__name__} {sorted(x) if isinstance(x, dict) else ''}"
        )
    if y is None:
        raise ValueError("Expected targets `y` for a supervised batch. Received: y=None")
    return {"kind": "supervised", "x": x, "y": y, "sample_weight": sample_weight,
            "task_id": _task_ids(x[model.task_id_key])}


def _task_ids(task_id):
    return tf.reshape(tf.cast(task_id, tf.int32), [-1])


def partition_batch(batch, num_tasks):
    """Splits a parsed batch into `num_tasks` parsed batches, one per task id."""
    tensors = {k: v for k, v in batch.items() if k not in ("kind", "rows") and v is not None}
    groups = gradient_probe.partition_by_task(tensors, batch["task_id"], num_tasks)
    result = []
    for group in groups:
        group = dict(group, kind=batch["kind"])
        if batch["kind"] == "supervised":
            group.setdefault("sample_weight", None)
        result.append(group)
    return result


def _image_key(model):
    inputs = model.input
    keys = [k for k in inputs if k != model.task_id_key] if isinstance(inputs, dict) else []
    if len(keys) != 1:
        raise ValueError(
            "Expected a model with dict inputs {image, task_id} for triplet batches. "
            f"Received inputs: {inputs}"
        )
    return keys[0]


def _per_task(values, names, num_tasks):
    """A per-task list when `values` is a dict keyed by task names or a list of T, else None."""
    if isinstance(values, dict) and set(names) <= set(values):
        return [values[name] for name in names]
    if isinstance(values, (list, tuple)) and len(values) == num_tasks:
        return list(values)
    return None


def task_loss_sums(model, batch, training, only_task=None):
    """Per-task sums of per-sample losses.

    Args:
        model: the `MultiTaskModel`.
        batch: a parsed batch (see `parse_batch`).
        training: passed to the model call.
        only_task: when given, every row of `batch` belongs to this task (a grouped sub-batch)
            and only its loss is computed.

    Returns:
        `(sums, counts, pairs)`: float32 `(T,)` loss sums and row counts, and a list of
        `(task_ids, y_true, y_pred)` for metric updates (`y_true` is None for triplets).
    """
    num_tasks = model.num_tasks
    task_ids = batch["task_id"]
    losses = model._losses_per_task
    if batch["kind"] == "triplet":
        count = tf.shape(batch["anchor"])[0]
        images = tf.concat([batch[key] for key in TRIPLET_KEYS], axis=0)
        inputs = {_image_key(model): images,
                  model.task_id_key: tf.concat([task_ids] * 3, axis=0)}
        embeddings = model(inputs, training=training)
        stacked = tf.stack([embeddings[:count], embeddings[count:2 * count],
                            embeddings[2 * count:]], axis=1)
        loss = losses[0] if losses else TripletLoss()
        rows = per_sample_loss(loss, None, stacked)
        return _sums(rows, task_ids, num_tasks, only_task) + ([(task_ids, None, stacked)],)

    if losses is None:
        raise ValueError("Expected `loss` in compile() for supervised batches. Received: None")
    y_pred = model(batch["x"], training=training)
    names = model.task_names
    outputs = _per_task(y_pred, names, num_tasks)
    targets = _per_task(batch["y"], names, num_tasks)
    weight = batch["sample_weight"]
    if only_task is not None:
        pred = outputs[only_task] if outputs is not None else y_pred
        target = targets[only_task] if targets is not None else batch["y"]
        rows = per_sample_loss(losses[only_task], target, pred)
        if weight is not None:
            rows = rows * tf.reshape(tf.cast(weight, tf.float32), [-1])
        return _sums(rows, task_ids, num_tasks, only_task) + ([(task_ids, target, pred)],)

    sums, pairs = [], []
    for task in range(num_tasks):
        part = {"pred": outputs[task] if outputs is not None else y_pred,
                "y": targets[task] if targets is not None else batch["y"],
                "ids": task_ids}
        if weight is not None:
            part["w"] = tf.reshape(tf.cast(weight, tf.float32), [-1])
        mask = tf.equal(task_ids, task)
        part = tf.nest.map_structure(lambda v, m=mask: tf.boolean_mask(v, m), part)
        rows = per_sample_loss(losses[task], part["y"], part["pred"])
        if weight is not None:
            rows = rows * part["w"]
        sums.append(tf.reduce_sum(rows))
        pairs.append((part["ids"], part["y"], part["pred"]))
    _, counts = gradient_probe.task_sums(tf.zeros_like(task_ids, tf.float32), task_ids,
                                         num_tasks)
    return tf.stack(sums), counts, pairs


def _sums(rows, task_ids, num_tasks, only_task):
    if only_task is None:
        return gradient_probe.task_sums(rows, task_ids, num_tasks)
    one_hot = tf.constant(np.eye(num_tasks, dtype=np.float32)[only_task])
    count = tf.cast(tf.shape(rows)[0], tf.float32)
    return one_hot * tf.reduce_sum(rows), one_hot * count
