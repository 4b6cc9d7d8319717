"""UT-Zappos50K for attribute-conditioned product retrieval (Zhao et al. 2018, Sec. 4.3).

Reads a local copy in the dataset's own layout (nothing is downloaded):

```
data_dir/
  ut-zap50k-images/<Category>/<SubCategory>/<Brand>/<CID with "." for "-">.jpg
      (or ut-zap50k-images-square/...)
  ut-zap50k-data/meta-data.csv        (or meta-data-bin.csv)
  filenames.json                      optional, Conditional Similarity Networks (CSN)
  tripletlists/{class,closure,gender,heel}_tripletlist_{train,val,test}.txt   optional, CSN
```

Four tasks, in this order (task id = position): `class` (metadata column `Category`),
`closure` (`Closure`), `gender` (`Gender`), `heel` (`HeelHeight`).

Metadata, schema assumed from the dataset's public files:
- `meta-data.csv`: one row per product, columns including `CID` (e.g. `7487915-3468`, image
  file `7487915.3468.jpg`), `Category`, `SubCategory`, `HeelHeight`, `Closure`, `Gender`. An
  empty cell means unknown (label `-1`); a cell listing several values separated by `;` uses
  the first one.
- `meta-data-bin.csv`: `CID` plus one 0/1 column per value, named `<Column>.<Value>` (e.g.
  `Closure.Lace.up`, `HeelHeight.1in...1.3.4in`); the first column set to 1 is the value.
Values are matched to each task's vocabulary ignoring case and non-alphanumerics, so
`Lace up`, `Lace-up` and `Lace.up` are the same value. An unknown value is an error naming the
file, row and value (or, with `skip_bad=True`, the row is dropped and counted).

Triplets: CSN's files when present (`filenames.json`: one image path a line, or a JSON list;
line number = image id; each triplet line `a b c` means "a is closer to c than to b", read as
anchor `a`, positive `c`, negative `b`). Otherwise the images are split at random (seeded,
`split_fractions`) and triplets are sampled within each split by
`keras_mtl.datasets.sample_triplets`, `num_triplets[split] // 4` per task (defaults
200k / 80k / 160k in total, the CSN protocol).
"""

from __future__ import annotations

import csv
import json
import os
import re

import numpy as np

from keras_mtl.datasets.retrieval_dataset import RetrievalDataset, find_bad_images, report_bad
from keras_mtl.datasets.triplets import sample_triplets, split_indices

TASK_NAMES = ("class", "closure", "gender", "heel")
TASK_COLUMNS = {"class": "Category", "closure": "Closure", "gender": "Gender", "heel": "HeelHeight"}
DEFAULT_VOCABULARIES = {
    "class": ("Shoes", "Boots", "Sandals", "Slippers"),
    "closure": (
        "Lace up", "Slip-On", "Pull-on", "Buckle", "Zipper", "Hook and Loop", "Ankle Strap",
        "Ankle Wrap", "Sling Back", "Elastic Gore", "Bungee", "Toggle", "Button Loop",
        "Monk Strap",
    ),
    "gender": ("Men", "Women", "Boys", "Girls"),
    "heel": (
        "Flat", "Under 1in", "1in - 1 3/4in", "2in - 2 3/4in", "3in - 3 3/4in",
        "4in - 4 3/4in", "5in & over",
    ),
}
DEFAULT_NUM_TRIPLETS = {"train": 200_000, "val": 80_000, "test": 160_000}
DEFAULT_SPLIT_FRACTIONS = {"train": 0.7, "val": 0.1, "test": 0.2}
IMAGE_DIRS = ("ut-zap50k-images", "ut-zap50k-images-square")
METADATA_FILES = ("meta-data.csv", "meta-data-bin.csv")


def _key(value: str) -> str:
    return re.sub(r"[^a-z0-9]", "", value.lower())


def cid_of(path: str) -> str:
    """Returns the metadata CID of an image path (`.../7487915.3468.jpg` -> `7487915-3468`)."""
    return os.path.splitext(os.path.basename(path))[0].replace(".", "-")


