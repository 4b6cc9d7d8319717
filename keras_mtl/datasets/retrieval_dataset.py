"""The output schema shared by every retrieval loader (Zappos, generated, CelebA).

`RetrievalDataset` holds images (file paths or a uint8 array), per-task integer attribute
labels and, per split, triplet index arrays `(anchor, positive, negative, task_id)`. The real
UT-Zappos50K loader and the embedded generated data return the same schema, so training and
evaluation code cannot tell them apart. `keras_mtl.datasets.triplet_pipeline` turns it into
`tf.data` batches.
"""

from __future__ import annotations

import dataclasses
import os
import warnings

import numpy as np

from keras_mtl.datasets.task_relations import TaskRelations


@dataclasses.dataclass(frozen=True, eq=False)
class RetrievalDataset:
    """Images, per-task attribute labels and triplets for attribute-conditioned retrieval.

    Args:
        name: dataset name, e.g. `"ut_zappos50k"`.
        task_names: one name per task, e.g. `("class", "closure", "gender", "heel")`. The task
            id of task `task_names[t]` is `t`.
        images: either a 1-D array of image file paths (str), or a uint8 array
            `(num_images, H, W, 3)`.
        labels: int32 array `(num_images, num_tasks)`: the index of each image's value in
            `label_names[t]`, or `-1` where the value is unknown.
        label_names: per task, the tuple of value names that `labels` index.
        triplets: split name (`"train"`, `"val"`, `"test"`) -> int64 array `(M, 4)` with columns
            `anchor, positive, negative, task_id` (image indices; the anchor is closer to the
            positive than to the negative under that task).
        splits: split name -> sorted int64 array of the image indices used by that split.
        skipped: reason -> count of items dropped by a loader's `skip_bad=True`.
        relations: the ground-truth relations between the tasks
            (`keras_mtl.datasets.TaskRelations`: related / independent / conflicting pairs)
            when the data was generated with known relations, else `None` (real data).
    """

    name: str
    task_names: tuple[str, ...]
    images: np.ndarray
    labels: np.ndarray
    label_names: tuple[tuple[str, ...], ...]
    triplets: dict[str, np.ndarray]
    splits: dict[str, np.ndarray]
    skipped: dict[str, int] = dataclasses.field(default_factory=dict)
    relations: TaskRelations | None = None

    def __post_init__(self):
        n, t = len(self.images), len(self.task_names)
        if self.relations is not None and self.relations.task_names != tuple(self.task_names):
            raise ValueError(
                f"Expected `relations` over the dataset's tasks {tuple(self.task_names)}. "
                f"Received: relations.task_names={self.relations.task_names}"
            )
        if self.labels.shape != (n, t):
            raise ValueError(
                f"Expected `labels` of shape (num_images, num_tasks)=({n}, {t}). "
                f"Received: labels.shape={self.labels.shape}"
            )
        if len(self.label_names) != t:
            raise ValueError(
                f"Expected one tuple of value names per task ({t}). "
                f"Received: {len(self.label_names)} tuples"
            )
        for split, rows in self.triplets.items():
            rows = np.asarray(rows)
            if rows.ndim != 2 or rows.shape[1] != 4:
                raise ValueError(
                    f"Expected triplets[{split!r}] of shape (M, 4). Received: shape={rows.shape}"
                )
            if len(rows) == 0:
                raise ValueError(
                    f"Expected a non-empty triplet split. Received: split {split!r} of dataset "
                    f"{self.name!r} has 0 triplets"
                )
            if rows[:, :3].min() < 0 or rows[:, :3].max() >= n:
                raise ValueError(
                    f"Expected triplet image indices in [0, {n}). Received: split {split!r} "
                    f"spans [{rows[:, :3].min()}, {rows[:, :3].max()}]"
                )
            if rows[:, 3].min() < 0 or rows[:, 3].max() >= t:
                raise ValueError(
                    f"Expected triplet task ids in [0, {t}). Received: split {split!r} spans "
                    f"[{rows[:, 3].min()}, {rows[:, 3].max()}]"
                )

    @property
    def num_tasks(self) -> int:
        """Number of tasks."""
        return len(self.task_names)

    @property
    def num_images(self) -> int:
        """Number of images."""
        return len(self.images)

    def triplet_counts(self) -> dict[str, dict[str, int]]:
        """Returns split -> task name -> number of triplets."""
        return {
            split: {
                name: int(np.sum(rows[:, 3] == t)) for t, name in enumerate(self.task_names)
            }
            for split, rows in self.triplets.items()
        }


def find_bad_images(paths, check: str = "header") -> list[tuple[int, str]]:
    """Returns `(index, reason)` for each image file that is missing or unreadable.

    Args:
        paths: sequence of image file paths.
        check: `"exists"` (only that the file exists), `"header"` (PIL opens and verifies the
            file, fast) or `"decode"` (PIL fully decodes every image, slow but exhaustive).

    Returns:
        A list of `(index, reason)` pairs, empty when every image is readable.
    """
    if check not in ("exists", "header", "decode"):
        raise ValueError(
            f"Expected `check_images` in ('exists', 'header', 'decode'). Received: {check!r}"
        )
    from PIL import Image

    bad = []
    for i, path in enumerate(paths):
        if not os.path.isfile(path):
            bad.append((i, f"missing image file {path!r}"))
            continue
        if check == "exists":
            continue
        try:
            with Image.open(path) as img:
                if check == "header":
                    img.verify()
                else:
                    img.load()
        except Exception as e:  # PIL raises many exception types for bad files.
            bad.append((i, f"unreadable image file {path!r} ({type(e).__name__}: {e})"))
    return bad


def report_bad(bad: list[tuple[str, str]], skip_bad: bool, what: str) -> int:
    """Raises a ValueError listing `bad` items, or warns with their count if `skip_bad`.

    Args:
        bad: `(location, reason)` pairs, e.g. `("meta-data.csv row 12", "unknown value")`.
        skip_bad: whether to skip bad items (warn) instead of raising.
        what: what is being checked, used in the message.

    Returns:
        The number of bad items (only returns when `skip_bad` is true or nothing is bad).
    """
    if not bad:
        return 0
    shown = "; ".join(f"{loc}: {reason}" for loc, reason in bad[:5])
    more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
    if not skip_bad:
        raise ValueError(
            f"Expected valid {what}. Received {len(bad)} bad: {shown}{more}. "
            "Fix the data or pass `skip_bad=True` to drop them."
        )
    warnings.warn(f"Skipped {len(bad)} bad {what}: {shown}{more}", stacklevel=3)
    return len(bad)
