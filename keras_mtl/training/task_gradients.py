"""Per-task gradients of a batch in one pass: the input of the probe and of every weighting.

`task_gradients` is a pure function of a loss function, a batch and the variables: it can be
tested against separate `tf.GradientTape`s without `fit`. It returns a `TaskGradients` tuple:

- `loss_sums` `(T,)`: per-task sums of per-example losses;
- `tasks` `(K,)` and `task_gradients` `(K, D)`: the gradient of each task's share of the
  objective with respect to the *shared* variables, flattened (D = P, their size), or its count
  sketch (D = `sketch_dim`), for the K tasks computed;
- `gradients`: one tensor per variable, `sum_t w_t g_t` plus the regularization gradient, the
  update a plain weighted step would apply (multiplied by the loss scale, if any, as the
  optimizer expects);
- `regularization` and `metric_items` (the outputs for the metric updates).

Modes (`mode=`):
- `"grouped"` (one task per sample): the batch is sorted by task and each task's rows go
  forward and backward once, in a `tf.while_loop` over the K tasks present, so the traced graph
  does not grow with the number of tasks T. The sum of the groups' gradients is the full-batch
  gradient, exactly, when rows do not interact in the forward pass (no BatchNormalization in
  training mode). Total work: one forward and one backward of the batch.
- `"full"` (both settings): one forward pass of the whole batch and one backward pass per task
  (`GradientTape.jacobian` over the T task objectives, a `tf.while_loop`). Exact for any model;
  T backward passes; holds a `(T, P)` matrix.
- `"representation"` (both settings): gradients of each task's objective with respect to a
  shared representation `Z` (the output of a chosen layer) instead of the shared weights,
  one backward pass per task through the layers after `Z` only, plus one ordinary backward
  pass for the update: about the cost of a plain step. The Gram matrix of these gradients
  approximates that of the weight gradients (MGDA-UB, Sener & Koltun 2018, Sec. 3.3, whose
  Theorem 1 bounds the weight-gradient combination by the representation-gradient one);
  under a distribution strategy the replicas' Gram matrices are summed.
- `"off"`: one forward and one backward pass; no per-task gradients (K = 0).

Reference:
    Zhao et al., ECCV 2018, Sec. 3.1, Eq. 2 (per-task gradients on the shared parameters);
    design.md, "Decision: how per-task gradients are computed".
"""

from __future__ import annotations

from typing import Any, NamedTuple

import tensorflow as tf

from keras_mtl.training import gradient_probe

MODES = ("grouped", "full", "representation", "off")


class TaskBatch(NamedTuple):
    """A parsed batch: inputs, targets, sample weights and per-row task ids (None: labelled)."""

    x: Any
    y: Any
    sample_weight: Any
    task_id: tf.Tensor | None


class TaskGradients(NamedTuple):
    """What `task_gradients` returns.

    Attributes:
        loss_sums: `(T,)` per-task sums of per-example losses.
        tasks: `(K,)` the ids of the K tasks whose gradients were computed.
        task_gradients: `(K, D)` the gradient of each of those tasks' share of the objective
            with respect to the shared variables, flattened (D = their size), or its count
            sketch (D = `sketch_dim`).
        gradients: one tensor per variable: `sum_t w_t g_t` plus the regularization
            gradient, the update a plain weighted step would apply (multiplied by the loss
            scale, if any, as the optimizer expects).
        regularization: the scalar weight penalty of the step.
        metric_items: the outputs for the metric updates.
    """

    loss_sums: tf.Tensor
    tasks: tf.Tensor
    task_gradients: tf.Tensor
    gradients: list
    regularization: tf.Tensor
    metric_items: list


def _dense(gradients, variables):
    return [
        tf.zeros_like(v) if g is None else tf.convert_to_tensor(g)
        for g, v in zip(gradients, variables, strict=True)
    ]


def _flat_shared(gradients, shared, sketch):
    flat = gradient_probe.flatten_gradients(
        [g for g, s in zip(gradients, shared, strict=True) if s])
    if sketch is None:
        return flat
    buckets, signs, dim = sketch
    return gradient_probe.count_sketch(flat, buckets, signs, dim)


def _all_ones(weights):
    value = tf.get_static_value(weights)
    return value is not None and bool((value == 1).all())


def _rows(structure, start, size):
    if structure is None:
        return None
    return tf.nest.map_structure(lambda v: v[start:start + size], structure)


