"""tf.data pipelines: triplet batches for retrieval, (image, task) batches for classification.

Batch schema of `triplet_pipeline` (one element = one batch, a dict, no separate target):

```
{"anchor":   float32 [B, H, W, 3],   # RGB in [0, 1]
 "positive": float32 [B, H, W, 3],
 "negative": float32 [B, H, W, 3],
 "task_id":  int32   [B]}            # the task under which anchor ~ positive
```

By default (`model_inputs=True`) each batch is already the model's input dict
`{"image": float32 [3B, H, W, 3], "task_id": int32 [3B]}`: the anchor, positive and negative of
each triplet in three consecutive rows (`keras_mtl.losses.interleave_triplets`), so that
`keras_mtl.losses.triplet_loss.split_triplets(model(inputs))` gives the embeddings of Zhao Eq. 6 and
`TripletLoss` scores them.

Preprocessing: decode (JPEG/PNG) -> RGB -> bilinear resize (antialiased) to `image_size` ->
float32 / 255. Augmentation (`augment=True`, for training): random horizontal flip and a
brightness shift in [-0.1, 0.1] (clipped to [0, 1]), drawn independently per image from
stateless seeds, so a pipeline is reproducible for a given `seed`.

Sampling (`sampling=`), each pass over the dataset is one epoch with a fresh, seeded order:
- `"balanced"`: every batch holds `batch_size // num_tasks` triplets of each task (Zhao et al.
  2018, Sec. 4.1: "in each mini-batch, we evenly sample triplets for all tasks"). A task with
  fewer triplets than others is cycled through again within the epoch.
- `"one_task"`: every batch holds triplets of a single task drawn uniformly (Strezoski et al.
  2019, Task Routing, Algorithm 1).
- `"shuffle"`: triplets shuffled regardless of task.
- `"sequential"`: every triplet exactly once, in stored order, last batch possibly smaller;
  use it for evaluation (per-task triplet accuracy).
An epoch has `num_triplets // batch_size` batches (sequential: rounded up).

Performance (so that a training step costs what it costs on in-memory arrays):
- each image file is decoded and resized once per process: decoded images are kept in a
  process-wide cache (up to 1 GiB, `clear_image_cache()`), shared by every pipeline built on the
  same files (train, val, test, the evaluation's embeddings, a second model's training);
- the batch order of a whole epoch is drawn in NumPy once per pass, and the per-batch work
  (gathers from the in-memory table, augmentation) runs in tf.data's parallel map, prefetched;
- tf.data's thread pool and parallel calls are sized to the CPUs this process may actually use
  (`usable_cpus()`: affinity and cgroup CPU quota, not the host's core count), and its ops run
  single-threaded, so the input pipeline does not oversubscribe the cores that the training
  step's own thread pool is using.
"""

from __future__ import annotations

import collections
import itertools
import math
import os
import threading

import numpy as np

from keras_mtl.datasets.retrieval_dataset import RetrievalDataset, find_bad_images
from keras_mtl.losses.triplet_loss import interleave_triplets

SAMPLING_MODES = ("balanced", "one_task", "shuffle", "sequential")
IMAGE_CACHE_BYTES = 2**30
_DECODED: collections.OrderedDict = collections.OrderedDict()  # (path, h, w) -> uint8 array
_DECODED_LOCK = threading.Lock()


def usable_cpus() -> int:
    """CPUs this process may use: its CPU affinity, capped by a cgroup CPU quota if any.

    `os.cpu_count()` (and TensorFlow's default thread pools) see every core of the host, also
    inside a container limited to 2 CPUs by a quota; sizing threads to the host there makes
    them contend for the quota (high system time).
    """
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        count = os.cpu_count() or 1
    quota = None
    try:  # cgroup v2
        with open("/sys/fs/cgroup/cpu.max") as f:
            limit, period = f.read().split()[:2]
        if limit != "max":
            quota = int(limit) / int(period)
    except (OSError, ValueError):
        try:  # cgroup v1
            with open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") as f:
                limit = int(f.read())
            with open("/sys/fs/cgroup/cpu/cpu.cfs_period_us") as f:
                period = int(f.read())
            if limit > 0:
                quota = limit / period
        except (OSError, ValueError):
            pass
    if quota is not None:
        count = min(count, max(1, math.ceil(quota)))
    return max(1, count)


