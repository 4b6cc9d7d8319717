"""Cross-stitch nets (Misra / Bhuin) with mixed heads, related weights, and the split net."""

import numpy as np
import pytest

from keras_mtl.layers import CrossStitch
from keras_mtl.models import cross_stitch_net, split_network

BHUIN = dict(
    head_units=(10, 5), head_activations=(None, "softmax"), task_names=("landmarks", "pose")
)
SMALL = dict(input_shape=(32, 32, 1), filters=(4, 4, 4, 4), fc_units=8)


def _fit_mixed(model, keras_roundtrip):
    rng = np.random.default_rng(0)
    x = {
        "image": rng.normal(size=(4, 32, 32, 1)).astype("float32"),
        "task_id": np.array([0, 1, 0, 1], "int32"),
    }
    y = {"landmarks": rng.normal(size=(4, 10)).astype("float32"), "pose": np.array([0, 1, 4, 2])}
    model.compile(
        optimizer="sgd",
        run_eagerly=True,
        loss={"landmarks": "mse", "pose": "sparse_categorical_crossentropy"},
    )
    history = model.fit(x, y, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    expected = model(x)
    restored = keras_roundtrip(model)
    for key in ("landmarks", "pose"):
        np.testing.assert_allclose(restored(x)[key], expected[key], rtol=1e-5, atol=1e-6)
    return expected


@pytest.mark.parametrize("granularity", ["channel", "layer"])
def test_builds_trains_and_round_trips(granularity, exercise):
    model = cross_stitch_net(3, head_units=2, granularity=granularity, **SMALL)
    outputs, _ = exercise(model, num_tasks=3)
    assert sorted(outputs) == ["task_0", "task_1", "task_2"]
    stitches = [layer for layer in model.layers if isinstance(layer, CrossStitch)]
    assert [s.name for s in stitches] == [
        "cross_stitch_pool1",
        "cross_stitch_pool2",
        "cross_stitch_pool3",
        "cross_stitch_conv4",
        "cross_stitch_fc",
    ]


def test_bhuin_landmarks_and_pose_with_related_weights(keras_roundtrip):
    model = cross_stitch_net(2, related_weight=0.01, related_form="exp", **BHUIN, **SMALL)
    out = _fit_mixed(model, keras_roundtrip)
    assert out["landmarks"].shape == (4, 10)
    np.testing.assert_allclose(np.sum(out["pose"], axis=-1), np.ones(4), rtol=1e-5)
    # five column layers, each adds one penalty; the columns start equal, so it starts at 0
    assert len(model.get_layer("conv1").weights) == 4  # kernel, bias, a, b
    fresh = cross_stitch_net(2, related_weight=0.01, **BHUIN, **SMALL)
    kernel = np.asarray(fresh.get_layer("conv2").kernel)
    np.testing.assert_array_equal(kernel[0], kernel[1])
    assert float(fresh.get_layer("conv2").related_penalty()) == 0.0


def test_default_bhuin_sizes():
    model = cross_stitch_net(2, **BHUIN)
    assert model.get_layer("fc").output.shape == (None, 2, 100)
    assert model.get_layer("cross_stitch_pool1").alpha.shape == (2, 2, 16)  # 16 units in pool1
    np.testing.assert_allclose(
        model.get_layer("cross_stitch_pool1").alpha[:, :, 0], [[0.9, 0.1], [0.1, 0.9]]
    )


def test_split_network(keras_roundtrip):
    model = split_network(2, **BHUIN, **SMALL)
    _fit_mixed(model, keras_roundtrip)
    assert not any(isinstance(layer, CrossStitch) for layer in model.layers)
    single_column = model.get_layer("conv1").kernel.shape[0]
    assert single_column == 1
    # the one column is the shared backbone: only the heads belong to individual tasks
    assert sorted(v.path for v in model.task_specific_variables) == [
        "head_landmarks/bias", "head_landmarks/kernel", "head_pose/bias", "head_pose/kernel"]
    assert {v.path.split("/")[0] for v in model.shared_variables} == {
        "conv1", "conv2", "conv3", "conv4", "fc"}


def test_errors():
    with pytest.raises(ValueError, match="Expected `num_tasks` >= 2 for a cross-stitch"):
        cross_stitch_net(1)
    with pytest.raises(ValueError, match="Expected `granularity` to be one of"):
        cross_stitch_net(2, granularity="pixel", **SMALL)
    with pytest.raises(ValueError, match="Expected `head_units` to be one value or 2 values"):
        cross_stitch_net(2, head_units=(1, 2, 3), **SMALL)
    with pytest.raises(ValueError, match="Expected `related_form` to be one of"):
        cross_stitch_net(2, related_weight=1.0, related_form="l1", **SMALL)


@pytest.mark.slow
def test_related_weights_train_in_graph_mode(exercise):
    model = cross_stitch_net(2, related_weight=0.01, related_form="l2", **SMALL)
    exercise(model, num_tasks=2, run_eagerly=False)
    assert len(model.losses) == 5  # one penalty per column layer (conv1-4, fc)
