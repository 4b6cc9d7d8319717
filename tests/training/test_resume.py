"""Save, load, resume: a `.keras` file mid-training and BackupAndRestore after a crash."""

import keras
import numpy as np
import pytest

from keras_mtl.losses import TaskRelevanceLoss, TripletLoss, WeightPenalty, interleave_triplets
from keras_mtl.models import zhao_retrieval_net


def _model():
    keras.utils.set_random_seed(0)
    model = zhao_retrieval_net(3, input_shape=(48, 48, 3), width_multiplier=0.125,
                               embedding_dim=8, modulate_from="block5")
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=TripletLoss(0.5),
                  probe="grouped", probe_every=2, loss_weighting=[1.0, 0.5, 2.0],
                  regularizers=[WeightPenalty(TaskRelevanceLoss([(0, 1, 2)], weight=0.1),
                                              "modulation_block5")])
    return model


def _batches(count, triplets=6, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        batch = {k: rng.uniform(size=(triplets, 48, 48, 3)).astype("float32")
                 for k in ("anchor", "positive", "negative")}
        batch["task_id"] = (np.arange(triplets) % 3).astype("int32")
        out.append(interleave_triplets(batch))
    return out


def test_keras_file_saved_mid_training_resumes_identically(tmp_path):
    batches = _batches(6)
    uninterrupted = _model()
    want = [uninterrupted.train_on_batch(b, return_dict=True)["loss"] for b in batches]

    model = _model()
    for b in batches[:3]:
        model.train_on_batch(b)
    path = str(tmp_path / "mid.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)  # no custom_objects
    assert (loaded.probe, loaded.probe_every) == ("grouped", 2)
    assert int(loaded.optimizer.iterations.numpy()) == 3
    assert isinstance(loaded._regularizers[0], WeightPenalty)
    assert loaded.task_weighting.get_config()["weights"] == [1.0, 0.5, 2.0]
    got = [loaded.train_on_batch(b, return_dict=True)["loss"] for b in batches[3:]]
    np.testing.assert_allclose(got, want[3:], rtol=0, atol=1e-6)
    for a, b in zip(loaded.weights, uninterrupted.weights, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)


class _Crash(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if self.params and getattr(self, "epoch", 0) == 1 and batch == 1:
            raise RuntimeError("simulated crash")

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch


def test_backup_and_restore_after_a_crash_mid_epoch_matches_uninterrupted(tmp_path):
    data = {k: np.concatenate([b[k] for b in _batches(4, seed=1)]) for k in ("image", "task_id")}
    kwargs = dict(batch_size=18, epochs=3, verbose=0, shuffle=False)
    reference = _model()
    reference.fit(data, **kwargs)

    backup = str(tmp_path / "backup")
    model = _model()
    with pytest.raises(RuntimeError, match="simulated crash"):
        model.fit(data, callbacks=[keras.callbacks.BackupAndRestore(backup), _Crash()], **kwargs)
    restarted = _model()  # a new process would rebuild the model from code
    restarted.fit(data, callbacks=[keras.callbacks.BackupAndRestore(backup)], **kwargs)
    assert int(restarted.optimizer.iterations.numpy()) == int(
        reference.optimizer.iterations.numpy())
    for a, b in zip(restarted.weights, reference.weights, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)
