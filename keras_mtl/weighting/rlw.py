"""RLW: random loss weighting (Lin et al., 2022)."""

import random

import keras
import tensorflow as tf

from keras_mtl.weighting.weighting import Weighting, add_state


def random_loss_weights(noise, present=None):
    """RLW's weights from a draw `noise` (`(T,)`): `n * softmax(noise)` over the n present
    tasks (the paper's softmax of normal samples, scaled so that the mean weight is 1)."""
    noise = tf.convert_to_tensor(noise, tf.float32)
    mask = tf.ones_like(noise) if present is None else tf.cast(present, tf.float32)
    logits = tf.where(mask > 0, noise, -1e30)
    return tf.nn.softmax(logits) * mask * tf.reduce_sum(mask)


@keras.saving.register_keras_serializable(package="keras_mtl")
class RandomLossWeighting(Weighting):
    """Random loss weighting: new random task weights at every step.

    At every step the weights are `softmax(z)` with `z ~ N(0, I)` (the paper's default
    distribution), here times the number of present tasks n so that the expected weighting is
    the uniform one; absent tasks are left out of the softmax. A surprisingly strong baseline:
    in expectation the update is the plain step, and the noise helps escape sharp minima.

    Reference:
        Lin, Ye, Xu, Shi, Zhang, "Reasonable Effectiveness of Random Weighting: A Litmus Test
        for Multi-Task Learning", TMLR 2022, Sec. 3 (`lambda = softmax(lambda_tilde)`,
        `lambda_tilde ~ N(0, I)`). No hyperparameters besides the distribution.

    Args:
        seed: int seed. The draws are stateless normals keyed on `(seed, step)` with a saved
            step counter (identical on every replica, continued on resume). None draws a
            seed from Python's `random` at construction (saved in the config). XLA's
            random kernels give other draws than TensorFlow's for the same seed, so a
            `jit_compile=True` run follows another (equally seeded) sequence.

    Example:

    >>> weighting = RandomLossWeighting(seed=1)
    >>> weighting.build(3)
    >>> w = weighting.task_weights([1.0, 1.0, 1.0]).numpy()
    >>> bool(abs(w.sum() - 3.0) < 1e-5 and w.min() > 0)
    True
    """

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

    def draw(self, step):
        """The normal draw `z` of a given step (`(T,)`, Philox)."""
        seed = tf.stack([tf.constant(self._seed_value, tf.int64), tf.cast(step, tf.int64)])
        return tf.random.stateless_normal([self.num_tasks], seed=seed, alg="philox")

    def task_weights(self, task_losses, gram=None, present=None):
        inputs = self.prepare_inputs(task_losses, gram, present)
        noise = self.draw(self.step.value)
        self.step.assign_add(1)
        return random_loss_weights(noise, inputs.present)

    def get_config(self):
        config = super().get_config()
        config["seed"] = self._seed_value  # the drawn seed, so a loaded model continues
        return config