def read_zappos_metadata(path, vocabularies="default", *, skip_bad=False):
    """Reads `meta-data.csv` or `meta-data-bin.csv` into per-task integer labels.

    Args:
        path: path of the metadata CSV.
        vocabularies: `"default"` (`DEFAULT_VOCABULARIES`), `"infer"` (the values found, in
            order of first appearance) or a dict task name -> sequence of value names.
        skip_bad: drop rows with an unknown value (warn with the count) instead of raising.

    Returns:
        A tuple `(cids, labels, label_names, num_skipped)`: list of CIDs, int32 array
        `(len(cids), 4)` (`-1` = unknown), tuple of value-name tuples, and skipped rows.
    """
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    if not rows or "CID" not in rows[0]:
        raise ValueError(
            f"Expected a UT-Zappos50K metadata CSV with a 'CID' column. Received: {path!r} "
            f"with header {rows[0] if rows else []}"
        )
    header = rows[0]
    getters = {}
    for task, column in TASK_COLUMNS.items():
        if column in header:
            i = header.index(column)
            getters[task] = lambda row, i=i: row[i].split(";")[0].strip()
            continue
        one_hot = [(j, h[len(column) + 1 :]) for j, h in enumerate(header)
                   if h.startswith(column + ".") or h.startswith(column + "_")]
        if not one_hot:
            raise ValueError(
                f"Expected a column {column!r} (meta-data.csv) or columns '{column}.<value>' "
                f"(meta-data-bin.csv) for task {task!r}. Received: {path!r} with header "
                f"{header[:12]}..."
            )
        getters[task] = lambda row, one_hot=one_hot: next(
            (name for j, name in one_hot if row[j].strip() not in ("", "0", "0.0")), ""
        )
    cid_col = header.index("CID")
    raw = [[getters[t](row) for t in TASK_NAMES] for row in rows[1:]]
    if vocabularies == "infer":
        vocabularies = {
            t: tuple(dict.fromkeys(r[k] for r in raw if r[k])) for k, t in enumerate(TASK_NAMES)
        }
    elif vocabularies == "default":
        vocabularies = DEFAULT_VOCABULARIES
    lookups = [{_key(v): i for i, v in enumerate(vocabularies[t])} for t in TASK_NAMES]
    cids, labels, bad = [], [], []
    for r, (row, values) in enumerate(zip(rows[1:], raw, strict=True)):
        ids = [lookups[k].get(_key(v), -2) if v else -1 for k, v in enumerate(values)]
        if -2 in ids:
            k = ids.index(-2)
            bad.append((
                f"{path} row {r + 2} (CID {row[cid_col]})",
                f"unknown {TASK_NAMES[k]!r} value {values[k]!r}; expected one of "
                f"{list(vocabularies[TASK_NAMES[k]])} (or pass vocabularies='infer')",
            ))
            continue
        cids.append(row[cid_col].strip())
        labels.append(ids)
    skipped = report_bad(bad, skip_bad, "metadata rows")
    label_names = tuple(tuple(vocabularies[t]) for t in TASK_NAMES)
    return cids, np.array(labels, np.int32).reshape(-1, 4), label_names, skipped


