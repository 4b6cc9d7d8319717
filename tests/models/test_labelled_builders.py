"""Builders for the setting where every sample is labelled for every task.

No `task_id` input, one output per task (a dict keyed by task name), `fit(x, {task: labels})`
with missing labels (-1 in integer labels, NaN in float labels). Parameter counts are derived
by hand in each test's docstring from the layer shapes; the per-task losses are recomputed
with plain Keras losses on the labelled rows only.
"""

import keras
import numpy as np
import pytest

from keras_mtl import MultiTaskModel
from keras_mtl.models import (
    copy_weights_by_layer_name,
    cross_stitch_net,
    multi_label_net,
    split_network,
    top_down_net,
)

pytestmark = pytest.mark.filterwarnings("ignore:The model has a trainable BatchNormalization")

SPARSE_CE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
BCE = keras.losses.BinaryCrossentropy(from_logits=True)
ZHAO_SMALL = dict(input_shape=(48, 48, 3), width_multiplier=0.125, shared_fc=(32,))


def _digits(num_tasks, n=16, seed=0):
    """Multi-MNIST-like data: 28x28 images, one digit label per task, some missing (-1)."""
    rng = np.random.default_rng(seed)
    x = {"image": rng.normal(size=(n, 28, 28, 1)).astype("float32")}
    y = {f"task_{t}": rng.integers(0, 10, n).astype("int32") for t in range(num_tasks)}
    y["task_0"][[1, 5]] = -1
    y[f"task_{num_tasks - 1}"][[2, 5, 9]] = -1
    return x, y


def _attributes(num_tasks, n=16, size=48, seed=0):
    """CelebA-like data: binary attributes as float (n, 1) labels, some missing (NaN)."""
    rng = np.random.default_rng(seed)
    x = {"image": rng.normal(size=(n, size, size, 3)).astype("float32")}
    y = {f"task_{t}": rng.integers(0, 2, (n, 1)).astype("float32") for t in range(num_tasks)}
    y["task_0"][[0, 3]] = np.nan
    y["task_2"][[i for i in (1, 3, 11) if i < n]] = np.nan
    return x, y


def _masked_loss(loss, labels, logits):
    """The mean of `loss` over the rows whose label is present (not -1, not NaN)."""
    labels = np.asarray(labels)
    keep = ~np.isnan(labels.reshape(len(labels), -1)[:, 0]) if labels.dtype.kind == "f" else (
        labels.reshape(len(labels), -1)[:, 0] >= 0)
    return float(loss(labels[keep], np.asarray(logits)[keep]))


# ----------------------------------------------------------------------- top_down_net


def test_multi_branch_without_task_input_counts_and_outputs():
    """LeNet (no biases), shared_fc=(16,), no hidden branch layer, 3 tasks, 10 classes:
    conv1 5*5*1*10 = 250, conv2 5*5*10*20 = 5,000, shared fc 4*4*20 * 16 = 5,120, and
    per task an output layer 16 * 10 = 160: 250 + 5,000 + 5,120 + 3 * 160 = 10,850."""
    model = top_down_net(3, method="multi_branch", shared_fc=(16,), branch_fc=(),
                         task_input=False)
    assert isinstance(model, MultiTaskModel)
    assert list(model.input) == ["image"] and not model.takes_task_ids
    assert list(model.output) == ["task_0", "task_1", "task_2"]
    assert model.count_params() == 10_850
    assert model.representation_layer == "shared_fc1"
    assert model.task_specific_layers == [f"branch_task_{t}_out" for t in range(3)]


def test_multi_branch_outputs_match_the_task_id_model():
    """Same weights: output `task_t` for every row equals the task-id model's logits for a
    row of task t (its `SelectTaskColumn` picks branch t)."""
    labelled = top_down_net(3, method="multi_branch", task_input=False)
    per_sample = top_down_net(3, method="multi_branch")
    copy_weights_by_layer_name(labelled, per_sample)
    x, _ = _digits(3)
    out = labelled.predict(x, verbose=0)
    for t in range(3):
        ids = np.full((16,), t, "int32")
        logits = per_sample.predict({"image": x["image"], "task_id": ids}, verbose=0)
        np.testing.assert_allclose(out[f"task_{t}"], logits, rtol=1e-5, atol=1e-6)


