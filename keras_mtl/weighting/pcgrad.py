"""PCGrad: projecting conflicting gradients (Yu et al., 2020)."""

import random

import keras
import tensorflow as tf

from keras_mtl.weighting.weighting import Weighting, active_tasks, add_state, masked_gram


def task_orders(num_tasks, seed):
    """`(T, T)` int32: row i is a random permutation of the tasks (stateless, from `seed`).

    Args:
        num_tasks: T (static).
        seed: `(2,)` int tensor, e.g. `[user_seed, step]`.
    """
    keys = tf.random.stateless_uniform([num_tasks, num_tasks], seed=seed, alg="philox")
    return tf.argsort(keys, axis=1, stable=True)


def pcgrad_coefficients(gram, order, present=None):
    """Coefficients of PCGrad's projected gradients over the original task gradients.

    For each task i, `g_i^PC` starts as `g_i`; for every other task j in the order of row i
    of `order`, if `<g_i^PC, g_j> < 0` it is projected onto the normal plane of `g_j`:
    `g_i^PC <- g_i^PC - <g_i^PC, g_j> / ||g_j||^2 g_j` (Yu et al., Algorithm 1). Each projected
    gradient is tracked as a coefficient row over the original gradients, `g_i^PC = sum_k
    C[i, k] g_k`, so only the Gram matrix is needed: `<g_i^PC, g_j> = (C G)[i, j]`, kept up to
    date incrementally. All rows advance together in a `tf.while_loop` of T steps (O(T^3) in
    all; the graph does not grow with T).

    Args:
        gram: `(T, T)` Gram matrix of the task gradients.
        order: `(T, T)` int; row i is a permutation of the tasks (entry i itself is skipped).
        present: optional `(T,)` bool; absent tasks get a zero row and are never projected on.

    Returns:
        `(T, T)` float32 `C`; PCGrad's update is `sum_i g_i^PC = sum_k (sum_i C[i, k]) g_k`.
    """
    gram = tf.convert_to_tensor(gram, tf.float32)
    num_tasks = gram.shape[0]
    mask = tf.ones([num_tasks]) if present is None else tf.cast(present, tf.float32)
    gram = masked_gram(gram, mask)
    active = active_tasks(gram, mask)
    squared = tf.linalg.diag_part(gram)
    inverse_squared = tf.where(active > 0, 1.0 / tf.where(active > 0, squared, 1.0), 0.0)
    order = tf.cast(order, tf.int32)
    rows = tf.range(num_tasks)
    coefficients = tf.linalg.diag(active)
    projected_gram = gram * active[:, None]  # (C G)[i, j] = <g_i^PC, g_j>

    def body(step, coefficients, projected_gram):
        other = order[:, step]
        dot = tf.gather(projected_gram, other[:, None], axis=1, batch_dims=1)[:, 0]
        usable = (other != rows) & (tf.gather(active, other) > 0) & (dot < 0.0)
        coefficient = tf.where(usable, -dot * tf.gather(inverse_squared, other), 0.0)
        pairs = tf.stack([rows, other], axis=1)
        coefficients = tf.tensor_scatter_nd_add(coefficients, pairs, coefficient)
        projected_gram += coefficient[:, None] * tf.gather(gram, other)
        return step + 1, coefficients, projected_gram

    _, coefficients, _ = tf.while_loop(
        lambda step, *_: step < num_tasks, body, (tf.constant(0), coefficients, projected_gram)
    )
    return coefficients


@keras.saving.register_keras_serializable(package="keras_mtl")
class PCGradWeighting(Weighting):
    """PCGrad ("gradient surgery"): project each task gradient off the ones it conflicts with.

    Every task gradient `g_i` is projected, in a random order of the other tasks, onto the
    normal plane of each `g_j` it has a negative inner product with; the update is the sum of
    the projected gradients, which equals the plain step when no pair conflicts (weights all
    ones). Applied to the gradient shares `g_t` the update is the paper's summed update scaled
    like the mean step. The order is random per task and per step, as in Algorithm 1 (the
    reference code also visits the task itself; we skip it, as the paper does). Present tasks
    with a zero gradient are neither projected on nor changed.

    Reference:
        Yu, Kumar, Gupta, Levine, Hausman, Finn, "Gradient Surgery for Multi-Task Learning",
        NeurIPS 2020, Algorithm 1 (projection `g_i <- g_i - (g_i . g_j) / ||g_j||^2 g_j` when
        `g_i . g_j < 0`). No hyperparameters.

    Args:
        seed: int seed of the random orders. The orders are stateless functions of
            `(seed, step)`, where `step` counts calls in a saved variable, so a resumed run
            continues the sequence. None draws a seed from Python's `random` at construction
            (reproducible under `keras.utils.set_random_seed`), saved in the config so that a
            loaded model continues the same sequence. XLA's random kernels give other orders
            than TensorFlow's for the same seed.

    Example:

    >>> import numpy as np
    >>> weighting = PCGradWeighting(seed=0)
    >>> weighting.build(2)
    >>> g = np.array([[1.0, 0.0], [-1.0, 1.0]], "float32")
    >>> weighting.task_weights(np.ones(2, "float32"), g @ g.T).numpy()
    array([2. , 1.5], dtype=float32)
    """

    needs_task_gradients = True
    stateful = True

    def __init__(self, seed=None, **kwargs):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"Expected `seed` to be an int or None. Received: seed={seed!r}")
        super().__init__(**kwargs)
        self.seed = seed
        self._seed_value = seed if seed is not None else random.randint(0, 2**31 - 1)

    def build(self, num_tasks):
        super().build(num_tasks)
        self.step = add_state(self, "step", (), dtype="int64")

    def random_orders(self):
        """The `(T, T)` orders of this step (advances the step counter)."""
        seed = tf.stack([tf.constant(self._seed_value, tf.int64), self.step.value])
        self.step.assign_add(1)
        return task_orders(self.num_tasks, seed)

    def task_weights(self, task_losses, gram=None, present=None):
        inputs = self.prepare_inputs(task_losses, gram, present)
        coefficients = pcgrad_coefficients(inputs.gram, self.random_orders(), inputs.present)
        return tf.reduce_sum(coefficients, axis=0) * inputs.mask

    def get_config(self):
        config = super().get_config()
        config["seed"] = self._seed_value  # the drawn seed, so a loaded model continues
        return config