def read_csn_triplets(data_dir):
    """Reads Conditional Similarity Networks' `filenames.json` and `tripletlists/` files.

    Args:
        data_dir: folder holding `filenames.json` and `tripletlists/`.

    Returns:
        A tuple `(filenames, triplets)`: the list of image paths (line number = image id) and
        a dict split -> int64 array `(M, 4)` of `(anchor, positive, negative, task_id)`.
    """
    path = os.path.join(data_dir, "filenames.json")
    if not os.path.isfile(path):
        raise ValueError(
            f"Expected CSN's filenames.json in data_dir. Received: no file {path!r}"
        )
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        filenames = json.loads(text)
    except json.JSONDecodeError:
        filenames = None
    if not isinstance(filenames, list):
        filenames = [line.strip() for line in text.splitlines() if line.strip()]
    triplets = {}
    for split in ("train", "val", "test"):
        parts = []
        for task_id, task in enumerate(TASK_NAMES):
            path = os.path.join(data_dir, "tripletlists", f"{task}_tripletlist_{split}.txt")
            if not os.path.isfile(path):
                raise ValueError(
                    f"Expected CSN triplet file {path!r} since filenames.json exists. "
                    "Received: no such file"
                )
            with open(path, encoding="utf-8") as f:
                lines = [(r, line.split()) for r, line in enumerate(f, 1) if line.strip()]
            bad = [(r, p) for r, p in lines if len(p) != 3 or not all(v.isdigit() for v in p)]
            if bad:
                raise ValueError(
                    f"Expected lines of three integer image ids in {path!r}. Received: line "
                    f"{bad[0][0]}: {' '.join(bad[0][1])!r}"
                )
            abc = np.array([p for _, p in lines], dtype=np.int64).reshape(-1, 3)
            if abc.size and (abc.min() < 0 or abc.max() >= len(filenames)):
                raise ValueError(
                    f"Expected image ids in [0, {len(filenames)}) in {path!r} (filenames.json "
                    f"has {len(filenames)} lines). Received: ids in [{abc.min()}, {abc.max()}]"
                )
            task_col = np.full((len(abc), 1), task_id, np.int64)
            parts.append(np.concatenate([abc[:, [0, 2, 1]], task_col], axis=1))
        triplets[split] = np.concatenate(parts)
    return filenames, triplets


def _find(data_dir, names, what):
    for name in names:
        path = os.path.join(data_dir, name)
        if os.path.exists(path):
            return path
    raise ValueError(
        f"Expected the UT-Zappos50K {what} at one of {[os.path.join(data_dir, n) for n in names]}."
        f" Received: data_dir={data_dir!r} with contents {sorted(os.listdir(data_dir))[:10]}"
    )


