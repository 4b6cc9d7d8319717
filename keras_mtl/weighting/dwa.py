"""DWA: dynamic weight average (Liu et al., 2019)."""

import keras
import tensorflow as tf

from keras_mtl.weighting.weighting import Weighting, add_state, validate_number


def dwa_weights(ratios, temperature=2.0):
    """DWA's weights from the loss descent ratios: `T * softmax(ratios / temperature)`.

    Args:
        ratios: `(T,)` `L_t(previous) / L_t(before that)`.
        temperature: softmax temperature.
    """
    ratios = tf.convert_to_tensor(ratios, tf.float32)
    return ratios.shape[0] * tf.nn.softmax(ratios / temperature)


def window_means(losses, presence):
    """Per-task means of the losses over the rows of a `(W, T)` window, counting only the
    rows where the task was present; 0 where it never was. Returns `(means, counts)`."""
    counts = tf.reduce_sum(presence, axis=0)
    return tf.math.divide_no_nan(tf.reduce_sum(losses * presence, axis=0), counts), counts


@keras.saving.register_keras_serializable(package="keras_mtl")
class DWAWeighting(Weighting):
    """Dynamic weight average: weight each task by how slowly its loss has been decreasing.

    With `w_t = L_t(previous) / L_t(before that)`, the weights are
    `lambda_t = T exp(w_t / temperature) / sum_i exp(w_i / temperature)`: a task whose loss
    fell less gets more weight. The paper measures `L` per epoch; a weighting is called once per
    step and cannot see epoch boundaries, so, like the Nash-MTL benchmark code's adaptation,
    `L` is the mean loss over a sliding window of `window` steps: the ratio compares the last
    `window` steps with the `window` before them (set `window` to the steps per epoch to
    compare epoch-sized averages). Until `2 * window` steps are stored the weights are 1 (the
    paper's first two epochs). The weights of a step use only the losses of earlier steps; a
    task absent from some steps is averaged over the steps where it was present (ratio 1 if it
    has no loss in one of the windows). The loss history is a `(2 * window, T)` state
    variable; a step with non-finite losses is not recorded.

    Reference:
        Liu, Johns, Davison, "End-to-End Multi-Task Learning with Attention", CVPR 2019,
        Sec. 3.3 (Dynamic Weight Average, temperature 2); window 25 steps in the Nash-MTL
        benchmark code (`iteration_window`).

    Args:
        temperature: softmax temperature (default 2.0).
        window: steps per loss average (default 25).

    Example:

    >>> weighting = DWAWeighting(window=1)
    >>> weighting.build(2)
    >>> for losses in ([1.0, 1.0], [0.5, 1.0]):
    ...     _ = weighting.task_weights(losses)
    >>> weighting.task_weights([0.4, 1.0]).numpy().round(4)  # ratios 0.5 and 1
    array([0.8756, 1.1244], dtype=float32)
    """

    stateful = True

    def __init__(self, temperature=2.0, window=25, **kwargs):
        temperature = validate_number("temperature", temperature, low=0.0, low_open=True)
        window = validate_number("window", window, low=1, integer=True)
        super().__init__(**kwargs)
        self.temperature = temperature
        self.window = window

    def build(self, num_tasks):
        super().build(num_tasks)
        shape = (2 * self.window, self.num_tasks)
        self.loss_history = add_state(self, "loss_history", shape)
        self.presence_history = add_state(self, "presence_history", shape)
        self.steps = add_state(self, "steps", (), dtype="int64")

    def task_weights(self, task_losses, gram=None, present=None):
        inputs = self.prepare_inputs(task_losses, gram, present)
        losses, presence = self.loss_history.value, self.presence_history.value
        older, older_counts = window_means(losses[: self.window], presence[: self.window])
        recent, recent_counts = window_means(losses[self.window:], presence[self.window:])
        usable = (older_counts > 0) & (recent_counts > 0) & (older > 0)
        ratios = tf.where(usable, recent / tf.where(usable, older, 1.0), 1.0)
        full = self.steps.value >= 2 * self.window
        weights = tf.where(full, dwa_weights(ratios, self.temperature), tf.ones_like(ratios))
        record = inputs.finite
        self.loss_history.assign(
            tf.where(record, tf.concat([losses[1:], inputs.losses[None]], axis=0), losses)
        )
        self.presence_history.assign(
            tf.where(record, tf.concat([presence[1:], inputs.mask[None]], axis=0), presence)
        )
        self.steps.assign_add(tf.cast(record, tf.int64))
        return weights * inputs.mask

    def get_config(self):
        config = super().get_config()
        config.update({"temperature": self.temperature, "window": self.window})
        return config
