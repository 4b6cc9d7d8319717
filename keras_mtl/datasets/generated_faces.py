"""An embedded default for CelebA: generated, deterministic cartoon faces with 40 attributes.

`load_generated_celeba()` draws simple faces with PIL, writes them to a cache folder in the real
CelebA layout (`img_align_celeba/000001.jpg ...`, `list_attr_celeba.txt`,
`list_eval_partition.txt`) and reads them back with `keras_mtl.datasets.load_celeba(...,
source="raw")`, so the schema and the code path are those of the real dataset. 2,000 images at
64x64 take a few seconds to create; later calls reuse the cache.

Every one of the 20 attributes of Zhao et al. 2018, Table 3 (`ZHAO_ATTRIBUTES`) is drawn: a
curved mouth (`Smiling`), a dark open mouth (`Mouth_Slightly_Open`), cheek blush
(`High_Cheekbones`), a chin patch (`Goatee`), a bar above the mouth (`Mustache`), stubble
(`5_o_Clock_Shadow`), strips beside the face (`Sideburns`), no hair cap (`Bald`), a high
hairline (`Receding_Hairline`), a fringe (`Bangs`), straight or wavy strands, forehead wrinkles
(not `Young`), dark arcs under the eyes (`Bags_Under_Eyes`), arched or thick eyebrows, a wide
face (`Chubby`), a second chin line (`Double_Chin`), a long narrow face (`Oval_Face`).
Nuisance factors vary too: skin tone (`Pale_Skin`), hair colour (`Black_Hair`, `Blond_Hair`,
`Brown_Hair`, `Gray_Hair`), long hair for women (`Male`), `Eyeglasses`, `Wearing_Hat`,
background, position, scale and rotation. The face fills the frame (like CelebA's aligned
crops) and the marks are drawn bold and in high contrast (facial hair is dark whatever the hair
colour), so each of the 20 attributes can be read from 48x48 pixels: a kernel ridge classifier
on raw pixels beats the majority class for every one (tested). Smaller, fainter marks left a
triplet network at chance on a CPU-sized budget.

The attributes are drawn so that some tasks are related and others are not:
- mouth group: `High_Cheekbones` and `Mouth_Slightly_Open` depend on `Smiling`;
- beard group: only men have `Goatee`, `Mustache`, `5_o_Clock_Shadow`, `Sideburns`;
  `No_Beard` is exactly "neither goatee nor mustache"; men also have `Bushy_Eyebrows` more
  and `Arched_Eyebrows` less often;
- age group: `Bald`, `Receding_Hairline` and `Bags_Under_Eyes` are more frequent when not
  `Young`;
- `Double_Chin` depends on `Chubby`; `Straight_Hair` and `Wavy_Hair` exclude each other;
- the mouth group is independent of the beard and age groups.
The other 20 CelebA attributes are written as -1 (absent).

`face_relations()` turns this design into ground truth (`dataset.relations`): two attributes
are *related* when they share a random draw of the generator (`LATENT_CAUSES`: `Smiling`,
`Male`, `Young`, `Chubby`, hair style, ...), so they are dependent by construction, and
*independent* otherwise. Related pairs range from deterministic (`Goatee` / `No_Beard`) to weak
(`Bangs` / `Bags_Under_Eyes`, through `Young` -> `Bald` -> `Bangs`); the independent ones are
exactly independent.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from keras_mtl.datasets.celeba import ALL_ATTRIBUTES, ZHAO_ATTRIBUTES, load_celeba
from keras_mtl.datasets.generated import cached_folder, default_cache_dir
from keras_mtl.datasets.retrieval_dataset import RetrievalDataset
from keras_mtl.datasets.task_relations import TaskRelations

DEFAULT_NUM_TRIPLETS = {"train": 1000, "val": 100, "test": 300}  # per task
PARTITION_FRACTIONS = (0.8, 0.1, 0.1)  # train / val / test, as list_eval_partition codes 0/1/2
SKIN = ((0.98, 0.87, 0.77), (0.93, 0.76, 0.62), (0.78, 0.57, 0.42), (0.55, 0.38, 0.26))
HAIR = {"Black_Hair": (0.1, 0.08, 0.07), "Brown_Hair": (0.42, 0.26, 0.13),
        "Blond_Hair": (0.92, 0.8, 0.45), "Gray_Hair": (0.72, 0.72, 0.72)}


# The random draws each of the 20 Zhao attributes depends on, read off `sample_face_attributes`
# (an attribute's own Bernoulli draw is named after it).
LATENT_CAUSES = {
    "Smiling": {"smiling"},
    "High_Cheekbones": {"smiling", "cheekbones"},
    "Mouth_Slightly_Open": {"smiling", "open_mouth"},
    "Goatee": {"male", "goatee"},
    "Mustache": {"male", "goatee", "mustache"},
    "No_Beard": {"male", "goatee", "mustache"},
    "5_o_Clock_Shadow": {"male", "goatee", "mustache", "shadow"},
    "Sideburns": {"male", "goatee", "mustache", "sideburns"},
    "Bushy_Eyebrows": {"male", "bushy"},
    "Arched_Eyebrows": {"male", "arched"},
    "Young": {"young"},
    "Bald": {"male", "young", "bald"},
    "Receding_Hairline": {"male", "young", "bald", "receding"},
    "Bags_Under_Eyes": {"young", "bags"},
    "Straight_Hair": {"male", "young", "bald", "style"},
    "Wavy_Hair": {"male", "young", "bald", "style"},
    "Bangs": {"male", "young", "bald", "bangs"},
    "Chubby": {"chubby"},
    "Double_Chin": {"chubby", "double_chin"},
    "Oval_Face": {"chubby", "oval"},
}


def face_relations(task_names=ZHAO_ATTRIBUTES) -> TaskRelations:
    """The ground-truth relations of the generated faces' attribute tasks.

    Two attributes are related when their `LATENT_CAUSES` intersect (dependent by
    construction), independent otherwise (see the module docstring).

    Args:
        task_names: attribute names among `ZHAO_ATTRIBUTES`, in task order.

    Example:

    >>> r = face_relations(("Smiling", "High_Cheekbones", "Goatee"))
    >>> r.kind("Smiling", "High_Cheekbones"), r.kind("Smiling", "Goatee")
    ('related', 'independent')
    """
    names = tuple(task_names)
    unknown = [n for n in names if n not in LATENT_CAUSES]
    if unknown:
        raise ValueError(f"Expected attribute names among {ZHAO_ATTRIBUTES}. Received: "
                         f"{unknown}")
    related = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]
               if LATENT_CAUSES[a] & LATENT_CAUSES[b]]
    return TaskRelations.from_pairs(names, related=related, notes={
        "related": "the attributes share a random draw of the generator (dependent by "
                   "construction); the strength ranges from deterministic to weak",
        "independent": "no shared draw: exactly independent"})


def sample_face_attributes(num_images: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Draws the binary attributes of `num_images` faces (see the module docstring).

    Returns:
        A dict `CelebA attribute name -> bool array (num_images,)` with every name of the
        40 CelebA attributes that the generator sets (the 20 of Zhao Table 3 and the nuisance
        ones); names not in the dict are absent for every face.
    """
    n = num_images

    def bern(p):
        return rng.random(n) < p

    a = {"Male": bern(0.5), "Young": bern(0.65), "Smiling": bern(0.5)}
    male, young, smiling = a["Male"], a["Young"], a["Smiling"]
    a["High_Cheekbones"] = bern(np.where(smiling, 0.8, 0.15))
    a["Mouth_Slightly_Open"] = bern(np.where(smiling, 0.75, 0.2))
    a["Goatee"] = male & bern(0.35)
    a["Mustache"] = male & bern(np.where(a["Goatee"], 0.6, 0.2))
    a["No_Beard"] = ~(a["Goatee"] | a["Mustache"])
    a["5_o_Clock_Shadow"] = male & a["No_Beard"] & bern(0.5)
    a["Sideburns"] = male & bern(np.where(a["No_Beard"], 0.15, 0.6))
    a["Bushy_Eyebrows"] = bern(np.where(male, 0.45, 0.08))
    a["Arched_Eyebrows"] = bern(np.where(male, 0.1, 0.55))
    a["Bald"] = male & ~young & bern(0.45)
    a["Receding_Hairline"] = ~a["Bald"] & bern(np.where(young, 0.05, 0.45))
    a["Bags_Under_Eyes"] = bern(np.where(young, 0.12, 0.6))
    a["Chubby"] = bern(0.25)
    a["Double_Chin"] = bern(np.where(a["Chubby"], 0.65, 0.04))
    a["Oval_Face"] = ~a["Chubby"] & bern(0.45)
    style = rng.random(n)
    a["Straight_Hair"] = ~a["Bald"] & (style < 0.4)
    a["Wavy_Hair"] = ~a["Bald"] & (style >= 0.4) & (style < 0.75)
    a["Bangs"] = ~a["Bald"] & bern(np.where(male, 0.12, 0.4))
    colour = np.where(~young & bern(0.6), 3, rng.integers(0, 3, n))
    for c, name in enumerate(HAIR):
        a[name] = ~a["Bald"] & (colour == c)
    a["Pale_Skin"] = bern(0.2)
    a["Eyeglasses"] = bern(0.15)
    a["Wearing_Hat"] = bern(0.08)
    return a


