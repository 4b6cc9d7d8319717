"""Task-quality metrics against hand counts."""

import numpy as np
import pytest

from keras_mtl.metrics import PerTaskAccuracy, PerTaskPrecision, PerTaskRecall, TripletAccuracy
from keras_mtl.metrics.per_task_classification import confusion_counts


def _triplets(correct):
    """1-D embeddings: anchor 0, positive at 1, negative at 2 (correct) or 0.5 (wrong)."""
    return np.array([[[0.0], [1.0], [2.0 if c else 0.5]] for c in correct], "float32")


def test_triplet_accuracy_counts_correct_over_total_per_task():
    metric = TripletAccuracy(num_tasks=3)
    # Batch 1: task 0 -> 1 of 1 correct. Batch 2: task 0 -> 0 of 3, task 1 -> 1 of 2.
    metric.update_state([0], _triplets([True]))
    metric.update_state([0, 0, 0, 1, 1], _triplets([False, False, False, True, False]))
    np.testing.assert_allclose(metric.per_task_result()[:2], [1 / 4, 1 / 2])
    assert np.isnan(metric.per_task_result()[2])
    # Mean over seen tasks of pooled counts (a mean of batch means would give 0.5 for task 0).
    assert float(metric.result()) == pytest.approx((1 / 4 + 1 / 2) / 2)
    metric.reset_state()
    assert float(metric.result()) == 0.0


def test_per_task_precision_recall_accuracy_match_numpy():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 2, 40)
    scores = rng.uniform(size=40)
    tasks = rng.integers(0, 3, 40)
    metrics = [PerTaskAccuracy(3), PerTaskPrecision(3), PerTaskRecall(3)]
    for start in (0, 15):
        stop = start + (15 if start == 0 else 25)
        for metric in metrics:
            metric.update_state(y_true[start:stop], scores[start:stop],
                                task_id=tasks[start:stop])
    predicted = scores > 0.5
    for task in range(3):
        rows = tasks == task
        t, p = y_true[rows] == 1, predicted[rows]
        want = [np.mean(t == p), (t & p).sum() / p.sum(), (t & p).sum() / t.sum()]
        got = [m.per_task_result()[task] for m in metrics]
        np.testing.assert_allclose(got, want, rtol=1e-6)
    means = [np.nanmean(m.per_task_result()) for m in metrics]
    np.testing.assert_allclose([float(m.result()) for m in metrics], means, rtol=1e-6)
    counts = confusion_counts([1, 0, 1], [0.9, 0.8, 0.1], [1, 1, 0], 2).numpy()
    np.testing.assert_array_equal(counts, [[0, 0, 0, 1], [1, 1, 0, 0]])
    with pytest.raises(ValueError, match="Expected `task_id`"):
        metrics[0].update_state([1], [0.9])
