"""Multi-MNIST with 2, 3 or 4 digit-classification tasks (top-down modulation paper, Sec. 4.1).

Each image overlays `num_tasks` digits, one per corner of a `canvas x canvas` image (default
36x36, as in Sabour et al. 2017 / Sener & Koltun 2018; 28x28 digits so neighbours overlap; the
pixel-wise maximum combines them). Task `t` classifies the digit in corner `TASK_NAMES[t]`, in
the paper's order: `LU` (top-left), `RL` (bottom-right), `LL` (bottom-left), `RU` (top-right).
Digits are drawn independently, so the tasks are uncorrelated.

Build it from any digit arrays (`make_multi_mnist`) or from TFDS `mnist` prepared under a
local `data_dir` (`load_multi_mnist`, `download=False`). `keras_mtl.datasets.
classification_pipeline` turns the result into `({"image", "task_id"}, label)` batches.
"""

from __future__ import annotations

import dataclasses

import numpy as np

TASK_NAMES = ("LU", "RL", "LL", "RU")


@dataclasses.dataclass(frozen=True)
class MultiDigitDataset:
    """Multi-digit images and their per-task digit labels.

    Args:
        images: uint8 array `(N, canvas, canvas, 1)`.
        labels: int32 array `(N, num_tasks)`: the digit in each task's corner.
        task_names: corner names, e.g. `("LU", "RL")`.
        num_classes: classes per task (10).
    """

    images: np.ndarray
    labels: np.ndarray
    task_names: tuple[str, ...]
    num_classes: int = 10


def make_multi_mnist(
    digits: np.ndarray,
    digit_labels: np.ndarray,
    *,
    num_tasks: int = 2,
    num_images: int | None = None,
    canvas: int = 36,
    seed: int = 0,
) -> MultiDigitDataset:
    """Composes multi-digit images from single-digit arrays (vectorised, seeded).

    Reference: Levi & Ullman, "Multi-task Learning by a Top-Down Control Network", Sec. 4.1.

    Args:
        digits: uint8 array `(M, h, w)` or `(M, h, w, 1)` of single digits.
        digit_labels: int array `(M,)`.
        num_tasks: 2, 3 or 4 (corners `TASK_NAMES[:num_tasks]`).
        num_images: images to make. Defaults to `M`.
        canvas: output side; must be at least the digit side.
        seed: int seed choosing which digits go where.

    Returns:
        A `MultiDigitDataset`.

    Example:

    >>> d = np.zeros((10, 28, 28), np.uint8)
    >>> make_multi_mnist(d, np.arange(10), num_tasks=3).images.shape
    (10, 36, 36, 1)
    """
    digits = np.asarray(digits)
    if digits.ndim == 4 and digits.shape[-1] == 1:
        digits = digits[..., 0]
    digit_labels = np.asarray(digit_labels).reshape(-1)
    if num_tasks not in (2, 3, 4):
        raise ValueError(f"Expected `num_tasks` in (2, 3, 4). Received: num_tasks={num_tasks}")
    if digits.ndim != 3 or len(digits) != len(digit_labels) or len(digits) == 0:
        raise ValueError(
            "Expected `digits` of shape (M, h, w) and `digit_labels` of shape (M,), M > 0. "
            f"Received: digits.shape={digits.shape}, digit_labels.shape={digit_labels.shape}"
        )
    h, w = digits.shape[1:]
    if canvas < max(h, w):
        raise ValueError(f"Expected `canvas` >= {max(h, w)}. Received: canvas={canvas}")
    n = len(digits) if num_images is None else int(num_images)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(digits), size=(n, num_tasks))
    corners = {"LU": (0, 0), "RL": (canvas - h, canvas - w), "LL": (canvas - h, 0),
               "RU": (0, canvas - w)}
    images = np.zeros((n, canvas, canvas), np.uint8)
    for t, name in enumerate(TASK_NAMES[:num_tasks]):
        y, x = corners[name]
        region = images[:, y : y + h, x : x + w]
        np.maximum(region, digits[picks[:, t]], out=region)
    return MultiDigitDataset(
        images=images[..., None],
        labels=digit_labels[picks].astype(np.int32),
        task_names=TASK_NAMES[:num_tasks],
    )


def load_multi_mnist(
    num_tasks: int = 2,
    *,
    split: str = "train",
    data_dir: str | None = None,
    num_images: int | None = None,
    canvas: int = 36,
    seed: int = 0,
) -> MultiDigitDataset:
    """Builds Multi-MNIST from TFDS `mnist` prepared locally (never downloads).

    Args:
        num_tasks: 2, 3 or 4.
        split: TFDS split of `mnist` (`"train"` or `"test"`).
        data_dir: TFDS data_dir holding the prepared `mnist`; TFDS's default when `None`.
        num_images: images to make; defaults to the split's size (60,000 for train).
        canvas: output side.
        seed: int seed.

    Returns:
        A `MultiDigitDataset`.

    Example:

    ```python
    train = keras_mtl.datasets.load_multi_mnist(4, split="train")
    ds = keras_mtl.datasets.classification_pipeline(train.images, train.labels)
    ```
    """
    import tensorflow_datasets as tfds

    ds = tfds.load("mnist", split=split, data_dir=data_dir, download=False, as_supervised=True)
    batches = list(tfds.as_numpy(ds.batch(8192)))
    digits = np.concatenate([x for x, _ in batches])
    labels = np.concatenate([y for _, y in batches])
    return make_multi_mnist(
        digits, labels, num_tasks=num_tasks, num_images=num_images, canvas=canvas, seed=seed
    )
