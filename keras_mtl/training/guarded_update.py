"""The pieces of a step that must not let a bad batch in: the update and the weighting state."""

import tensorflow as tf


def apply_if(optimizer, gradients, variables, ok) -> None:
    """`optimizer.apply(gradients, variables)` when `ok`, else nothing at all.

    Nothing at all: the weights, the optimizer's slots and its iteration counter stay as they
    were. Under a distribution strategy the condition is taken in the cross-replica context,
    as Keras' `LossScaleOptimizer` does, since `apply` synchronizes the replicas (`ok` must be
    the same on every replica).
    """

    def apply():
        optimizer.apply(gradients, variables)
        return tf.constant(True)

    if not tf.distribute.has_strategy():
        tf.cond(ok, apply, lambda: tf.constant(False))
        return

    def cross_replica(distribution, ok, gradients):
        first = distribution.experimental_local_results(ok)[0]

        def apply_each():
            distribution.extended.call_for_each_replica(
                lambda grads: optimizer.apply(grads, variables), args=(gradients,))
            return tf.constant(True)

        tf.cond(first, apply_each, lambda: tf.constant(False))

    tf.distribute.get_replica_context().merge_call(cross_replica, args=(ok, gradients))


def guarded_weights(weighting, task_losses, gram, present, ids_ok):
    """`weighting.task_weights(...)`, or ones without touching its state for a bad batch.

    A stateful weighting (GradVac's targets, ...) must not take in non-finite values: a bad
    batch is skipped, and so is the weighting's update.
    """
    ok = tf.logical_and(ids_ok, tf.logical_and(tf.reduce_all(tf.math.is_finite(task_losses)),
                                               tf.reduce_all(tf.math.is_finite(gram))))
    return tf.cond(ok, lambda: tf.cast(weighting.task_weights(task_losses, gram, present),
                                       tf.float32),
                   lambda: tf.ones_like(task_losses))


def num_replicas() -> int:
    context = tf.distribute.get_replica_context()
    return context.num_replicas_in_sync if context is not None else 1


def sum_replicas(value):
    """The sum of `value` over the replicas (itself without a strategy)."""
    context = tf.distribute.get_replica_context()
    if context is not None and context.num_replicas_in_sync > 1:
        return context.all_reduce("sum", value)
    return value


def for_strategy(logs):
    """Gives every log a leading axis of 1 under MultiWorkerMirroredStrategy.

    Keras reduces step outputs with `strategy.reduce("MEAN", v, axis=0)` on multi-worker
    strategies, which fails on scalars (keras-team/keras#20329).
    """
    strategy = tf.distribute.get_strategy()
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return {k: tf.expand_dims(v, 0) for k, v in logs.items()}
    return logs