def render_face(attrs: dict[str, bool], size: int, rng: np.random.Generator) -> np.ndarray:
    """Draws one face as a uint8 `(size, size, 3)` image (drawn at 128x128, then resized)."""
    from PIL import Image, ImageDraw

    def rgb(c, jitter=0.04):
        c = np.clip(np.asarray(c) + rng.normal(0, jitter, 3), 0, 1)
        return tuple(int(255 * v) for v in c)

    background = rgb(np.full(3, rng.uniform(0.75, 0.9)), 0.02)  # plain grey: faces dominate
    img = Image.new("RGB", (128, 128), background)
    d = ImageDraw.Draw(img, "RGBA")
    # The face fills the frame as in CelebA's aligned crops, so that the attribute marks
    # (a few face-units wide) stay several pixels wide after resizing to 48-64 px.
    s, cx, cy = rng.uniform(1.48, 1.58), 64 + rng.uniform(-2, 2), 70 + rng.uniform(-2, 2)

    def box(x0, y0, x1, y1):  # face-relative coordinates -> pixels
        return [cx + s * x0, cy + s * y0, cx + s * x1, cy + s * y1]

    def px(width):  # a stroke width in face units -> pixels
        return max(1, round(s * width))

    skin = SKIN[0] if attrs["Pale_Skin"] else SKIN[rng.integers(1, 4)]
    skin_c, dark = rgb(skin), rgb(np.asarray(skin) * 0.4)
    beard = rgb((0.16, 0.11, 0.08))  # facial hair is dark whatever the hair colour: contrast
    hair = next((rgb(c) for k, c in HAIR.items() if attrs[k]), rgb(HAIR["Brown_Hair"]))
    hw = 26 + 7 * attrs["Chubby"] - 5 * attrs["Oval_Face"]
    hh = 33 + 5 * attrs["Oval_Face"]
    wavy, straight = attrs["Wavy_Hair"], attrs["Straight_Hair"]
    if not attrs["Bald"] and not attrs["Male"]:  # long hair behind the head
        d.rectangle(box(-hw - 7, -hh + 6, hw + 7, hh + 14), fill=hair)
        if wavy:
            for y in range(-hh + 8, hh + 14, 8):
                for side in (-1, 1):
                    d.ellipse(box(side * (hw + 7) - 5, y - 4, side * (hw + 7) + 5, y + 4),
                              fill=hair)
    d.ellipse(box(-hw, -hh, hw, hh), fill=skin_c)
    if attrs["Double_Chin"]:
        d.arc(box(-hw * 0.6, hh - 14, hw * 0.6, hh + 4), 20, 160, fill=dark, width=px(4))
    if not attrs["Bald"]:
        line = -hh + (20 if attrs["Receding_Hairline"] else 12)
        d.chord(box(-hw - 2, -hh - 6, hw + 2, 2 * line + hh + 6), 180, 360, fill=hair)
        if attrs["Receding_Hairline"]:
            for side in (-1, 1):
                d.ellipse(box(side * 12 - 8, line - 12, side * 12 + 8, line + 2), fill=skin_c)
        if wavy:
            for x in range(-hw + 2, hw - 1, 7):
                d.ellipse(box(x - 5, line - 5, x + 5, line + 4), fill=hair)
        if straight:
            for x in range(-hw + 4, hw - 3, 5):
                d.line(box(x, -hh, x, line - 1), fill=rgb(np.asarray(hair) / 255 * 0.6),
                       width=px(1))
        if attrs["Bangs"]:
            d.rectangle(box(-hw * 0.75, line - 4, hw * 0.75, -13), fill=hair)
    else:
        d.ellipse(box(-10, -hh + 3, 4, -hh + 9), fill=rgb(np.asarray(skin) * 1.15 + 0.1))
    if not attrs["Young"]:
        for y in (-hh + 22, -hh + 26):
            d.line(box(-12, y, 12, y), fill=dark, width=px(2))
        for side in (-1, 1):
            d.line(box(side * 8, 10, side * 13, 20), fill=dark, width=px(2))
    if attrs["Sideburns"]:
        for side in (-1, 1):
            d.rectangle(box(side * hw - 4 * (side > 0), -12, side * hw + 4 * (side < 0), 6),
                        fill=beard)
    brow_w = 5 if attrs["Bushy_Eyebrows"] else 2
    for side in (-1, 1):
        ex = side * 11
        d.ellipse(box(ex - 5, -7, ex + 5, -1), fill=(250, 250, 250))
        d.ellipse(box(ex - 2, -6, ex + 2, -2), fill=(30, 30, 40))
        if attrs["Arched_Eyebrows"]:
            d.arc(box(ex - 7, -16, ex + 7, -6), 200, 340, fill=hair, width=px(brow_w))
        else:
            d.line(box(ex - 7, -11, ex + 7, -11), fill=hair, width=px(brow_w))
        if attrs["Bags_Under_Eyes"]:
            d.arc(box(ex - 6, -4, ex + 6, 4), 20, 160, fill=dark, width=px(3))
        if attrs["High_Cheekbones"]:
            d.ellipse(box(ex + side * 3 - 6, 4, ex + side * 3 + 6, 11), fill=(235, 70, 90, 190))
    if attrs["Eyeglasses"]:
        for side in (-1, 1):
            d.ellipse(box(side * 11 - 8, -10, side * 11 + 8, 3), outline=(20, 20, 20),
                      width=px(2))
        d.line(box(-3, -4, 3, -4), fill=(20, 20, 20), width=px(2))
    d.line(box(0, -2, -3, 9), fill=dark, width=px(2))
    if attrs["5_o_Clock_Shadow"]:
        d.chord(box(-hw + 3, 0, hw - 3, hh), 0, 180, fill=(40, 40, 60, 130))
    if attrs["Mouth_Slightly_Open"]:
        d.ellipse(box(-8, 14, 8, 25), fill=(60, 5, 15))
    if attrs["Smiling"]:  # a wide upturned arc versus a short straight line
        d.arc(box(-14, 4, 14, 24), 10, 170, fill=(150, 30, 40), width=px(4))
    else:
        d.line(box(-7, 18, 7, 18), fill=(150, 30, 40), width=px(3))
    if attrs["Mustache"]:
        d.rectangle(box(-12, 10, 12, 15), fill=beard)
    if attrs["Goatee"]:
        d.ellipse(box(-8, 23, 8, hh + 1), fill=beard)
    if attrs["Wearing_Hat"]:
        d.rectangle(box(-hw - 6, -hh - 10, hw + 6, -hh + 10), fill=rgb(rng.random(3)))
    img = img.rotate(rng.uniform(-4, 4), resample=Image.BILINEAR, fillcolor=background)
    img = img.resize((size, size), Image.LANCZOS)
    pixels = np.asarray(img, np.float32) + rng.normal(0, 4, (size, size, 3))
    return np.clip(pixels + 0.5, 0, 255).astype(np.uint8)


