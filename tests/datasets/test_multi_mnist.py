import numpy as np
import pytest

from keras_mtl.datasets.multi_mnist import TASK_NAMES, load_multi_mnist, make_multi_mnist


def _marker_digits():
    """Digit k is a 28x28 image whose only lit pixel is (14, 14), with value 10 * (k + 1)."""
    digits = np.zeros((10, 28, 28), np.uint8)
    digits[:, 14, 14] = 10 * (np.arange(10) + 1)
    return digits, np.arange(10)


@pytest.mark.parametrize("num_tasks", [2, 3, 4])
def test_digits_land_in_their_corners(num_tasks):
    digits, labels = _marker_digits()
    data = make_multi_mnist(digits, labels, num_tasks=num_tasks, num_images=50, seed=1)
    assert data.images.shape == (50, 36, 36, 1) and data.labels.shape == (50, num_tasks)
    assert data.task_names == TASK_NAMES[:num_tasks]
    # Corner offsets on a 36 canvas with 28-px digits: LU (0, 0), RL (8, 8), LL (8, 0),
    # RU (0, 8); each digit's marker is at offset + (14, 14).
    markers = {"LU": (14, 14), "RL": (22, 22), "LL": (22, 14), "RU": (14, 22)}
    for t, name in enumerate(data.task_names):
        y, x = markers[name]
        np.testing.assert_array_equal(data.images[:, y, x, 0], 10 * (data.labels[:, t] + 1))
    assert np.count_nonzero(data.images) == 50 * num_tasks


def test_seeded_and_validated():
    digits, labels = _marker_digits()
    a = make_multi_mnist(digits, labels, num_images=20, seed=3)
    np.testing.assert_array_equal(a.labels, make_multi_mnist(digits, labels, num_images=20,
                                                              seed=3).labels)
    with pytest.raises(ValueError, match="num_tasks"):
        make_multi_mnist(digits, labels, num_tasks=5)
    with pytest.raises(ValueError, match="canvas"):
        make_multi_mnist(digits, labels, canvas=20)
    with pytest.raises(ValueError, match="digit_labels"):
        make_multi_mnist(digits, labels[:3])


def test_from_tfds_mnist_with_mock_data(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=12):
        data = load_multi_mnist(4, split="train", data_dir=str(tmp_path), num_images=30)
    assert data.images.shape == (30, 36, 36, 1) and data.images.dtype == np.uint8
    assert data.labels.shape == (30, 4) and data.labels.min() >= 0 and data.labels.max() <= 9
