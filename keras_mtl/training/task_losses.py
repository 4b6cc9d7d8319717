"""Per-task loss sums and counts of a batch, in both multi-task settings.

`MultiTaskModel` supports the two settings of the field:

- **one task per sample** (the model has a `task_id` input): each row (or each group of
  `rows_per_example` consecutive rows, e.g. a triplet) belongs to the task named by its id and
  contributes to that task's loss only;
- **every sample labelled for every task** (no `task_id` input, one output per task): every
  row contributes to every task whose label it has. A missing label is marked by
  `MISSING_LABEL` (-1) in integer labels, NaN in float labels, or a per-task sample weight of 0;
  it is left out of that task's loss, count and metrics.

A `LossPlan`, built once at `compile`, lists the *heads*: which model output, which target and
which loss make up which task's loss. Everything here returns per-task **sums** of per-example
losses and per-task **counts** of examples, so that grouped sub-batches, replicas and steps
combine by addition.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import keras
import tensorflow as tf

MISSING_LABEL = -1
"""The integer label of a sample not labelled for a task (float labels use NaN).

Such a sample leaves that task's loss, count and metrics (the every-sample-labelled setting).
"""


@dataclasses.dataclass(frozen=True)
class LossHead:
    """One loss term: `loss(y[target], y_pred[output])`, weighted, for the tasks in `tasks`."""

    output: str | int | None  # key or index of the model output; None = the only output
    target: str | int | None  # key or index of `y`; None = `y` itself
    loss: object
    tasks: tuple[int, ...]
    weight: float = 1.0
    position: int = 0  # index of `target` when targets come as a list


@dataclasses.dataclass(frozen=True)
class LossPlan:
    """The heads of a model and the setting they are used in (see the module docstring)."""

    heads: tuple[LossHead, ...]
    num_tasks: int
    labelled: bool  # True: every sample labelled for every task (no task ids)
    rows_per_example: int = 1


def _get_loss(loss):
    return keras.losses.get(loss) if isinstance(loss, (str, dict)) else loss


def _output_keys(output):
    """Keys of a model's outputs: a list of dict keys / indices, or [None] for one output."""
    if isinstance(output, dict):
        return list(output)
    if isinstance(output, (list, tuple)):
        return list(range(len(output)))
    return [None]


def _per_key(value, keys, what):
    """`value` as a dict over `keys` (dict: checked; list: zipped; single: repeated)."""
    if isinstance(value, dict):
        missing = [k for k in keys if k not in value]
        if missing:
            raise ValueError(
                f"Expected {what} for every one of {keys}. Received keys {sorted(value)} "
                f"(missing {missing})"
            )
        return {k: value[k] for k in keys}
    if isinstance(value, (list, tuple)):
        if len(value) != len(keys):
            raise ValueError(
                f"Expected a list of {len(keys)} {what}, one per entry of {keys}. "
                f"Received: a list of {len(value)}"
            )
        return dict(zip(keys, value, strict=True))
    return {k: value for k in keys}


