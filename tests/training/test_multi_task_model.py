"""MultiTaskModel: probe gradients vs separate tapes, updates, metrics, save/load."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from training_helpers import build_embedding_model, triplet_batch, triplet_inputs

from keras_mtl import MultiTaskModel
from keras_mtl.losses import TaskRelevanceLoss, TripletLoss, interleave_triplets, triplet_loss
from keras_mtl.training import ConflictMatrixCallback
from keras_mtl.weighting import FixedWeighting
from keras_mtl.weighting.mgda import min_norm_weights

MARGIN = 1.0


def _independent_task_grads(model, batch, variables):
    """Per task t: gradient of (sum of task-t triplet losses) / B, one separate tape each."""
    size = len(batch["task_id"])
    grads = []
    for task in range(model.num_tasks):
        rows = batch["task_id"] == task
        with tf.GradientTape() as tape:
            embed = [model({"image": batch[k][rows], "task_id": batch["task_id"][rows]})
                     for k in ("anchor", "positive", "negative")]
            loss = tf.reduce_sum(triplet_loss(*embed, margin=MARGIN)) / size
        grads.append([tf.convert_to_tensor(g) if g is not None else tf.zeros_like(v)
                      for g, v in zip(tape.gradient(loss, variables), variables, strict=True)])
    return grads


def _flat(grads):
    return np.concatenate([np.ravel(g) for g in grads])


def _cosine(a, b):
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.mark.parametrize("probe", ["grouped", "full"])
def test_probe_cosines_and_norms_match_separate_tapes(probe):
    model = build_embedding_model(task_names=["smile", "young", "mouth"])
    batch = triplet_batch()
    expected = [_flat(g) for g in _independent_task_grads(model, batch, model.shared_variables)]
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=TripletLoss(MARGIN), probe=probe)
    history = model.fit(interleave_triplets(batch), batch_size=36, epochs=1, verbose=0,
                        shuffle=False)
    matrices = model.conflict_matrices()
    for i in range(3):
        for j in range(3):
            if i != j:
                np.testing.assert_allclose(
                    matrices["cosine"][i, j], _cosine(expected[i], expected[j]), atol=1e-5)
                assert matrices["ucr"][i, j] == float(expected[i] @ expected[j] > 0)
    for name, grad in zip(["smile", "young", "mouth"], expected, strict=True):
        np.testing.assert_allclose(history.history[f"grad_norm_{name}"][0],
                                   np.linalg.norm(grad), rtol=1e-5)
    pairs = [_cosine(expected[i], expected[j]) for i, j in [(0, 1), (0, 2), (1, 2)]]
    np.testing.assert_allclose(history.history["grad_cosine"][0], np.mean(pairs), atol=1e-5)
    assert history.history["grad_conflict_frac"][0] == pytest.approx(
        np.mean([p < 0 for p in pairs]))


def test_shared_split_excludes_task_specific_weights():
    model = build_embedding_model()
    specific = model.task_specific_variables
    assert [v.path for v in specific] == [model.get_layer("mod").task_specific_weights[0].path]
    assert len(model.shared_variables) == len(model.trainable_variables) - 1
    named = MultiTaskModel(model.input, model.output, num_tasks=3, task_specific_layers=["embed"])
    assert len(named.task_specific_variables) == 3  # mod scale + embed kernel and bias
    named.shared_variables = named.trainable_variables[:2]
    assert len(named.task_specific_variables) == len(named.trainable_variables) - 2
    with pytest.raises(ValueError, match="Received unknown names"):
        MultiTaskModel(model.input, model.output, num_tasks=3, task_specific_layers=["nope"])


@pytest.mark.parametrize("probe", ["grouped", "full"])
def test_probe_update_equals_plain_full_batch_update(probe):
    batch = triplet_batch()
    models = {}
    for mode in ("off", probe):
        model = build_embedding_model()
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss=TripletLoss(MARGIN), probe=mode)
        model.fit(interleave_triplets(batch), batch_size=36, epochs=1, verbose=0, shuffle=False)
        models[mode] = model
    reference = build_embedding_model()
    variables = reference.trainable_variables
    with tf.GradientTape() as tape:
        embed = [reference({"image": batch[k], "task_id": batch["task_id"]})
                 for k in ("anchor", "positive", "negative")]
        loss = tf.reduce_mean(triplet_loss(*embed, margin=MARGIN))
    expected = [v.numpy() - 0.1 * tf.convert_to_tensor(g).numpy()
                for v, g in zip(variables, tape.gradient(loss, variables), strict=True)]
    for mode, model in models.items():
        for got, want in zip(model.trainable_variables, expected, strict=True):
            np.testing.assert_allclose(got.numpy(), want, atol=1e-6, err_msg=mode)


@pytest.mark.parametrize("probe", ["off", "grouped"])
def test_fixed_weights_scale_each_task_share(probe):
    weights = [2.0, 0.0, 0.5]
    batch = triplet_batch()
    reference = build_embedding_model()
    variables = reference.trainable_variables
    task_grads = _independent_task_grads(reference, batch, variables)
    expected = [v.numpy() - 0.1 * sum(w * g[i].numpy() for w, g in zip(weights, task_grads,
                                                                       strict=True))
                for i, v in enumerate(variables)]
    model = build_embedding_model()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=TripletLoss(MARGIN), probe=probe,
                  loss_weighting=weights)
    model.fit(interleave_triplets(batch), batch_size=36, epochs=1, verbose=0, shuffle=False)
    for got, want in zip(model.trainable_variables, expected, strict=True):
        np.testing.assert_allclose(got.numpy(), want, atol=1e-6)


def test_mgda_update_is_min_norm_combination_of_task_gradients():
    batch = triplet_batch()
    reference = build_embedding_model()
    variables = reference.trainable_variables
    task_grads = _independent_task_grads(reference, batch, variables)
    shared = {id(v) for v in reference.shared_variables}
    flat = np.stack([np.concatenate([np.ravel(g) for g, v in zip(grads, variables, strict=True)
                                     if id(v) in shared]) for grads in task_grads])
    weights = 3 * min_norm_weights(flat @ flat.T).numpy()
    assert not np.allclose(weights, 1.0, atol=1e-2)  # the weighting matters for this batch
    # Shared variables move along the min-norm combination; task-specific ones (the
    # modulation) along their own task's gradient, unweighted (Sener & Koltun, Alg. 2).
    expected = [v.numpy() - 0.1 * sum((w if id(v) in shared else 1.0) * g[i].numpy()
                                      for w, g in zip(weights, task_grads, strict=True))
                for i, v in enumerate(variables)]
    model = build_embedding_model()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=TripletLoss(MARGIN), probe="off",
                  loss_weighting="mgda")
    model.fit(interleave_triplets(batch), batch_size=36, epochs=1, verbose=0, shuffle=False)
    for got, want in zip(model.trainable_variables, expected, strict=True):
        np.testing.assert_allclose(got.numpy(), want, atol=1e-5)


@pytest.mark.parametrize("probe", ["off", "grouped", "full"])
def test_regularizer_gradient_is_added_once(probe):
    # Task-relevance regulariser (Zhao Eq. 8) on the modulation weights, perturbed so that the
    # hinge is active: its gradient must enter the update exactly once in every probe mode.
    relevance = TaskRelevanceLoss([(0, 1, 2)], margin=1.0, weight=0.5)
    batch = triplet_batch()
    start = np.array([[1.0] * 6, [1.5] * 6, [1.1] * 6], "float32")
    reference = build_embedding_model()
    reference.get_layer("mod").task_specific_weights[0].assign(start)
    variables = reference.trainable_variables
    with tf.GradientTape() as tape:
        embed = [reference({"image": batch[k], "task_id": batch["task_id"]})
                 for k in ("anchor", "positive", "negative")]
        loss = tf.reduce_mean(triplet_loss(*embed, margin=MARGIN)) + relevance(
            None, reference.get_layer("mod").task_specific_weights[0])
    expected = [v.numpy() - 0.1 * tf.convert_to_tensor(g).numpy()
                for v, g in zip(variables, tape.gradient(loss, variables), strict=True)]
    model = build_embedding_model()
    model.get_layer("mod").task_specific_weights[0].assign(start)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=TripletLoss(MARGIN), probe=probe,
                  regularizers=[lambda m: relevance(
                      None, m.get_layer("mod").task_specific_weights[0])])
    model.fit(interleave_triplets(batch), batch_size=36, epochs=1, verbose=0, shuffle=False)
    for got, want in zip(model.trainable_variables, expected, strict=True):
        np.testing.assert_allclose(got.numpy(), want, atol=1e-6)


def _regression_model(num_tasks=2):
    x = keras.Input((3,), name="x")
    task_id = keras.Input((), dtype="int32", name="task_id")
    y = keras.layers.Dense(1, kernel_initializer="zeros", name="shared")(x)
    return MultiTaskModel({"x": x, "task_id": task_id}, y, num_tasks=num_tasks)


@pytest.mark.parametrize("sign, expected", [(-1.0, -1.0), (1.0, 1.0)])
def test_opposed_tasks_conflict_and_identical_tasks_agree(sign, expected):
    rng = np.random.default_rng(1)
    features = rng.normal(size=(8, 3)).astype("float32")
    target = features @ np.array([1.0, -2.0, 0.5], "float32")
    x = {"x": np.concatenate([features, features]),
         "task_id": np.repeat([0, 1], 8).astype("int32")}
    y = np.concatenate([target, sign * target])[:, None]
    model = _regression_model()
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    history = model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert history.history["grad_cosine"][0] == pytest.approx(expected, abs=1e-5)
    assert history.history["ucr"][0] == (1.0 if expected > 0 else 0.0)
    assert history.history["grad_conflict_frac"][0] == (1.0 if expected < 0 else 0.0)


def _two_head_model():
    x = keras.Input((4,), name="x")
    task_id = keras.Input((), dtype="int32", name="task_id")
    h = keras.layers.Dense(5, activation="relu", name="trunk",
                           kernel_initializer=keras.initializers.GlorotUniform(3))(x)
    heads = {"a": keras.layers.Dense(3, name="head_a",
                                     kernel_initializer=keras.initializers.GlorotUniform(4))(h),
             "b": keras.layers.Dense(2, name="head_b",
                                     kernel_initializer=keras.initializers.GlorotUniform(5))(h)}
    return MultiTaskModel({"x": x, "task_id": task_id}, heads, task_names=["a", "b"],
                          task_specific_layers=["head_a", "head_b"])


def _head_data():
    rng = np.random.default_rng(2)
    x = {"x": rng.normal(size=(10, 4)).astype("float32"),
         "task_id": np.array([0, 1] * 5, "int32")}
    y = np.where(x["task_id"] == 0, rng.integers(0, 3, 10), rng.integers(0, 2, 10))
    return x, y.astype("int32")


def test_per_task_heads_losses_match_keras_on_own_rows():
    model = _two_head_model()
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(True))
    x, y = _head_data()
    logs = model.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)
    outputs = model.predict(x, verbose=0)
    scce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    for task, name in enumerate("ab"):
        rows = x["task_id"] == task
        want = float(scce(y[rows], outputs[name][rows]))
        assert logs[f"loss_{name}"] == pytest.approx(want, rel=1e-5)
    assert logs["loss"] == pytest.approx(
        np.mean([float(scce(y[i:i + 1], outputs["ab"[x["task_id"][i]]][i:i + 1]))
                 for i in range(10)]), rel=1e-5)


def test_per_task_heads_grouped_and_full_cosines_agree():
    x, y = _head_data()
    cosines = []
    for probe in ("grouped", "full"):
        model = _two_head_model()
        assert len(model.shared_variables) == 2
        model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(True),
                      probe=probe)
        model.fit(x, y, batch_size=10, epochs=1, verbose=0)
        cosines.append(model.conflict_matrices()["cosine"][0, 1])
    np.testing.assert_allclose(cosines[0], cosines[1], atol=1e-5)


def test_batch_norm_falls_back_to_full_with_warning():
    model = build_embedding_model(batch_norm=True)
    with pytest.warns(UserWarning, match="BatchNormalization"):
        model.compile(optimizer="sgd", loss=TripletLoss(MARGIN), probe="grouped")
    assert model.effective_probe == "full"


def test_no_shared_variables_turns_the_probe_off_with_warning():
    from keras_mtl.models import zhao_retrieval_net

    itn = zhao_retrieval_net(2, method="itn", input_shape=(48, 48, 3), width_multiplier=0.125,
                             embedding_dim=8)
    assert itn.shared_variables == []  # independent networks: nothing to conflict over
    with pytest.warns(UserWarning, match="no shared trainable variables"):
        itn.compile(optimizer="sgd", loss=TripletLoss(MARGIN), probe="grouped")
    assert itn.effective_probe == "off"

    model = build_embedding_model()
    model.shared_variables = []
    with pytest.warns(UserWarning, match="no shared trainable variables"):
        model.compile(optimizer="sgd", loss=TripletLoss(MARGIN), probe="full")
    history = model.fit(triplet_inputs(size=12), batch_size=18, epochs=1, verbose=0,
                        shuffle=False)
    assert "ucr" not in history.history and "loss" in history.history


def test_probe_every_k_and_epoch_reset(tmp_path):
    model = build_embedding_model()
    model.compile(optimizer="sgd", loss=TripletLoss(MARGIN), probe="grouped", probe_every=2)
    batch = triplet_inputs(size=30)
    callback = ConflictMatrixCallback(output_dir=str(tmp_path), log_dir=str(tmp_path / "logs"))
    csv = tmp_path / "log.csv"
    history = model.fit(batch, batch_size=18, epochs=2, verbose=0, shuffle=False,
                        validation_data=(triplet_inputs(size=6, seed=1),),
                        callbacks=[callback, keras.callbacks.CSVLogger(str(csv))])
    # Epoch 2 holds global steps 5..9: probed at 6 and 8 only; counts reset at the epoch start
    # and not by the validation run at its end.
    assert model.conflict_matrices()["probed_batches"][0, 1] == 2
    assert "val_loss_task_1" in history.history and "val_triplet_accuracy" in history.history
    assert "val_grad_cosine" not in history.history
    assert len(callback.history) == 2
    saved = np.load(tmp_path / "conflict_epoch_001.npz")
    np.testing.assert_array_equal(saved["ucr"], callback.history[1]["ucr"])
    for stem in ("cosine_epoch_000.csv", "ucr_epoch_001.csv", "conflict_epoch_001.png"):
        assert (tmp_path / stem).stat().st_size > 0
    assert os.listdir(tmp_path / "logs" / "conflict")
    header = csv.read_text().splitlines()[0].split(",")
    for name in ("loss_task_0", "grad_cosine", "grad_conflict_frac", "ucr", "grad_norm_task_2",
                 "triplet_accuracy"):
        assert name in header


def test_save_and_load_keeps_probe_configuration(tmp_path):
    model = build_embedding_model(task_names=["x", "y", "z"])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss=TripletLoss(0.3), probe="full",
                  probe_every=3, loss_weighting=[1.0, 2.0, 0.5])
    model.fit(triplet_inputs(), batch_size=36, epochs=1, verbose=0, shuffle=False)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, MultiTaskModel)
    assert (loaded.probe, loaded.probe_every) == ("full", 3)
    assert isinstance(loaded.task_weighting, FixedWeighting)
    assert loaded.task_weighting.get_config()["weights"] == [1.0, 2.0, 0.5]
    assert loaded.task_names == ["x", "y", "z"]
    assert loaded.plan.heads[0].loss.margin == pytest.approx(0.3)
    for a, b in zip(model.weights, loaded.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    history = loaded.fit(triplet_inputs(), batch_size=36, epochs=1, verbose=0, shuffle=False)
    assert "grad_norm_y" in history.history


def test_invalid_arguments_raise_keras_style_errors():
    model = build_embedding_model()
    with pytest.raises(ValueError, match="Expected `probe`.*Received: probe='sometimes'"):
        model.compile(optimizer="sgd", probe="sometimes")
    with pytest.raises(ValueError, match="Expected `probe_every`"):
        model.compile(optimizer="sgd", probe_every=0)
    with pytest.raises(ValueError, match="Expected jit_compile=False"):
        model.compile(optimizer="sgd", probe="grouped", jit_compile=True)
    with pytest.raises(ValueError, match="Expected `num_tasks` to equal"):
        MultiTaskModel(model.input, model.output, num_tasks=2, task_names=["a", "b", "c"])
