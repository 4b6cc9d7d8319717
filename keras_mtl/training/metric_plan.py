"""Which metric scores which loss head, and their updates from a step's metric items."""

from __future__ import annotations

import inspect
from typing import NamedTuple

import keras
import tensorflow as tf


class MetricHead(NamedTuple):
    """One metric and the loss head (index into `plan.heads`) whose examples it scores."""

    head: int
    metric: keras.metrics.Metric
    takes_task_id: bool  # `update_state(..., task_id=...)` receives the examples' task ids


def build_metric_plan(metrics, plan, task_names) -> list[MetricHead]:
    """Resolves `compile(metrics=...)` against a `LossPlan`.

    Args:
        metrics: None, a metric (name, function or instance), a list of them (for every
            head), or a dict keyed by output or task name.
        plan: the `LossPlan` (None: no metrics).
        task_names: the T task names.

    Returns:
        `MetricHead`s. With one task per sample a listed metric is one instance updated by
        every head; when every sample is labelled for every task each task gets its own copy,
        named `<task>_<metric>`. A loss may add its own (`loss.default_metrics(num_tasks)`,
        e.g. `TripletLoss` adds `TripletAccuracy`).
    """
    if plan is None:
        return []
    shared = None if isinstance(metrics, dict) else [_get_metric(m) for m in _listed(metrics)]
    defaults, heads = {}, []
    for index, head in enumerate(plan.heads):
        if shared is None:
            keys = [head.output] + [task_names[t] for t in head.tasks[:1] if len(head.tasks) == 1]
            found = [_get_metric(m) for k in keys if k in metrics for m in _listed(metrics[k])]
        else:
            found = list(shared)
        if id(head.loss) not in defaults:
            make = getattr(head.loss, "default_metrics", None)
            defaults[id(head.loss)] = list(make(len(task_names))) if make else []
        found += defaults[id(head.loss)]
        if plan.labelled:
            task = task_names[head.tasks[0]]
            found = [_clone_metric(m, f"{task}_{m.name}") for m in found]
        heads += [MetricHead(index, m, "task_id" in inspect.signature(m.update_state).parameters)
                  for m in found]
    return heads


def unique_metrics(heads: list[MetricHead]) -> list[keras.metrics.Metric]:
    """The distinct metric objects of a plan, in order."""
    metrics = []
    for head in heads:
        if not any(head.metric is m for m in metrics):
            metrics.append(head.metric)
    return metrics


def update_metrics(heads: list[MetricHead], items, weight) -> None:
    """Updates every metric with its head's `MetricItem`, sample weights times `weight`."""
    for head in heads:
        item = items[head.head]
        sample_weight = item.sample_weight * weight
        kwargs = {"task_id": item.task_ids} if head.takes_task_id else {}
        y_true = item.y_true if item.y_true is not None else tf.zeros_like(sample_weight)
        head.metric.update_state(y_true, item.y_pred, sample_weight=sample_weight, **kwargs)


def _listed(metrics):
    if metrics is None:
        return []
    if isinstance(metrics, (str, keras.metrics.Metric)) or callable(metrics):
        return [metrics]
    return list(metrics)


def _get_metric(identifier):
    """A metric object from a name or an instance (functions are wrapped in a running mean)."""
    if isinstance(identifier, keras.metrics.Metric):
        return identifier
    metric = keras.metrics.get(identifier)
    if isinstance(metric, keras.metrics.Metric):
        return metric
    name = identifier if isinstance(identifier, str) else getattr(metric, "__name__", "metric")
    return keras.metrics.MeanMetricWrapper(metric, name=name)


def _clone_metric(metric, name):
    return type(metric).from_config(dict(metric.get_config(), name=name))
