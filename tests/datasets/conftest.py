"""Tiny fixtures in the datasets' real on-disk layouts (16x16 images written with PIL)."""

import csv
import os

import numpy as np
import pytest
from PIL import Image

CATEGORIES = ["Shoes", "Boots", "Sandals", "Slippers"]
GENDERS = ["Men", "Women", "Boys", "Girls"]
HEELS = ["Flat", "Under 1in", "1in - 1 3/4in", "5in & over"]
CLOSURES = ["Lace up", "Buckle", "Zipper"]


def zappos_rows(n=32):
    """Metadata rows cycling through values; row i is the i-th image (CID 100i-7)."""
    rows = []
    for i in range(n):
        rows.append({
            "CID": f"{1000 + i}-7",
            "Category": CATEGORIES[i % 4],
            "SubCategory": "Sub",
            "HeelHeight": HEELS[(i // 2) % 4],
            "Insole": "",
            "Closure": CLOSURES[i % 3],
            "Gender": GENDERS[(i // 4) % 4],
            "Material": "Leather",
            "ToeStyle": "",
        })
    return rows


def write_zappos(root, rows, *, image_for=None):
    """Writes `rows` as ut-zap50k-data/meta-data.csv plus one 16x16 JPEG per row."""
    os.makedirs(os.path.join(root, "ut-zap50k-data"), exist_ok=True)
    with open(os.path.join(root, "ut-zap50k-data", "meta-data.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    paths = []
    for i, row in enumerate(rows):
        folder = os.path.join(root, "ut-zap50k-images", row["Category"] or "Shoes", "Sub", "Brand")
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, row["CID"].replace("-", ".") + ".jpg")
        pixels = np.full((16, 16, 3), (i * 7) % 256, np.uint8)
        Image.fromarray(pixels).save(path, quality=95)
        paths.append(path)
    return paths


@pytest.fixture
def zappos_dir(tmp_path):
    root = str(tmp_path / "ut-zap50k")
    write_zappos(root, zappos_rows())
    return root


def write_celeba(root, attr_rows, partitions, *, attr_names=None):
    """Writes img_align_celeba/, list_attr_celeba.txt and list_eval_partition.txt."""
    os.makedirs(os.path.join(root, "img_align_celeba"), exist_ok=True)
    names = attr_names or [f"Attr{k}" for k in range(40)]
    lines = [str(len(attr_rows)), " ".join(names)]
    for i, values in enumerate(attr_rows):
        name = f"{i + 1:06d}.jpg"
        lines.append(name + " " + " ".join(str(v) for v in values))
        Image.fromarray(np.full((16, 16, 3), i * 10, np.uint8)).save(
            os.path.join(root, "img_align_celeba", name)
        )
    with open(os.path.join(root, "list_attr_celeba.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(root, "list_eval_partition.txt"), "w") as f:
        f.writelines(f"{i + 1:06d}.jpg {p}\n" for i, p in enumerate(partitions))


@pytest.fixture
def make_zappos():
    """Returns `(root, rows, image_for=None) -> image paths`, writing a Zappos layout."""
    return write_zappos


@pytest.fixture
def make_zappos_rows():
    return zappos_rows


@pytest.fixture
def make_celeba():
    return write_celeba
