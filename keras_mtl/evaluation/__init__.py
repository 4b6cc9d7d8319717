"""Retrieval experiments: the triplet fit loop, per-task triplet accuracy, top-k retrieval,
comparisons of methods with standard errors and a verdict, statistics over seeds (paired
t-intervals, claimed orderings), task-pair (UCR) summaries by
relation, figures, JSON."""

from keras_mtl.evaluation.comparison import accuracy_summary, difference, verdict
from keras_mtl.evaluation.fit_triplets import fit_triplets
from keras_mtl.evaluation.method_comparison import compare_methods, comparison_record
from keras_mtl.evaluation.plots import (
    heatmap_png,
    save_accuracy_bars,
    save_matrix_heatmaps,
    save_retrieval_grid,
)
from keras_mtl.evaluation.results_json import save_json, to_json_compatible
from keras_mtl.evaluation.retrieval import embed, retrieve, top_k, triplet_accuracy
from keras_mtl.evaluation.seeds import (
    claim_outcome,
    format_difference,
    paired_difference,
    seed_summary,
    t_critical,
)
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
    "claim_outcome",
    "compare_methods",
    "comparison_record",
    "difference",
    "embed",
    "fit_triplets",
    "format_difference",
    "heatmap_png",
    "format_pair_matrix",
    "format_pair_summary",
    "pair_mean_raised",
    "paired_difference",
    "pair_summary",
    "pair_values",
    "related_vs_independent",
    "retrieve",
    "save_accuracy_bars",
    "save_json",
    "save_matrix_heatmaps",
    "save_retrieval_grid",
    "seed_summary",
    "t_critical",
    "to_json_compatible",
    "top_k",
    "triplet_accuracy",
    "verdict",
]
