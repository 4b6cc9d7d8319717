"""Retrieval experiments: the triplet fit loop, per-task triplet accuracy, top-k retrieval,
comparisons of methods with standard errors and a verdict, task-pair (UCR) summaries by
relation, figures, JSON."""

from keras_mtl.evaluation.comparison import accuracy_summary, difference, verdict
from keras_mtl.evaluation.fit_triplets import fit_triplets
from keras_mtl.evaluation.plots import (
    heatmap_png,
    save_accuracy_bars,
    save_matrix_heatmaps,
    save_retrieval_grid,
)
from keras_mtl.evaluation.results_json import save_json, to_json_compatible
from keras_mtl.evaluation.retrieval import embed, retrieve, top_k, triplet_accuracy
from keras_mtl.evaluation.task_pairs import (
    format_pair_matrix,
    format_pair_summary,
    pair_mean_raised,
    pair_summary,
    pair_values,
    related_vs_independent,
)

__all__ = [
    "accuracy_summary",
    "difference",
    "embed",
    "fit_triplets",
    "heatmap_png",
    "format_pair_matrix",
    "format_pair_summary",
    "pair_mean_raised",
    "pair_summary",
    "pair_values",
    "related_vs_independent",
    "retrieve",
    "save_accuracy_bars",
    "save_json",
    "save_matrix_heatmaps",
    "save_retrieval_grid",
    "to_json_compatible",
    "top_k",
    "triplet_accuracy",
    "verdict",
]