def build_loss_plan(loss, task_names, output, *, has_task_id, loss_weights=None):
    """Resolves `compile(loss=..., loss_weights=...)` into a `LossPlan`.

    Args:
        loss: one loss for everything, or a dict / list keyed by task name (one loss per task)
            or by model output (one loss per output, e.g. `{"logits": ..., "td_map": ...}`).
        task_names: the T task names.
        output: the model's output structure (`model.output`).
        has_task_id: whether the model takes task ids (one task per sample).
        loss_weights: optional weights, keyed like `loss`.

    Returns:
        A `LossPlan`, or None when `loss` is None.
    """
    if loss is None:
        return None
    num_tasks = len(task_names)
    names = list(task_names)
    keys = _output_keys(output)
    weights = 1.0 if loss_weights is None else loss_weights
    per_task_outputs = keys == names or (keys == list(range(num_tasks)) and num_tasks > 1)
    if per_task_outputs:  # one output per task (both settings)
        losses = _per_key(loss, names, "losses")
        weights = _per_key(weights, names, "loss weights")
        heads = [LossHead(keys[t], keys[t], _get_loss(losses[name]), (t,),
                          float(weights[name]), t) for t, name in enumerate(names)]
    elif not has_task_id:
        raise ValueError(
            "Expected one output per task (a dict keyed by task name or a list of "
            f"{num_tasks}) for a model without a task id input (every sample labelled for "
            f"every task). Received outputs: {keys}"
        )
    elif keys == [None]:  # one output, each row scored by its own task's loss
        losses = _per_key(loss, names, "losses")
        weights = _per_key(weights, names, "loss weights")
        heads = []
        for t, name in enumerate(names):  # tasks sharing one loss object share one head
            loss_t, weight_t = _get_loss(losses[name]), float(weights[name])
            same = [i for i, h in enumerate(heads) if h.loss is loss_t and h.weight == weight_t]
            if same:
                heads[same[0]] = dataclasses.replace(heads[same[0]],
                                                     tasks=heads[same[0]].tasks + (t,))
            else:
                heads.append(LossHead(None, None, loss_t, (t,), weight_t))
    else:  # several outputs that are not per task (e.g. logits and an auxiliary map)
        losses = _per_key(loss, keys, "losses")
        weights = _per_key(weights, keys, "loss weights")
        heads = [LossHead(k, k, _get_loss(losses[k]), tuple(range(num_tasks)),
                          float(weights[k]), i) for i, k in enumerate(keys)
                 if losses[k] is not None]
    groups = {int(getattr(h.loss, "rows_per_example", 1)) for h in heads}
    if len(groups) != 1:
        raise ValueError(
            "Expected every loss to consume the same number of input rows per example. "
            f"Received: rows_per_example {sorted(groups)}"
        )
    return LossPlan(tuple(heads), num_tasks, labelled=not has_task_id,
                    rows_per_example=groups.pop())


def _select(structure, key, position=0):
    if key is None or not isinstance(structure, (dict, list, tuple)):
        return structure
    if isinstance(structure, dict):
        return structure[key]
    return structure[key if isinstance(key, int) else position]


def _target(y, head):
    return None if y is None else _select(y, head.target, head.position)


def example_task_ids(plan, task_ids):
    """The task of each example (loss row): `task_ids[::rows_per_example]`, int32 `(M,)`."""
    task_ids = tf.reshape(tf.cast(task_ids, tf.int32), [-1])
    if plan.rows_per_example == 1:
        return task_ids
    return task_ids[:: plan.rows_per_example]


def examples_share_task(plan, task_ids):
    """Boolean scalar: every example's rows carry one task id and the rows divide evenly."""
    g = plan.rows_per_example
    task_ids = tf.reshape(tf.cast(task_ids, tf.int32), [-1])
    if g == 1:
        return tf.constant(True)
    size = tf.size(task_ids)
    even = tf.equal(size % g, 0)
    rows = tf.reshape(task_ids[: size - size % g], [-1, g])
    return tf.logical_and(even, tf.reduce_all(tf.equal(rows, rows[:, :1])))


def label_mask(y):
    """`(N,)` float32: 1 where a label is present (not `MISSING_LABEL` / NaN in any entry)."""
    y = tf.convert_to_tensor(y)
    if y.dtype.is_integer:
        present = tf.not_equal(y, tf.cast(MISSING_LABEL, y.dtype))
    elif y.dtype.is_floating:
        present = tf.logical_not(tf.math.is_nan(y))
    else:
        present = tf.ones_like(y, tf.bool)
    present = tf.reshape(present, [tf.shape(y)[0], -1])
    return tf.cast(tf.reduce_all(present, axis=1), tf.float32)


def _fill_missing(y):
    """Replaces missing-label markers by 0 so the loss stays finite on masked rows."""
    y = tf.convert_to_tensor(y)
    if y.dtype.is_integer:
        return tf.where(tf.equal(y, tf.cast(MISSING_LABEL, y.dtype)), tf.zeros_like(y), y)
    if y.dtype.is_floating:
        return tf.where(tf.math.is_nan(y), tf.zeros_like(y), y)
    return y


