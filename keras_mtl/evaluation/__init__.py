"""Retrieval experiments: the triplet fit loop, per-task triplet accuracy, top-k retrieval,
figures, JSON."""

from keras_mtl.evaluation.fit_triplets import fit_triplets
from keras_mtl.evaluation.plots import (
    heatmap_png,
    save_accuracy_bars,
    save_matrix_heatmaps,
    save_retrieval_grid,
)
from keras_mtl.evaluation.results_json import save_json, to_json_compatible
from keras_mtl.evaluation.retrieval import embed, retrieve, top_k, triplet_accuracy

__all__ = [
    "embed",
    "fit_triplets",
    "heatmap_png",
    "retrieve",
    "save_accuracy_bars",
    "save_json",
    "save_matrix_heatmaps",
    "save_retrieval_grid",
    "to_json_compatible",
    "top_k",
    "triplet_accuracy",
]
