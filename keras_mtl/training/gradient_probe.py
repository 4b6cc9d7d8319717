"""Pure functions behind the gradient-conflict probe.

Everything here takes tensors and returns tensors, so each function can be checked against a
NumPy re-implementation without building a model.

Reference:
    Zhao et al., "A Modulation Module for Multi-task Learning with Applications in Image
    Retrieval", ECCV 2018, Sec. 3.1, Eq. 2: tasks `t` and `t'` interfere destructively on the
    shared parameters when `<grad_t, grad_t'> < 0`.
"""

import tensorflow as tf


def flatten_gradients(gradients, variables=None):
    """Concatenates a list of gradients into one flat vector.

    `None` gradients (a variable the loss does not reach) become zeros of the variable's size,
    so every task's vector has the same layout.

    Args:
        gradients: list of tensors or `None`.
        variables: list of variables, required where a gradient may be `None`.

    Returns:
        A float32 tensor of shape `(P,)`, P the total number of elements.
    """
    parts = []
    for index, grad in enumerate(gradients):
        if grad is None:
            if variables is None:
                raise ValueError(
                    "Expected `variables` when a gradient is None. "
                    f"Received: gradients[{index}]=None, variables=None"
                )
            parts.append(tf.zeros([tf.size(variables[index])], tf.float32))
        else:
            if isinstance(grad, tf.IndexedSlices):
                grad = tf.convert_to_tensor(grad)
            parts.append(tf.reshape(tf.cast(grad, tf.float32), [-1]))
    if not parts:
        return tf.zeros([0], tf.float32)
    return tf.concat(parts, axis=0)


def gram_matrix(task_gradients):
    """Pairwise inner products `G G^T` of per-task flat gradients `G` of shape `(T, P)`."""
    task_gradients = tf.convert_to_tensor(task_gradients, tf.float32)
    return tf.matmul(task_gradients, task_gradients, transpose_b=True)


def cosine_from_gram(gram, epsilon=1e-12):
    """Cosine matrix from a Gram matrix; rows or columns with zero norm give cosine 0."""
    norms = tf.sqrt(tf.maximum(tf.linalg.diag_part(gram), 0.0))
    denominator = norms[:, None] * norms[None, :]
    return tf.where(denominator > epsilon, gram / tf.maximum(denominator, epsilon), 0.0)


def pairwise_cosine(task_gradients):
    """T x T cosine similarity of per-task flat gradients `(T, P)` (zero vectors give 0)."""
    return cosine_from_gram(gram_matrix(task_gradients))


def valid_pair_mask(present):
    """Boolean `(T, T)` mask of pairs `i != j` where both tasks are present in the batch."""
    present = tf.cast(present, tf.bool)
    both = tf.logical_and(present[:, None], present[None, :])
    num_tasks = tf.shape(present)[0]
    return tf.logical_and(both, tf.logical_not(tf.eye(num_tasks, dtype=tf.bool)))


def conflict_summary(gram, present):
    """Batch-level summary of a Gram matrix of per-task gradients.

    Args:
        gram: `(T, T)` inner products of per-task shared gradients.
        present: `(T,)` boolean, whether a task has rows in the batch (an absent task has no
            gradient, so its pairs are left out).

    Returns:
        A dict with `mean_cosine` (mean cosine over valid pairs, 0 if none),
        `conflict_fraction` (fraction of valid pairs with a negative inner product),
        `num_pairs` (number of valid unordered pairs, float), `cosine` (`(T, T)`),
        `positive` (`(T, T)` float, inner product > 0) and `valid` (`(T, T)` float).
    """
    cosine = cosine_from_gram(gram)
    valid = tf.cast(valid_pair_mask(present), tf.float32)
    num_ordered = tf.reduce_sum(valid)
    safe = tf.maximum(num_ordered, 1.0)
    mean_cosine = tf.reduce_sum(cosine * valid) / safe
    negative = tf.cast(gram < 0.0, tf.float32)
    conflict_fraction = tf.reduce_sum(negative * valid) / safe
    return {
        "mean_cosine": mean_cosine,
        "conflict_fraction": conflict_fraction,
        "num_pairs": num_ordered / 2.0,
        "cosine": cosine,
        "positive": tf.cast(gram > 0.0, tf.float32) * valid,
        "valid": valid,
    }


def partition_by_task(structure, task_ids, num_tasks):
    """Splits every tensor of a nested structure into `num_tasks` groups by task id.

    Rows keep their order inside a group. Works in graph mode with data-dependent group sizes
    (`tf.dynamic_partition`); empty groups are tensors with zero rows.

    Args:
        structure: nested structure (dict, list, tuple) of tensors with a leading batch axis.
        task_ids: int tensor `(batch,)` or `(batch, 1)`.
        num_tasks: Python int, the static number of tasks.

    Returns:
        A list of `num_tasks` structures shaped like `structure`.
    """
    task_ids = tf.reshape(tf.cast(task_ids, tf.int32), [-1])
    flat = tf.nest.flatten(structure)
    parts = [tf.dynamic_partition(tensor, task_ids, num_tasks) for tensor in flat]
    return [
        tf.nest.pack_sequence_as(structure, [part[t] for part in parts])
        for t in range(num_tasks)
    ]


def task_sums(values, task_ids, num_tasks):
    """Sums `values` `(batch,)` per task; returns `(sums, counts)`, each `(num_tasks,)`."""
    task_ids = tf.reshape(tf.cast(task_ids, tf.int32), [-1])
    values = tf.reshape(tf.cast(values, tf.float32), [-1])
    sums = tf.math.unsorted_segment_sum(values, task_ids, num_tasks)
    counts = tf.math.unsorted_segment_sum(tf.ones_like(values), task_ids, num_tasks)
    return sums, counts