def _sample_weight(sample_weight, head, size):
    weight = sample_weight
    if isinstance(sample_weight, (dict, list, tuple)):
        weight = _select(sample_weight, head.target, head.position)
    if weight is None:
        return tf.ones([size], tf.float32)
    return tf.reshape(tf.cast(weight, tf.float32), [-1])


def per_example_loss(loss, y_true, y_pred):
    """Unreduced loss, one value per example (extra axes averaged)."""
    values = loss.call(y_true, y_pred) if isinstance(loss, keras.losses.Loss) else loss(
        y_true, y_pred)
    values = tf.cast(values, tf.float32)
    if values.shape.rank is not None and values.shape.rank > 1:
        values = tf.reduce_mean(values, axis=list(range(1, values.shape.rank)))
    return values


def task_counts(plan, y, sample_weight, task_ids):
    """Examples per task `(T,)` float32: data only, known before the forward pass."""
    if not plan.labelled:
        ids = example_task_ids(plan, task_ids)
        return tf.math.unsorted_segment_sum(tf.ones_like(ids, tf.float32), ids, plan.num_tasks)
    counts = [None] * plan.num_tasks
    for head in plan.heads:
        target = _target(y, head)
        valid = label_mask(target)
        valid *= tf.cast(_sample_weight(sample_weight, head, tf.shape(valid)[0]) != 0,
                         tf.float32)
        counts[head.tasks[0]] = tf.reduce_sum(valid)
    return tf.stack([c if c is not None else tf.constant(0.0) for c in counts])


class MetricItem(NamedTuple):
    """The examples one head scored, for the metric updates (`task_ids` None: labelled)."""

    task_ids: tf.Tensor | None
    y_true: tf.Tensor | None
    y_pred: tf.Tensor
    sample_weight: tf.Tensor


def task_loss_sums(plan, y_pred, y, sample_weight, task_ids):
    """Per-task sums of per-example losses of a (sub-)batch.

    Args:
        plan: the `LossPlan`.
        y_pred: the model's outputs for the rows.
        y: the targets (None for losses that need none, such as the triplet loss).
        sample_weight: None, a `(N,)` tensor, or a dict keyed like the targets.
        task_ids: int32 `(N,)` input-row task ids (one task per sample), or None (labelled).

    Returns:
        `(sums, items)`: float32 `(T,)` sums of weighted per-example losses and a list of
        `MetricItem`s for the metric updates.
    """
    num_tasks = plan.num_tasks
    sums = tf.zeros([num_tasks], tf.float32)
    items = []
    g = plan.rows_per_example
    ids = None if plan.labelled else example_task_ids(plan, task_ids)
    for head in plan.heads:
        pred = _select(y_pred, head.output)
        target = _target(y, head)
        if plan.labelled:
            valid = label_mask(target)
            weight = _sample_weight(sample_weight, head, tf.shape(valid)[0]) * valid
            values = per_example_loss(head.loss, _fill_missing(target), pred)
            total = tf.reduce_sum(tf.where(weight > 0, values * weight, 0.0))
            sums += tf.one_hot(head.tasks[0], num_tasks) * total * head.weight
            items.append(MetricItem(None, target, pred, weight))
            continue
        rows_ids = ids
        if len(head.tasks) < num_tasks:  # rows of the head's tasks only
            keep = tf.reduce_any(tf.equal(ids[:, None], tf.constant(head.tasks)[None, :]),
                                 axis=1)
            rows_ids = tf.boolean_mask(ids, keep)
            input_keep = tf.repeat(keep, g) if g > 1 else keep
            pred = tf.nest.map_structure(lambda v, m=input_keep: tf.boolean_mask(v, m), pred)
            if target is not None:
                target = tf.boolean_mask(target, input_keep)
            weight = _sample_weight(sample_weight, head, tf.size(ids))
            weight = tf.boolean_mask(weight[::g] if g > 1 else weight, keep)
        else:
            weight = _sample_weight(sample_weight, head, tf.size(ids) * g)
            weight = weight[::g] if g > 1 else weight
        values = per_example_loss(head.loss, target, pred) * weight * head.weight
        sums += tf.math.unsorted_segment_sum(values, rows_ids, num_tasks)
        items.append(MetricItem(rows_ids, target, pred, weight))
    return sums, items
