"""Retrieval evaluation: embeddings per task, triplet accuracy (Zhao Tables 3 and 6), top-k.

Triplet accuracy is counted, correct / total per task, exactly as `TripletAccuracy` counts it
(a triplet is correct when the anchor is strictly nearer, in squared Euclidean distance, to
the positive than to the negative). Each image is embedded once per task, so evaluating
`M` triplets of one task costs one forward pass per distinct image, not `3 M`.
"""

import numpy as np


def embed(model, dataset, indices, task, *, image_size, batch_size=256):
    """Embeds images of a `RetrievalDataset` under one task.

    Args:
        model: a retrieval model with inputs `{"image", "task_id"}` and one embedding output.
        dataset: a `keras_mtl.datasets.RetrievalDataset`.
        indices: image indices to embed, in output order.
        task: the task id every image is embedded for.
        image_size: `(height, width)` the model expects.
        batch_size: images per forward pass.

    Returns:
        float32 array `(len(indices), dim)`.
    """
    import tensorflow as tf

    from keras_mtl.datasets import image_pipeline

    images = image_pipeline(dataset, indices, batch_size=batch_size, image_size=image_size)
    inputs = images.map(
        lambda x: {"image": x, "task_id": tf.fill([tf.shape(x)[0]], tf.constant(task, tf.int32))}
    )
    out = model.predict(inputs, verbose=0)
    if isinstance(out, dict):
        out = out["embedding"]
    return np.asarray(out, dtype="float32")


def triplet_accuracy(model, dataset, split="test", *, image_size, batch_size=256):
    """Per-task triplet accuracy of `model` on `dataset.triplets[split]`, counted.

    Reference:
        Zhao et al., ECCV 2018, Sec. 4 (triplet prediction accuracy), Tables 3 and 6.

    Returns:
        A dict with int arrays `correct` and `total` `(T,)`, float `accuracy` `(T,)` (NaN for
        tasks without triplets) and `mean` (the average over tasks that have triplets).
    """
    rows = np.asarray(dataset.triplets[split])
    num_tasks = dataset.num_tasks
    correct = np.zeros(num_tasks, dtype="int64")
    total = np.zeros(num_tasks, dtype="int64")
    for task in range(num_tasks):
        task_rows = rows[rows[:, 3] == task]
        if len(task_rows) == 0:
            continue
        used = np.unique(task_rows[:, :3])
        vectors = embed(model, dataset, used, task, image_size=image_size, batch_size=batch_size)
        a, p, n = (vectors[np.searchsorted(used, task_rows[:, k])] for k in range(3))
        d_pos = np.sum((a - p) ** 2, axis=-1)
        d_neg = np.sum((a - n) ** 2, axis=-1)
        correct[task] = int(np.sum(d_pos < d_neg))
        total[task] = len(task_rows)
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.where(total > 0, correct / np.maximum(total, 1), np.nan)
    return {
        "correct": correct,
        "total": total,
        "accuracy": accuracy,
        "mean": float(np.nanmean(accuracy)) if np.any(total > 0) else float("nan"),
    }


def top_k(query_vectors, gallery_vectors, k, exclude=None):
    """Indices of the `k` nearest gallery vectors (squared Euclidean) for each query.

    Args:
        query_vectors: `(Q, dim)`.
        gallery_vectors: `(G, dim)`.
        k: neighbours per query.
        exclude: optional `(Q,)` gallery positions to skip (e.g. the query itself), -1 for none.

    Returns:
        int array `(Q, k)`, nearest first.
    """
    distances = (
        np.sum(query_vectors**2, axis=1)[:, None]
        - 2.0 * query_vectors @ gallery_vectors.T
        + np.sum(gallery_vectors**2, axis=1)[None, :]
    )
    if exclude is not None:
        rows = np.nonzero(np.asarray(exclude) >= 0)[0]
        distances[rows, np.asarray(exclude)[rows]] = np.inf
    return np.argsort(distances, axis=1, kind="stable")[:, :k]


def retrieve(model, dataset, queries, gallery, task, k, *, image_size, batch_size=256):
    """Top-k gallery images for each query image, under one task (Zhao Fig. 4).

    Returns:
        int array `(len(queries), k)` of dataset image indices, nearest first; a query found in
        the gallery is not returned as its own neighbour.
    """
    queries, gallery = np.asarray(queries), np.asarray(gallery)
    q = embed(model, dataset, queries, task, image_size=image_size, batch_size=batch_size)
    g = embed(model, dataset, gallery, task, image_size=image_size, batch_size=batch_size)
    position = {int(index): i for i, index in enumerate(gallery)}
    exclude = np.array([position.get(int(i), -1) for i in queries])
    return gallery[top_k(q, g, k, exclude)]
