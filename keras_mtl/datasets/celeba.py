"""CelebA for attribute-conditioned face retrieval (Zhao et al. 2018, Sec. 4.2).

Two sources, same `RetrievalDataset` schema as UT-Zappos50K (one task per binary attribute,
labels 0 = attribute absent, 1 = present):
- `source="raw"`: the dataset's own layout (nothing is downloaded):
  ```
  data_dir/img_align_celeba/000001.jpg ...
  data_dir/list_attr_celeba.txt       (or Anno/list_attr_celeba.txt)
  data_dir/list_eval_partition.txt    (or Eval/list_eval_partition.txt)
  ```
  `list_attr_celeba.txt`: line 1 the image count, line 2 the 40 attribute names, then one line
  per image `<file> <40 values in {-1, 1}>`. `list_eval_partition.txt`: `<file> <0|1|2>` for
  train / val / test.
- `source="tfds"`: the TFDS `celeb_a` dataset already prepared under `data_dir` (TFDS's
  `data_dir`; `download=False`). Images are decoded and resized to `image_size` into memory
  (200k images at 64x64 take 2.4 GB; `max_images_per_split` caps it).

Triplets: `num_triplets[split]` per task (default 30,000 train and 10,000 test, Zhao Sec. 4.2),
sampled within each split by `keras_mtl.datasets.sample_triplets` with `seed`.
"""

from __future__ import annotations

import os

import numpy as np

from keras_mtl.datasets.retrieval_dataset import RetrievalDataset, find_bad_images, report_bad
from keras_mtl.datasets.triplets import sample_triplets

ALL_ATTRIBUTES = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs",
    "Big_Lips", "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair",
    "Bushy_Eyebrows", "Chubby", "Double_Chin", "Eyeglasses", "Goatee", "Gray_Hair",
    "Heavy_Makeup", "High_Cheekbones", "Male", "Mouth_Slightly_Open", "Mustache",
    "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin", "Pointy_Nose", "Receding_Hairline",
    "Rosy_Cheeks", "Sideburns", "Smiling", "Straight_Hair", "Wavy_Hair", "Wearing_Earrings",
    "Wearing_Hat", "Wearing_Lipstick", "Wearing_Necklace", "Wearing_Necktie", "Young",
)
"""CelebA's 40 binary attributes, in `list_attr_celeba.txt`'s column order."""

ZHAO_ATTRIBUTES = (
    "Smiling", "5_o_Clock_Shadow", "Bald", "Arched_Eyebrows", "Chubby", "Double_Chin",
    "High_Cheekbones", "Goatee", "Mustache", "No_Beard", "Sideburns", "Bangs", "Straight_Hair",
    "Wavy_Hair", "Receding_Hairline", "Bags_Under_Eyes", "Bushy_Eyebrows", "Young",
    "Oval_Face", "Mouth_Slightly_Open",
)
"""The 20 appearance attributes of Zhao et al. 2018, Table 3, in the table's order."""
DEFAULT_NUM_TRIPLETS = {"train": 30_000, "test": 10_000}
PARTITIONS = {0: "train", 1: "val", 2: "test"}


def _first_existing(data_dir, names):
    for name in names:
        if os.path.isfile(os.path.join(data_dir, name)):
            return os.path.join(data_dir, name)
    raise ValueError(
        f"Expected one of {names} under data_dir. Received: data_dir={data_dir!r}"
    )