def test_single_task_without_task_input():
    """Two independent LeNets, each 250 + 5,000 + 5,120 + 160 = 10,530; nothing shared."""
    model = top_down_net(2, method="single_task", shared_fc=(16,), branch_fc=(),
                         task_input=False, task_names=("left", "right"))
    assert list(model.output) == ["left", "right"] and list(model.input) == ["image"]
    assert model.count_params() == 2 * 10_530
    assert model.representation_layer is None
    assert not model.shared_variables


@pytest.mark.parametrize("method", ["top_down", "ch_mod"])
def test_methods_that_need_task_ids_refuse_task_input_false(method):
    with pytest.raises(ValueError, match=rf"Expected `task_input=True` for method='{method}'"):
        top_down_net(2, method=method, task_input=False)


def test_multi_branch_fit_with_missing_labels_lowers_the_loss(keras_roundtrip):
    x, y = _digits(2)
    model = top_down_net(2, method="multi_branch", shared_fc=(16,), branch_fc=(),
                         task_input=False)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=SPARSE_CE)
    before = model.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    out = model.predict(x, verbose=0)
    for t in range(2):  # each task's loss: its labelled rows only
        key = f"task_{t}"
        want = _masked_loss(SPARSE_CE, y[key], out[key])
        assert before[f"loss_{key}"] == pytest.approx(want, rel=1e-5)
    history = model.fit(x, y, batch_size=8, epochs=20, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    after = model.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    assert after["loss"] < 0.5 * before["loss"]

    restored = keras_roundtrip(model)
    assert restored.representation_layer == "shared_fc1" and not restored.takes_task_ids
    got = restored.predict(x, verbose=0)
    for key, value in model.predict(x, verbose=0).items():
        np.testing.assert_allclose(got[key], value, rtol=1e-5, atol=1e-6)


def test_multi_branch_trains_with_the_representation_probe_and_mgda():
    x, y = _digits(2)
    model = top_down_net(2, method="multi_branch", shared_fc=(16,), branch_fc=(),
                         task_input=False)
    model.compile(optimizer="sgd", loss=SPARSE_CE, probe="representation",
                  loss_weighting="mgda")
    history = model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert np.isfinite(history.history["grad_cosine"]).all()
    assert model.conflict_matrices()["cosine"].shape == (2, 2)


# ----------------------------------------------------------------------- multi_label_net


def test_multi_label_zhao_parameter_count():
    """Table 2 at width 0.125 (widths 4, 8, 16, 16, 16), 48x48x3, shared_fc=(32,), 5 tasks.

    conv k x k from c to f: k*k*c*f + f. conv1 3x3 3->4: 112 (48 -> 46). Each block: a
    valid 3x3 conv c->f, 2x2 pooling, two 3x3 convs f->f: block2 296 + 2 * 584 = 1,464
    (46 -> 44 -> 22); block3 1,168 + 2 * 2,320 = 5,808 (-> 10); block4 2,320 + 4,640 = 6,960
    (-> 4); block5 6,960 (-> 1). Flatten 1*1*16 = 16; shared fc 16 * 32 + 32 = 544; heads
    5 * (32 + 1) = 165. Total 112 + 1,464 + 5,808 + 2 * 6,960 + 544 + 165 = 22,013.
    """
    model = multi_label_net(5, **ZHAO_SMALL)
    assert model.count_params() == 22_013
    assert list(model.input) == ["image"]
    assert list(model.output) == [f"task_{t}" for t in range(5)]
    assert all(tuple(o.shape) == (None, 1) for o in model.output.values())
    assert model.representation_layer == "shared_fc1"
    assert model.task_specific_layers == [f"head_task_{t}" for t in range(5)]
    # everything but the heads is shared: 22,013 - 165
    assert sum(int(np.prod(v.shape)) for v in model.shared_variables) == 21_848


def test_multi_label_fit_with_missing_labels_lowers_the_loss(keras_roundtrip):
    x, y = _attributes(4)
    model = multi_label_net(4, **ZHAO_SMALL)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=BCE,
                  metrics={t: [keras.metrics.BinaryAccuracy("acc", threshold=0.0)]
                           for t in y})
    before = model.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    out = model.predict(x, verbose=0)
    for key in ("task_0", "task_2"):  # the tasks with missing labels
        assert before[f"loss_{key}"] == pytest.approx(
            _masked_loss(BCE, y[key], out[key]), rel=1e-5)
    history = model.fit(x, y, batch_size=8, epochs=20, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    after = model.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    assert after["loss"] < 0.75 * before["loss"]

    restored = keras_roundtrip(model)
    assert type(restored).__name__ == "MultiTaskModel"
    assert restored.task_names == model.task_names
    assert restored.representation_layer == "shared_fc1"
    got = restored.predict(x, verbose=0)
    for key, value in model.predict(x, verbose=0).items():
        np.testing.assert_allclose(got[key], value, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "backbone, representation",
    [("vgg11", "shared_fc1"), ("vgg16", "shared_fc1"), ("resnet18", "pool_features"),
     ("resnet50", "pool_features")],
)
def test_multi_label_other_backbones_build_and_train(backbone, representation):
    shared_fc = (8,) if backbone.startswith("vgg") else None
    model = multi_label_net(3, backbone=backbone, input_shape=(32, 32, 3),
                            width_multiplier=1 / 16, shared_fc=shared_fc)
    assert model.representation_layer == representation
    x, y = _attributes(3, n=4, size=32)
    model.compile(optimizer="sgd", loss=BCE, probe="off")
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def test_multi_label_errors():
    with pytest.raises(ValueError, match="Expected `backbone` to be one of"):
        multi_label_net(2, backbone="lenet")
    with pytest.raises(ValueError, match="Expected `input_shape` of at least 48x48"):
        multi_label_net(2, input_shape=(40, 40, 3))
    with pytest.raises(ValueError, match="Expected `input_shape` of at least 32x32"):
        multi_label_net(2, backbone="vgg11", input_shape=(16, 16, 3))
    with pytest.raises(ValueError, match="Expected `shared_fc` to be a positive int"):
        multi_label_net(2, shared_fc=(0,), input_shape=(48, 48, 3))
    with pytest.raises(ValueError, match="Expected `task_names` to be 2 distinct identifiers"):
        multi_label_net(2, task_names=("Smiling", "5_o_Clock_Shadow"))


# ----------------------------------------------------- split / cross-stitch without task ids


@pytest.mark.parametrize("builder", [split_network, cross_stitch_net])
def test_split_and_cross_stitch_without_task_input(builder):
    small = dict(input_shape=(32, 32, 1), filters=(4, 4, 4, 4), fc_units=8)
    model = builder(2, head_units=(10, 1), task_input=False, task_names=("digit", "smile"),
                    **small)
    with_ids = builder(2, head_units=(10, 1), task_names=("digit", "smile"), **small)
    assert list(model.input) == ["image"] and not model.takes_task_ids
    assert model.count_params() == with_ids.count_params()
    expected = "shared_fc" if builder is split_network else None
    assert model.representation_layer == expected
    rng = np.random.default_rng(0)
    x = {"image": rng.normal(size=(6, 32, 32, 1)).astype("float32")}
    y = {"digit": np.array([1, -1, 3, 4, -1, 2], "int32"),
         "smile": np.array([[1], [0], [np.nan], [1], [0], [1]], "float32")}
    model.compile(optimizer="sgd", loss={"digit": SPARSE_CE, "smile": BCE})
    history = model.fit(x, y, batch_size=6, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
