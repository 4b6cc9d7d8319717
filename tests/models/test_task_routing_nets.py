"""Task Routing nets: VGG-11 / VGG-16 / ResNet-50 with a TRL after every conv."""

import keras
import numpy as np
import pytest

from keras_mtl.layers import TaskRouting
from keras_mtl.models import (
    task_routing_net,
    task_routing_resnet50,
    task_routing_vgg11,
    task_routing_vgg16,
)

pytestmark = pytest.mark.filterwarnings("ignore:The model has a trainable BatchNormalization")

SMALL = dict(input_shape=(32, 32, 3), width_multiplier=1 / 16, shared_fc=(8,))
CONVS = {"vgg11": 8, "vgg16": 13, "resnet50": 53}


def _trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


@pytest.mark.parametrize(
    "builder, backbone",
    [
        (task_routing_vgg11, "vgg11"),
        (task_routing_vgg16, "vgg16"),
        (task_routing_resnet50, "resnet50"),
    ],
)
def test_builds_trains_and_round_trips(builder, backbone, exercise):
    model = builder(2, num_classes=2, sharing_ratio=0.5, **SMALL)
    outputs, _ = exercise(model, num_tasks=2)
    assert model.output_names == ["logits"]
    assert tuple(outputs.shape) == (4, 2)
    routing = [layer for layer in model.layers if isinstance(layer, TaskRouting)]
    assert len(routing) == CONVS[backbone]  # one TRL per conv (projection shortcuts included)
    assert len({layer.seed for layer in routing}) == len(routing)
    assert {"head_task_0", "head_task_1"} <= set(model.task_specific_layers)


def test_trl_sits_between_batch_norm_and_relu():
    model = task_routing_vgg11(2, **SMALL)
    trl = model.get_layer("routing_block1_conv1")
    assert trl.input[0]._keras_history.operation.name == "block1_conv1_bn"
    relu = model.get_layer("block1_conv1_relu")
    assert relu.input._keras_history.operation is trl


def test_sharing_ratio_one_is_hard_sharing():
    model = task_routing_vgg11(3, sharing_ratio=1.0, **SMALL)
    features = keras.Model(model.inputs, model.get_layer("flatten").output)
    images = np.random.default_rng(0).normal(size=(1, 32, 32, 3)).astype("float32")
    outs = [features({"image": images, "task_id": np.array([t], "int32")}) for t in range(3)]
    np.testing.assert_allclose(outs[0], outs[1])
    np.testing.assert_allclose(outs[0], outs[2])
    low = task_routing_vgg11(3, sharing_ratio=0.25, **SMALL)
    low_features = keras.Model(low.inputs, low.get_layer("flatten").output)
    a = low_features({"image": images, "task_id": np.array([0], "int32")})
    b = low_features({"image": images, "task_id": np.array([1], "int32")})
    assert not np.allclose(a, b)


@pytest.mark.slow
def test_parameter_counts_match_the_standard_networks():
    # Reference counts (torchvision, 1000 classes): vgg11_bn 132,868,840, vgg16_bn 138,365,992,
    # resnet50 25,557,032. Our convs before BatchNorm have no bias (-2,752 / -4,224).
    kwargs = dict(num_classes=1000, input_shape=(224, 224, 3))
    assert _trainable(task_routing_resnet50(1, **kwargs)) == 25_557_032
    assert _trainable(task_routing_vgg11(1, **kwargs)) == 132_868_840 - 2_752
    assert _trainable(task_routing_vgg16(1, **kwargs)) == 138_365_992 - 4_224


def test_errors():
    with pytest.raises(ValueError, match="Expected `backbone` to be one of"):
        task_routing_net(2, backbone="vgg19")
    with pytest.raises(ValueError, match="Expected `input_shape` of at least 32x32"):
        task_routing_vgg11(2, input_shape=(16, 16, 3))
    with pytest.raises(ValueError, match="sharing_ratio"):
        task_routing_vgg11(2, sharing_ratio=1.5, **SMALL)


@pytest.mark.slow
def test_trains_in_graph_mode(exercise):
    exercise(task_routing_vgg11(2, **SMALL), num_tasks=2, run_eagerly=False)
