"""Evaluation of retrieval models: per-task triplet accuracy, top-k retrieval, figures."""

from keras_mtl.evaluation.plots import (
    save_accuracy_bars,
    save_matrix_heatmaps,
    save_retrieval_grid,
)
from keras_mtl.evaluation.retrieval import embed, retrieve, top_k, triplet_accuracy

__all__ = [
    "embed",
    "retrieve",
    "save_accuracy_bars",
    "save_matrix_heatmaps",
    "save_retrieval_grid",
    "top_k",
    "triplet_accuracy",
]
