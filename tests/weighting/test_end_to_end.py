"""Every weighting trains a small multi-task model through `MultiTaskModel.fit`."""

import keras
import numpy as np
import pytest

from keras_mtl import MultiTaskModel
from keras_mtl.weighting import METHODS, UncertaintyWeighting

NAMES = sorted(METHODS)


def _model():
    keras.utils.set_random_seed(0)
    x = keras.Input((6,), name="x")
    task_id = keras.Input((), dtype="int32", name="task_id")
    h = keras.layers.Dense(16, activation="tanh", name="trunk")(x)
    heads = [keras.layers.Dense(1, name=f"head_{t}")(h) for t in ("a", "b", "c")]
    return MultiTaskModel({"x": x, "task_id": task_id}, heads, task_names=["a", "b", "c"],
                          task_specific_layers=["head_a", "head_b", "head_c"])


def _data():
    # Three regression tasks sharing the trunk, the third partly opposed to the first.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 6)).astype("float32")
    maps = np.array([[1.0, -1, 0.5, 0, 0, 1], [0, 1, 1, -1, 0, 0], [-1.0, 1, 0, 0, 1, -0.5]])
    ids = np.arange(96) % 3
    y = np.einsum("nd,nd->n", x, maps[ids])[:, None].astype("float32")
    return {"x": x, "task_id": ids.astype("int32")}, y


@pytest.mark.parametrize("name", NAMES)
def test_short_fit_lowers_every_tasks_loss(name):
    x, y = _data()
    model = _model()
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="mse", loss_weighting=name)
    history = model.fit(x, y, batch_size=48, epochs=30, verbose=0, shuffle=False)
    for task in ("a", "b", "c"):
        losses = history.history[f"loss_{task}"]
        assert np.isfinite(losses).all()
        assert losses[-1] < 0.7 * losses[0], (name, task, losses[0], losses[-1])


@pytest.mark.parametrize("name", ["gradvac", "uw", "famo", "dwa", "gradnorm", "pcgrad"])
def test_weighting_state_is_saved_and_restored_with_the_model(name, tmp_path):
    x, y = _data()
    model = _model()
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="mse", loss_weighting=name)
    model.fit(x, y, batch_size=48, epochs=3, verbose=0, shuffle=False)
    state = [v.numpy().copy() for v in model.task_weighting.weights]
    assert state, "a stateful method keeps its state in Keras variables"
    path = str(tmp_path / f"{name}.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded.task_weighting) is type(model.task_weighting)
    for a, b in zip(loaded.task_weighting.weights, state, strict=True):
        np.testing.assert_array_equal(a.numpy(), b)
    want = model.train_on_batch(x, y, return_dict=True)["loss"]
    got = loaded.train_on_batch(x, y, return_dict=True)["loss"]
    assert got == pytest.approx(want, abs=1e-6)
    for a, b in zip(loaded.weights, model.weights, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)


def test_learnable_weighting_parameters_are_trained_and_not_probed():
    x, y = _data()
    model = _model()
    weighting = UncertaintyWeighting()
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse", loss_weighting=weighting)
    assert not {id(v) for v in weighting.trainable_weights} & {
        id(v) for v in model.shared_variables}
    before = [v.numpy().copy() for v in weighting.trainable_weights]
    model.fit(x, y, batch_size=48, epochs=2, verbose=0, shuffle=False)
    assert any(not np.allclose(a, v.numpy()) for a, v in
               zip(before, weighting.trainable_weights, strict=True))
