import os
import sys

import numpy as np
import pytest

from keras_mtl.datasets.zappos import load_zappos

tfds = pytest.importorskip("tensorflow_datasets")


def test_tfds_is_imported_lazily():
    import subprocess

    code = (
        "import sys, keras_mtl.datasets as d; assert 'tensorflow_datasets' not in sys.modules; "
        "d.zappos_tfds; assert 'tensorflow_datasets' in sys.modules"
    )
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "PYTHONPATH": root}
    result = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True)
    assert result.returncode == 0, result.stderr.decode()[-2000:]


def test_builder_prepares_from_manual_dir(tmp_path, zappos_dir):
    from keras_mtl.datasets.zappos_tfds import UtZappos50kRetrieval, load_zappos_tfds

    data = load_zappos_tfds(
        data_dir=str(tmp_path / "tfds"), manual_dir=zappos_dir, image_size=(8, 8),
        num_triplets={"train": 8},
    )
    reference = load_zappos(zappos_dir, num_triplets={"train": 0},
                            check_images="exists")
    builder = UtZappos50kRetrieval(data_dir=str(tmp_path / "tfds"))
    assert builder.info.splits["train"].num_examples == len(reference.splits["train"])
    # The prepared examples carry load_zappos's image ids and labels; match them by id.
    ids = np.concatenate([
        [ex["image_id"] for ex in tfds.as_numpy(builder.as_dataset(split=s))]
        for s in ("train", "val", "test")
    ])
    np.testing.assert_array_equal(data.labels, reference.labels[ids])
    assert data.images.shape == (32, 8, 8, 3) and data.images.dtype == np.uint8
    # Fixture image i is filled with (7 * i) % 256: resizing keeps the constant.
    np.testing.assert_allclose(data.images[:, 4, 4, 0], (7 * ids) % 256, atol=2)
    assert data.triplet_counts()["train"] == {"class": 2, "closure": 2, "gender": 2, "heel": 2}
    assert np.isin(data.triplets["train"][:, :3], data.splits["train"]).all()
    assert set(data.triplets) == {"train"}