def write_generated_celeba(directory, *, num_images=2000, image_size=64, seed=0):
    """Writes generated faces in the raw CelebA layout under `directory` (created).

    Returns:
        The path of `directory`. The output is a deterministic function of the arguments.
    """
    from PIL import Image

    rng = np.random.default_rng(seed)
    ends = np.cumsum(PARTITION_FRACTIONS) * num_images
    partition = np.searchsorted(ends, np.arange(num_images), side="right")
    for _ in range(100):  # redraw (seeded) until every split can form triplets for every task
        attrs = sample_face_attributes(num_images, rng)
        counts = [np.bincount(attrs[a][partition == p], minlength=2)
                  for a in ZHAO_ATTRIBUTES for p in range(3)]
        if all(c.min() >= 1 and c.max() >= 2 for c in counts):
            break
    os.makedirs(os.path.join(directory, "img_align_celeba"), exist_ok=True)
    files = [f"{i + 1:06d}.jpg" for i in range(num_images)]
    absent = np.zeros(num_images, bool)
    table = np.stack([attrs.get(name, absent) for name in ALL_ATTRIBUTES], axis=1)
    for i, name in enumerate(files):
        face = render_face({k: bool(v[i]) for k, v in attrs.items()}, image_size, rng)
        Image.fromarray(face).save(os.path.join(directory, "img_align_celeba", name), quality=92)
    with open(os.path.join(directory, "list_attr_celeba.txt"), "w", encoding="utf-8") as f:
        f.write(f"{num_images}\n" + " ".join(ALL_ATTRIBUTES) + "\n")
        for name, row in zip(files, table, strict=True):
            f.write(name + " " + " ".join("1" if v else "-1" for v in row) + "\n")
    with open(os.path.join(directory, "list_eval_partition.txt"), "w", encoding="utf-8") as f:
        f.writelines(f"{name} {p}\n" for name, p in zip(files, partition, strict=True))
    return directory


