import csv
import json
import os

import numpy as np
import pytest

from keras_mtl.datasets.zappos import (
    DEFAULT_VOCABULARIES,
    TASK_NAMES,
    cid_of,
    load_zappos,
    read_zappos_metadata,
)

SMALL = {"num_triplets": {"train": 40, "test": 20}, "split_fractions": {"train": 0.5, "test": 0.5}}


def _expected_labels(rows):
    """Value indices looked up by hand in DEFAULT_VOCABULARIES (first value of a `;` list)."""
    out = []
    for row in rows:
        values = [row["Category"], row["Closure"], row["Gender"], row["HeelHeight"]]
        out.append([
            DEFAULT_VOCABULARIES[t].index(v.split(";")[0]) if v else -1
            for t, v in zip(TASK_NAMES, values, strict=True)
        ])
    return np.array(out)


def test_sampled_protocol_on_real_layout(zappos_dir, make_zappos_rows):
    data = load_zappos(zappos_dir, seed=0, **SMALL)
    rows = make_zappos_rows()
    assert data.task_names == ("class", "closure", "gender", "heel")
    assert [cid_of(p) for p in data.images] == [r["CID"] for r in rows]
    np.testing.assert_array_equal(data.labels, _expected_labels(rows))
    # Row 3: Slippers / Lace up / Men / "Under 1in" -> indices 3, 0, 0, 1 (by hand).
    np.testing.assert_array_equal(data.labels[3], [3, 0, 0, 1])
    assert data.triplet_counts() == {
        "train": dict.fromkeys(TASK_NAMES, 10), "test": dict.fromkeys(TASK_NAMES, 5)}
    for split, triplets in data.triplets.items():
        assert np.isin(triplets[:, :3], data.splits[split]).all()
        a, p, n, t = triplets.T
        np.testing.assert_array_equal(data.labels[a, t], data.labels[p, t])
        assert np.all(data.labels[a, t] != data.labels[n, t])
    assert not set(data.splits["train"]) & set(data.splits["test"])
    again = load_zappos(zappos_dir, seed=0, **SMALL)
    np.testing.assert_array_equal(again.triplets["train"], data.triplets["train"])


def test_multi_value_and_empty_cells(tmp_path, make_zappos, make_zappos_rows):
    rows = make_zappos_rows()
    rows[0]["Closure"] = "Buckle;Zipper"
    rows[1]["Gender"] = ""
    make_zappos(str(tmp_path), rows)
    data = load_zappos(str(tmp_path), **SMALL)
    assert data.labels[0, 1] == DEFAULT_VOCABULARIES["closure"].index("Buckle")
    assert data.labels[1, 2] == -1
    assert 1 not in data.triplets["train"][data.triplets["train"][:, 3] == 2, :3]
    assert 1 not in data.triplets["test"][data.triplets["test"][:, 3] == 2, :3]


def test_csn_triplet_files(zappos_dir):
    data0 = load_zappos(zappos_dir, **SMALL)
    names = [os.path.relpath(p, zappos_dir) for p in data0.images]
    with open(os.path.join(zappos_dir, "filenames.json"), "w") as f:
        json.dump(names, f)
    os.makedirs(os.path.join(zappos_dir, "tripletlists"))
    for t, task in enumerate(TASK_NAMES):
        for s, split in enumerate(("train", "val", "test")):
            path = os.path.join(zappos_dir, "tripletlists", f"{task}_tripletlist_{split}.txt")
            with open(path, "w") as f:
                f.write(f"{t} {s + 4} {t + 10}\n{t + 1} {s + 5} {t + 11}\n")
    data = load_zappos(zappos_dir)
    # Line "a b c" means a is closer to c than to b: anchor a, positive c, negative b.
    np.testing.assert_array_equal(data.triplets["val"][:2], [[0, 10, 5, 0], [1, 11, 6, 0]])
    np.testing.assert_array_equal(data.triplets["test"][-1], [4, 14, 7, 3])
    assert data.triplet_counts()["train"] == dict.fromkeys(TASK_NAMES, 2)
    np.testing.assert_array_equal(data.labels, data0.labels)
    np.testing.assert_array_equal(data.splits["val"], [0, 1, 2, 3, 4, 5, 6, 10, 11, 12, 13, 14])


