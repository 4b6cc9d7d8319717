"""`task_gradients`, the pure per-task gradient function, against separate tapes (no `fit`)."""

import numpy as np
import pytest
import tensorflow as tf
from training_helpers import build_embedding_model, triplet_batch

from keras_mtl.losses import TripletLoss, interleave_triplets, triplet_loss
from keras_mtl.training import TaskBatch, gradient_probe, task_gradients
from keras_mtl.training.task_losses import build_loss_plan, task_loss_sums

MARGIN = 1.0


def _setup(num_tasks=3, size=12):
    model = build_embedding_model(num_tasks=num_tasks)
    plan = build_loss_plan(TripletLoss(MARGIN), model.task_names, model.output,
                           has_task_id=True)
    x = interleave_triplets(triplet_batch(size=size, num_tasks=num_tasks))
    batch = TaskBatch(x, None, None, tf.constant(x["task_id"]))
    variables = model.trainable_variables
    shared_ids = {id(v) for v in model.shared_variables}
    shared = [id(v) in shared_ids for v in variables]

    def forward(inputs):
        return model(inputs, training=True), tf.constant(0.0)

    def losses(y_pred, part):
        return task_loss_sums(plan, y_pred, part.y, part.sample_weight, part.task_id)

    return model, batch, variables, shared, forward, losses


def _separate_tapes(model, batch, variables, num_tasks, size):
    """Per task: gradient of (task's triplet losses summed) / triplets in the batch."""
    raw = triplet_batch(size=size, num_tasks=num_tasks)
    grads = []
    for task in range(num_tasks):
        rows = raw["task_id"] == task
        with tf.GradientTape() as tape:
            embed = [model({"image": raw[k][rows], "task_id": raw["task_id"][rows]})
                     for k in ("anchor", "positive", "negative")]
            loss = tf.reduce_sum(triplet_loss(*embed, margin=MARGIN)) / size
        grads.append([tf.zeros_like(v) if g is None else tf.convert_to_tensor(g)
                      for g, v in zip(tape.gradient(loss, variables), variables, strict=True)])
    return grads


@pytest.mark.parametrize("mode", ["grouped", "full"])
def test_rows_and_weighted_update_match_separate_tapes(mode):
    model, batch, variables, shared, forward, losses = _setup()
    expected = _separate_tapes(model, batch, variables, 3, 12)
    weights = tf.constant([2.0, 0.0, 0.5])
    run = tf.function(lambda: task_gradients(
        forward, losses, batch, variables, shared, num_tasks=3, mode=mode,
        task_scale=tf.fill([3], 1.0 / 12), task_weights=weights, loss_scale=1024.0,
        output_spec=tf.TensorSpec((None, 4), tf.float32)))
    result = run()
    assert result.tasks.numpy().tolist() == [0, 1, 2]
    for row, task in zip(result.task_gradients.numpy(), expected, strict=True):
        want = np.concatenate([np.ravel(g) for g, s in zip(task, shared, strict=True) if s])
        np.testing.assert_allclose(row, want, atol=1e-6)  # unscaled by the loss scale
    for i, got in enumerate(result.gradients):  # scaled, as LossScaleOptimizer expects
        want = 1024.0 * sum(w * g[i] for w, g in zip(weights.numpy(), expected, strict=True))
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-4, atol=1e-4)
    assert len(result.metric_items) == 1 and result.metric_items[0].y_pred.shape[0] == 36


def test_grouped_computes_only_present_tasks_and_sketches():
    model, batch, variables, shared, forward, losses = _setup(num_tasks=5, size=10)
    ids = np.array([4, 1] * 5, "int32")  # only tasks 1 and 4 present
    x = dict(batch.x, task_id=np.repeat(ids, 3))
    batch = TaskBatch(x, None, None, tf.constant(x["task_id"]))
    exact = task_gradients(forward, losses, batch, variables, shared, num_tasks=5,
                           mode="grouped", task_scale=tf.fill([5], 0.1),
                           task_weights=tf.ones([5]),
                           output_spec=tf.TensorSpec((None, 4), tf.float32))
    assert exact.tasks.numpy().tolist() == [1, 4]
    size = exact.task_gradients.shape[1]
    buckets, signs = gradient_probe.sketch_hashes(size, 64, seed=0)
    sketched = task_gradients(forward, losses, batch, variables, shared, num_tasks=5,
                              mode="grouped", task_scale=tf.fill([5], 0.1),
                              task_weights=tf.ones([5]), sketch=(buckets, signs, 64),
                              output_spec=tf.TensorSpec((None, 4), tf.float32))
    np.testing.assert_allclose(
        sketched.task_gradients.numpy(),
        gradient_probe.count_sketch(exact.task_gradients, buckets, signs, 64).numpy(),
        atol=1e-6)
    for a, b in zip(sketched.gradients, exact.gradients, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-7)


def _graph_size(num_tasks):
    model, batch, variables, shared, forward, losses = _setup(num_tasks=num_tasks,
                                                              size=2 * num_tasks)
    function = tf.function(lambda: task_gradients(
        forward, losses, batch, variables, shared, num_tasks=num_tasks, mode="grouped",
        task_scale=tf.ones([num_tasks]), task_weights=tf.ones([num_tasks]),
        output_spec=tf.TensorSpec((None, 4), tf.float32)))
    graph = function.get_concrete_function().graph.as_graph_def()
    return len(graph.node) + sum(len(f.node_def) for f in graph.library.function)


def test_grouped_graph_does_not_grow_with_the_number_of_tasks():
    assert _graph_size(40) == _graph_size(4)


def _train_step_size(num_tasks):
    model = build_embedding_model(num_tasks=num_tasks)
    model.compile(optimizer="sgd", loss=TripletLoss(MARGIN))
    model.optimizer.build(model.trainable_variables)
    spec = {"image": tf.TensorSpec((None, 3, 3, 2)), "task_id": tf.TensorSpec((None,), "int32")}
    graph = tf.function(model.train_step).get_concrete_function((spec,)).graph.as_graph_def()
    return len(graph.node) + sum(len(f.node_def) for f in graph.library.function)


def test_whole_train_step_graph_grows_only_by_its_per_task_log_entries():
    # Gradients, probe, tracker, per-task losses and metrics are vectorised over T; what grows
    # is only the logs dict: one scalar per task for `loss_<task>` and `grad_norm_<task>`.
    growth = _train_step_size(312) - _train_step_size(4)
    assert growth <= 2 * (312 - 4) + 16
