import os

import numpy as np
import pytest
from PIL import Image

from keras_mtl.datasets.pipeline import (
    batch_indices,
    classification_pipeline,
    image_pipeline,
    triplet_pipeline,
)
from keras_mtl.datasets.retrieval_dataset import RetrievalDataset
from keras_mtl.datasets.triplets import sample_triplets


def _dataset(images, num_triplets=12, num_tasks=2):
    """Image i is filled with value 10 * i; labels alternate so every task has triplets."""
    n = len(images)
    labels = np.stack([np.arange(n) % 2, (np.arange(n) // 2) % 2], axis=1)[:, :num_tasks]
    rows = sample_triplets(labels, num_triplets, seed=0)
    return RetrievalDataset(
        name="toy", task_names=("a", "b")[:num_tasks], images=images,
        labels=labels.astype(np.int32), label_names=(("0", "1"),) * num_tasks,
        triplets={"train": rows}, splits={"train": np.arange(n)},
    )


def _constant_images(n, size=8):
    return np.repeat(np.arange(n, dtype=np.uint8)[:, None, None, None] * 10, size * size * 3
                     ).reshape(n, size, size, 3)


def test_balanced_batches_hold_equal_shares_of_each_task():
    task_ids = np.array([0] * 10 + [1] * 4 + [2] * 7)
    batches = batch_indices(task_ids, 6, sampling="balanced", seed=1)
    assert len(batches) == 21 // 6
    for b in batches:
        np.testing.assert_array_equal(np.bincount(task_ids[b], minlength=3), [2, 2, 2])
    # Task 1 has 4 triplets and needs 3 * 2 = 6: one full pass (all 4) then 2 more.
    used = np.concatenate([b[task_ids[b] == 1] for b in batches])
    assert set(used[:4]) == {10, 11, 12, 13}
    again = batch_indices(task_ids, 6, sampling="balanced", seed=1)
    np.testing.assert_array_equal(np.stack(batches), np.stack(again))
    other_epoch = batch_indices(task_ids, 6, sampling="balanced", seed=1, epoch=1)
    assert not np.array_equal(np.stack(batches), np.stack(other_epoch))


def test_one_task_and_sequential_and_errors():
    task_ids = np.repeat([0, 1, 2], 20)
    batches = batch_indices(task_ids, 5, sampling="one_task", seed=0)
    assert len(batches) == 12
    assert all(len(set(task_ids[b])) == 1 for b in batches)
    assert len({int(task_ids[b][0]) for b in batches}) > 1
    seq = batch_indices(task_ids, 25, sampling="sequential")
    assert [len(b) for b in seq] == [25, 25, 10]
    np.testing.assert_array_equal(np.concatenate(seq), np.arange(60))
    with pytest.raises(ValueError, match="multiple of the number of tasks"):
        batch_indices(task_ids, 5, sampling="balanced")
    with pytest.raises(ValueError, match="sampling"):
        batch_indices(task_ids, 6, sampling="random")


def test_triplet_batches_match_the_sampled_rows():
    data = _dataset(_constant_images(10))
    ds = triplet_pipeline(data, model_inputs=False, batch_size=4, image_size=(8, 8), seed=3)
    assert int(ds.cardinality()) == 24 // 4
    rows = data.triplets["train"]
    for epoch in range(2):  # each pass is the next epoch of batch_indices
        expected = batch_indices(rows[:, 3], 4, sampling="balanced", seed=3, epoch=epoch)
        batches = list(ds)
        assert len(batches) == len(expected)
        for batch, idx in zip(batches, expected, strict=True):
            assert batch["anchor"].shape == (4, 8, 8, 3) and batch["anchor"].dtype == "float32"
            for k, name in enumerate(("anchor", "positive", "negative")):
                np.testing.assert_allclose(
                    batch[name].numpy()[:, 0, 0, 0], rows[idx, k] * 10 / 255.0, atol=1e-6
                )
            np.testing.assert_array_equal(batch["task_id"].numpy(), rows[idx, 3])


def test_augmentation_is_seeded_and_in_range():
    data = _dataset(_constant_images(10))
    kwargs = dict(model_inputs=False, batch_size=4, image_size=(8, 8), seed=1)
    first = [b["anchor"].numpy() for b in triplet_pipeline(data, augment=True, **kwargs)]
    second = [b["anchor"].numpy() for b in triplet_pipeline(data, augment=True, **kwargs)]
    np.testing.assert_array_equal(np.stack(first), np.stack(second))
    plain = [b["anchor"].numpy() for b in triplet_pipeline(data, **kwargs)]
    assert not np.allclose(np.stack(first), np.stack(plain))
    assert np.stack(first).min() >= 0.0 and np.stack(first).max() <= 1.0


@pytest.mark.parametrize("cache_images", [True, False])
def test_files_are_decoded_resized_and_scaled(tmp_path, cache_images):
    paths = []
    for i in range(6):
        path = os.path.join(tmp_path, f"{i}.png")
        Image.fromarray(np.full((12, 12, 3), i * 40, np.uint8)).save(path)
        paths.append(path)
    data = _dataset(np.array(paths, dtype=object), num_tasks=1, num_triplets=6)
    ds = triplet_pipeline(data, model_inputs=False, batch_size=3, image_size=(4, 4),
                          sampling="sequential", cache_images=cache_images)
    anchors = np.concatenate([b["anchor"].numpy() for b in ds])
    assert anchors.shape == (6, 4, 4, 3)
    np.testing.assert_allclose(anchors, (data.triplets["train"][:, 0] * 40 / 255.0)[
        :, None, None, None] * np.ones((1, 4, 4, 3)), atol=1e-5)


def test_model_inputs_interleave_each_triplet():
    data = _dataset(_constant_images(10))
    kwargs = dict(batch_size=4, image_size=(8, 8), seed=1)
    batch = next(iter(triplet_pipeline(data, model_inputs=False, **kwargs)))
    flat = next(iter(triplet_pipeline(data, **kwargs)))
    assert flat["image"].shape == (12, 8, 8, 3)
    for k, name in enumerate(("anchor", "positive", "negative")):
        np.testing.assert_array_equal(flat["image"][k::3].numpy(), batch[name].numpy())
    np.testing.assert_array_equal(flat["task_id"].numpy(),
                                  np.repeat(batch["task_id"].numpy(), 3))


def test_classification_pipeline_targets():
    images = _constant_images(6, size=4)[..., :1]
    labels = np.array([[i, 10 + i] for i in range(6)])
    ds = classification_pipeline(images, labels, batch_size=4, sampling="balanced", seed=0)
    assert int(ds.cardinality()) == 12 // 4
    for x, y in ds:
        task, value = x["task_id"].numpy(), y.numpy()
        image_index = np.round(x["image"].numpy()[:, 0, 0, 0] * 255 / 10).astype(int)
        np.testing.assert_array_equal(value, labels[image_index, task])
        np.testing.assert_array_equal(np.bincount(task, minlength=2), [2, 2])


def test_augmentation_flips_horizontally_and_shifts_brightness():
    # Image i: value 60 + 10 i + 2 x at column x, so a flip reverses the sign of the column
    # step (+-2/255) and a brightness shift leaves the step unchanged (no clipping here).
    cols = 60 + 10 * np.arange(10)[:, None, None, None] + 2 * np.arange(8)[None, None, :, None]
    images = np.broadcast_to(cols, (10, 8, 8, 3)).astype(np.uint8)
    data = _dataset(images, num_triplets=48)
    aug = np.concatenate([b["anchor"].numpy() for b in triplet_pipeline(
        data, batch_size=8, augment=True, image_size=(8, 8), seed=2, model_inputs=False)])
    plain = np.concatenate([b["anchor"].numpy() for b in triplet_pipeline(
        data, batch_size=8, image_size=(8, 8), seed=2, model_inputs=False)])
    steps = np.diff(aug[:, 0, :, 0], axis=1)
    flipped = np.all(np.isclose(steps, -2 / 255, atol=1e-5), axis=1)
    kept = np.all(np.isclose(steps, 2 / 255, atol=1e-5), axis=1)
    assert np.all(flipped | kept) and flipped.any() and kept.any()
    restored = np.where(flipped[:, None, None, None], aug[:, :, ::-1], aug)
    shift = (restored - plain)[:, 0, 0, 0]
    np.testing.assert_allclose(restored - plain, shift[:, None, None, None] * np.ones_like(plain),
                               atol=1e-5)
    assert np.all(np.abs(shift) <= 0.1 + 1e-6) and np.std(shift) > 0.01


def test_image_pipeline_keeps_order():
    data = _dataset(_constant_images(10))
    order = np.array([7, 2, 9, 0, 5])
    batches = list(image_pipeline(data, order, batch_size=2, image_size=(4, 4)))
    assert [b.shape[0] for b in batches] == [2, 2, 1]
    values = np.concatenate([b.numpy()[:, 0, 0, 0] for b in batches])
    np.testing.assert_allclose(values, order * 10 / 255.0, atol=1e-6)


def test_each_file_is_decoded_once_per_process(tmp_path):
    from keras_mtl.datasets import pipeline

    paths = []
    for i in range(4):
        path = os.path.join(tmp_path, f"{i}.png")
        Image.fromarray(np.full((12, 12, 3), 50 + i, np.uint8)).save(path)
        paths.append(path)
    pipeline.clear_image_cache()
    first = pipeline.decode_images(paths, (6, 6)).numpy()
    for path in paths:
        os.remove(path)  # later pipelines on the same files never read them again
    data = _dataset(np.array(paths, dtype=object), num_tasks=1, num_triplets=4)
    again = pipeline.decode_images(paths[::-1], (6, 6)).numpy()
    np.testing.assert_array_equal(again, first[::-1])
    batch = next(iter(triplet_pipeline(data, batch_size=4, image_size=(6, 6),
                                       sampling="sequential", cache_images=True,
                                       model_inputs=False)))
    expected = first[data.triplets["train"][:, 0]] / 255.0
    np.testing.assert_allclose(batch["anchor"].numpy(), expected, atol=1e-6)
    pipeline.clear_image_cache()
    with pytest.raises(ValueError, match="Expected decodable images"):
        pipeline.decode_images(paths, (6, 6))


def test_usable_cpus_follows_affinity_and_quota(monkeypatch, tmp_path):
    from keras_mtl.datasets import pipeline

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    real_open = open

    def fake_open(path, *args, **kwargs):
        if path == "/sys/fs/cgroup/cpu.max":
            return real_open(tmp_path / "cpu.max", *args, **kwargs)
        return real_open(path, *args, **kwargs)

    (tmp_path / "cpu.max").write_text("150000 100000\n")  # 1.5 CPUs of quota
    monkeypatch.setattr("builtins.open", fake_open)
    assert pipeline.usable_cpus() == 2
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert pipeline.usable_cpus() == 4
