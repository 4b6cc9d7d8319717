"""Task-conditioned layers: each takes a feature map and a per-sample task id.

`TaskModulation`, `TaskRouting`, `SelectTaskColumn`, `TopDownModulator` are called as
`layer([features, task_id])`; `TaskEmbedding` takes the task ids alone; `CrossStitch` mixes
task columns and `TensorModulation` combines two tensors. `TaskConditionedLayer` is their base
class, for writing new task-conditioned layers. Every layer lists the variables that belong to
individual tasks in `task_specific_weights`; `task_specific_variables(model)` collects them over
a model.

The supported surface is `__all__`. The builders' plumbing lives in modules of this package
and is registered for `.keras` loading when the package is imported, but is not part of the
public API: `column_conv2d.ColumnConv2D`, `column_dense.ColumnDense` and
`unstack_columns.UnstackColumns` (the cross-stitch builders' task columns),
`task_id_validation.TaskIdValidation` (checks a model's task-id input once per call),
`input_shape_check.InputShapeCheck` (its image size at run time), and the task-id checks of
`task_ids`.
"""

# Internal layers: imported so that Keras can deserialize the builders' models.
from keras_mtl.layers import (  # noqa: F401
    column_conv2d,
    column_dense,
    input_shape_check,
    task_id_validation,
    unstack_columns,
)
from keras_mtl.layers.cross_stitch import CrossStitch
from keras_mtl.layers.select_task_column import SelectTaskColumn
from keras_mtl.layers.task_conditioned_layer import TaskConditionedLayer
from keras_mtl.layers.task_embedding import TaskEmbedding
from keras_mtl.layers.task_modulation import TaskModulation
from keras_mtl.layers.task_routing import TaskRouting
from keras_mtl.layers.task_specific import task_specific_variables
from keras_mtl.layers.tensor_modulation import TensorModulation
from keras_mtl.layers.top_down_modulator import TopDownModulator

__all__ = [
    "CrossStitch",
    "SelectTaskColumn",
    "TaskConditionedLayer",
    "TaskEmbedding",
    "TaskModulation",
    "TaskRouting",
    "TensorModulation",
    "TopDownModulator",
    "task_specific_variables",
]