def _sorted(structure, order):
    if structure is None:
        return None
    return tf.nest.map_structure(lambda v: tf.gather(v, order), structure)


def task_gradients(
    forward_fn,
    loss_fn,
    batch: TaskBatch,
    variables: list,
    shared: list[bool],
    *,
    num_tasks: int,
    mode: str,
    task_scale,
    task_weights,
    loss_scale=None,
    sketch=None,
    output_spec=None,
    weights_fn=None,
) -> TaskGradients:
    """Per-task gradients of the shared variables and the weighted update, in one pass.

    Args:
        forward_fn: `forward_fn(x) -> (y_pred, regularization)`: runs the model on inputs `x`
            in training mode; `regularization` is a scalar of weight penalties (counted once
            per step). For `"representation"` it returns `(y_pred, regularization, z)`.
        loss_fn: `loss_fn(y_pred, batch) -> (sums, metric_items)`: float32 `(T,)` per-task
            sums of per-example losses of the rows of `batch`, and the metric items.
        batch: the `TaskBatch`.
        variables: the trainable variables to differentiate.
        shared: one bool per variable: whether it is shared (probed).
        num_tasks: T, static.
        mode: `"grouped"`, `"full"`, `"representation"` or `"off"`.
        task_scale: `(T,)` factor turning loss sums into each task's share of the objective
            (`1 / examples in the batch` with one task per sample; `1 / examples labelled for
            the task` when every sample is labelled for every task).
        task_weights: `(T,)` weights applied in this pass (`gradients = sum_t w_t g_t`); ones
            for the plain step and for gradient methods, which combine `task_gradients` after.
        loss_scale: the mixed-precision loss scale, or None. Gradients are taken of the scaled
            objective; `task_gradients` are divided by it again (float32 quantities), while
            `gradients` stay scaled for the optimizer's `apply`.
        sketch: None for exact per-task gradients, or `(buckets, signs, dim)` from
            `keras_mtl.training.gradient_probe.sketch_hashes` to keep only their count
            sketches.
        output_spec: the structure of `tf.TensorSpec`s of `y_pred` (needed by `"grouped"`,
            which concatenates the groups' outputs for the metrics).
        weights_fn: `"representation"` only: `weights_fn(rows, tasks, loss_sums) -> (T,)`,
            the weights of a gradient method computed from this pass's per-task rows, used
            for the update in the same pass (every variable then gets `sum_t w_t g_t`).

    Returns:
        A `TaskGradients` tuple.
    """
    if mode not in MODES:
        raise ValueError(f"Expected `mode` to be one of {MODES}. Received: mode={mode!r}")
    task_scale = tf.convert_to_tensor(task_scale, tf.float32)
    task_weights = tf.convert_to_tensor(task_weights, tf.float32)
    scale = tf.constant(1.0) if loss_scale is None else tf.cast(loss_scale, tf.float32)
    size = sum(v.shape.num_elements() for v, s in zip(variables, shared, strict=True) if s)
    width = size if sketch is None else sketch[2]
    if mode == "grouped":
        return _grouped(forward_fn, loss_fn, batch, variables, shared, num_tasks, task_scale,
                        task_weights, scale, sketch, width, output_spec)
    rows = None
    with tf.GradientTape(persistent=mode != "off") as tape:
        y_pred, regularization, *representation = forward_fn(batch.x)
        sums, items = loss_fn(y_pred, batch)
        objectives = scale * task_scale * sums
        if mode == "representation":
            with tape.stop_recording():  # one backward pass per task, through the heads only
                rows = tape.jacobian(objectives, representation[0], experimental_use_pfor=False,
                                     unconnected_gradients=tf.UnconnectedGradients.ZERO)
                rows = tf.reshape(tf.cast(rows, tf.float32), [num_tasks, -1]) / scale
                if weights_fn is not None:  # MGDA-UB: weights from Z, then one weighted pass
                    task_weights = tf.stop_gradient(
                        weights_fn(rows, tf.range(num_tasks), sums))
        penalty = scale * regularization
        total = tf.reduce_sum(task_weights * objectives) + penalty
    if mode in ("off", "representation"):
        gradients = _dense(tape.gradient(total, variables), variables)
        del tape
        if mode == "off":
            return TaskGradients(sums, tf.zeros([0], tf.int32), tf.zeros([0, width]), gradients,
                                 regularization, items)
        return TaskGradients(sums, tf.range(num_tasks), rows, gradients, regularization, items)
    # One backward pass per task (a while loop inside `jacobian`), then their weighted sum.
    jacobian = tape.jacobian(objectives, variables, experimental_use_pfor=False,
                             unconnected_gradients=tf.UnconnectedGradients.ZERO)
    penalty = _dense(tape.gradient(penalty, variables), variables)
    del tape
    gradients = [tf.tensordot(task_weights, j, axes=1) + p
                 for j, p in zip(jacobian, penalty, strict=True)]
    parts = [tf.reshape(j, [num_tasks, -1]) for j, s in zip(jacobian, shared, strict=True) if s]
    rows = (tf.concat(parts, axis=1) if parts else tf.zeros([num_tasks, 0])) / scale
    if sketch is not None:
        rows = gradient_probe.count_sketch(rows, sketch[0], sketch[1], sketch[2])
    rows = tf.reshape(rows, [num_tasks, width])
    return TaskGradients(sums, tf.range(num_tasks), rows, gradients, regularization, items)


