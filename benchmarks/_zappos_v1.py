"""The generated Zappos-like data as it was before issue 10 (generator v1), frozen for the ablation.

`benchmarks/modulation_ablation.py` trains on it to show the "before" row: closure drawn as a
small mark (a triplet network stays at chance on it), heel drawn from gender and class, so
that three of the four tasks are related and only closure is independent. Not part of the
package: `keras_mtl.datasets.generated` is the current generator.
"""

import csv
import os

import numpy as np

from keras_mtl.datasets.task_relations import TaskRelations

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



# Ground truth of v1: heel drawn given gender and class; closure and the class/gender pair
# drawn independently.
RELATIONS = TaskRelations.from_pairs(("class", "closure", "gender", "heel"),
                                     related=[("class", "heel"), ("gender", "heel")])


def load_v1(cache_dir, *, num_images=2400, image_size=64, num_triplets=None, seed=0):
    """The v1 data, generated once under `cache_dir`, read by the real loader (with relations)."""
    import dataclasses

    from keras_mtl.datasets.generated import cached_folder
    from keras_mtl.datasets.zappos import load_zappos

    directory = cached_folder(
        cache_dir, f"zappos_generated_v1_n{num_images}_s{image_size}_seed{seed}",
        lambda tmp: write_generated_zappos(tmp, num_images=num_images, image_size=image_size,
                                           seed=seed))
    data = load_zappos(directory, triplets="sample", num_triplets=num_triplets, seed=seed,
                       check_images="exists", name="zappos_generated_v1")
    return dataclasses.replace(data, relations=RELATIONS)
