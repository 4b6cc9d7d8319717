"""Writes the epoch's T x T gradient-cosine and UCR matrices to TensorBoard, CSV/NPZ and PNG."""

import os

import keras
import numpy as np

from keras_mtl.evaluation.plots import heatmap_png


def matrix_to_csv(path, matrix, task_names):
    """Writes a square matrix with a header row and a first column of task names."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("task," + ",".join(task_names) + "\n")
        for name, row in zip(task_names, matrix, strict=True):
            handle.write(name + "," + ",".join(f"{v:.6g}" for v in row) + "\n")


def matrix_to_markdown(matrix, task_names):
    """A Markdown table of a square matrix (for the TensorBoard text plugin)."""
    lines = ["| | " + " | ".join(task_names) + " |", "|---" * (len(task_names) + 1) + "|"]
    for name, row in zip(task_names, matrix, strict=True):
        lines.append(f"| {name} | " + " | ".join(f"{v:.3f}" for v in row) + " |")
    return "\n".join(lines)


class ConflictMatrixCallback(keras.callbacks.Callback):
    """Saves the per-epoch T x T gradient-cosine and UCR matrices of a `MultiTaskModel`.

    At the end of every epoch (of training; validation does not reset them) it writes
    `conflict_epoch_<NNN>.npz` (arrays `cosine`, `ucr`, `task_names`), `cosine_epoch_<NNN>.csv`,
    `ucr_epoch_<NNN>.csv` and `conflict_epoch_<NNN>.png` (matplotlib heatmaps) to `output_dir`,
    and, with `log_dir`, a TensorBoard image and Markdown text table under `log_dir/conflict`.
    Pairs never probed in the epoch are NaN. `history` keeps every epoch's matrices.

    Reference:
        Zhao et al., ECCV 2018, Table 4 (UCR matrix of seven face attributes).

    Args:
        output_dir: folder for NPZ/CSV/PNG files, or None to skip files.
        log_dir: TensorBoard log folder, or None to skip TensorBoard.
        png: whether to write PNG heatmaps (needs matplotlib).

    Example:
    >>> model.fit(data, epochs=3, callbacks=[ConflictMatrixCallback("out", log_dir="logs")])
    """

    def __init__(self, output_dir=None, log_dir=None, png=True):
        super().__init__()
        self.output_dir = output_dir
        self.log_dir = log_dir
        self.png = png
        self.history = []
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        if not hasattr(self.model, "conflict_matrices"):
            raise TypeError(
                "Expected a MultiTaskModel (with `conflict_matrices()`). "
                f"Received: {type(self.model).__name__}"
            )
        matrices = self.model.conflict_matrices()
        names = list(matrices["task_names"])
        pair = {"cosine": matrices["cosine"], "ucr": matrices["ucr"]}
        self.history.append({k: np.array(v) for k, v in pair.items()})
        stem = f"epoch_{epoch:03d}"
        image = heatmap_png(pair, names, f"epoch {epoch}") if self.png else None
        if self.output_dir:
            os.makedirs(self.output_dir, exist_ok=True)
            np.savez(os.path.join(self.output_dir, f"conflict_{stem}.npz"),
                     task_names=np.array(names), **pair)
            for name, matrix in pair.items():
                matrix_to_csv(os.path.join(self.output_dir, f"{name}_{stem}.csv"), matrix, names)
            if image is not None:
                with open(os.path.join(self.output_dir, f"conflict_{stem}.png"), "wb") as f:
                    f.write(image)
        if self.log_dir:
            self._write_tensorboard(epoch, pair, names, image)

    def _write_tensorboard(self, epoch, pair, names, image):
        import tensorflow as tf

        if self._writer is None:
            self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "conflict"))
        with self._writer.as_default():
            for name, matrix in pair.items():
                tf.summary.text(f"{name}_matrix", matrix_to_markdown(matrix, names), step=epoch)
            if image is not None:
                decoded = tf.io.decode_png(image, channels=4)[None]
                tf.summary.image("conflict_heatmaps", decoded, step=epoch)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None
