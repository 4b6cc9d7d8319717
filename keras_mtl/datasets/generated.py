"""The embedded default: a generated, deterministic, Zappos-like shoe image set.

`load_generated_zappos()` renders side-view "shoes" with NumPy, writes them to a cache folder in
the real UT-Zappos50K layout (`ut-zap50k-images/<Category>/<SubCategory>/<Brand>/<id>.jpg` and
`ut-zap50k-data/meta-data.csv`) and reads them back with `keras_mtl.datasets.load_zappos`, so the
schema and the code path are exactly those of the real dataset. 2,400 images at 64x64 take a
few seconds to create; later calls reuse the cache.

Visual factors (the four UT-Zappos50K tasks):
- `class` (Shoes / Boots / Sandals / Slippers): silhouette: a low upper, a tall shaft, open
  straps, or a low fuzzy upper.
- `gender` (Men / Women / Boys / Girls): colour palette; children's shoes are smaller.
- `heel` (Flat / 1in - 1 3/4in / 3in - 3 3/4in / 5in & over): heel block height and sole tilt.
- `closure` (Lace up / Slip-On / Buckle / Zipper / Hook and Loop): a small mark on the upper.

Dependencies between factors make some task pairs related and others unrelated: heel height
is drawn conditionally on gender (women's shoes are higher) and class (slippers are flat), so
`class`, `gender` and `heel` share information, while `closure` is drawn independently of
everything and occupies a small image region, so it is the unrelated task.
"""

from __future__ import annotations

import csv
import os
import shutil
import tempfile

import numpy as np

from keras_mtl.datasets.retrieval_dataset import RetrievalDataset
from keras_mtl.datasets.zappos import DEFAULT_SPLIT_FRACTIONS, load_zappos

CLASSES = ("Shoes", "Boots", "Sandals", "Slippers")
SUBCATEGORIES = ("Oxfords", "Ankle", "Flat", "Slipper Flats")
GENDERS = ("Men", "Women", "Boys", "Girls")
HEELS = ("Flat", "1in - 1 3/4in", "3in - 3 3/4in", "5in & over")
HEEL_HEIGHTS = (0.0, 0.06, 0.13, 0.2)
CLOSURES = ("Lace up", "Slip-On", "Buckle", "Zipper", "Hook and Loop")
# P(heel | gender), rows follow GENDERS; slippers are always flat.
HEEL_GIVEN_GENDER = np.array(
    [[0.6, 0.4, 0.0, 0.0], [0.1, 0.2, 0.35, 0.35], [0.7, 0.3, 0.0, 0.0], [0.4, 0.4, 0.2, 0.0]]
)
PALETTES = (  # base RGB per gender; jittered per image
    ((0.25, 0.15, 0.08), (0.1, 0.1, 0.12), (0.15, 0.2, 0.35)),
    ((0.75, 0.1, 0.15), (0.85, 0.65, 0.5), (0.55, 0.1, 0.35)),
    ((0.1, 0.45, 0.85), (0.1, 0.65, 0.3), (0.95, 0.55, 0.1)),
    ((0.95, 0.45, 0.7), (0.65, 0.35, 0.85), (0.95, 0.8, 0.2)),
)
DEFAULT_NUM_TRIPLETS = {"train": 20_000, "val": 4_000, "test": 8_000}


def _factors(num_images, rng):
    cls = rng.integers(0, 4, num_images)
    gender = rng.integers(0, 4, num_images)
    u = rng.random(num_images)[:, None]
    heel = (u > np.cumsum(HEEL_GIVEN_GENDER[gender], axis=1)).sum(axis=1)
    heel = np.where(cls == 3, 0, np.minimum(heel, 3))
    closure = rng.integers(0, len(CLOSURES), num_images)
    return cls, gender, heel, closure


