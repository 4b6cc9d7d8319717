"""GradVac: gradient vaccine, adaptive similarity targets (Wang et al., 2021)."""

import random

import keras
import tensorflow as tf

from keras_mtl.weighting.pcgrad import task_orders
from keras_mtl.weighting.weighting import (
    Weighting,
    active_tasks,
    add_state,
    all_finite,
    masked_gram,
    validate_number,
)

_TARGET_LIMIT = 1.0 - 1e-6  # keeps sqrt(1 - target^2) away from 0


def gradvac_coefficients(gram, order, targets, beta=0.01, present=None):
    """Coefficients of GradVac's adjusted gradients, and the updated similarity targets.

    For each task i, `g_i'` starts as `g_i`; for every other task j in the order of row i of
    `order`, with `phi = cos(g_i', g_j)` and target `phi_T = targets[i, j]`: if `phi < phi_T`,
    `g_i' <- g_i' + ||g_i'|| (phi_T sqrt(1 - phi^2) - phi sqrt(1 - phi_T^2)) /
    (||g_j|| sqrt(1 - phi_T^2)) g_j`, which sets the cosine to exactly `phi_T` (Wang et al.,
    Eq. 2); then `targets[i, j] <- (1 - beta) targets[i, j] + beta phi` (Eq. 3). With all
    targets 0 this is PCGrad. As in `pcgrad_coefficients`, each `g_i'` is a coefficient row
    over the original gradients, with `(C G)` and `||g_i'||^2` updated incrementally, so the
    loop costs O(T^3) in all.

    Args:
        gram: `(T, T)` Gram matrix of the task gradients.
        order: `(T, T)` int; row i is a permutation of the tasks (entry i is skipped).
        targets: `(T, T)` current EMA targets of the pairwise cosines.
        beta: EMA rate in [0, 1].
        present: optional `(T,)` bool. Pairs with an absent or zero-gradient task are
            skipped: no adjustment and no target update (their cosine is undefined).

    Returns:
        `(coefficients, new_targets)`, both `(T, T)` float32; the update is
        `sum_k (sum_i coefficients[i, k]) g_k`.
    """
    gram = tf.convert_to_tensor(gram, tf.float32)
    targets = tf.convert_to_tensor(targets, tf.float32)
    num_tasks = gram.shape[0]
    mask = tf.ones([num_tasks]) if present is None else tf.cast(present, tf.float32)
    gram = masked_gram(gram, mask)
    active = active_tasks(gram, mask)
    squared = tf.linalg.diag_part(gram) * active
    norms = tf.sqrt(squared)
    order = tf.cast(order, tf.int32)
    rows = tf.range(num_tasks)
    coefficients = tf.linalg.diag(active)
    projected_gram = gram * active[:, None]
    own_squared = squared  # ||g_i'||^2

    def body(step, coefficients, projected_gram, own_squared, targets):
        other = order[:, step]
        valid = (other != rows) & (active > 0) & (tf.gather(active, other) > 0)
        dot = tf.gather(projected_gram, other[:, None], axis=1, batch_dims=1)[:, 0]
        own_norm = tf.sqrt(tf.maximum(own_squared, 0.0))
        other_norm = tf.gather(norms, other)
        denominator = tf.where(valid, own_norm * other_norm, 1.0)
        phi = tf.clip_by_value(tf.where(valid, dot / denominator, 0.0), -1.0, 1.0)
        target = tf.gather(targets, other[:, None], axis=1, batch_dims=1)[:, 0]
        clipped = tf.clip_by_value(target, -_TARGET_LIMIT, _TARGET_LIMIT)
        root_target = tf.sqrt(1.0 - clipped * clipped)
        adjust = valid & (phi < clipped)
        coefficient = (own_norm * (clipped * tf.sqrt(1.0 - phi * phi) - phi * root_target)
                       / tf.where(valid, other_norm * root_target, 1.0))
        coefficient = tf.where(adjust, coefficient, 0.0)
        pairs = tf.stack([rows, other], axis=1)
        coefficients = tf.tensor_scatter_nd_add(coefficients, pairs, coefficient)
        own_squared += 2.0 * coefficient * dot + coefficient * coefficient * tf.gather(squared,
                                                                                         other)
        projected_gram += coefficient[:, None] * tf.gather(gram, other)
        new_target = (1.0 - beta) * target + beta * phi
        targets = tf.tensor_scatter_nd_add(targets, pairs, tf.where(valid, new_target - target,
                                                                    0.0))
        return step + 1, coefficients, projected_gram, own_squared, targets

    _, coefficients, _, _, targets = tf.while_loop(
        lambda step, *_: step < num_tasks,
        body,
        (tf.constant(0), coefficients, projected_gram, own_squared, targets),
    )
    return coefficients, targets


