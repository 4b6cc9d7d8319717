"""Figures of a retrieval run: accuracy bars, a retrieval grid (Zhao Fig. 4), matrix heatmaps."""

import io

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def heatmap_png(matrices, task_names, title=""):
    """PNG bytes of side-by-side heatmaps, `matrices` a dict `{name: (T, T) array}`."""
    plt = _pyplot()

    size = max(3.0, 0.35 * len(task_names) + 2.0)
    figure, axes = plt.subplots(1, len(matrices), figsize=(size * len(matrices), size))
    axes = np.atleast_1d(axes)
    for axis, (name, matrix) in zip(axes, matrices.items(), strict=True):
        low = -1.0 if name == "cosine" else 0.0
        image = axis.imshow(matrix, vmin=low, vmax=1.0, cmap="coolwarm" if low < 0 else "viridis")
        axis.set_title(f"{name} {title}".strip())
        axis.set_xticks(range(len(task_names)), task_names, rotation=90, fontsize=7)
        axis.set_yticks(range(len(task_names)), task_names, fontsize=7)
        figure.colorbar(image, ax=axis, fraction=0.046)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    plt.close(figure)
    return buffer.getvalue()


def save_matrix_heatmaps(path, matrices, task_names, title=""):
    """Writes side-by-side heatmaps of `{name: (T, T) matrix}` (e.g. cosine and UCR) to PNG."""
    with open(path, "wb") as handle:
        handle.write(heatmap_png(matrices, list(task_names), title))
    return path


def save_accuracy_bars(path, results, task_names, title="Triplet accuracy per task"):
    """Grouped bars: one group per task (plus the mean), one bar per method.

    Args:
        path: output PNG path.
        results: dict `method -> (T,) per-task accuracies` in [0, 1].
        task_names: the T task names.
    """
    plt = _pyplot()
    labels = list(task_names) + ["mean"]
    width = 0.8 / max(1, len(results))
    figure, axis = plt.subplots(figsize=(1.3 * len(labels) + 2, 3.5))
    for i, (method, accuracy) in enumerate(results.items()):
        values = list(np.asarray(accuracy, dtype=float)) + [float(np.nanmean(accuracy))]
        positions = np.arange(len(labels)) + (i - (len(results) - 1) / 2) * width
        axis.bar(positions, np.array(values) * 100.0, width, label=method)
    axis.set_xticks(range(len(labels)), labels)
    axis.set_ylabel("accuracy (%)")
    axis.set_ylim(0, 100)
    axis.axhline(50, color="grey", lw=0.8, ls="--")
    axis.set_title(title)
    axis.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def save_retrieval_grid(path, images, rows, labels=None, title="Top-k retrieval per task"):
    """One row per task: the query image, then its top-k neighbours under that task.

    Args:
        path: output PNG path.
        images: callable `index -> (H, W, 3) float array in [0, 1]` or an indexable array.
        rows: list of `(task_name, query_index, neighbour_indices)`.
        labels: optional callable `(task_name, image_index) -> str` shown under each image;
            a neighbour whose label equals the query's is framed green, otherwise red.
    """
    plt = _pyplot()
    get = images if callable(images) else (lambda i: images[i])
    k = max(len(r[2]) for r in rows)
    figure, axes = plt.subplots(len(rows), k + 1, figsize=(1.4 * (k + 1), 1.6 * len(rows)),
                                squeeze=False)
    for r, (task, query, neighbours) in enumerate(rows):
        query_label = labels(task, query) if labels else None
        for c, index in enumerate([query, *neighbours]):
            axis = axes[r, c]
            axis.imshow(np.clip(get(index), 0, 1))
            axis.set_xticks([])
            axis.set_yticks([])
            text = labels(task, index) if labels else ""
            axis.set_xlabel(text, fontsize=6)
            if c == 0:
                axis.set_ylabel(task, fontsize=8)
                color = "black"
            else:
                color = "green" if labels and text == query_label else "red"
            for spine in axis.spines.values():
                spine.set_edgecolor(color if labels or c == 0 else "none")
                spine.set_linewidth(2 if c else 1)
        for c in range(len(neighbours) + 1, k + 1):
            axes[r, c].axis("off")
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path
