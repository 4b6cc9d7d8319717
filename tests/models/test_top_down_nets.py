"""Top-down nets (LeNet / VGG-11 / ResNet-18) and the single-task, multi-branch, ch-mod nets."""

import keras
import numpy as np
import pytest

from keras_mtl.layers import TaskEmbedding, TensorModulation
from keras_mtl.models import top_down_lenet, top_down_net, top_down_resnet18, top_down_vgg11

pytestmark = pytest.mark.filterwarnings("ignore:The model has a trainable BatchNormalization")

METHODS = ("top_down", "single_task", "multi_branch", "ch_mod")
SMALL = {
    "lenet": dict(width_multiplier=0.5),
    "vgg11": dict(input_shape=(32, 32, 3), width_multiplier=1 / 16, branch_fc=(8,)),
    "resnet18": dict(input_shape=(32, 32, 3), width_multiplier=1 / 16),
}


@pytest.mark.parametrize("method", METHODS)
def test_lenet_builds_trains_and_round_trips(method, exercise):
    model = top_down_lenet(3, method=method, **SMALL["lenet"])
    outputs, _ = exercise(model, num_tasks=3)
    assert model.output_names == ["logits"]
    assert tuple(outputs.shape) == (4, 10)


@pytest.mark.parametrize("builder", [top_down_vgg11, top_down_resnet18])
@pytest.mark.parametrize("method", ["top_down", "multi_branch"])
def test_vgg_resnet_build_train_and_round_trip(builder, method, exercise):
    backbone = builder.__name__.split("_")[-1]
    model = builder(2, method=method, num_classes=3, **SMALL[backbone])
    outputs, _ = exercise(model, num_tasks=2)
    assert tuple(outputs.shape) == (4, 3)


@pytest.mark.parametrize("connectivity", ["add", "multiply", "gated"])
def test_connectivities_and_td_map(connectivity, exercise):
    model = top_down_lenet(
        2,
        connectivity=connectivity,
        td_connectivity=connectivity,
        return_td_map=True,
        **SMALL["lenet"],
    )
    outputs, _ = exercise(model, num_tasks=2)  # one loss per output, trained by `fit`
    assert tuple(outputs["td_map"].shape) == (4, 12, 12, 1)
    assert tuple(outputs["logits"].shape) == (4, 10)
    assert model.get_layer("bu2_modulation0").connectivity == connectivity


def test_return_td_map_trains_with_the_auxiliary_attention_loss():
    # Levi & Ullman Sec. 4.3.4: a localisation loss on the TD map beside the task loss.
    model = top_down_lenet(2, return_td_map=True, **SMALL["lenet"])
    rng = np.random.default_rng(0)
    x = {"image": rng.uniform(size=(8, 28, 28, 1)).astype("float32"),
         "task_id": np.array([0, 1] * 4, "int32")}
    y = {"logits": rng.integers(0, 10, 8).astype("int32"),
         "td_map": (rng.uniform(size=(8, 12, 12, 1)) > 0.8).astype("float32")}
    scce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    out = model(x)
    want = float(scce(y["logits"], out["logits"])) + 0.5 * float(bce(y["td_map"], out["td_map"]))
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss={"logits": scce, "td_map": bce},
                  loss_weights={"logits": 1.0, "td_map": 0.5})
    history = model.fit(x, y, batch_size=8, epochs=25, verbose=0)
    assert history.history["loss"][0] == pytest.approx(want, rel=1e-5)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert "grad_cosine" in history.history  # the probe runs on the shared BU weights


def test_bu1_and_bu2_share_weights_and_output_depends_on_task():
    model = top_down_lenet(2)
    conv1 = model.get_layer("conv1_conv")
    assert len(conv1._inbound_nodes) == 2  # BU1 and BU2 call the same layer
    assert len([w for w in model.weights if "conv1_conv" in w.path]) == 1
    images = np.random.default_rng(0).normal(size=(2, 28, 28, 1)).astype("float32")
    a = model({"image": images, "task_id": np.array([0, 0], "int32")})
    b = model({"image": images, "task_id": np.array([1, 1], "int32")})
    assert not np.allclose(a, b)
    assert isinstance(model.get_layer("task_embedding"), TaskEmbedding)
    assert isinstance(model.get_layer("td_combine0"), TensorModulation)


def test_lenet_parameter_counts_against_table5():
    # Table 5a: backbone 21,250; each branch 3,000; TD with laterals 6,651 (ours: 6,000);
    # task embedding 320 per task.
    for k in (1, 2, 3, 4):
        assert top_down_lenet(k, method="single_task").count_params() == 24_250 * k
        assert top_down_lenet(k, method="multi_branch").count_params() == 21_250 + 3_000 * k
        assert top_down_lenet(k, method="ch_mod").count_params() == 24_250 + 30 * k
        assert top_down_lenet(k).count_params() == 21_250 + 3_000 + 6_000 + 320 * k
    model = top_down_lenet(2)
    td = ["td0_conv1", "lateral_bu0", "lateral_bu1", "lateral_td0", "lateral_td1"]
    assert sum(model.get_layer(n).count_params() for n in td) == 6_000
    assert model.get_layer("task_embedding").count_params() == 2 * 320


@pytest.mark.slow
def test_vgg11_and_resnet18_parameter_components():
    def parts(builder, **kwargs):
        one = builder(1, method="multi_branch", **kwargs).count_params()
        two = builder(2, method="multi_branch", **kwargs).count_params()
        td = builder(1, **kwargs).count_params() - one
        td2 = builder(2, **kwargs).count_params() - one
        return one, two - one, td2 - td, td - (td2 - td)

    # (single-task net, each branch, embedding per task, TD + laterals); paper Table 5b (VGG-11,
    # CLEVR): 14,921,408 / 7,473,152 / 1,568 / 8,306,688. Ours at 224x224, 10 classes:
    assert parts(top_down_vgg11, num_classes=10) == (128_807_306, 119_586_826, 25_088, 10_441_792)
    assert parts(top_down_resnet18, num_classes=10) == (11_191_242, 5_130, 25_088, 11_695_424)


def test_errors():
    with pytest.raises(ValueError, match="Expected `backbone` to be one of"):
        top_down_net(2, backbone="alexnet")
    with pytest.raises(ValueError, match="Expected `method` to be one of"):
        top_down_net(2, method="mtan")
    with pytest.raises(ValueError, match="Expected `connectivity` to be one of"):
        top_down_net(2, connectivity="concat")
    with pytest.raises(ValueError, match="Expected `return_td_map=True` only with"):
        top_down_net(2, method="ch_mod", return_td_map=True)
    with pytest.raises(ValueError, match="Expected `input_shape` of at least 28x28"):
        top_down_net(2, input_shape=(20, 20, 1))
    keras.backend.clear_session()


def test_trains_in_graph_mode(exercise):
    exercise(top_down_lenet(2, **SMALL["lenet"]), num_tasks=2, run_eagerly=False)