def load_zappos(
    data_dir,
    *,
    triplets: str = "auto",
    num_triplets: dict[str, int] | None = None,
    split_fractions: dict[str, float] | None = None,
    vocabularies="default",
    seed: int = 0,
    check_images: str = "header",
    skip_bad: bool = False,
    name: str = "ut_zappos50k",
) -> RetrievalDataset:
    """Loads UT-Zappos50K from a local copy for 4-task retrieval (class/closure/gender/heel).

    Reference: Zhao et al., "A Modulation Module for Multi-task Learning with Applications in
    Image Retrieval", ECCV 2018, Sec. 4.3; Veit et al., "Conditional Similarity Networks",
    CVPR 2017 (triplet files). The expected layout is in the module docstring.

    Args:
        data_dir: the dataset root holding `ut-zap50k-images/` and `ut-zap50k-data/`.
        triplets: `"auto"` (CSN files when `filenames.json` exists, else sampled), `"csn"` or
            `"sample"`.
        num_triplets: split -> total triplets over the 4 tasks when sampling. Defaults to
            `{"train": 200000, "val": 80000, "test": 160000}`.
        split_fractions: split -> fraction of images when sampling. Defaults to
            `{"train": 0.7, "val": 0.1, "test": 0.2}`. Only metadata rows with an image are
            used (a row without one is a bad item); images without a row are ignored.
        vocabularies: the value names of each task: `"default"` (the metadata's values, as
            listed in `keras_mtl.datasets.zappos.DEFAULT_VOCABULARIES`), `"infer"` (the
            values found in the metadata, in order of first appearance) or a dict task name
            -> sequence of value names.
        seed: seed of the image split and of triplet sampling.
        check_images: `"exists"`, `"header"` or `"decode"`; checked up front, before training.
        skip_bad: drop bad metadata rows, missing/unreadable images (and CSN triplets using
            them) and report counts in `RetrievalDataset.skipped`, instead of raising.
        name: the returned dataset's name.

    Returns:
        A `keras_mtl.datasets.RetrievalDataset` with image paths.

    Example:

    ```python
    data = keras_mtl.datasets.load_zappos("/data/ut-zap50k", triplets="sample", seed=0)
    data.triplet_counts()["train"]  # {"class": 50000, "closure": 50000, ...}
    ```
    """
    if triplets not in ("auto", "csn", "sample"):
        raise ValueError(
            f"Expected `triplets` in ('auto', 'csn', 'sample'). Received: triplets={triplets!r}"
        )
    if not os.path.isdir(data_dir):
        raise ValueError(f"Expected `data_dir` to be a folder. Received: data_dir={data_dir!r}")
    image_dir = _find(data_dir, IMAGE_DIRS, "image folder")
    meta_path = _find(data_dir, [os.path.join("ut-zap50k-data", m) for m in METADATA_FILES],
                      "metadata CSV")
    cids, meta_labels, label_names, n_bad_rows = read_zappos_metadata(
        meta_path, vocabularies, skip_bad=skip_bad
    )
    skipped = {"metadata_rows": n_bad_rows} if n_bad_rows else {}
    use_csn = triplets == "csn" or (
        triplets == "auto" and os.path.isfile(os.path.join(data_dir, "filenames.json"))
    )
    if use_csn:
        filenames, split_triplets = read_csn_triplets(data_dir)
        paths = [_resolve(data_dir, image_dir, f) for f in filenames]
        row_of = {cid: i for i, cid in enumerate(cids)}
        labels = np.full((len(paths), 4), -1, np.int32)
        rows = np.array([row_of.get(cid_of(p), -1) for p in paths], dtype=np.int64)
        labels[rows >= 0] = meta_labels[rows[rows >= 0]]
    else:
        by_cid = {}
        for root, _, files in os.walk(image_dir):
            for f in sorted(files):
                if f.lower().endswith((".jpg", ".jpeg", ".png")):
                    by_cid.setdefault(cid_of(f), os.path.join(root, f))
        paths = [by_cid.get(cid, "") for cid in cids]
        labels = meta_labels
    bad = [(i, r) for i, r in find_bad_images(paths, check_images)]
    locations = [
        (f"image {i}" if use_csn else f"metadata CID {cids[i]}",
         r if paths[i] else "no image file found under " + image_dir)
        for i, r in bad
    ]
    n_bad_images = report_bad(locations, skip_bad, "images")
    keep = np.ones(len(paths), bool)
    keep[[i for i, _ in bad]] = False
    if n_bad_images:
        skipped["images"] = n_bad_images
    if use_csn:
        out = {}
        for split, rows_ in split_triplets.items():
            ok = keep[rows_[:, :3]].all(axis=1)
            if not ok.all():
                skipped[f"{split}_triplets"] = int((~ok).sum())
            out[split] = rows_[ok]
        split_triplets = out
    else:
        kept = np.flatnonzero(keep)
        paths, labels = [paths[i] for i in kept], labels[kept]
        split_triplets, image_splits = _sample_splits(
            labels, num_triplets or DEFAULT_NUM_TRIPLETS,
            split_fractions or DEFAULT_SPLIT_FRACTIONS, seed,
        )
    if use_csn:
        image_splits = {s: np.unique(r[:, :3]) for s, r in split_triplets.items()}
    return RetrievalDataset(
        name=name,
        task_names=TASK_NAMES,
        images=np.array(paths, dtype=object),
        labels=labels,
        label_names=label_names,
        triplets=split_triplets,
        splits=image_splits,
        skipped=skipped,
    )


def _resolve(data_dir, image_dir, filename):
    for candidate in (os.path.join(data_dir, filename), os.path.join(image_dir, filename)):
        if os.path.isfile(candidate):
            return candidate
    return os.path.join(data_dir, filename)


def _sample_splits(labels, num_triplets, split_fractions, seed, task_names=TASK_NAMES):
    """Splits images at random and samples triplets in each split (total // num_tasks each)."""
    parts = split_indices(len(labels), split_fractions, seed=seed)
    out = {}
    for k, (split, images) in enumerate(parts.items()):
        total = num_triplets.get(split, 0)
        if total == 0:
            continue
        if len(images) == 0:
            raise ValueError(
                f"Expected images in split {split!r}. Received: 0 of {len(labels)} images "
                f"(split_fractions={split_fractions})"
            )
        out[split] = sample_triplets(
            labels, total // len(task_names), seed=seed * 1000 + k, candidates=images,
            task_names=task_names,
        )
    return out, parts
