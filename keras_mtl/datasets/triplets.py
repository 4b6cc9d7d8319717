"""Vectorised, seeded triplet sampling from integer attribute labels.

A triplet is one row `(anchor, positive, negative, task_id)` of an int64 array of shape
`(M, 4)`: image indices into the dataset, and the task under which the anchor is closer to the
positive than to the negative (Zhao et al. 2018, Eq. 6). Labels are an int array of shape
`(num_images, num_tasks)` where `-1` means "unknown for this task"; such images are never used
for that task.

Protocol (`sample_triplets`), per task `t`, independently:
1. anchors are drawn uniformly, with replacement, from the candidate images whose task-`t`
   value is known and shared by at least one other candidate;
2. the positive is drawn uniformly from the other candidates with the anchor's value;
3. the negative is drawn uniformly from the candidates with a known, different value.

Task `t` uses the generator `np.random.default_rng([seed, t])`, so its triplets do not depend
on which other tasks are sampled.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

TRIPLET_COLUMNS = ("anchor", "positive", "negative", "task_id")


def _sample_one_task(values, candidates, num, rng):
    """Samples `num` triplets for one task from `values` (labels of `candidates`)."""
    known = values >= 0
    values, candidates = values[known], candidates[known]
    order = np.argsort(values, kind="stable")
    sorted_values, sorted_ids = values[order], candidates[order]
    uniques, starts, counts = np.unique(sorted_values, return_index=True, return_counts=True)
    if len(uniques) < 2 or counts.max() < 2:
        return None
    class_of = np.repeat(np.arange(len(uniques)), counts)
    rank_in_class = np.arange(len(sorted_values)) - starts[class_of]
    eligible = np.flatnonzero(counts[class_of] >= 2)

    anchor_pos = eligible[rng.integers(0, len(eligible), size=num)]
    cls = class_of[anchor_pos]
    # Positive: uniform over the k - 1 other members of the anchor's class.
    j = rng.integers(0, counts[cls] - 1)
    j = j + (j >= rank_in_class[anchor_pos])
    positive_pos = starts[cls] + j
    # Negative: uniform over the n - k members of the other classes (skip the anchor's block).
    j = rng.integers(0, len(sorted_values) - counts[cls])
    negative_pos = j + np.where(j >= starts[cls], counts[cls], 0)
    return np.stack(
        [sorted_ids[anchor_pos], sorted_ids[positive_pos], sorted_ids[negative_pos]], axis=1
    )


def sample_triplets(
    labels: np.ndarray,
    num_triplets: int | Sequence[int],
    *,
    seed: int = 0,
    candidates: np.ndarray | None = None,
    tasks: Sequence[int] | None = None,
    task_names: Sequence[str] | None = None,
) -> np.ndarray:
    """Samples `(anchor, positive, negative, task_id)` triplets from attribute labels.

    Vectorised (no Python loop over triplets) and deterministic for a given `seed`; see the
    module docstring for the protocol. Follows the triplet definition of Zhao et al. 2018
    (Sec. 4.1) and Conditional Similarity Networks (Veit et al. 2017).

    Args:
        labels: int array `(num_images, num_tasks)`; `-1` marks an unknown value.
        num_triplets: triplets per task (an int for every task, or one int per entry of
            `tasks`).
        seed: int seed.
        candidates: optional 1-D array of image indices to sample from (e.g. one split's
            images). Defaults to all images.
        tasks: task indices to sample for. Defaults to all columns of `labels`.
        task_names: optional names used in error messages.

    Returns:
        An int64 array `(sum(num_triplets), 4)` with columns `anchor, positive, negative,
        task_id`, grouped by task in the order of `tasks`.

    Example:

    >>> labels = np.array([[0], [0], [1]])
    >>> sample_triplets(labels, 2, seed=0)[:, 2]  # the only negative is image 2
    array([2, 2])
    """
    labels = np.asarray(labels)
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            "Expected `labels` to be an integer array of shape (num_images, num_tasks). "
            f"Received: labels.shape={labels.shape}, labels.dtype={labels.dtype}"
        )
    tasks = list(range(labels.shape[1])) if tasks is None else list(tasks)
    counts = [num_triplets] * len(tasks) if np.isscalar(num_triplets) else list(num_triplets)
    if len(counts) != len(tasks) or any(int(c) < 0 for c in counts):
        raise ValueError(
            "Expected `num_triplets` to be a non-negative int or one per task "
            f"({len(tasks)} tasks). Received: num_triplets={num_triplets}"
        )
    if candidates is None:
        candidates = np.arange(labels.shape[0])
    candidates = np.asarray(candidates, dtype=np.int64)
    out = []
    for task, num in zip(tasks, counts, strict=True):
        if num == 0:
            continue
        rng = np.random.default_rng([seed, task])
        rows = _sample_one_task(labels[candidates, task], candidates, int(num), rng)
        if rows is None:
            name = task_names[task] if task_names is not None else task
            raise ValueError(
                f"Expected at least two known values of task {name!r}, one of them on two or "
                f"more images, among the {len(candidates)} candidate images, to form "
                f"triplets. Received: values={np.unique(labels[candidates, task]).tolist()}"
            )
        out.append(np.concatenate([rows, np.full((num, 1), task, np.int64)], axis=1))
    if not out:
        return np.zeros((0, 4), np.int64)
    return np.concatenate(out).astype(np.int64)


def split_indices(
    num_items: int, fractions: dict[str, float], *, seed: int = 0
) -> dict[str, np.ndarray]:
    """Randomly partitions `range(num_items)` into named splits with the given fractions.

    Args:
        num_items: number of items.
        fractions: split name -> fraction; fractions must sum to 1. Sizes are rounded down and
            the remainder goes to the last split.
        seed: int seed.

    Returns:
        A dict split name -> sorted int64 index array; the arrays partition the items.

    Example:

    >>> parts = split_indices(10, {"train": 0.8, "test": 0.2})
    >>> [len(parts["train"]), len(parts["test"])]
    [8, 2]
    """
    values = np.array(list(fractions.values()), dtype=np.float64)
    if len(values) == 0 or np.any(values < 0) or not np.isclose(values.sum(), 1.0):
        raise ValueError(
            "Expected `fractions` to be non-negative and sum to 1. "
            f"Received: fractions={fractions}"
        )
    perm = np.random.default_rng([seed, 7919]).permutation(num_items)
    bounds = np.floor(np.cumsum(values) * num_items).astype(int)
    bounds[-1] = num_items
    pieces = np.split(perm, bounds[:-1])
    return {name: np.sort(p).astype(np.int64) for name, p in zip(fractions, pieces, strict=True)}
