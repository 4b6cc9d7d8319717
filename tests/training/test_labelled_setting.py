"""Every sample labelled for every task: one input, one output per task, missing labels."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mtl import MultiTaskModel
from keras_mtl.training import MISSING_LABEL


def _model(seed=0):
    x = keras.Input((4,), name="x")
    h = keras.layers.Dense(5, activation="tanh", name="trunk",
                           kernel_initializer=keras.initializers.GlorotUniform(seed))(x)
    outputs = {
        "digit": keras.layers.Dense(3, name="head_digit",
                                    kernel_initializer=keras.initializers.GlorotUniform(1))(h),
        "smile": keras.layers.Dense(1, name="head_smile",
                                    kernel_initializer=keras.initializers.GlorotUniform(2))(h),
    }
    return MultiTaskModel({"x": x}, outputs, task_names=["digit", "smile"],
                          task_specific_layers=["head_digit", "head_smile"])


LOSSES = {"digit": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
          "smile": keras.losses.BinaryCrossentropy(from_logits=True)}


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(10, 4)).astype("float32")
    digit = rng.integers(0, 3, 10).astype("int32")
    smile = rng.integers(0, 2, (10, 1)).astype("float32")
    digit[[1, 4]] = MISSING_LABEL  # not labelled for `digit`
    smile[[4, 7]] = np.nan  # not labelled for `smile`
    return {"x": x}, {"digit": digit, "smile": smile}


def _task_losses(model, x, y):
    """Per task: mean loss over the rows labelled for it (independent of the library)."""
    out = model(x)
    digit_rows = y["digit"] != MISSING_LABEL
    smile_rows = ~np.isnan(y["smile"][:, 0])
    return [
        LOSSES["digit"](y["digit"][digit_rows], tf.boolean_mask(out["digit"], digit_rows)),
        LOSSES["smile"](y["smile"][smile_rows], tf.boolean_mask(out["smile"], smile_rows)),
    ]


def _grads(model, x, y, variables):
    grads = []
    for task in range(2):
        with tf.GradientTape() as tape:
            loss = _task_losses(model, x, y)[task]
        grads.append([tf.zeros_like(v) if g is None else g
                      for g, v in zip(tape.gradient(loss, variables), variables, strict=True)])
    return grads


@pytest.mark.parametrize("labels_as", ["dict", "list"])
def test_update_is_sum_of_task_means_over_labelled_rows(labels_as):
    x, y = _data()
    reference = _model()
    variables = reference.trainable_variables
    grads = _grads(reference, x, y, variables)
    expected = [v.numpy() - 0.1 * (g0 + g1).numpy() for v, g0, g1 in
                zip(variables, *grads, strict=True)]
    model = _model()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=LOSSES)
    assert model.effective_probe == "full" and not model.takes_task_ids
    targets = y if labels_as == "dict" else [y["digit"], y["smile"]]
    history = model.fit(x, targets, batch_size=10, epochs=1, verbose=0)
    for got, want in zip(model.trainable_variables, expected, strict=True):
        np.testing.assert_allclose(got.numpy(), want, atol=1e-6)
    losses = [float(v) for v in _task_losses(reference, x, y)]
    np.testing.assert_allclose([history.history["loss_digit"][0],
                                history.history["loss_smile"][0]], losses, rtol=1e-5)
    # The probe: per-task gradients of the shared trunk, as separate tapes give them.
    shared = {id(v) for v in reference.shared_variables}
    flat = [np.concatenate([np.ravel(g) for g, v in zip(task, variables, strict=True)
                            if id(v) in shared]) for task in grads]
    cosine = flat[0] @ flat[1] / np.linalg.norm(flat[0]) / np.linalg.norm(flat[1])
    np.testing.assert_allclose(model.conflict_matrices()["cosine"][0, 1], cosine, atol=1e-5)
    np.testing.assert_allclose(history.history["grad_norm_smile"][0], np.linalg.norm(flat[1]),
                               rtol=1e-5)


def test_metrics_per_task_skip_missing_labels_and_weights_zero_too():
    x, y = _data()
    model = _model()
    model.compile(optimizer="sgd", loss=LOSSES, probe="off",
                  metrics={"digit": [keras.metrics.SparseCategoricalAccuracy("acc")],
                           "smile": [keras.metrics.BinaryAccuracy("acc", threshold=0.0)]})
    logs = model.evaluate(x, y, batch_size=5, verbose=0, return_dict=True)
    out = model.predict(x, verbose=0)
    rows = y["digit"] != MISSING_LABEL
    want = np.mean(np.argmax(out["digit"][rows], -1) == y["digit"][rows])
    assert logs["digit_acc"] == pytest.approx(want)
    rows = ~np.isnan(y["smile"][:, 0])
    want = np.mean((out["smile"][rows, 0] > 0) == (y["smile"][rows, 0] > 0.5))
    assert logs["smile_acc"] == pytest.approx(want)
    # A per-task sample weight of 0 marks a missing label as well.
    weights = {"digit": np.ones(10, "float32"), "smile": np.ones(10, "float32")}
    y2 = {"digit": np.where(y["digit"] < 0, 0, y["digit"]), "smile": np.nan_to_num(y["smile"])}
    weights["digit"][[1, 4]] = 0.0
    weights["smile"][[4, 7]] = 0.0
    logs2 = model.evaluate(x, y2, sample_weight=weights, batch_size=5, verbose=0,
                           return_dict=True)
    for key in ("loss_digit", "loss_smile", "digit_acc", "smile_acc"):
        assert logs2[key] == pytest.approx(logs[key], rel=1e-6), key


def test_labelled_model_saves_loads_and_trains_with_a_weighting(tmp_path):
    x, y = _data()
    model = _model()
    model.compile(optimizer="adam", loss=LOSSES, loss_weighting="mgda")
    model.fit(x, y, batch_size=10, epochs=2, verbose=0)
    path = str(tmp_path / "labelled.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.task_names == ["digit", "smile"] and not loaded.takes_task_ids
    np.testing.assert_allclose(loaded.predict(x, verbose=0)["digit"],
                               model.predict(x, verbose=0)["digit"], atol=1e-6)
    history = loaded.fit(x, y, batch_size=10, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def _representation_model():
    model = _model()
    return MultiTaskModel(model.input, model.output, task_names=model.task_names,
                          task_specific_layers=model.task_specific_layers,
                          representation_layer="trunk")


def test_representation_probe_uses_gradients_wrt_the_shared_representation():
    x, y = _data()
    model = _representation_model()
    trunk = keras.Model(model.input, model.get_layer("trunk").output)
    heads = {name: model.get_layer(f"head_{name}") for name in ("digit", "smile")}
    z = tf.convert_to_tensor(trunk(x))
    flat = []
    for task in range(2):  # independent: gradient of each task's mean loss w.r.t. Z
        with tf.GradientTape() as tape:
            tape.watch(z)
            out = {name: head(z) for name, head in heads.items()}
            rows = (y["digit"] != MISSING_LABEL) if task == 0 else ~np.isnan(y["smile"][:, 0])
            name = ("digit", "smile")[task]
            target = y[name][rows]
            loss = LOSSES[name](target, tf.boolean_mask(out[name], rows))
        flat.append(tape.gradient(loss, z).numpy().ravel())
    cosine = flat[0] @ flat[1] / np.linalg.norm(flat[0]) / np.linalg.norm(flat[1])
    before = [v.numpy().copy() for v in model.trainable_variables]
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=LOSSES, probe="representation")
    history = model.fit(x, y, batch_size=10, epochs=1, verbose=0)
    np.testing.assert_allclose(model.conflict_matrices()["cosine"][0, 1], cosine, atol=1e-5)
    np.testing.assert_allclose(history.history["grad_norm_digit"][0], np.linalg.norm(flat[0]),
                               rtol=1e-5)
    # The update is the plain one (uniform weighting): same as probe="off".
    plain = _model()
    plain.compile(optimizer=keras.optimizers.SGD(0.1), loss=LOSSES, probe="off")
    plain.fit(x, y, batch_size=10, epochs=1, verbose=0)
    for a, b, c in zip(model.trainable_variables, plain.trainable_variables, before,
                       strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)
        assert not np.array_equal(a.numpy(), c)


def test_mgda_ub_weights_come_from_the_representation_in_one_pass():
    from keras_mtl.weighting.mgda import min_norm_weights

    x, y = _data()
    model = _representation_model()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=LOSSES, probe="representation",
                  loss_weighting="mgda")
    reference = _model()
    variables = reference.trainable_variables
    grads = _grads(reference, x, y, variables)
    trunk = keras.Model(model.input, model.get_layer("trunk").output)
    z = tf.convert_to_tensor(trunk(x))
    zg = []
    for name in ("digit", "smile"):
        with tf.GradientTape() as tape:
            tape.watch(z)
            out = model.get_layer(f"head_{name}")(z)
            rows = (y["digit"] != MISSING_LABEL) if name == "digit" else ~np.isnan(
                y["smile"][:, 0])
            loss = LOSSES[name](y[name][rows], tf.boolean_mask(out, rows))
        zg.append(tape.gradient(loss, z).numpy().ravel())
    zg = np.stack(zg)
    weights = 2 * min_norm_weights(zg @ zg.T).numpy()
    expected = [v.numpy() - 0.1 * (weights[0] * g0 + weights[1] * g1).numpy()
                for v, g0, g1 in zip(variables, *grads, strict=True)]
    model.fit(x, y, batch_size=10, epochs=1, verbose=0)
    for got, want in zip(model.trainable_variables, expected, strict=True):
        np.testing.assert_allclose(got.numpy(), want, atol=1e-5)


def test_representation_probe_needs_a_layer():
    with pytest.raises(ValueError, match="Expected `representation_layer`"):
        _model().compile(optimizer="sgd", loss=LOSSES, probe="representation")
