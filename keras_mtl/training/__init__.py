"""Multi-task training: the model class, gradient-conflict probe, metrics and callbacks."""

from keras_mtl.training import gradient_probe
from keras_mtl.training.conflict_matrix_callback import ConflictMatrixCallback
from keras_mtl.training.conflict_metrics import (
    ConflictFraction,
    PairwiseGradientCosine,
    PerTaskMean,
    UpdateComplianceRatio,
)
from keras_mtl.training.fit_triplets import fit_triplets
from keras_mtl.training.loss_weighting import (
    FixedWeighting,
    LossWeighting,
    MGDAWeighting,
    UniformWeighting,
    min_norm_weights,
)
from keras_mtl.training.multi_task_model import MultiTaskModel

__all__ = [
    "ConflictFraction",
    "ConflictMatrixCallback",
    "FixedWeighting",
    "LossWeighting",
    "MGDAWeighting",
    "MultiTaskModel",
    "PairwiseGradientCosine",
    "PerTaskMean",
    "UniformWeighting",
    "UpdateComplianceRatio",
    "fit_triplets",
    "gradient_probe",
    "min_norm_weights",
]
