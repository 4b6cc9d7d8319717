"""Callbacks `MultiTaskModel.fit` adds by itself: the epoch's probe reset, the bad-batch guard
and a progress bar that shows the summary metrics only."""

import warnings

import keras
import numpy as np

GUARD_REASONS = {
    1: "a non-finite loss",
    2: "non-finite gradients",
    3: "task ids outside [0, num_tasks)",
}


class NonFiniteTrainingError(RuntimeError):
    """Raised when training skipped more bad batches than `compile(max_skipped_steps=...)`."""


class TrainingMonitor(keras.callbacks.Callback):
    """Resets the conflict tracker at every epoch start and reports skipped (bad) steps.

    A step whose loss or gradients are not finite, or whose task ids are out of range where
    that cannot raise at once (XLA), leaves the weights and optimizer state untouched
    (`MultiTaskModel.train_step`). This callback warns for each such step, naming the step,
    the reason and the tasks whose loss was not finite, and raises `NonFiniteTrainingError`
    (or `ValueError` for task ids) once more than `max_skipped_steps` steps were skipped.
    """

    def __init__(self, max_skipped_steps):
        super().__init__()
        self.max_skipped_steps = max_skipped_steps
        self._seen = 0

    def on_train_begin(self, logs=None):
        self._start = self._seen = int(self.model.training_state.skipped.numpy())

    def on_epoch_begin(self, epoch, logs=None):
        if self.model.conflict_tracker is not None:
            self.model.conflict_tracker.reset_state()

    def on_train_batch_end(self, batch, logs=None):
        state = self.model.training_state
        skipped = int(state.skipped.numpy())
        if skipped == self._seen:
            return
        self._seen = skipped
        state = {k: np.asarray(getattr(state, k).numpy()) for k in ("step", "reason",
                                                                     "bad_tasks")}
        reason = GUARD_REASONS.get(int(state["reason"]), "an invalid batch")
        bad = [name for name, b in zip(self.model.task_names, state["bad_tasks"], strict=True)
               if b]
        where = f" (tasks: {', '.join(bad)})" if bad else ""
        message = (
            f"Skipped training step {int(state['step'])}: {reason}{where}. The weights and "
            f"the optimizer state were left unchanged ({skipped - self._start} step(s) skipped "
            "in this fit)."
        )
        if int(state["reason"]) == 3:
            raise ValueError(
                f"Expected `task_id` values in [0, num_tasks={self.model.num_tasks}). "
                f"Received: out-of-range task ids at training step {int(state['step'])}; "
                "the step was skipped and the weights are unchanged."
            )
        if skipped - self._start > self.max_skipped_steps:
            raise NonFiniteTrainingError(
                message + f" Stopping: more than max_skipped_steps={self.max_skipped_steps} "
                "bad steps. Check the input pipeline for NaN/Inf values (e.g. "
                "`keras_mtl.datasets.drop_non_finite(dataset)`) or lower the learning rate."
            )
        warnings.warn(message, RuntimeWarning, stacklevel=2)


class SummaryProgbar(keras.callbacks.ProgbarLogger):
    """A `ProgbarLogger` that leaves per-task entries out of the progress line.

    Per-task values (`loss_<task>`, `grad_norm_<task>`, ...) still reach `History`,
    `CSVLogger` and `TensorBoard`; only the line printed during `fit` stays short, however
    many tasks there are.
    """

    def __init__(self, hidden):
        super().__init__()
        self.hidden = set(hidden)

    def _shown(self, logs):
        return None if logs is None else {k: v for k, v in logs.items() if k not in self.hidden}

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, self._shown(logs))

    def on_test_batch_end(self, batch, logs=None):
        super().on_test_batch_end(batch, self._shown(logs))

    def on_predict_batch_end(self, batch, logs=None):
        super().on_predict_batch_end(batch, self._shown(logs))

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, self._shown(logs))

    def on_test_end(self, logs=None):
        super().on_test_end(self._shown(logs))