def _options():
    """tf.data options: a private pool of `usable_cpus()` threads, single-threaded ops."""
    import tensorflow as tf

    options = tf.data.Options()
    options.threading.private_threadpool_size = usable_cpus()
    options.threading.max_intra_op_parallelism = 1
    options.deterministic = True
    return options


def clear_image_cache() -> None:
    """Empties the process-wide cache of decoded images (e.g. after files changed on disk)."""
    with _DECODED_LOCK:
        _DECODED.clear()


def _stream(rows, count, rng):
    """`count` entries of `rows`: concatenated random permutations (each row once per cycle)."""
    reps = -(-count // len(rows))
    return np.concatenate([rng.permutation(rows) for _ in range(reps)])[:count]


def batch_indices(
    task_ids: np.ndarray,
    batch_size: int,
    *,
    sampling: str = "balanced",
    num_tasks: int | None = None,
    seed: int = 0,
    epoch: int = 0,
) -> list[np.ndarray]:
    """Orders items (triplets) into batches for one epoch; a pure, seeded NumPy function.

    Args:
        task_ids: int array `(M,)`: the task of each item.
        batch_size: items per batch.
        sampling: one of `"balanced"`, `"one_task"`, `"shuffle"`, `"sequential"` (see the
            module docstring).
        num_tasks: number of tasks; defaults to `task_ids.max() + 1`. In `"balanced"` mode
            `batch_size` must be a multiple of it.
        seed: int seed.
        epoch: epoch number; each epoch gets its own order.

    Returns:
        A list of int64 arrays of item indices, one per batch.

    Example:

    >>> b = batch_indices(np.array([0, 0, 1, 1]), 2, sampling="balanced")
    >>> [sorted(np.asarray([0, 0, 1, 1])[i].tolist()) for i in b]
    [[0, 1], [0, 1]]
    """
    task_ids = np.asarray(task_ids)
    if sampling not in SAMPLING_MODES:
        raise ValueError(f"Expected `sampling` in {SAMPLING_MODES}. Received: {sampling!r}")
    if batch_size < 1 or len(task_ids) == 0:
        raise ValueError(
            f"Expected batch_size >= 1 and at least one item. Received: batch_size={batch_size},"
            f" {len(task_ids)} items"
        )
    num_tasks = int(task_ids.max()) + 1 if num_tasks is None else num_tasks
    if sampling == "sequential":
        bounds = range(batch_size, len(task_ids), batch_size)
        return np.array_split(np.arange(len(task_ids)), bounds)
    num_batches = max(len(task_ids) // batch_size, 1)
    rng = np.random.default_rng([seed, epoch])
    per_task = [np.flatnonzero(task_ids == t) for t in range(num_tasks)]
    if sampling == "shuffle":
        return list(_stream(np.arange(len(task_ids)), num_batches * batch_size, rng).reshape(
            num_batches, batch_size))
    missing = [t for t, rows in enumerate(per_task) if len(rows) == 0]
    if sampling == "balanced":
        if batch_size % num_tasks or missing:
            raise ValueError(
                f"Expected batch_size to be a multiple of the number of tasks ({num_tasks}) and "
                f"every task to have items when sampling='balanced'. Received: "
                f"batch_size={batch_size}, tasks without items: {missing}"
            )
        k = batch_size // num_tasks
        parts = [_stream(rows, num_batches * k, rng).reshape(num_batches, k) for rows in per_task]
        return list(np.concatenate(parts, axis=1))
    present = np.array([t for t in range(num_tasks) if t not in missing])
    chosen = present[rng.integers(0, len(present), num_batches)]
    out = np.zeros((num_batches, batch_size), np.int64)
    for t in present:
        n = int(np.sum(chosen == t))
        if n:
            out[chosen == t] = _stream(per_task[t], n * batch_size, rng).reshape(n, batch_size)
    return list(out)


def decode_images(paths, image_size, *, num_parallel_calls=None, cache=True):
    """Decodes and resizes image files into a uint8 tensor `(N, H, W, 3)`, in parallel.

    With `cache=True` each `(file, size)` is decoded once per process and kept (up to
    `IMAGE_CACHE_BYTES`, oldest dropped first); later calls reuse it. An unreadable file
    raises a ValueError naming it (checked with PIL after a decode failure).
    """
    import tensorflow as tf

    paths = [str(p) for p in np.asarray(paths, dtype=object).ravel()]
    size = tuple(int(s) for s in image_size)
    keys = [(p, *size) for p in paths]
    with _DECODED_LOCK:
        missing = list(dict.fromkeys(k[0] for k in keys if k not in _DECODED)) if cache else \
            list(dict.fromkeys(paths))
    decoded = {}
    if missing:
        workers = num_parallel_calls or usable_cpus()
        ds = tf.data.Dataset.from_tensor_slices(np.asarray(missing, dtype=str))
        ds = ds.map(lambda p: _load(p, size), num_parallel_calls=workers)
        ds = ds.map(lambda x: tf.cast(tf.round(x * 255.0), tf.uint8)).batch(256)
        ds = ds.with_options(_options())
        try:
            array = np.concatenate([b.numpy() for b in ds], axis=0)
        except tf.errors.OpError as e:
            bad = find_bad_images(missing, "decode")
            detail = "; ".join(r for _, r in bad[:5]) or str(e).splitlines()[0]
            raise ValueError(f"Expected decodable images. Received: {detail}") from None
        decoded = {(p, *size): array[i] for i, p in enumerate(missing)}
        if cache:
            with _DECODED_LOCK:
                for key, value in decoded.items():
                    _DECODED[key] = value
                used = sum(v.nbytes for v in _DECODED.values())
                while _DECODED and used > IMAGE_CACHE_BYTES:
                    used -= _DECODED.popitem(last=False)[1].nbytes
    if not paths:
        return tf.zeros((0, *size, 3), "uint8")
    with _DECODED_LOCK:
        images = [decoded[k] if k in decoded else _DECODED[k] for k in keys]
    return tf.constant(np.stack(images))


def _load(path, image_size):
    import tensorflow as tf

    img = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    img = tf.image.resize(tf.cast(img, tf.float32) / 255.0, image_size, antialias=True)
    return tf.clip_by_value(img, 0.0, 1.0)


def _to_float(images, image_size):
    import tensorflow as tf

    if images.dtype == tf.uint8:
        images = tf.cast(images, tf.float32) * (1.0 / 255.0)
    if tuple(images.shape[1:3]) != tuple(image_size):
        images = tf.clip_by_value(tf.image.resize(images, image_size, antialias=True), 0.0, 1.0)
    return images


def _augment(images, seed, image_size):
    """Random horizontal flips (on the raw, often uint8, images: cheaper), then brightness."""
    import tensorflow as tf

    n, width = tf.shape(images)[0], tf.shape(images)[2]
    flip = tf.random.stateless_uniform([n], seed) < 0.5
    cols = tf.range(width)
    cols = tf.where(flip[:, None], width - 1 - cols[None], cols[None])
    images = _to_float(tf.gather(images, cols, axis=2, batch_dims=1), image_size)
    shift = tf.random.stateless_uniform([n, 1, 1, 1], seed + [0, 1], -0.1, 0.1)
    return tf.clip_by_value(images + shift, 0.0, 1.0)


def _image_source(images, used, image_size, cache_images):
    """Returns a function: image-index batch -> images (uint8 from memory, float if streamed)."""
    import tensorflow as tf

    used = np.unique(used)
    if isinstance(images, np.ndarray) and images.dtype != object:
        table = tf.constant(images[used]) if len(used) < len(images) else tf.constant(images)
        remap = used if len(used) < len(images) else None
    else:
        nbytes = len(used) * image_size[0] * image_size[1] * 3
        if cache_images is True or (cache_images == "auto" and nbytes < 2**30):
            table, remap = decode_images(images[used], image_size), used
        else:
            paths = tf.constant(np.asarray(images, dtype=str))
            return lambda idx: tf.map_fn(
                lambda i: _load(tf.gather(paths, i), image_size), idx,
                fn_output_signature=tf.float32,
            )
    position = None
    if remap is not None:
        lookup = np.full(len(images), -1, np.int64)
        lookup[remap] = np.arange(len(remap))
        position = tf.constant(lookup)

    def fetch(idx):
        if position is not None:
            idx = tf.gather(position, idx)
        return tf.gather(table, idx)

    return fetch


def triplet_pipeline(
    dataset: RetrievalDataset,
    split: str = "train",
    *,
    batch_size: int = 64,
    image_size: tuple[int, int] = (64, 64),
    sampling: str = "balanced",
    augment: bool = False,
    seed: int = 0,
    cache_images: bool | str = "auto",
    prefetch: bool = True,
    model_inputs: bool = True,
):
    """Builds a `tf.data.Dataset` of triplet batches from a `RetrievalDataset` split.

    Reference: Zhao et al. 2018, Sec. 4.1 (balanced batches) and Strezoski et al. 2019,
    Algorithm 1 (one task per batch). Schema, preprocessing and sampling modes are in the
    module docstring. Iterating the dataset again (e.g. the next `fit` epoch) gives a new
    seeded order.

    Args:
        dataset: a `keras_mtl.datasets.RetrievalDataset`.
        split: which entry of `dataset.triplets`.
        batch_size: triplets per batch.
        image_size: `(height, width)` of the output images.
        sampling: `"balanced"` (default), `"one_task"`, `"shuffle"` or `"sequential"`.
        augment: random flips and brightness shifts (for training).
        seed: int seed of the order and the augmentation.
        cache_images: decode the split's images once into memory (`True`), stream them from
            disk (`False`), or `"auto"`: cache when they take under 1 GiB as uint8.
        prefetch: append `prefetch(tf.data.AUTOTUNE)`.
        model_inputs: yield what a retrieval model trains on (`fit`, `evaluate`): the inputs
            `{"image": [3B, H, W, 3], "task_id": [3B]}`, three consecutive rows per triplet
            (`keras_mtl.losses.interleave_triplets`). False: the triplet dicts of the module
            docstring (to look at the data).

    Returns:
        A finite `tf.data.Dataset` with known cardinality whose elements are batches.

    Example:

    ```python
    data = keras_mtl.datasets.load_generated_zappos()
    train = keras_mtl.datasets.triplet_pipeline(data, "train", batch_size=64, augment=True)
    batch = next(iter(train))  # batch["image"].shape == (192, 64, 64, 3)
    ```
    """
    import tensorflow as tf

    if split not in dataset.triplets:
        raise ValueError(
            f"Expected `split` in {sorted(dataset.triplets)}. Received: split={split!r}"
        )
    image_size = tuple(int(s) for s in image_size)
    rows = dataset.triplets[split]
    task_ids = rows[:, 3]
    first = batch_indices(
        task_ids, batch_size, sampling=sampling, num_tasks=dataset.num_tasks, seed=seed
    )
    fetch = _image_source(dataset.images, rows[:, :3].ravel(), image_size, cache_images)
    passes = itertools.count()

    def generate():  # once per pass: the whole epoch's rows, in batch order
        epoch = next(passes)
        batches = first if epoch == 0 else batch_indices(
            task_ids, batch_size, sampling=sampling, num_tasks=dataset.num_tasks,
            seed=seed, epoch=epoch,
        )
        yield rows[np.concatenate(batches)], np.int64(epoch)

    signature = (tf.TensorSpec([None, 4], tf.int64), tf.TensorSpec([], tf.int64))

    def batches_of(epoch_rows, epoch):
        # The same batches as `batch_indices` (only "sequential" has a smaller last batch)
        # with the per-batch augmentation seed (seed, epoch * 1_000_003 + batch).
        ds = tf.data.Dataset.from_tensor_slices(epoch_rows).batch(batch_size).enumerate()
        return ds.map(lambda b, r: (r, tf.stack([tf.constant(seed, tf.int64),
                                                 epoch * 1_000_003 + b])))

    ds = tf.data.Dataset.from_generator(generate, output_signature=signature)
    ds = ds.flat_map(batches_of)
    ds = ds.apply(tf.data.experimental.assert_cardinality(len(first)))

    def to_batch(r, s):
        out = {}
        for k, name in enumerate(("anchor", "positive", "negative")):
            images = fetch(r[:, k])
            if augment:
                out[name] = _augment(images, s + [k * 7, 0], image_size)
            else:
                out[name] = _to_float(images, image_size)
        out["task_id"] = tf.cast(r[:, 3], tf.int32)
        return interleave_triplets(out) if model_inputs else out

    ds = ds.map(to_batch, num_parallel_calls=usable_cpus(), deterministic=True)
    ds = ds.prefetch(tf.data.AUTOTUNE) if prefetch else ds
    return ds.with_options(_options())


def image_pipeline(
    dataset: RetrievalDataset,
    indices: np.ndarray | None = None,
    *,
    batch_size: int = 256,
    image_size: tuple[int, int] = (64, 64),
    cache_images: bool | str = "auto",
):
    """Builds a `tf.data.Dataset` of preprocessed images, e.g. to embed a retrieval gallery.

    Args:
        dataset: a `keras_mtl.datasets.RetrievalDataset`.
        indices: image indices, in output order (e.g. `dataset.splits["test"]`); all images
            when `None`.
        batch_size: images per batch (the last batch may be smaller).
        image_size: `(height, width)` of the output images.
        cache_images: as in `triplet_pipeline`.

    Returns:
        A `tf.data.Dataset` of float32 `[B, H, W, 3]` batches in [0, 1], no augmentation.
    """
    import tensorflow as tf

    image_size = tuple(int(s) for s in image_size)
    indices = np.arange(dataset.num_images) if indices is None else np.asarray(indices, np.int64)
    fetch = _image_source(dataset.images, indices, image_size, cache_images)
    ds = tf.data.Dataset.from_tensor_slices(indices).batch(batch_size)
    ds = ds.map(lambda i: _to_float(fetch(i), image_size)).prefetch(tf.data.AUTOTUNE)
    return ds.with_options(_options())


def classification_pipeline(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    batch_size: int = 64,
    sampling: str = "balanced",
    image_size: tuple[int, int] | None = None,
    seed: int = 0,
    prefetch: bool = True,
):
    """Builds `({"image", "task_id"}, label)` batches for per-task classification.

    Each (image, task) pair is one example whose target is the image's label for that task,
    e.g. Multi-MNIST: the digit in the task's corner. Pairs are ordered as `triplet_pipeline`
    orders triplets, with the given `sampling`, so batches can mix tasks evenly or hold one
    task.

    Args:
        images: uint8 array `(N, H, W, C)`.
        labels: int array `(N, num_tasks)`.
        batch_size: examples per batch.
        sampling: `"balanced"` (every batch holds `batch_size // num_tasks` examples of each
            task), `"one_task"` (one task per batch), `"shuffle"` or `"sequential"` (every
            example once, in order); each pass over the dataset is a new seeded epoch.
        image_size: optional `(height, width)` to resize to.
        seed: int seed.
        prefetch: append `prefetch(tf.data.AUTOTUNE)`.

    Returns:
        A finite `tf.data.Dataset` of `({"image": float32 [B, H, W, C] in [0, 1],
        "task_id": int32 [B]}, int32 [B])`.
    """
    import tensorflow as tf

    labels = np.asarray(labels)
    n, num_tasks = labels.shape
    if len(images) != n:
        raise ValueError(
            f"Expected as many images as label rows. Received: {len(images)} images, {n} rows"
        )
    pair_task = np.repeat(np.arange(num_tasks), n)
    pair_image = np.tile(np.arange(n), num_tasks)
    table = tf.constant(images)
    size = image_size or images.shape[1:3]
    first = batch_indices(pair_task, batch_size, sampling=sampling, num_tasks=num_tasks, seed=seed)
    passes = itertools.count()

    def generate():
        epoch = next(passes)
        batches = first if epoch == 0 else batch_indices(
            pair_task, batch_size, sampling=sampling, num_tasks=num_tasks, seed=seed, epoch=epoch
        )
        for idx in batches:
            img, task = pair_image[idx], pair_task[idx]
            yield img, task, labels[img, task]

    spec = tf.TensorSpec([None], tf.int64)
    ds = tf.data.Dataset.from_generator(generate, output_signature=(spec, spec, spec))
    ds = ds.apply(tf.data.experimental.assert_cardinality(len(first)))
    ds = ds.map(
        lambda i, t, y: (
            {"image": _to_float(tf.gather(table, i), size), "task_id": tf.cast(t, tf.int32)},
            tf.cast(y, tf.int32),
        ),
        num_parallel_calls=usable_cpus(),
    )
    ds = ds.prefetch(tf.data.AUTOTUNE) if prefetch else ds
    return ds.with_options(_options())
