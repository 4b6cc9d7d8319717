"""Functional builders for the seed papers' architectures and their baselines.

Every builder returns a `keras_mtl.MultiTaskModel` with dict inputs `image` (float32,
`(batch, H, W, C)`, its size checked at run time by an `InputShapeCheck` layer) and, in the
one-task-per-sample setting, `task_id` (integer ids, `(batch,)`; the input is declared int64
and checked once per call by a `TaskIdValidation` layer); see each builder for its outputs.

For the setting where every sample is labelled for every task the model has no `task_id`
input and one output per task (a dict keyed by task name), trained with
`fit(x, {task_name: labels})`: `multi_label_net` (one binary head per attribute, e.g.
CelebA), and `task_input=False` in `top_down_net` (`"multi_branch"`, `"single_task"`),
`split_network` and `cross_stitch_net`. Hard-sharing models set `representation_layer` to
their last shared layer, for `compile(probe="representation")`.
"""

from keras_mtl.models.common import copy_weights_by_layer_name
from keras_mtl.models.cross_stitch_nets import cross_stitch_net, split_network
from keras_mtl.models.multi_label_net import multi_label_net
from keras_mtl.models.task_routing_nets import (
    task_routing_net,
    task_routing_resnet50,
    task_routing_vgg11,
    task_routing_vgg16,
)
from keras_mtl.models.top_down_nets import (
    top_down_lenet,
    top_down_net,
    top_down_resnet18,
    top_down_vgg11,
)
from keras_mtl.models.zhao_retrieval_net import zhao_retrieval_net

__all__ = [
    "copy_weights_by_layer_name",
    "cross_stitch_net",
    "multi_label_net",
    "split_network",
    "task_routing_net",
    "task_routing_resnet50",
    "task_routing_vgg11",
    "task_routing_vgg16",
    "top_down_lenet",
    "top_down_net",
    "top_down_resnet18",
    "top_down_vgg11",
    "zhao_retrieval_net",
]
