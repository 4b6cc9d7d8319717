"""Functional builders for the seed papers' architectures and their baselines.

Every builder returns a `keras_mtl.MultiTaskModel` with dict inputs `image` (float32,
`(batch, H, W, C)`) and `task_id` (integer ids, `(batch,)`; the input is declared int64 and
checked once per call by a `TaskIdValidation` layer); see each builder for its outputs.
"""

from keras_mtl.models.common import copy_weights_by_layer_name
from keras_mtl.models.cross_stitch_nets import cross_stitch_net, split_network
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
from keras_mtl.models.zhao_retrieval_net import DisjointMasks, zhao_retrieval_net

__all__ = [
    "DisjointMasks",
    "copy_weights_by_layer_name",
    "cross_stitch_net",
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