def test_binary_metadata_gives_same_labels(tmp_path, make_zappos, make_zappos_rows):
    rows = make_zappos_rows()
    make_zappos(str(tmp_path), rows)
    meta_dir = tmp_path / "ut-zap50k-data"
    columns = {"Category": ["Shoes", "Boots", "Sandals", "Slippers"],
               "Closure": ["Lace.up", "Buckle", "Zipper"],
               "Gender": ["Men", "Women", "Boys", "Girls"],
               "HeelHeight": ["Flat", "Under.1in", "1in...1.3.4in", "5in...over"]}
    header = ["CID"] + [f"{c}.{v}" for c, vs in columns.items() for v in vs]
    with open(meta_dir / "meta-data-bin.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for row in rows:
            writer.writerow([row["CID"]] + [
                int(v.replace(".", "").lower() == _norm(row[c])) for c, vs in columns.items()
                for v in vs
            ])
    _, labels, _, _ = read_zappos_metadata(str(meta_dir / "meta-data-bin.csv"))
    np.testing.assert_array_equal(labels, _expected_labels(rows))


def _norm(value):
    return "".join(ch for ch in value.lower() if ch.isalnum())


def test_unknown_value_error_names_row_and_skip(tmp_path, make_zappos, make_zappos_rows):
    rows = make_zappos_rows()
    rows[5]["HeelHeight"] = "Stilts"
    make_zappos(str(tmp_path), rows)
    with pytest.raises(ValueError, match=r"row 7 \(CID 1005-7\).*'heel' value 'Stilts'"):
        load_zappos(str(tmp_path), **SMALL)
    with pytest.warns(UserWarning, match="Skipped 1 bad metadata rows"):
        data = load_zappos(str(tmp_path), skip_bad=True, **SMALL)
    assert data.skipped == {"metadata_rows": 1} and data.num_images == 31
    inferred = load_zappos(str(tmp_path), vocabularies="infer", **SMALL)
    assert "Stilts" in inferred.label_names[3]


def test_missing_and_unreadable_images(tmp_path, make_zappos, make_zappos_rows):
    paths = make_zappos(str(tmp_path), make_zappos_rows())
    os.remove(paths[2])
    with open(paths[4], "wb") as f:
        f.write(b"not a jpeg")
    with pytest.raises(ValueError, match="CID 1002-7: no image file"):
        load_zappos(str(tmp_path), **SMALL)
    with pytest.warns(UserWarning, match="Skipped 2 bad images"):
        data = load_zappos(str(tmp_path), skip_bad=True, **SMALL)
    assert data.skipped == {"images": 2}
    assert paths[4] not in set(data.images)


def test_empty_split_and_bad_layout(tmp_path, zappos_dir):
    with pytest.raises(ValueError, match="Expected images in split 'val'"):
        load_zappos(zappos_dir, num_triplets={"train": 8, "val": 8},
                    split_fractions={"train": 1.0, "val": 0.0})
    with pytest.raises(ValueError, match="image folder"):
        load_zappos(str(tmp_path))
    os.makedirs(os.path.join(zappos_dir, "tripletlists"))
    open(os.path.join(zappos_dir, "filenames.json"), "w").close()
    for task in TASK_NAMES:
        for split in ("train", "val", "test"):
            open(os.path.join(zappos_dir, "tripletlists",
                              f"{task}_tripletlist_{split}.txt"), "w").close()
    with pytest.raises(ValueError, match="split 'train' of dataset 'ut_zappos50k' has 0"):
        load_zappos(zappos_dir, triplets="csn")


def test_malformed_triplet_line_is_named(zappos_dir):
    open(os.path.join(zappos_dir, "filenames.json"), "w").write("a.jpg\nb.jpg\n")
    os.makedirs(os.path.join(zappos_dir, "tripletlists"))
    for task in TASK_NAMES:
        for split in ("train", "val", "test"):
            with open(os.path.join(zappos_dir, "tripletlists",
                                   f"{task}_tripletlist_{split}.txt"), "w") as f:
                f.write("0 1 0\n0 x 1\n")
    with pytest.raises(ValueError, match="class_tripletlist_train.txt'. Received: line 2"):
        load_zappos(zappos_dir)
