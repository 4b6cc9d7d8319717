"""Pure functions behind the gradient-conflict probe.

Everything here takes tensors and returns tensors, so each function can be checked against a
NumPy re-implementation without building a model.

Reference:
    Zhao et al., "A Modulation Module for Multi-task Learning with Applications in Image
    Retrieval", ECCV 2018, Sec. 3.1, Eq. 2: tasks `t` and `t'` interfere destructively on the
    shared parameters when `<grad_t, grad_t'> < 0`.
"""

import math

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


def group_rows(task_ids):
    """Orders the rows of a batch by task, for one forward/backward pass per task group.

    Args:
        task_ids: int32 tensor `(batch,)`.

    Returns:
        `(order, tasks, starts, sizes)`: `order` `(batch,)` a stable permutation that sorts
        the rows by task (rows of a task keep their order, so consecutive rows of one example,
        e.g. a triplet, stay together); `tasks` `(K,)` the distinct task ids present, ascending;
        `starts` and `sizes` `(K,)` where each task's rows begin in the sorted batch and how
        many there are. K, the number of tasks present, is data-dependent (at most the batch
        size), so a loop over the groups does not grow with the number of tasks T.

    Example:
    >>> order, tasks, starts, sizes = group_rows(tf.constant([2, 0, 2, 1]))
    >>> order.numpy().tolist(), tasks.numpy().tolist(), sizes.numpy().tolist()
    ([1, 3, 0, 2], [0, 1, 2], [1, 1, 2])
    """
    task_ids = tf.reshape(tf.cast(task_ids, tf.int32), [-1])
    order = tf.argsort(task_ids, stable=True)
    tasks, _, sizes = tf.unique_with_counts(tf.gather(task_ids, order))
    starts = tf.cumsum(sizes, exclusive=True)
    return order, tasks, starts, sizes


def sketch_hashes(size, dim, seed):
    """Bucket and sign of every coordinate for `count_sketch` (seeded, stateless).

    Args:
        size: P, the length of the vectors to sketch.
        dim: k, the sketch length.
        seed: int, the seed; the same seed gives the same hash on every call and replica.

    Returns:
        `(buckets, signs)`: int32 `(P,)` in `[0, k)` and float32 `(P,)` in `{-1, +1}`.
    """
    buckets = tf.random.stateless_uniform(
        [size], seed=[seed, 0], minval=0, maxval=dim, dtype=tf.int32)
    signs = tf.where(
        tf.random.stateless_uniform([size], seed=[seed, 1]) < 0.5, -1.0, 1.0)
    return buckets, signs


def count_sketch(vectors, buckets, signs, dim):
    """Count sketch of each row of `vectors` `(K, P)` (or one `(P,)` vector) to length `dim`.

    Inner products of sketches are unbiased estimates of the inner products of the vectors
    (`E[<S a, S b>] = <a, b>`), with variance at most `2 ||a||^2 ||b||^2 / dim`; a cosine is
    estimated to about `sqrt(2 / dim)` (0.006 for `dim = 65536`).

    Reference:
        Charikar, Chen, Farach-Colton, "Finding frequent items in data streams", ICALP 2002
        (the count sketch); its inner-product estimate: Weinberger et al., "Feature Hashing
        for Large Scale Multitask Learning", ICML 2009, Sec. 2.

    Args:
        vectors: float32 `(P,)` or `(K, P)`.
        buckets, signs: from `sketch_hashes(P, dim, seed)`.
        dim: k, static.

    Returns:
        float32 `(k,)` or `(K, k)`.
    """
    vectors = tf.convert_to_tensor(vectors, tf.float32)
    if vectors.shape.rank == 1:
        return tf.math.unsorted_segment_sum(vectors * signs, buckets, dim)
    rows = tf.transpose(vectors * signs[None, :])
    return tf.transpose(tf.math.unsorted_segment_sum(rows, buckets, dim))


def scatter_gram(gram, tasks, num_tasks):
    """Places the `(K, K)` Gram matrix of the tasks `tasks` `(K,)` into a `(T, T)` zero matrix."""
    rows = tf.repeat(tasks, tf.size(tasks))
    cols = tf.tile(tasks, [tf.size(tasks)])
    indices = tf.stack([rows, cols], axis=1)
    return tf.scatter_nd(indices, tf.reshape(gram, [-1]), [num_tasks, num_tasks])


def unflatten_gradients(flat, variables):
    """Splits a flat `(P,)` vector into tensors shaped like `variables` (inverse of flatten)."""
    sizes = [math.prod(v.shape) for v in variables]
    parts = tf.split(flat, sizes) if variables else []
    return [tf.reshape(p, v.shape) for p, v in zip(parts, variables, strict=True)]


def task_sums(values, task_ids, num_tasks):
    """Sums `values` `(batch,)` per task; returns `(sums, counts)`, each `(num_tasks,)`."""
    task_ids = tf.reshape(tf.cast(task_ids, tf.int32), [-1])
    values = tf.reshape(tf.cast(values, tf.float32), [-1])
    sums = tf.math.unsorted_segment_sum(values, task_ids, num_tasks)
    counts = tf.math.unsorted_segment_sum(tf.ones_like(values), task_ids, num_tasks)
    return sums, counts
