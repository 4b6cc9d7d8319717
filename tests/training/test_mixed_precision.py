"""Training under `mixed_float16` equals float32 training (the loss is scaled and unscaled)."""

import keras
import numpy as np
import pytest
from training_helpers import build_embedding_model, triplet_inputs

from keras_mtl.losses import TripletLoss


@pytest.fixture
def policy():
    yield keras.mixed_precision.set_global_policy
    keras.mixed_precision.set_global_policy("float32")


def _one_step(policy, probe, weighting="uniform", jit_compile=False):
    model = build_embedding_model()
    before = [v.numpy().copy() for v in model.trainable_variables]
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=TripletLoss(1.0), probe=probe,
                  loss_weighting=weighting, jit_compile=jit_compile)
    history = model.fit(triplet_inputs(), batch_size=36, epochs=1, verbose=0, shuffle=False)
    update = np.concatenate([(v.numpy() - b).ravel()
                             for v, b in zip(model.trainable_variables, before, strict=True)])
    return model, update, history.history


@pytest.mark.parametrize("probe, weighting, jit_compile", [
    ("off", "uniform", False), ("grouped", "uniform", False), ("full", "uniform", False),
    ("grouped", "mgda", False), ("off", "uniform", True), ("full", "uniform", True),
])
def test_mixed_float16_update_and_cosines_match_float32(policy, probe, weighting, jit_compile):
    policy("float32")
    _, want, want_logs = _one_step(policy, probe, weighting, jit_compile)
    policy("mixed_float16")
    model, got, got_logs = _one_step(policy, probe, weighting, jit_compile)
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert model.get_layer("shared").compute_dtype == "float16"
    # Before the fix every update was divided by the loss scale (32,768 x too small).
    assert np.linalg.norm(got - want) <= 0.01 * np.linalg.norm(want)
    if probe != "off":
        np.testing.assert_allclose(got_logs["grad_cosine"], want_logs["grad_cosine"], atol=1e-2)
        np.testing.assert_allclose(got_logs["grad_norm_task_0"], want_logs["grad_norm_task_0"],
                                   rtol=1e-2)


def test_mixed_float16_fit_lowers_the_loss_like_float32(policy):
    losses = {}
    for name in ("float32", "mixed_float16"):
        policy(name)
        model = build_embedding_model()
        model.compile(optimizer=keras.optimizers.SGD(0.05), loss=TripletLoss(1.0))
        history = model.fit(triplet_inputs(size=48), batch_size=36, epochs=8, verbose=0,
                            shuffle=False)
        losses[name] = history.history["loss"]
    assert losses["mixed_float16"][-1] < 0.8 * losses["mixed_float16"][0]
    # float16 rounding drifts slowly along the trajectory; the loss curves stay together.
    np.testing.assert_allclose(losses["mixed_float16"], losses["float32"], rtol=0.1)
