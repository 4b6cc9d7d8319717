"""Multi-task training: the model class, per-task gradients, the conflict probe and callbacks.

- `MultiTaskModel`: a functional `keras.Model` whose `train_step` computes per-task gradients
  (`task_gradients`), logs their conflict (`ConflictTracker`) and combines them with a loss
  weighting (`keras_mtl.weighting`).
- `gradient_probe`: the pure maths (Gram matrix, cosines, count sketch, task groups).
- `ConflictMatrixCallback`: writes the epoch's T x T cosine and UCR matrices.
"""

from keras_mtl.training import gradient_probe
from keras_mtl.training.conflict_matrix_callback import ConflictMatrixCallback
from keras_mtl.training.conflict_tracker import ConflictTracker
from keras_mtl.training.multi_task_model import MultiTaskModel
from keras_mtl.training.per_task_mean import PerTaskMean
from keras_mtl.training.task_gradients import TaskBatch, TaskGradients, task_gradients
from keras_mtl.training.task_losses import MISSING_LABEL
from keras_mtl.training.training_monitor import NonFiniteTrainingError

__all__ = [
    "ConflictMatrixCallback",
    "ConflictTracker",
    "MISSING_LABEL",
    "MultiTaskModel",
    "NonFiniteTrainingError",
    "PerTaskMean",
    "TaskBatch",
    "TaskGradients",
    "gradient_probe",
    "task_gradients",
]
