"""The base class of every task weighting, and the input conventions they share."""

import collections

import keras
import tensorflow as tf

WeightingInputs = collections.namedtuple(
    "WeightingInputs", ["losses", "gram", "present", "mask", "count", "finite"]
)
WeightingInputs.__doc__ = """Normalised inputs of `task_weights` (see `Weighting.prepare_inputs`).

Fields:
    losses: `(T,)` float32 task-mean losses, constant (gradient stopped), 0 for absent tasks.
    gram: `(T, T)` float32 symmetric Gram matrix with the rows and columns of absent tasks
        zeroed, or None.
    present: `(T,)` bool.
    mask: `present` as float32.
    count: scalar float32, the number of present tasks.
    finite: scalar bool, whether the losses and the Gram matrix were all finite. If not, both
        are replaced by zeros (TensorFlow's eigendecomposition raises on NaN; the training
        step skips such a batch anyway) and stateful methods leave their state unchanged.
"""


class Weighting(keras.layers.Layer):
    """Base class of the task weightings: per-task losses and gradients to per-task weights.

    A weighting returns one weight per task, `w`, and the training step applies
    `d = sum_t w_t g_t` to the shared variables, where `g_t` is task t's *share* of the plain
    step's gradient: `sum_t g_t` is exactly the gradient of the batch-mean loss, so the uniform
    weighting returns all ones. In a balanced one-task-per-sample batch of K rows,
    `g_t = grad(L_t) / K` is a uniform scaling of the task gradients; a method whose update is
    homogeneous of degree 1 in the gradients (PCGrad, CAGrad, MGDA, IMTL-G, Aligned-MTL, ...)
    applied to these shares gives the paper's update scaled like the plain mean step, and
    Nash-MTL, whose update does not depend on the gradients' scale, gives the paper's update
    unchanged. Methods defined on the mean of the task gradients or on the simplex (MGDA,
    CAGrad, IMTL-G, RLW, FAMO) are multiplied by the number of present tasks so that "no
    reweighting" is all ones here too.

    Gradient methods (`needs_task_gradients = True`) see the gradients only through their Gram
    matrix `gram[i, j] = <g_i, g_j>` (over the shared variables): every update is a combination
    `sum_t w_t g_t` whose coefficients are computed in T dimensions, so memory and cost do not
    depend on the number of parameters.

    Tasks absent from the batch (`present[t] == False`) have zero gradient and zero Gram rows;
    every weighting gives them weight 0, and no solver divides by their zero norm. A present task
    whose gradient is zero never produces NaN either (each method documents what it does). A
    non-finite loss or Gram matrix (a bad batch, which the training step skips) gives finite
    weights and leaves the state unchanged.

    The class is a Keras `Layer` only so that its state is tracked (saved in `.keras` files and
    restored on resume) and configured by `get_config`; it is never called through `__call__`.
    `build(num_tasks)` creates the state (non-trainable variables with
    `aggregation="only_first_replica"`, so that `task_weights` may assign them in a replica
    context of `MirroredStrategy`, where every replica sees identical inputs). Methods with
    learnable parameters (uncertainty weighting's log-variances, GradNorm's weights) expose
    them as `trainable_weights` and return from `auxiliary_loss` the scalar whose gradient
    trains them; the training step differentiates it and applies the gradients with its
    optimizer.

    Saving: a model that holds the weighting as an attribute tracks its variables (written to
    the weights file under the attribute's name); if the model serializes the weighting in its
    config with `keras.saving.serialize_keras_object`, the build config (`num_tasks`) comes
    along, so deserialization rebuilds the variables before the weights file restores them
    (tested with a subclassed model and `.keras` files on Keras 3.15).

    Args:
        **kwargs: base layer arguments (`name`, `dtype`).
    """

    needs_task_gradients = False
    stateful = False  # True: `build` creates variables, so it must run before `task_weights`

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.num_tasks = None

    def build(self, num_tasks):
        """Creates the state for `num_tasks` tasks (the base class creates none)."""
        self.num_tasks = validate_num_tasks(num_tasks)

    def task_weights(self, task_losses, gram=None, present=None):
        """Returns the `(T,)` float32 task weights (and may update the state).

        Called once per training step, inside a `tf.function` (also under `MirroredStrategy`
        after the cross-replica sum, with identical inputs on every replica).

        Args:
            task_losses: `(T,)` task-mean losses (0 for absent tasks), treated as constants.
            gram: `(T, T)` Gram matrix of the task gradients, or None when
                `needs_task_gradients` is False.
            present: `(T,)` bool, the tasks with rows in the batch; None means all.
        """
        raise NotImplementedError

    def auxiliary_loss(self, task_losses, gram=None, present=None):
        """Returns the scalar whose gradient trains `trainable_weights`, or None (default).

        Call it after `task_weights` in the same step (methods that renormalise their
        learnable weights do so in `task_weights`).
        """
        return None

    def __call__(self, *args, **kwargs):
        return self.call(*args, **kwargs)

    def call(self, *args, **kwargs):
        raise NotImplementedError(
            f"Expected `{type(self).__name__}.task_weights(task_losses, gram, present)`: a "
            "weighting is not called as a layer."
        )

    def prepare_inputs(self, task_losses, gram=None, present=None):
        """Casts, validates and masks the inputs of `task_weights`; builds stateless methods.

        Returns:
            A `WeightingInputs` tuple.
        """
        losses = tf.stop_gradient(tf.cast(tf.convert_to_tensor(task_losses), tf.float32))
        if losses.shape.rank != 1 or losses.shape[0] is None:
            raise ValueError(
                "Expected `task_losses` of static shape (num_tasks,). "
                f"Received: task_losses.shape={losses.shape}"
            )
        num_tasks = int(losses.shape[0])
        if not self.built:
            if self.stateful:
                raise ValueError(
                    f"Expected `{type(self).__name__}` to be built with `build(num_tasks)` "
                    "before `task_weights` (it keeps state in variables). "
                    f"Received: an unbuilt weighting and task_losses.shape={losses.shape}"
                )
            self.build(num_tasks)
        if self.num_tasks is not None and num_tasks != self.num_tasks:
            raise ValueError(
                f"Expected task_losses of shape ({self.num_tasks},), as built. "
                f"Received: task_losses.shape={losses.shape}"
            )
        if present is None:
            present = tf.ones([num_tasks], tf.bool)
        present = tf.cast(tf.convert_to_tensor(present), tf.bool)
        if present.shape.rank != 1 or present.shape[0] != num_tasks:
            raise ValueError(
                f"Expected `present` of shape ({num_tasks},). "
                f"Received: present.shape={present.shape}"
            )
        mask = tf.cast(present, tf.float32)
        losses = losses * mask
        finite = all_finite(losses)
        if gram is not None:
            gram = tf.stop_gradient(tf.cast(tf.convert_to_tensor(gram), tf.float32))
            if gram.shape.rank != 2 or gram.shape[0] != num_tasks or gram.shape[1] != num_tasks:
                raise ValueError(
                    f"Expected `gram` of shape ({num_tasks}, {num_tasks}). "
                    f"Received: gram.shape={gram.shape}"
                )
            gram = masked_gram(gram, mask)
            finite = finite & all_finite(gram)
            gram = tf.where(finite, gram, 0.0)
        elif self.needs_task_gradients:
            raise ValueError(
                f"Expected the Gram matrix of the task gradients for `{type(self).__name__}`. "
                "Received: gram=None"
            )
        losses = tf.where(finite, losses, 0.0)
        return WeightingInputs(losses, gram, present, mask, tf.reduce_sum(mask), finite)

    def get_build_config(self):
        if self.num_tasks is None:
            return None
        return {"num_tasks": self.num_tasks}

    def build_from_config(self, config):
        if config and config.get("num_tasks") is not None:
            self.build(config["num_tasks"])

    def get_config(self):
        return super().get_config()


