"""The offline digit generator: MNIST-shaped, balanced, seeded, recognisable, Multi-MNIST-ready."""

import numpy as np
import pytest

from keras_mtl.datasets import generate_digits, make_multi_mnist


def test_shape_dtype_and_balanced_labels():
    digits, labels = generate_digits(103, seed=0)
    assert digits.shape == (103, 28, 28) and digits.dtype == np.uint8
    assert labels.shape == (103,)
    counts = np.bincount(labels, minlength=10)
    assert counts.min() == 10 and counts.max() == 11  # 103 = 10 x 10 + 3
    # white digits on black, MNIST-like: dark border, bright strokes in the middle
    assert digits[:, :2].mean() < 5 and digits.max() > 200
    assert 0.08 < (digits > 128).mean() < 0.35


def test_deterministic_by_seed():
    a, la = generate_digits(50, seed=3)
    b, lb = generate_digits(50, seed=3)
    c, _ = generate_digits(50, seed=4)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(la, lb)
    assert not np.array_equal(a, c)


def test_labels_match_the_drawn_digit():
    """A nearest-class-mean classifier fitted on one seed reads another seed's digits.

    Chance is 10%; the affine jitter and stroke widths keep it well below 100%.
    """
    train, train_labels = generate_digits(1000, seed=1)
    test, test_labels = generate_digits(300, seed=2)
    means = np.stack([train[train_labels == k].reshape(-1, 784).mean(0) for k in range(10)])
    x = test.reshape(-1, 784).astype(np.float64)
    predicted = ((x[:, None, :] - means[None]) ** 2).sum(-1).argmin(1)
    assert (predicted == test_labels).mean() > 0.5


def test_jitter_makes_samples_of_one_digit_differ():
    digits, labels = generate_digits(40, seed=0)
    sevens = digits[labels == 7].astype(int)
    assert len(sevens) == 4
    assert all(np.abs(sevens[0] - s).sum() > 0 for s in sevens[1:])


def test_feeds_make_multi_mnist():
    digits, labels = generate_digits(60, seed=0)
    data = make_multi_mnist(digits, labels, num_tasks=4, num_images=16, seed=0)
    assert data.images.shape == (16, 36, 36, 1) and data.labels.shape == (16, 4)
    assert data.task_names == ("LU", "RL", "LL", "RU")


@pytest.mark.parametrize(
    "kwargs", [{"num_images": 0}, {"scale_range": (1.2, 1.0)}, {"stroke_widths": ()}]
)
def test_bad_arguments_raise_keras_style_errors(kwargs):
    kwargs = {"num_images": 10, **kwargs}
    with pytest.raises(ValueError, match="Expected .* Received"):
        generate_digits(**kwargs)