@keras.saving.register_keras_serializable(package="keras_mtl")
class GradVacWeighting(Weighting):
    """GradVac ("gradient vaccine"): pull each pair of task gradients up to a target similarity.

    A generalisation of PCGrad: instead of only removing negative cosine similarity, every
    pair whose cosine is below an adaptive target (an exponential moving average of the
    pair's observed cosines, starting at 0) is adjusted so that its cosine equals the target.
    The update is the sum of the adjusted gradients (all ones when no pair is below target).
    The order over the other tasks is random per task and step (seeded), as in PCGrad. The
    targets are a `(T, T)` state variable, saved and restored; a step whose Gram matrix is not
    finite leaves them unchanged.

    Reference:
        Wang, Tsvetkov, Firat, Cao, "Gradient Vaccine: Investigating and Improving Multi-task
        Optimization in Massively Multilingual Models", ICLR 2021, Sec. 3.2: Eq. 2 (the
        adjustment) and Eq. 3 (EMA targets, `beta = 1e-2` in the paper; LibMTL defaults to
        0.5). The paper applies it per parameter group; we use all shared weights (one group).

    Args:
        beta: EMA rate of the targets, in [0, 1] (default 0.01).
        seed: int seed of the random orders, or None (see `PCGradWeighting`).

    Example:

    >>> import numpy as np
    >>> weighting = GradVacWeighting(beta=0.01, seed=0)
    >>> weighting.build(2)
    >>> g = np.array([[1.0, 0.0], [-1.0, 1.0]], "float32")
    >>> weighting.task_weights([1.0, 1.0], g @ g.T).numpy()  # targets 0: PCGrad
    array([2. , 1.5], dtype=float32)
    """

    needs_task_gradients = True
    stateful = True

    def __init__(self, beta=0.01, seed=None, **kwargs):
        beta = validate_number("beta", beta, low=0.0, high=1.0)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"Expected `seed` to be an int or None. Received: seed={seed!r}")
        super().__init__(**kwargs)
        self.beta = beta
        self.seed = seed
        self._seed_value = seed if seed is not None else random.randint(0, 2**31 - 1)

    def build(self, num_tasks):
        super().build(num_tasks)
        self.step = add_state(self, "step", (), dtype="int64")
        self.targets = add_state(self, "targets", (self.num_tasks, self.num_tasks))

    def task_weights(self, task_losses, gram=None, present=None):
        inputs = self.prepare_inputs(task_losses, gram, present)
        seed = tf.stack([tf.constant(self._seed_value, tf.int64), self.step.value])
        self.step.assign_add(1)
        old_targets = self.targets.value
        coefficients, targets = gradvac_coefficients(
            inputs.gram, task_orders(self.num_tasks, seed), old_targets, self.beta,
            inputs.present,
        )
        self.targets.assign(tf.where(inputs.finite & all_finite(targets), targets, old_targets))
        return tf.reduce_sum(coefficients, axis=0) * inputs.mask

    def get_config(self):
        config = super().get_config()
        config.update({"beta": self.beta, "seed": self._seed_value})  # the drawn seed too
        return config
