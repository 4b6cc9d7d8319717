"""Keep NaN / Inf inputs out of training: drop the examples that hold them, or stop at once."""

from __future__ import annotations


def drop_non_finite(dataset, *, rows_per_example: int = 1, mode: str = "drop"):
    """Filters the batches of a `tf.data.Dataset` so that no non-finite value reaches a model.

    `MultiTaskModel` already skips a step whose loss or gradients are not finite (the weights
    stay unchanged), but a pipeline that drops the few bad examples loses only those rows
    instead of whole steps, and one that raises names the batch at once.

    Args:
        dataset: a `tf.data.Dataset` of batches: `x`, `(x,)`, `(x, y)` or `(x, y,
            sample_weight)`, each a tensor or a (nested) dict / tuple of tensors whose first
            axis is the batch.
        rows_per_example: consecutive rows that form one example and are dropped together
            (3 for the triplet rows of `triplet_pipeline`, see
            `keras_mtl.losses.interleave_triplets`).
        mode: `"drop"` removes every example with a NaN or Inf in any floating-point input,
            target or weight; `"raise"` fails with an `InvalidArgumentError` naming the batch
            instead.

    Returns:
        The filtered `tf.data.Dataset` (same element structure; batches may be smaller).

    Example:

    ```python
    train = keras_mtl.datasets.triplet_pipeline(data, "train", batch_size=64)
    train = keras_mtl.datasets.drop_non_finite(train, rows_per_example=3)
    ```
    """
    import tensorflow as tf

    if mode not in ("drop", "raise"):
        raise ValueError(f"Expected `mode` to be 'drop' or 'raise'. Received: mode={mode!r}")
    if isinstance(rows_per_example, bool) or not isinstance(rows_per_example, int) or (
            rows_per_example < 1):
        raise ValueError("Expected `rows_per_example` to be a positive int. Received: "
                         f"rows_per_example={rows_per_example!r}")
    g = rows_per_example

    def finite_rows(element):
        flags = []
        for tensor in tf.nest.flatten(element):
            if tensor.dtype.is_floating:
                rows = tf.reshape(tf.math.is_finite(tensor), [tf.shape(tensor)[0], -1])
                flags.append(tf.reduce_all(rows, axis=1))
        if not flags:
            return None
        keep = tf.reduce_all(tf.stack(flags), axis=0)
        return tf.reduce_all(tf.reshape(keep, [-1, g]), axis=1)  # one flag per example

    as_tuple = isinstance(dataset.element_spec, tuple)

    def clean(*element):
        element = element if as_tuple else element[0]
        keep = finite_rows(element)
        if keep is None:
            return element
        if mode == "raise":
            check = tf.debugging.Assert(tf.reduce_all(keep), [
                "Expected finite inputs, targets and weights. Received: a batch with",
                tf.reduce_sum(tf.cast(tf.logical_not(keep), tf.int32)),
                "example(s) holding NaN or Inf"])
            with tf.control_dependencies([check]):
                return tf.nest.map_structure(tf.identity, element)
        rows = tf.repeat(keep, g)
        return tf.nest.map_structure(lambda t: tf.boolean_mask(t, rows), element)

    return dataset.map(clean)
