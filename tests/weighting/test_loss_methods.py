"""Loss weightings (UW, DWA, RLW, FAMO, GradNorm) against values derived by hand."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mtl.weighting import (
    DWAWeighting,
    FAMOWeighting,
    GradNormWeighting,
    RandomLossWeighting,
    UncertaintyWeighting,
)
from keras_mtl.weighting.dwa import dwa_weights
from keras_mtl.weighting.famo import famo_logit_gradient, famo_task_weights


def built(weighting, num_tasks):
    weighting.build(num_tasks)
    return weighting


# ----------------------------------------------------------------------------------------- UW
def test_uw_weights_are_exp_minus_s_and_the_loss_trains_s():
    weighting = built(UncertaintyWeighting(), 3)
    weighting.log_variances.assign([0.0, math.log(2.0), -1.0])
    losses = np.array([1.0, 4.0, 0.5], "float32")
    np.testing.assert_allclose(weighting.task_weights(losses).numpy(),
                               [1.0, 0.5, math.e], rtol=1e-6)
    with tf.GradientTape() as tape:
        loss = weighting.auxiliary_loss(losses, present=[True, True, False])
    # sum over present tasks of exp(-s) L + s: 1 + 0 + (0.5 * 4 + log 2)
    assert float(loss) == pytest.approx(1.0 + 2.0 + math.log(2.0), rel=1e-6)
    gradient = tape.gradient(loss, weighting.trainable_weights)[0].numpy()
    np.testing.assert_allclose(gradient, [1 - 1.0, 1 - 2.0, 0.0], atol=1e-6)  # 1 - exp(-s) L
    optimizer = keras.optimizers.SGD(0.5)

    @tf.function
    def train_step():
        with tf.GradientTape() as tape:
            loss = weighting.auxiliary_loss(losses)
        optimizer.apply_gradients(zip(tape.gradient(loss, weighting.trainable_weights),
                                      weighting.trainable_weights, strict=True))

    for _ in range(200):  # the stationary point is exp(s) = L
        train_step()
    np.testing.assert_allclose(weighting.task_weights(losses).numpy(), 1.0 / losses, rtol=1e-3)


# ---------------------------------------------------------------------------------------- DWA
def test_dwa_matches_the_paper_formula_on_a_given_history():
    weighting = built(DWAWeighting(temperature=2.0, window=2), 3)
    history = [[2.0, 1.0, 4.0], [2.0, 1.0, 4.0], [1.0, 1.0, 3.0], [1.0, 0.8, 3.0]]
    for step, losses in enumerate(history):
        weights = weighting.task_weights(np.array(losses, "float32")).numpy()
        if step < 4:
            np.testing.assert_array_equal(weights, np.ones(3))  # fewer than 2 windows stored
    # w_k = mean(last 2) / mean(2 before): 1/2, 0.9/1, 3/4; lambda = 3 softmax(w / 2)
    weights = weighting.task_weights(np.array([1.0, 1.0, 1.0], "float32")).numpy()
    ratios = np.array([0.5, 0.9, 0.75])
    expected = 3 * np.exp(ratios / 2) / np.exp(ratios / 2).sum()
    np.testing.assert_allclose(weights, expected, rtol=1e-6)
    np.testing.assert_allclose(dwa_weights(ratios, 2.0).numpy(), expected, rtol=1e-6)


def test_dwa_averages_a_task_over_the_steps_where_it_was_present():
    weighting = built(DWAWeighting(window=2), 2)
    steps = [([2.0, 4.0], [True, True]), ([0.0, 2.0], [False, True]),
             ([1.0, 1.0], [True, True]), ([1.0, 1.0], [True, True])]
    for losses, present in steps:
        weighting.task_weights(np.array(losses, "float32"), present=present)
    weights = weighting.task_weights(np.ones(2, "float32"), present=[True, False]).numpy()
    ratios = np.array([1.0 / 2.0, 1.0 / 3.0])  # task 0: its only earlier loss is 2
    expected = 2 * np.exp(ratios / 2) / np.exp(ratios / 2).sum()
    np.testing.assert_allclose(weights, [expected[0], 0.0], rtol=1e-6)


# ---------------------------------------------------------------------------------------- RLW
def test_rlw_is_a_seeded_softmax_of_normals():
    first, second = built(RandomLossWeighting(seed=5), 4), built(RandomLossWeighting(seed=5), 4)
    losses = np.ones(4, "float32")
    draws = []
    for step in range(3):
        weights = first.task_weights(losses).numpy()
        np.testing.assert_array_equal(weights, second.task_weights(losses).numpy())
        noise = tf.random.stateless_normal([4], seed=[5, step], alg="philox").numpy()
        np.testing.assert_allclose(weights, 4 * np.exp(noise) / np.exp(noise).sum(), rtol=1e-5)
        draws.append(weights)
    assert not np.allclose(draws[0], draws[1])
    other = built(RandomLossWeighting(seed=6), 4)
    assert not np.allclose(other.task_weights(losses).numpy(), draws[0])
    partial = first.task_weights(losses, present=[True, False, True, True]).numpy()
    assert partial[1] == 0 and partial.sum() == pytest.approx(3.0, rel=1e-6)


def test_rlw_weights_average_to_one():
    weighting = built(RandomLossWeighting(seed=0), 3)
    step = tf.function(lambda: weighting.task_weights(tf.ones(3)))
    weights = np.array([step().numpy() for _ in range(300)])
    np.testing.assert_allclose(weights.mean(axis=0), np.ones(3), atol=0.12)


# --------------------------------------------------------------------------------------- FAMO
def test_famo_two_task_update_by_hand():
    """Step 1: z = (1/2, 1/2), losses (1, 2): weights 2 (z/L) / sum(z/L) = (4/3, 2/3).
    Step 2, losses (0.5, 1.8): delta = (log 1 - log 0.5, log 2 - log 1.8); the logit gradient
    is z (delta - z.delta) = (+e, -e) with e = (delta_1 - delta_2) / 4; Adam's first step moves
    each logit by -beta * sign: logits (-beta, +beta)."""
    weighting = built(FAMOWeighting(beta=0.025, gamma=0.01), 2)
    np.testing.assert_allclose(weighting.task_weights([1.0, 2.0]).numpy(), [4 / 3, 2 / 3],
                               rtol=1e-6)
    delta = np.log([1.0, 2.0]) - np.log([0.5, 1.8])
    e = (delta[0] - delta[1]) / 4
    np.testing.assert_allclose(famo_logit_gradient([0.0, 0.0], delta).numpy(), [e, -e],
                               rtol=1e-6)
    weights = weighting.task_weights([0.5, 1.8]).numpy()
    np.testing.assert_allclose(weighting.logits.numpy(), [-0.025, 0.025], rtol=1e-4)
    z = np.exp([-0.025, 0.025]) / np.exp([-0.025, 0.025]).sum()
    ratio = z / np.array([0.5, 1.8])
    np.testing.assert_allclose(weights, 2 * ratio / ratio.sum(), rtol=1e-5)
    np.testing.assert_allclose(famo_task_weights([-0.025, 0.025], [0.5, 1.8]).numpy(), weights,
                               rtol=1e-6)


def test_famo_gives_weight_to_the_task_that_improves_less():
    weighting = built(FAMOWeighting(), 2)
    loss = np.array([1.0, 1.0], "float32")
    for _ in range(40):  # task 0 improves 10% a step, task 1 1%
        weighting.task_weights(loss)
        loss = loss * np.array([0.9, 0.99], "float32")
    logits = weighting.logits.numpy()
    assert logits[1] > logits[0]
    before = weighting.logits.numpy()
    weighting.task_weights([np.nan, 1.0])  # a bad batch leaves the state alone
    np.testing.assert_array_equal(weighting.logits.numpy(), before)


# ----------------------------------------------------------------------------------- GradNorm
def test_gradnorm_loss_and_update_direction_by_hand():
    """Norms (2, 1), initial losses (1, 1), current (1, 0.5): loss ratios (1, 0.5), relative
    r = (4/3, 2/3). Mean weighted norm 1.5; targets 1.5 r^1.5 = (2.309, 0.816). The L1 loss is
    |2 - 2.309| + |1 - 0.816| and its gradient is (-2, +1): the slower task's weight grows."""
    weighting = built(GradNormWeighting(alpha=1.5), 2)
    gram = np.diag([4.0, 1.0]).astype("float32")
    weighting.task_weights([1.0, 1.0], gram)  # records the initial losses
    np.testing.assert_allclose(weighting.initial_losses.numpy(), [1.0, 1.0])
    weights = weighting.task_weights([1.0, 0.5], gram).numpy()
    np.testing.assert_allclose(weights, [1.0, 1.0])
    with tf.GradientTape() as tape:
        loss = weighting.auxiliary_loss([1.0, 0.5], gram)
    targets = 1.5 * np.array([4 / 3, 2 / 3]) ** 1.5
    assert float(loss) == pytest.approx(abs(2 - targets[0]) + abs(1 - targets[1]), rel=1e-5)
    gradient = tape.gradient(loss, weighting.trainable_weights)[0].numpy()
    np.testing.assert_allclose(gradient, [-2.0, 1.0], rtol=1e-6)
    keras.optimizers.SGD(0.1).apply_gradients([(gradient, weighting.loss_weights)])
    renormalised = weighting.task_weights([1.0, 0.5], gram).numpy()
    np.testing.assert_allclose(renormalised, np.array([1.2, 0.9]) * 2 / 2.1, rtol=1e-5)
    assert renormalised.sum() == pytest.approx(2.0)
