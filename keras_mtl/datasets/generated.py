"""The embedded default: a generated, deterministic, Zappos-like shoe image set with known task
relations.

`load_generated_zappos()` renders side-view "shoes" with NumPy, writes them to a cache folder in
the real UT-Zappos50K layout (`ut-zap50k-images/<Category>/<SubCategory>/<Brand>/<id>.jpg` and
`ut-zap50k-data/meta-data.csv`) and reads them back with `keras_mtl.datasets.load_zappos`, so the
schema and the code path are exactly those of the real dataset. 2,400 images at 64x64 take a
few seconds to create; later calls reuse the cache.

The data is an experiment on destructive interference (Zhao et al. 2018, Sec. 3.1), so it is
built from the mechanism rather than tuned to a result:

1. Every attribute has its own, clearly visible cue, so that each task can be learnt on its own
   (tested: a linear classifier on raw 64x64 pixels reads each of the four attributes with
   balanced accuracy >= 0.85 when they are drawn independently):
   - `class` (Shoes / Boots / Sandals / Slippers): the silhouette: a low upper, a tall shaft,
     open vertical straps, or a very low upper with a white cuff;
   - `closure` (Lace up / Slip-On / Buckle / Zipper): a large mark on the instep: white
     horizontal laces, nothing, a dark strap with a gold buckle, a long silver zip;
   - `gender` (Men / Women / Boys / Girls): the colour of the upper (brown, red, blue, pink);
   - `heel` (Flat / 1in - 1 3/4in / 3in - 3 3/4in / 5in & over): how far the back of the sole
     is raised on a dark heel block.
2. The attributes form two related pairs that are independent of each other
   (`RELATED_PAIRS`, exposed as `dataset.relations`):
   - `closure` follows `class` (shoes lace up, boots zip, sandals buckle, slippers slip on) and
     `heel` follows `gender` (men flat, boys 1in, girls 3in, women 5in): with probability
     `coupling` (0.8) the value is the typical one, otherwise it is drawn uniformly; for
     uniform marginals Cramer's V of such a pair equals `coupling`;
   - `class` and `gender` are drawn independently and uniformly, so every pair across the two
     groups (class/gender, class/heel, closure/gender, closure/heel) is independent (V = 0).

Why this produces interference (and why modulation can cure it): a triplet of task t says
"the anchor is nearer the positive, which shares its t-attribute, than the negative, which does
not". Under an independent task t', the anchor and the positive differ 3 times in 4, so in a
single shared embedding (the fully shared net, FSN) t' 's attribute adds distance that t's
triplets must shrink and t' 's own triplets must grow: the two notions of similarity pull the
shared weights in opposite directions (`<grad_t, grad_t'> < 0`, Eq. 2), and no single metric
satisfies both (Veit et al. 2017, Conditional Similarity Networks). A related pair's triplets
mostly agree, so their gradients mostly comply (a higher UCR, Table 1). Per-task channel
modulation (Eq. 5) lets each task weigh the shared channels that carry its own attribute, so
the tasks stop competing for one distance.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import shutil
import tempfile

import numpy as np

from keras_mtl.datasets.retrieval_dataset import RetrievalDataset
from keras_mtl.datasets.task_relations import TaskRelations
from keras_mtl.datasets.zappos import DEFAULT_SPLIT_FRACTIONS, TASK_NAMES, load_zappos

# Bumped whenever the drawing or the factor distribution changes (part of the cache key).
GENERATOR_VERSION = 2
CLASSES = ("Shoes", "Boots", "Sandals", "Slippers")
SUBCATEGORIES = ("Oxfords", "Ankle", "Flat", "Slipper Flats")
CLOSURES = ("Lace up", "Slip-On", "Buckle", "Zipper")
GENDERS = ("Men", "Women", "Boys", "Girls")
HEELS = ("Flat", "1in - 1 3/4in", "3in - 3 3/4in", "5in & over")
HEEL_HEIGHTS = (0.0, 0.08, 0.16, 0.24)  # rise of the back of the sole, fraction of the image
# The typical closure of each class and the typical heel of each gender (indices).
TYPICAL_CLOSURE = (0, 3, 2, 1)  # Shoes: lace up, Boots: zipper, Sandals: buckle, Slippers: slip-on
TYPICAL_HEEL = (0, 3, 1, 2)  # Men: flat, Women: 5in, Boys: 1in, Girls: 3in
COUPLING = 0.8
RELATED_PAIRS = (("class", "closure"), ("gender", "heel"))
UPPER_COLORS = (  # per gender, jittered per image
    (0.42, 0.25, 0.12),  # Men: brown
    (0.80, 0.10, 0.18),  # Women: red
    (0.15, 0.33, 0.78),  # Boys: blue
    (0.90, 0.50, 0.75),  # Girls: pink
)
DEFAULT_NUM_TRIPLETS = {"train": 20_000, "val": 4_000, "test": 8_000}


def shoe_relations(coupling: float = COUPLING) -> TaskRelations:
    """The ground-truth relations of the generated shoes (see the module docstring).

    class/closure and gender/heel are related when `coupling > 0`; every other pair (and, with
    `coupling == 0`, every pair) is independent.
    """
    if coupling == 0:
        return TaskRelations.from_pairs(TASK_NAMES, notes={
            "independent": "coupling 0: all four attributes are drawn independently"})
    return TaskRelations.from_pairs(
        TASK_NAMES,
        related=RELATED_PAIRS,
        notes={
            "class/closure": f"closure is the class's typical one with coupling {coupling:g} "
                             "(Cramer's V = coupling)",
            "gender/heel": f"heel is the gender's typical one with coupling {coupling:g}",
            "independent": "class and gender are drawn independently; every pair across the "
                           "{class, closure} and {gender, heel} groups is independent (V = 0)",
        },
    )


def sample_shoe_factors(
    num_images: int, rng: np.random.Generator, coupling: float = COUPLING
) -> np.ndarray:
    """Draws the four attributes of `num_images` shoes.

    `class` and `gender` are uniform and independent; `closure` (`heel`) is the typical value of
    the shoe's class (gender) with probability `coupling`, else uniform over the four values.
    `coupling=0` makes all four attributes independent.

    Returns:
        int array `(num_images, 4)`: columns `class, closure, gender, heel` (task order), each
        an index into `CLASSES`, `CLOSURES`, `GENDERS`, `HEELS`.
    """
    if not 0.0 <= coupling <= 1.0:
        raise ValueError(f"Expected `coupling` in [0, 1]. Received: coupling={coupling}")
    n = int(num_images)
    cls = rng.integers(0, 4, n)
    gender = rng.integers(0, 4, n)

    def follow(parent, typical):
        keep = rng.random(n) < coupling
        return np.where(keep, np.asarray(typical)[parent], rng.integers(0, 4, n))

    closure = follow(cls, TYPICAL_CLOSURE)
    heel = follow(gender, TYPICAL_HEEL)
    return np.stack([cls, closure, gender, heel], axis=1).astype(np.int64)


def render_shoe(cls, closure, gender, heel, size, rng):
    """Renders one shoe as a float32 `(size, size, 3)` image in [0, 1].

    Args:
        cls, closure, gender, heel: value indices (see `sample_shoe_factors`).
        size: side of the square image.
        rng: a `np.random.Generator` for the nuisance factors (position, background, colour
            jitter, pixel noise).
    """
    grid = (np.arange(size, dtype=np.float32) + 0.5) / size
    yy, xx = np.meshgrid(grid, grid, indexing="ij")
    img = np.ones((size, size, 3), np.float32) * rng.uniform(0.88, 1.0)
    x0 = 0.12 + rng.uniform(-0.03, 0.03)
    x1 = 0.88 + rng.uniform(-0.03, 0.03)
    ground = 0.87 + rng.uniform(-0.02, 0.02)
    color = np.clip(np.array(UPPER_COLORS[gender]) + rng.normal(0, 0.04, 3), 0, 1)
    inside = (xx >= x0) & (xx <= x1)

    def sole_top_at(x):  # the back of the sole is raised by the heel; the toe stays down
        t = np.clip((x - x0) / (x1 - x0), 0, 1)
        return ground - 0.05 - HEEL_HEIGHTS[heel] * np.clip(1 - t / 0.6, 0, 1)

    def top_at(x):
        t = np.clip((x - x0) / (x1 - x0), 0, 1)
        return sole_top_at(x) - upper_h * (1 - 0.55 * t**2)

    sole_top = sole_top_at(xx)
    upper_h = 0.16 if cls == 3 else 0.3
    top = top_at(xx)
    upper = inside & (yy >= top) & (yy < sole_top)
    if cls == 1:  # boots: a tall shaft at the back
        upper |= (xx >= x0) & (xx <= x0 + 0.3) & (yy >= 0.06) & (yy < sole_top)
    if cls == 2:  # sandals: open vertical straps
        upper &= np.sin((xx - x0) * 2 * np.pi / 0.09) > 0.0
    sole = inside & (yy >= sole_top) & (yy <= sole_top + 0.05)
    heel_block = (xx >= x0) & (xx <= x0 + 0.11) & (yy > sole_top) & (yy <= ground)
    img[upper] = color
    if cls == 3:  # slippers: a thick white cuff along the top of the low upper
        img[inside & (yy >= top - 0.035) & (yy < top + 0.02)] = 0.97
    img[sole | heel_block] = 0.12
    # The closure mark, on the instep, the same size on every class.
    cx = x0 + 0.6 * (x1 - x0)
    cy = (top_at(cx) + sole_top_at(cx)) / 2
    box = (np.abs(xx - cx) < 0.13) & (np.abs(yy - cy) < 0.1)
    if closure == 0:  # lace up: white horizontal laces
        img[box & (np.sin((yy - cy) * 2 * np.pi / 0.065) > 0.0)] = 0.97
    elif closure == 2:  # buckle: a dark strap and a gold square
        img[(np.abs(xx - cx) < 0.05) & (yy >= top_at(cx) - 0.02) & (yy < sole_top)] = 0.1
        img[(np.abs(xx - cx) < 0.085) & (np.abs(yy - cy) < 0.075)] = (0.98, 0.8, 0.1)
    elif closure == 3:  # zipper: a long silver line with a dark pull
        img[(np.abs(xx - cx) < 0.035) & (yy >= top_at(cx) - 0.04) & (yy < sole_top)] = 0.85
        img[(np.abs(xx - cx) < 0.05) & (np.abs(yy - (top_at(cx) - 0.03)) < 0.04)] = 0.05
    img += rng.normal(0, 0.02, img.shape).astype(np.float32)
    return np.clip(img, 0, 1)


def write_generated_zappos(directory, *, num_images=2400, image_size=64, seed=0,
                           coupling=COUPLING):
    """Writes a generated Zappos-like image set in the UT-Zappos50K layout under `directory`.

    Args:
        directory: destination folder (created).
        num_images: number of images.
        image_size: side of the square images.
        seed: int seed; the output is a deterministic function of the arguments.
        coupling: dependence of the related pairs (see `sample_shoe_factors`).

    Returns:
        The path of `directory`.
    """
    from PIL import Image

    rng = np.random.default_rng(seed)
    factors = sample_shoe_factors(num_images, rng, coupling)
    meta = os.path.join(directory, "ut-zap50k-data")
    os.makedirs(meta, exist_ok=True)
    with open(os.path.join(meta, "meta-data.csv"), "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["CID", "Category", "SubCategory", "HeelHeight", "Closure", "Gender"])
        for i, (c, z, g, h) in enumerate(factors):
            folder = os.path.join(
                directory, "ut-zap50k-images", CLASSES[c], SUBCATEGORIES[c], "Generated"
            )
            os.makedirs(folder, exist_ok=True)
            pixels = render_shoe(c, z, g, h, image_size, rng)
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
    coupling: float = COUPLING,
) -> RetrievalDataset:
    """Returns the embedded Zappos-like dataset, generating and caching it on first use.

    The images live under `cache_dir` in the UT-Zappos50K layout and are read by
    `keras_mtl.datasets.load_zappos`; the result has the same schema, tasks
    (`class`, `closure`, `gender`, `heel`) and value vocabularies as the real dataset, plus the
    ground-truth task relations in `relations` (see the module docstring): class/closure and
    gender/heel related, the four pairs across them independent.

    Args:
        num_images: number of images to generate.
        image_size: side of the square images in pixels.
        num_triplets: split -> total triplets over the 4 tasks. Defaults to
            `{"train": 20000, "val": 4000, "test": 8000}`.
        split_fractions: split -> fraction of images. Defaults to 0.7 / 0.1 / 0.2.
        seed: seed of the images, the split and the triplets.
        cache_dir: parent folder of the cache. Defaults to `$KERAS_HOME/keras_mtl/datasets`
            (`~/.keras/keras_mtl/datasets`).
        coupling: how strongly closure follows class and heel follows gender (Cramer's V of
            the related pairs; 0 draws all four attributes independently). Default 0.8.

    Returns:
        A `keras_mtl.datasets.RetrievalDataset` with image paths and `relations`.

    Example:

    ```python
    data = keras_mtl.datasets.load_generated_zappos()
    data.task_names  # ("class", "closure", "gender", "heel")
    data.relations.pairs("related")  # [("class", "closure"), ("gender", "heel")]
    ```
    """
    for arg, value, low in (("num_images", num_images, 40), ("image_size", image_size, 16)):
        if int(value) < low:
            raise ValueError(f"Expected `{arg}` >= {low}. Received: {arg}={value}")
    if not 0.0 <= coupling <= 1.0:
        raise ValueError(f"Expected `coupling` in [0, 1]. Received: coupling={coupling}")
    tag = "" if coupling == COUPLING else f"_c{coupling:g}"
    directory = cached_folder(
        cache_dir or default_cache_dir(),
        f"zappos_generated_v{GENERATOR_VERSION}_n{num_images}_s{image_size}_seed{seed}{tag}",
        lambda tmp: write_generated_zappos(tmp, num_images=num_images, image_size=image_size,
                                           seed=seed, coupling=coupling),
    )
    data = load_zappos(
        directory,
        triplets="sample",
        num_triplets=num_triplets or DEFAULT_NUM_TRIPLETS,
        split_fractions=split_fractions or DEFAULT_SPLIT_FRACTIONS,
        seed=seed,
        check_images="exists",
        name="zappos_generated",
    )
    return dataclasses.replace(data, relations=shoe_relations(coupling))


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
