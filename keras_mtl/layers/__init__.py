"""Task-conditioned layers: each takes a feature map and a per-sample task id.

`TaskModulation`, `TaskRouting`, `SelectTaskColumn`, `TopDownModulator` are called as
`layer([features, task_id])`; `TaskEmbedding` takes the task ids alone; `CrossStitch` mixes
task columns (`ColumnConv2D`, `ColumnDense` hold one copy per task column, `UnstackColumns`
splits them) and `TensorModulation` combines two tensors. `TaskIdValidation` checks a model's
task-id input once per call (`keras_mtl.layers.task_ids.validate_task_ids`), `InputShapeCheck`
its image size at run time. Every layer lists the variables that belong to individual tasks in
`task_specific_weights`; `task_specific_variables(model)` collects them over a model.
"""

from keras_mtl.layers.column_conv2d import ColumnConv2D
from keras_mtl.layers.column_dense import ColumnDense
from keras_mtl.layers.column_layer import ColumnLayer
from keras_mtl.layers.cross_stitch import CrossStitch
from keras_mtl.layers.input_shape_check import InputShapeCheck
from keras_mtl.layers.select_task_column import SelectTaskColumn
from keras_mtl.layers.task_conditioned_layer import TaskConditionedLayer
from keras_mtl.layers.task_embedding import TaskEmbedding
from keras_mtl.layers.task_id_validation import TaskIdValidation
from keras_mtl.layers.task_modulation import StackedIdentity, TaskModulation
from keras_mtl.layers.task_routing import TaskRouting
from keras_mtl.layers.task_specific import task_specific_variables
from keras_mtl.layers.tensor_modulation import TensorModulation
from keras_mtl.layers.top_down_modulator import TopDownModulator
from keras_mtl.layers.unstack_columns import UnstackColumns

__all__ = [
    "ColumnConv2D",
    "ColumnDense",
    "ColumnLayer",
    "CrossStitch",
    "InputShapeCheck",
    "SelectTaskColumn",
    "StackedIdentity",
    "TaskConditionedLayer",
    "TaskEmbedding",
    "TaskIdValidation",
    "TaskModulation",
    "TaskRouting",
    "TensorModulation",
    "TopDownModulator",
    "UnstackColumns",
    "task_specific_variables",
]
