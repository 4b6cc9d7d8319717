"""Multi-task training: the model class, per-task gradients, the conflict probe and callbacks.

- `MultiTaskModel`: a functional `keras.Model` whose `train_step` computes per-task gradients
  (`task_gradients`), logs their conflict (cosines, UCR) and combines them with a loss
  weighting (`keras_mtl.weighting`).
- `ConflictMatrixCallback`: writes the epoch's T x T cosine and UCR matrices.
- `task_gradients`: the pure function behind the step (per-task gradients of the shared
  variables and the combined update), for custom training loops.
- `NonFiniteTrainingError`: raised when too many steps were skipped for non-finite values;
  `MISSING_LABEL`: the integer label of a sample not labelled for a task.

The supported surface is `__all__`. Internal modules: `gradient_probe` (the pure maths: Gram
matrix, cosines, count sketch, task groups), `conflict_tracker.ConflictTracker` and
`per_task_mean.PerTaskMean` (the metrics that hold the probe's state; read them with
`MultiTaskModel.conflict_matrices()` and the logs).
"""

from keras_mtl.training.conflict_matrix_callback import ConflictMatrixCallback
from keras_mtl.training.multi_task_model import MultiTaskModel
from keras_mtl.training.task_gradients import TaskBatch, TaskGradients, task_gradients
from keras_mtl.training.task_losses import MISSING_LABEL
from keras_mtl.training.training_monitor import NonFiniteTrainingError

__all__ = [
    "ConflictMatrixCallback",
    "MISSING_LABEL",
    "MultiTaskModel",
    "NonFiniteTrainingError",
    "TaskBatch",
    "TaskGradients",
    "task_gradients",
]