def _grouped(forward_fn, loss_fn, batch, variables, shared, num_tasks, task_scale, task_weights,
             scale, sketch, width, output_spec):
    if batch.task_id is None:
        raise ValueError("Expected per-row task ids for mode='grouped'. Received: None")
    order, tasks, starts, sizes = gradient_probe.group_rows(batch.task_id)
    ordered = TaskBatch(_sorted(batch.x, order), _sorted(batch.y, order),
                        _sorted(batch.sample_weight, order), tf.gather(batch.task_id, order))
    count = tf.size(tasks)
    specs = tf.nest.flatten(output_spec)

    # Known at trace time: skip work a step does not need (fewer ops per task group).
    unweighted = _all_ones(task_weights)

    def body(k, sums_acc, reg_acc, rows_ta, output_tas, grads_acc):
        part = TaskBatch(*(_rows(field, starts[k], sizes[k]) for field in ordered))
        with tf.GradientTape(persistent=True) as tape:
            y_pred, regularization = forward_fn(part.x)
            penalized = tf.get_static_value(regularization) != 0
            regularization = tf.cast(tf.equal(k, 0), tf.float32) * regularization  # once
            sums, _ = loss_fn(y_pred, part)
            objective = scale * tf.reduce_sum(task_scale * sums)
            penalty = scale * regularization
        task_grads = _dense(tape.gradient(objective, variables), variables)  # one backward pass
        grads = task_grads
        if not unweighted:
            weight = tf.gather(task_weights, tasks[k])
            grads = [weight * g for g in grads]
        if penalized:  # weight penalties (regularizers): a short backward pass, weights only
            penalty_grads = _dense(tape.gradient(penalty, variables), variables)
            grads = [g + p for g, p in zip(grads, penalty_grads, strict=True)]
        del tape
        row = _flat_shared(task_grads, shared, sketch) / scale
        output_tas = [ta.write(k, tf.cast(out, ta.dtype)) for ta, out in
                      zip(output_tas, tf.nest.flatten(y_pred), strict=True)]
        return (k + 1, sums_acc + sums, reg_acc + regularization, rows_ta.write(k, row),
                output_tas, [a + g for a, g in zip(grads_acc, grads, strict=True)])

    output_tas = [tf.TensorArray(spec.dtype, size=count, infer_shape=False,
                                 element_shape=tf.TensorShape([None]).concatenate(
                                     spec.shape[1:])) for spec in specs]
    zeros = [tf.zeros_like(v) for v in variables]
    rows_ta = tf.TensorArray(tf.float32, size=count, element_shape=[width])
    _, sums, regularization, rows_ta, output_tas, gradients = tf.while_loop(
        lambda k, *_: k < count,
        body,
        (tf.constant(0), tf.zeros([num_tasks]), tf.constant(0.0), rows_ta, output_tas, zeros),
    )
    y_pred = tf.nest.pack_sequence_as(output_spec, [ta.concat() for ta in output_tas])
    _, items = loss_fn(y_pred, ordered)  # metric items of the whole (sorted) batch
    rows = tf.reshape(rows_ta.stack(), [count, width])
    return TaskGradients(sums, tasks, rows, gradients, regularization, items)