def validate_num_tasks(num_tasks):
    """Returns `num_tasks` as a positive int or raises `ValueError`."""
    if isinstance(num_tasks, (tuple, list)) and len(num_tasks) == 1:
        num_tasks = num_tasks[0]  # a shape `(T,)`
    try:
        value = int(num_tasks)
    except (TypeError, ValueError):
        value = None
    if value is None or isinstance(num_tasks, bool) or value != num_tasks or value < 1:
        raise ValueError(
            f"Expected `num_tasks` to be a positive int. Received: num_tasks={num_tasks!r}"
        )
    return value


def masked_gram(gram, mask):
    """Symmetrises `gram` and zeroes the rows and columns of the tasks where `mask` is 0."""
    gram = 0.5 * (gram + tf.transpose(gram))
    return gram * mask[:, None] * mask[None, :]


def active_tasks(gram, mask, rtol=1e-12):
    """Present tasks whose gradient is not (numerically) zero: `gram[t, t] > rtol * max diag`.

    A squared-norm ratio of 1e-12 is a norm ratio of 1e-6, below float32 resolution of a Gram
    matrix dominated by the largest gradient.
    """
    diagonal = tf.maximum(tf.linalg.diag_part(gram), 0.0)
    largest = tf.reduce_max(diagonal)
    return tf.cast((diagonal > rtol * largest) & (diagonal > 0.0), tf.float32) * mask


def add_state(layer, name, shape, initializer="zeros", dtype="float32", trainable=False,
              aggregation=None):
    """Creates one state variable of a weighting (no autocast).

    Non-trainable state gets `aggregation="only_first_replica"`, so that `task_weights` can
    assign it in a replica context (every replica computes the same value); trainable
    variables default to Keras' `"none"` (the optimizer updates them).
    """
    if aggregation is None:
        aggregation = "none" if trainable else "only_first_replica"
    return layer.add_weight(
        name=name,
        shape=shape,
        initializer=initializer,
        dtype=dtype,
        trainable=trainable,
        autocast=False,
        aggregation=aggregation,
    )


def all_finite(*tensors):
    """Scalar bool: every value of every tensor is finite (state updates are skipped if not)."""
    checks = [tf.reduce_all(tf.math.is_finite(tf.cast(t, tf.float32))) for t in tensors]
    return tf.reduce_all(tf.stack(checks))


def validate_number(name, value, low=None, high=None, low_open=False, integer=False):
    """Validates a hyperparameter; returns it as float (or int). Raises `ValueError`."""
    try:
        number = int(value) if integer else float(value)
    except (TypeError, ValueError):
        number = None
    ok = number is not None and not isinstance(value, bool)
    if ok and integer:
        ok = number == value
    if ok and low is not None:
        ok = number > low if low_open else number >= low
    if ok and high is not None:
        ok = number <= high
    if not ok:
        if integer:
            kind = "an int"
        else:
            kind = "a float"
        bounds = []
        if low is not None:
            bounds.append(f"{'>' if low_open else '>='} {low}")
        if high is not None:
            bounds.append(f"<= {high}")
        bound_text = f" {' and '.join(bounds)}" if bounds else ""
        raise ValueError(f"Expected `{name}` to be {kind}{bound_text}. Received: {name}={value!r}")
    return number
