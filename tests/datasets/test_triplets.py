import numpy as np
import pytest

from keras_mtl.datasets.triplets import sample_triplets, split_indices


def test_only_possible_triplets_are_sampled():
    # Images 0 and 1 share value 0, image 2 has value 1: the anchor is 0 or 1, the positive
    # is the other one, and the negative can only be image 2.
    rows = sample_triplets(np.array([[0], [0], [1]]), 50, seed=3)
    assert rows.shape == (50, 4)
    assert set(rows[:, 0]) <= {0, 1}
    np.testing.assert_array_equal(rows[:, 1], 1 - rows[:, 0])
    np.testing.assert_array_equal(rows[:, 2], 2)
    np.testing.assert_array_equal(rows[:, 3], 0)


def test_triplets_respect_labels_and_skip_unknown():
    rng = np.random.default_rng(0)
    labels = rng.integers(-1, 4, size=(60, 3))
    rows = sample_triplets(labels, [100, 50, 0], seed=1)
    assert rows.shape == (150, 4)
    np.testing.assert_array_equal(np.bincount(rows[:, 3], minlength=3), [100, 50, 0])
    a, p, n, t = rows.T
    assert np.all(labels[a, t] >= 0) and np.all(labels[n, t] >= 0)
    np.testing.assert_array_equal(labels[a, t], labels[p, t])
    assert np.all(a != p)
    assert np.all(labels[a, t] != labels[n, t])


def test_sampling_distribution_is_uniform():
    # Values [0, 0, 0, 1, 1]: all five images are eligible anchors (each class has 2+
    # members), so each anchor has probability 1/5; given anchor 0 the positive is 1 or 2
    # (1/2 each); given a class-0 anchor the negative is 3 or 4 (1/2 each).
    labels = np.array([[0], [0], [0], [1], [1]])
    rows = sample_triplets(labels, 20000, seed=0)
    np.testing.assert_allclose(np.bincount(rows[:, 0], minlength=5) / 20000, 0.2, atol=0.015)
    pos_of_0 = rows[rows[:, 0] == 0, 1]
    np.testing.assert_allclose(np.mean(pos_of_0 == 1), 0.5, atol=0.03)
    neg_of_class0 = rows[rows[:, 0] < 3, 2]
    np.testing.assert_allclose(np.mean(neg_of_class0 == 3), 0.5, atol=0.02)


def test_singleton_class_is_never_an_anchor():
    # Image 2 is alone in its class: it can be a negative but never an anchor or positive.
    rows = sample_triplets(np.array([[0], [0], [1], [0]]), 500, seed=0)
    assert 2 not in rows[:, 0] and 2 not in rows[:, 1]
    assert set(rows[:, 2]) == {2}


def test_seeded_determinism_and_task_independence():
    labels = np.random.default_rng(1).integers(0, 3, size=(40, 4))
    a = sample_triplets(labels, 30, seed=5)
    np.testing.assert_array_equal(a, sample_triplets(labels, 30, seed=5))
    assert not np.array_equal(a, sample_triplets(labels, 30, seed=6))
    only_task_2 = sample_triplets(labels, 30, seed=5, tasks=[2])
    np.testing.assert_array_equal(only_task_2, a[a[:, 3] == 2])


def test_candidates_restrict_all_three_images():
    labels = np.random.default_rng(2).integers(0, 2, size=(50, 1))
    candidates = np.arange(0, 50, 2)
    rows = sample_triplets(labels, 200, seed=0, candidates=candidates)
    assert np.isin(rows[:, :3], candidates).all()


def test_errors_name_the_task():
    with pytest.raises(ValueError, match="'heel'"):
        sample_triplets(np.array([[0, 1], [1, 1], [0, 1]]), 5, task_names=["class", "heel"])
    with pytest.raises(ValueError, match="integer array"):
        sample_triplets(np.zeros((3, 2), np.float32), 5)
    with pytest.raises(ValueError, match="num_triplets"):
        sample_triplets(np.zeros((3, 2), np.int32), [1, 2, 3])


def test_split_indices_partition():
    parts = split_indices(103, {"train": 0.7, "val": 0.1, "test": 0.2}, seed=4)
    sizes = {k: len(v) for k, v in parts.items()}
    assert sizes == {"train": 72, "val": 10, "test": 21}  # floor(72.1), floor(82.4)-72, rest
    np.testing.assert_array_equal(np.sort(np.concatenate(list(parts.values()))), np.arange(103))
    np.testing.assert_array_equal(parts["val"], split_indices(103, {
        "train": 0.7, "val": 0.1, "test": 0.2}, seed=4)["val"])
    with pytest.raises(ValueError, match="sum to 1"):
        split_indices(10, {"train": 0.5, "test": 0.2})
