import os

import numpy as np
import pytest

from keras_mtl.datasets.celeba import ALL_ATTRIBUTES, ZHAO_ATTRIBUTES, load_celeba

TRIPLETS = {"train": 12, "test": 4}


def _attr_rows(n):
    """Row i: attribute k is present (1) when (i + k) is odd, absent (-1) otherwise."""
    return [[1 if (i + k) % 2 else -1 for k in range(40)] for i in range(n)]


def test_zhao_attribute_list():
    assert len(ZHAO_ATTRIBUTES) == 20 and set(ZHAO_ATTRIBUTES) <= set(ALL_ATTRIBUTES)
    assert "Eyeglasses" not in ZHAO_ATTRIBUTES and "Wearing_Hat" not in ZHAO_ATTRIBUTES
    assert len(ALL_ATTRIBUTES) == 40


def test_raw_layout(tmp_path, make_celeba):
    partitions = [0] * 8 + [1] * 2 + [2] * 6
    make_celeba(str(tmp_path), _attr_rows(16), partitions, attr_names=list(ALL_ATTRIBUTES))
    data = load_celeba(str(tmp_path), attributes=["Smiling", "Young"], num_triplets=TRIPLETS)
    smiling, young = ALL_ATTRIBUTES.index("Smiling"), ALL_ATTRIBUTES.index("Young")
    expected = np.array([[(i + smiling) % 2, (i + young) % 2] for i in range(16)])
    np.testing.assert_array_equal(data.labels, expected)
    np.testing.assert_array_equal(data.splits["train"], np.arange(8))
    np.testing.assert_array_equal(data.splits["test"], np.arange(10, 16))
    assert data.triplet_counts() == {"train": {"Smiling": 12, "Young": 12},
                                     "test": {"Smiling": 4, "Young": 4}}
    assert np.isin(data.triplets["test"][:, :3], np.arange(10, 16)).all()
    assert os.path.basename(data.images[3]) == "000004.jpg"
    assert load_celeba(str(tmp_path), num_triplets=TRIPLETS).num_tasks == 20


def test_raw_bad_rows_and_images(tmp_path, make_celeba):
    rows = _attr_rows(16)
    rows[4][7] = 0  # not in {-1, 1}
    make_celeba(str(tmp_path), rows, [0] * 10 + [2] * 6, attr_names=list(ALL_ATTRIBUTES))
    with pytest.raises(ValueError, match=r"list_attr_celeba.txt line 7"):
        load_celeba(str(tmp_path), num_triplets=TRIPLETS)
    os.remove(tmp_path / "img_align_celeba" / "000002.jpg")
    with pytest.warns(UserWarning):
        data = load_celeba(str(tmp_path), num_triplets=TRIPLETS, skip_bad=True)
    assert data.skipped == {"annotation_rows": 1, "images": 1} and data.num_images == 14
    with pytest.raises(ValueError, match="Expected images in CelebA split 'val'"), \
            pytest.warns(UserWarning):
        load_celeba(str(tmp_path), num_triplets={"val": 3}, skip_bad=True)
    with pytest.raises(ValueError, match="Received unknown names"):
        load_celeba(str(tmp_path), attributes=["Smiling", "Smile"])


def test_tfds_source_with_mock_data(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=24):
        data = load_celeba(str(tmp_path), source="tfds", image_size=(16, 16),
                           num_triplets={"train": 6, "val": 3, "test": 3})
    assert data.images.shape == (72, 16, 16, 3) and data.images.dtype == np.uint8
    assert data.num_tasks == 20 and set(np.unique(data.labels)) <= {0, 1}
    np.testing.assert_array_equal(data.splits["val"], np.arange(24, 48))
    assert data.triplet_counts()["val"] == dict.fromkeys(ZHAO_ATTRIBUTES, 3)