def read_celeba_annotations(data_dir, *, skip_bad=False):
    """Reads `list_attr_celeba.txt` and `list_eval_partition.txt`.

    Args:
        data_dir: the CelebA root folder.
        skip_bad: drop malformed rows (warn with the count) instead of raising.

    Returns:
        A tuple `(files, attributes, partition, num_skipped)`: image file names, the 40
        attribute names, an int8 array `(len(files), 40)` of 0/1 values, an int array of
        partitions (0 train, 1 val, 2 test).
    """
    attr_path = _first_existing(data_dir, ["list_attr_celeba.txt", "Anno/list_attr_celeba.txt"])
    part_path = _first_existing(
        data_dir, ["list_eval_partition.txt", "Eval/list_eval_partition.txt"]
    )
    with open(attr_path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    names = lines[1].split() if len(lines) > 1 else []
    if len(names) != 40:
        raise ValueError(
            f"Expected 40 attribute names on line 2 of {attr_path!r}. Received: {len(names)}"
        )
    partition_of = {}
    with open(part_path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2 and parts[1] in ("0", "1", "2"):
                partition_of[parts[0]] = int(parts[1])
    files, values, partition, bad = [], [], [], []
    for r, line in enumerate(lines[2:], start=3):
        parts = line.split()
        if not parts:
            continue
        row = parts[1:]
        if len(row) != 40 or any(v not in ("-1", "1") for v in row):
            bad.append((f"{attr_path} line {r}", f"expected 40 values in {{-1, 1}}, got {row}"))
        elif parts[0] not in partition_of:
            bad.append((f"{part_path}", f"no partition (0/1/2) for image {parts[0]!r}"))
        else:
            files.append(parts[0])
            values.append([v == "1" for v in row])
            partition.append(partition_of[parts[0]])
    skipped = report_bad(bad, skip_bad, "CelebA annotation rows")
    values = np.array(values, np.int8).reshape(-1, 40)
    return files, tuple(names), values, np.array(partition), skipped


def _attribute_list(attributes):
    if attributes == "zhao20":
        return ZHAO_ATTRIBUTES
    if attributes == "all":
        return ALL_ATTRIBUTES
    unknown = [a for a in attributes if a not in ALL_ATTRIBUTES]
    if unknown or not attributes:
        raise ValueError(
            "Expected `attributes` to be 'zhao20', 'all' or a list of CelebA attribute names. "
            f"Received unknown names: {unknown or attributes}"
        )
    return tuple(attributes)


def _load_tfds(data_dir, attributes, image_size, max_images_per_split):
    import tensorflow as tf
    import tensorflow_datasets as tfds

    images, labels, partition = [], [], []
    for code, split in ((0, "train"), (1, "validation"), (2, "test")):
        ds = tfds.load("celeb_a", split=split, data_dir=data_dir, download=False)
        if max_images_per_split:
            ds = ds.take(max_images_per_split)
        ds = ds.map(lambda ex: (
            tf.cast(tf.image.resize(ex["image"], image_size, antialias=True) + 0.5, tf.uint8),
            tf.stack([tf.cast(ex["attributes"][a], tf.int32) for a in attributes]),
        )).batch(512)
        for x, y in tfds.as_numpy(ds):
            images.append(x)
            labels.append(y)
            partition.append(np.full(len(y), code))
    return np.concatenate(images), np.concatenate(labels), np.concatenate(partition)


def load_celeba(
    data_dir,
    *,
    source: str = "raw",
    attributes="zhao20",
    num_triplets: dict[str, int] | None = None,
    seed: int = 0,
    image_size: tuple[int, int] = (64, 64),
    max_images_per_split: int | None = None,
    check_images: str = "exists",
    skip_bad: bool = False,
) -> RetrievalDataset:
    """Loads CelebA as a multi-task retrieval dataset, one task per binary attribute.

    Reference: Zhao et al., "A Modulation Module for Multi-task Learning with Applications in
    Image Retrieval", ECCV 2018, Sec. 4.2 and Table 3. Layouts are in the module docstring.

    Args:
        data_dir: the raw CelebA root (`source="raw"`) or TFDS's data_dir (`source="tfds"`).
        source: `"raw"` or `"tfds"`.
        attributes: `"zhao20"` (the 20 of Zhao Table 3), `"all"` (40) or a list of names.
        num_triplets: split -> triplets per task. Defaults to `{"train": 30000, "test": 10000}`.
        seed: int seed of triplet sampling.
        image_size: `(height, width)` images are resized to (TFDS source only; raw images are
            resized by the pipeline).
        max_images_per_split: optional cap on images per split (TFDS source).
        check_images: `"exists"`, `"header"` or `"decode"` (raw source).
        skip_bad: drop malformed annotation rows and missing/unreadable images, counting them
            in `RetrievalDataset.skipped`, instead of raising.

    Returns:
        A `keras_mtl.datasets.RetrievalDataset` (image paths for raw, uint8 arrays for TFDS).

    Example:

    ```python
    faces = keras_mtl.datasets.load_celeba("/data/celeba")  # 20 tasks
    faces.task_names[:2]  # ("Smiling", "5_o_Clock_Shadow")
    ```
    """
    attributes = _attribute_list(attributes)
    skipped = {}
    if source == "raw":
        files, names, values, partition, n_rows = read_celeba_annotations(
            data_dir, skip_bad=skip_bad
        )
        if n_rows:
            skipped["annotation_rows"] = n_rows
        paths = [os.path.join(data_dir, "img_align_celeba", f) for f in files]
        bad = find_bad_images(paths, check_images)
        n_images = report_bad([(f"image {files[i]}", r) for i, r in bad], skip_bad, "images")
        if n_images:
            skipped["images"] = n_images
        keep = np.setdiff1d(np.arange(len(paths)), [i for i, _ in bad])
        images = np.array(paths, dtype=object)[keep]
        labels = values[keep][:, [names.index(a) for a in attributes]].astype(np.int32)
        partition = partition[keep]
    elif source == "tfds":
        images, labels, partition = _load_tfds(
            data_dir, attributes, tuple(image_size), max_images_per_split
        )
    else:
        raise ValueError(f"Expected `source` in ('raw', 'tfds'). Received: source={source!r}")
    splits = {name: np.flatnonzero(partition == code) for code, name in PARTITIONS.items()}
    triplets = {}
    for k, (split, count) in enumerate((num_triplets or DEFAULT_NUM_TRIPLETS).items()):
        if split not in splits or len(splits[split]) == 0:
            raise ValueError(
                f"Expected images in CelebA split {split!r} to sample triplets from. Received: "
                f"{ {s: len(v) for s, v in splits.items()} } images per split"
            )
        triplets[split] = sample_triplets(
            labels, count, seed=seed * 1000 + k, candidates=splits[split], task_names=attributes
        )
    return RetrievalDataset(
        name="celeb_a",
        task_names=attributes,
        images=images,
        labels=labels,
        label_names=tuple(("no", "yes") for _ in attributes),
        triplets=triplets,
        splits=splits,
        skipped=skipped,
    )