def render_shoe(cls, gender, heel, closure, size, rng):
    """Renders one shoe as a float32 `(size, size, 3)` image in [0, 1]."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    img = np.ones((size, size, 3), np.float32) * rng.uniform(0.85, 1.0)
    scale = 0.7 if gender >= 2 else 1.0
    x0 = 0.5 - 0.36 * scale + rng.uniform(-0.05, 0.05)
    x1 = 0.5 + 0.36 * scale + rng.uniform(-0.05, 0.05)
    ground = 0.85 + rng.uniform(-0.03, 0.03)
    h = HEEL_HEIGHTS[heel] * scale
    color = np.array(PALETTES[gender][rng.integers(0, 3)]) + rng.normal(0, 0.04, 3)
    t = np.clip((xx - x0) / (x1 - x0), 0, 1)  # 0 at the heel, 1 at the toe
    sole_top = ground - 0.05 - h * (1 - t) ** 2
    inside = (xx >= x0) & (xx <= x1)
    sole = inside & (yy >= sole_top) & (yy <= sole_top + 0.04)
    heel_block = (xx >= x0) & (xx <= x0 + 0.08 * scale) & (yy > sole_top) & (yy <= ground)
    upper_h = (0.1 if cls == 3 else 0.2) * scale
    top = sole_top - upper_h * (1 - 0.5 * t**3)
    upper = inside & (yy >= top) & (yy < sole_top)
    if cls == 1:  # boots: a tall shaft at the back
        upper |= (xx >= x0) & (xx <= x0 + 0.3 * scale) & (yy >= 0.2) & (yy < sole_top)
    if cls == 2:  # sandals: open straps
        upper &= np.sin((xx - x0) * 60.0 / scale) > 0.3
    img[sole | heel_block] = 0.15
    img[upper] = np.clip(color, 0, 1)
    if cls == 3:  # slippers: fuzzy texture
        img[upper] += rng.normal(0, 0.12, (int(upper.sum()), 1))
    mid = x0 + 0.55 * (x1 - x0)
    mark = inside & (np.abs(xx - mid) < 0.1 * scale) & (np.abs(yy - (top + sole_top) / 2) < 0.05)
    if closure == 0:  # lace up: diagonal white laces
        img[mark & (np.sin((xx + yy) * 120) > 0.5)] = 0.95
    elif closure == 2:  # buckle: a yellow square
        img[mark & (np.abs(xx - mid) < 0.04)] = (0.95, 0.85, 0.1)
    elif closure == 3:  # zipper: a dark vertical line
        img[mark & (np.abs(xx - mid) < 0.012)] = 0.05
    elif closure == 4:  # hook and loop: two dark straps
        img[mark & (np.abs(np.sin(yy * 90)) > 0.8)] = 0.1
    img += rng.normal(0, 0.02, img.shape)
    return np.clip(img, 0, 1)


def write_generated_zappos(directory, *, num_images=2400, image_size=64, seed=0):
    """Writes a generated Zappos-like image set in the UT-Zappos50K layout under `directory`.

    Args:
        directory: destination folder (created).
        num_images: number of images.
        image_size: side of the square images.
        seed: int seed; the output is a deterministic function of the arguments.

    Returns:
        The path of `directory`.
    """
    from PIL import Image

    rng = np.random.default_rng(seed)
    factors = _factors(num_images, rng)
    meta = os.path.join(directory, "ut-zap50k-data")
    os.makedirs(meta, exist_ok=True)
    with open(os.path.join(meta, "meta-data.csv"), "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["CID", "Category", "SubCategory", "HeelHeight", "Closure", "Gender"])
        for i, (c, g, h, z) in enumerate(zip(*factors, strict=True)):
            folder = os.path.join(
                directory, "ut-zap50k-images", CLASSES[c], SUBCATEGORIES[c], "Generated"
            )
            os.makedirs(folder, exist_ok=True)
            pixels = render_shoe(c, g, h, z, image_size, rng)
            Image.fromarray((pixels * 255 + 0.5).astype(np.uint8)).save(
                os.path.join(folder, f"{1000000 + i}.{seed % 10000:04d}.jpg"), quality=92
            )
            cid = f"{1000000 + i}-{seed % 10000:04d}"
            writer.writerow([cid, CLASSES[c], SUBCATEGORIES[c], HEELS[h], CLOSURES[z], GENDERS[g]])
    return directory


def default_cache_dir() -> str:
    """Returns `$KERAS_HOME/keras_mtl/datasets` (default `~/.keras/keras_mtl/datasets`)."""
    home = os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))
    return os.path.join(home, "keras_mtl", "datasets")


def cached_folder(cache_dir, name, write):
    """Returns `cache_dir/name`, creating it once with `write(folder)`, atomically.

    The data is written to a temporary folder and moved into place only when complete (marked
    by a `COMPLETE` file), so an interrupted run never leaves a half-written cache and two
    concurrent runs do not corrupt each other.
    """
    directory = os.path.join(cache_dir, name)
    complete = os.path.join(directory, "COMPLETE")
    if os.path.isfile(complete):
        return directory
    os.makedirs(cache_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".tmp_{name}_", dir=cache_dir)
    try:
        write(tmp)
        open(os.path.join(tmp, "COMPLETE"), "w").close()
        if os.path.isdir(directory) and not os.path.isfile(complete):
            shutil.rmtree(directory, ignore_errors=True)  # an interrupted earlier attempt
        try:
            os.replace(tmp, directory)
        except OSError:  # another process finished first; its copy is identical
            if not os.path.isfile(complete):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return directory


def load_generated_zappos(
    *,
    num_images: int = 2400,
    image_size: int = 64,
    num_triplets: dict[str, int] | None = None,
    split_fractions: dict[str, float] | None = None,
    seed: int = 0,
    cache_dir: str | None = None,
) -> RetrievalDataset:
    """Returns the embedded Zappos-like dataset, generating and caching it on first use.

    The images live under `cache_dir` in the UT-Zappos50K layout and are read by
    `keras_mtl.datasets.load_zappos`; the result has the same schema, tasks
    (`class`, `closure`, `gender`, `heel`) and value vocabularies as the real dataset.

    Args:
        num_images: number of images to generate.
        image_size: side of the square images in pixels.
        num_triplets: split -> total triplets over the 4 tasks. Defaults to
            `{"train": 20000, "val": 4000, "test": 8000}`.
        split_fractions: split -> fraction of images. Defaults to 0.7 / 0.1 / 0.2.
        seed: seed of the images, the split and the triplets.
        cache_dir: parent folder of the cache. Defaults to `default_cache_dir()`.

    Returns:
        A `keras_mtl.datasets.RetrievalDataset` with image paths.

    Example:

    ```python
    data = keras_mtl.datasets.load_generated_zappos()
    data.task_names  # ("class", "closure", "gender", "heel")
    ```
    """
    for arg, value, low in (("num_images", num_images, 40), ("image_size", image_size, 16)):
        if int(value) < low:
            raise ValueError(f"Expected `{arg}` >= {low}. Received: {arg}={value}")
    directory = cached_folder(
        cache_dir or default_cache_dir(),
        f"zappos_generated_v1_n{num_images}_s{image_size}_seed{seed}",
        lambda tmp: write_generated_zappos(tmp, num_images=num_images, image_size=image_size,
                                           seed=seed),
    )
    return load_zappos(
        directory,
        triplets="sample",
        num_triplets=num_triplets or DEFAULT_NUM_TRIPLETS,
        split_fractions=split_fractions or DEFAULT_SPLIT_FRACTIONS,
        seed=seed,
        check_images="exists",
        name="zappos_generated",
    )


def load_zappos_or_generated(
    data_dir: str | None = None,
    *,
    num_triplets: dict[str, int] | None = None,
    num_images: int = 2400,
    image_size: int = 64,
    seed: int = 0,
    cache_dir: str | None = None,
) -> RetrievalDataset:
    """UT-Zappos50K from `data_dir` when given, else the embedded generated set (same schema).

    What the examples and the reproduction report do with their `--data-dir` flag: the real
    dataset is read by `load_zappos(data_dir, seed=seed)` with its own triplet protocol (CSN
    files, or its default sampled counts); the other arguments size the generated default
    (see `load_generated_zappos`) and are ignored for real data.

    Example:

    ```python
    data = keras_mtl.datasets.load_zappos_or_generated(None, num_images=400)
    data.name  # "zappos_generated"
    ```
    """
    if data_dir:
        return load_zappos(data_dir, seed=seed)
    return load_generated_zappos(num_images=num_images, image_size=image_size,
                                 num_triplets=num_triplets, seed=seed, cache_dir=cache_dir)
