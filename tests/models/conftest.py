"""Shared checks for the model builders: forward pass, one training step, `.keras` round trip."""

import keras
import numpy as np
import pytest


def make_batch(model, batch_size=4, seed=0):
    """Random images matching the model's `image` input (and a check of `task_id`'s shape)."""
    rng = np.random.default_rng(seed)
    image_shape = tuple(model.get_layer("image").output.shape[1:])
    assert tuple(model.get_layer("task_id").output.shape) == (None,)
    images = rng.normal(size=(batch_size,) + image_shape).astype("float32")
    return images


@pytest.fixture
def exercise(keras_roundtrip):
    """Runs the contract checks every builder must pass and returns the forward outputs.

    1. forward pass on `{"image", "task_id"}`; 2. one training step: a plain
    `compile(optimizer, loss)` + `fit` (MSE on every output, random targets; eager by default to
    keep the suite fast, `run_eagerly=False` traces the step); 3. `.keras` save/load gives
    identical outputs.
    """

    def run(model, num_tasks, batch_size=4, loss="mse", run_eagerly=True):
        images = make_batch(model, batch_size)
        task_ids = (np.arange(batch_size) % num_tasks).astype("int32")
        inputs = {"image": images, "task_id": task_ids}
        outputs = model(inputs, training=False)
        flat = keras.tree.flatten(outputs)
        for out in flat:
            assert np.all(np.isfinite(keras.ops.convert_to_numpy(out)))
        rng = np.random.default_rng(1)
        targets = keras.tree.map_structure(
            lambda o: rng.normal(size=tuple(o.shape)).astype("float32"), outputs
        )
        losses = keras.tree.map_structure(lambda _: loss, outputs)
        before = [w.numpy().copy() for w in model.trainable_weights]
        model.compile(optimizer=keras.optimizers.SGD(0.01), loss=losses, run_eagerly=run_eagerly)
        history = model.fit(inputs, targets, batch_size=batch_size, epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][0])
        after = [w.numpy() for w in model.trainable_weights]
        assert any(not np.allclose(a, b) for a, b in zip(before, after, strict=True))
        expected = model(inputs, training=False)
        restored = keras_roundtrip(model)
        assert type(restored).__name__ == "MultiTaskModel"
        assert restored.task_names == model.task_names
        assert restored.task_specific_layers == model.task_specific_layers
        got = restored(inputs, training=False)
        for e, g in zip(keras.tree.flatten(expected), keras.tree.flatten(got), strict=True):
            np.testing.assert_allclose(e, g, rtol=1e-5, atol=1e-6)
        return outputs, inputs

    return run