def load_generated_celeba(
    *,
    num_images: int = 2000,
    image_size: int = 64,
    num_triplets: dict[str, int] | None = None,
    attributes="zhao20",
    seed: int = 0,
    cache_dir: str | None = None,
) -> RetrievalDataset:
    """Returns the embedded CelebA-like dataset (20 tasks), generating it on first use.

    The faces live under `cache_dir` in the raw CelebA layout and are read by
    `keras_mtl.datasets.load_celeba(..., source="raw")` with the 20 attributes of Zhao et al.
    2018, Table 3 as tasks (labels 0 = absent, 1 = present); the module docstring lists how
    each attribute is drawn and which ones are correlated.

    Args:
        num_images: faces to generate (80% train, 10% val, 10% test), at least 500 so that
            every split has both values of every attribute.
        image_size: side of the square images in pixels.
        num_triplets: split -> triplets per task. Defaults to
            `{"train": 1000, "val": 100, "test": 300}`.
        attributes: the tasks, as for `load_celeba`: `"zhao20"` or a list of names among
            `ZHAO_ATTRIBUTES` (the other CelebA attributes are constant here).
        seed: seed of the faces and the triplets.
        cache_dir: parent folder of the cache. Defaults to `$KERAS_HOME/keras_mtl/datasets`
            (`~/.keras/keras_mtl/datasets`).

    Returns:
        A `keras_mtl.datasets.RetrievalDataset` named `"celeb_a_generated"`, with image paths
        and the ground-truth `relations` of its tasks (`face_relations`).

    Example:

    ```python
    faces = keras_mtl.datasets.load_generated_celeba()
    faces.num_tasks  # 20
    ```
    """
    for arg, value, low in (("num_images", num_images, 500), ("image_size", image_size, 32)):
        if int(value) < low:
            raise ValueError(f"Expected `{arg}` >= {low}. Received: {arg}={value}")
    directory = cached_folder(
        cache_dir or default_cache_dir(),
        f"celeba_generated_v3_n{num_images}_s{image_size}_seed{seed}",
        lambda tmp: write_generated_celeba(tmp, num_images=num_images, image_size=image_size,
                                           seed=seed),
    )
    data = load_celeba(directory, source="raw", attributes=attributes, seed=seed,
                       num_triplets=num_triplets or DEFAULT_NUM_TRIPLETS, check_images="exists")
    return dataclasses.replace(data, name="celeb_a_generated",
                               relations=face_relations(data.task_names))


def attribute_correlation(labels: np.ndarray) -> np.ndarray:
    """Pearson correlation `(T, T)` between binary label columns (NaN for constant columns)."""
    x = np.asarray(labels, np.float64)
    x = x - x.mean(axis=0)
    norm = np.sqrt((x**2).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (x.T @ x) / np.outer(norm, norm)

