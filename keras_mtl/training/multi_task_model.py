"""The package's multi-task `keras.Model` with a gradient-conflict probe in `train_step`."""

import warnings

import keras
import tensorflow as tf

from keras_mtl.metrics.triplet_accuracy import TripletAccuracy
from keras_mtl.training import conflict_metrics, gradient_probe, variable_split
from keras_mtl.training import loss_weighting as weighting_lib
from keras_mtl.training import task_losses as task_losses_lib

PROBES = ("off", "grouped", "full")


@keras.saving.register_keras_serializable(package="keras_mtl")
class MultiTaskModel(keras.Model):
    """A functional `keras.Model` for task-conditioned multi-task networks.

    Built like any functional model; inputs are a dict holding the task of each sample under
    `task_id_key`. `fit` accepts two kinds of batches:

    - triplets `{"anchor", "positive", "negative", "task_id"}` (no targets): the three images go
      through the model in one call (task ids tiled) and the triplet loss is applied per task;
    - supervised `(x, y)` with `x` the model's input dict: each sample's loss is computed for its
      own task, from its task's output when the model has one output per task (a dict keyed by
      task name or a list of `num_tasks` outputs), else from the single output.

    While training, a gradient-conflict probe measures destructive interference (Zhao et al.
    Eq. 2) on the shared variables: per-task gradients of the shared variables give
    `grad_cosine` (mean pairwise cosine), `grad_conflict_frac` (fraction of task pairs with a
    negative inner product), `ucr` (Update Compliance Ratio, per epoch) and `grad_norm_<task>`;
    `loss_<task>` is logged in any case. `conflict_matrices()` returns the T x T matrices
    (see `ConflictMatrixCallback`).

    Probe modes (`compile(probe=...)`):
    - `"grouped"` (default): the batch is split by task id (`tf.dynamic_partition`), each group
      goes forward and backward once, each group's shared gradient is kept and their sum is
      applied, which equals the full-batch gradient. Total work is about one forward and one
      backward of the batch. Exact only when rows do not interact: with a trainable
      `BatchNormalization` the model falls back to `"full"` with a warning. Group sizes are
      data-dependent, so the train step is not XLA-compiled (`jit_compile` must be False).
    - `"full"`: one forward pass and one backward pass per task over the whole batch; exact for
      any model, T times the backward cost.
    - `"off"`: a plain step.

    Reference:
        Zhao et al., "A Modulation Module for Multi-task Learning with Applications in Image
        Retrieval", ECCV 2018, Sec. 3.1 (Eq. 2, UCR) and Eq. 6.

    Args:
        inputs, outputs: as for a functional `keras.Model`.
        task_names: optional list of task names (used in metric names); defaults to
            `task_<i>`.
        num_tasks: number of tasks T (inferred from `task_names` when given).
        task_specific_layers: names of layers whose weights belong to individual tasks (heads,
            independent branches). These and every layer's `task_specific_weights` form the
            task-specific set; all other trainable variables are shared. Override at run time
            with the `shared_variables` / `task_specific_variables` setters.
        task_id_key: key of the task ids in the input dict, default `"task_id"`.
        name: model name.

    Example:
    >>> image = keras.Input((8, 8, 3), name="image")
    >>> task_id = keras.Input((), dtype="int32", name="task_id")
    >>> x = keras.layers.Dense(4)(keras.layers.Flatten()(image))
    >>> model = MultiTaskModel({"image": image, "task_id": task_id}, x, num_tasks=2)
    >>> model.compile(optimizer="sgd", loss=TripletLoss(0.2), probe="grouped")
    >>> model.fit({"anchor": a, "positive": p, "negative": n, "task_id": t}, epochs=1)
    """

    def __init__(self, *args, **kwargs):
        task_names = kwargs.pop("task_names", None)
        num_tasks = kwargs.pop("num_tasks", None)
        task_specific_layers = kwargs.pop("task_specific_layers", None)
        task_id_key = kwargs.pop("task_id_key", "task_id")
        super().__init__(*args, **kwargs)
        if task_names is not None:
            task_names = [str(n) for n in task_names]
            if num_tasks is not None and num_tasks != len(task_names):
                raise ValueError(
                    "Expected `num_tasks` to equal len(task_names). Received: "
                    f"num_tasks={num_tasks}, task_names={task_names}"
                )
            num_tasks = len(task_names)
        if num_tasks is not None and (not isinstance(num_tasks, int) or num_tasks < 1):
            raise ValueError(f"Expected `num_tasks` to be a positive int. Received: {num_tasks}")
        self._task_names_arg = task_names
        self._num_tasks = num_tasks
        self.task_specific_layers = list(task_specific_layers or [])
        self.task_id_key = task_id_key
        self._split_override = None
        variable_split.task_specific_variables(self, self.task_specific_layers)  # validates

    # ----------------------------------------------------------------------- tasks, variables
    @property
    def num_tasks(self):
        return self._num_tasks

    @property
    def task_names(self):
        if self._task_names_arg is not None:
            return list(self._task_names_arg)
        return [f"task_{i}" for i in range(self._num_tasks or 0)]

    @property
    def task_specific_variables(self):
        """Trainable variables that belong to individual tasks (not probed)."""
        if self._split_override is not None:
            return list(self._split_override)
        return variable_split.task_specific_variables(self, self.task_specific_layers)

    @task_specific_variables.setter
    def task_specific_variables(self, variables):
        self._split_override = list(variables)
        self.train_function = None

    @property
    def shared_variables(self):
        """Trainable variables shared by the tasks: the probe's gradients live here."""
        specific = {id(v) for v in self.task_specific_variables}
        return [v for v in self.trainable_variables if id(v) not in specific]

    @shared_variables.setter
    def shared_variables(self, variables):
        shared = {id(v) for v in variables}
        self.task_specific_variables = [v for v in self.trainable_variables if id(v) not in shared]

    # ------------------------------------------------------------------------------- compile
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, probe="grouped",
                probe_every=1, loss_weighting="uniform", regularizers=None, **kwargs):
        """Configures training.

        Args:
            optimizer: a Keras optimizer or its name.
            loss: for triplet batches a loss taking `y_pred` of shape `(batch, 3, dim)`
                (default `TripletLoss()`); for supervised batches one loss (name or instance)
                for every task, or a dict `{task_name: loss}` / list of T losses.
            metrics: task-quality metrics updated per task (`TripletAccuracy` is added for
                triplet batches; `PerTask*` metrics receive the task ids).
            probe: `"grouped"` (default), `"full"` or `"off"`.
            probe_every: probe every k-th step (metrics average over probed steps).
            loss_weighting: `"uniform"`, a list of T weights, `"mgda"` or a `LossWeighting`.
            regularizers: callables `fn(model) -> scalar` added to the objective (e.g. the
                task-relevance regulariser on modulation weights). Not saved with the model.
            **kwargs: passed to `keras.Model.compile` (`steps_per_execution`, `jit_compile`,
                `run_eagerly`).
        """
        if self._num_tasks is None:
            raise ValueError(
                "Expected `num_tasks` or `task_names` in the MultiTaskModel constructor. "
                "Received: num_tasks=None"
            )
        if probe not in PROBES:
            raise ValueError(f"Expected `probe` to be one of {PROBES}. Received: probe={probe!r}")
        if not isinstance(probe_every, int) or probe_every < 1:
            raise ValueError(
                f"Expected `probe_every` to be a positive int. Received: probe_every={probe_every}"
            )
        weighting = weighting_lib.get(loss_weighting)
        if probe != "off" and self.built and not self.shared_variables:
            warnings.warn(
                "The model has no shared trainable variables (all are task-specific, e.g. "
                "independent networks or one column per task), so gradient conflict between "
                "tasks is undefined. Using probe='off' instead of "
                f"{probe!r}.",
                stacklevel=2,
            )
            probe = "off"
        exact_grouped = not variable_split.has_cross_row_layers(self)
        gradient_mode = probe
        if probe == "grouped" and not exact_grouped:
            warnings.warn(
                "The model has a trainable BatchNormalization layer, so per-task sub-batch "
                "gradients are not exact. Using probe='full' instead of 'grouped'.",
                stacklevel=2,
            )
            gradient_mode = "full"
        if probe == "off" and weighting.needs_task_gradients:
            gradient_mode = "grouped" if exact_grouped else "full"
        jit_compile = kwargs.pop("jit_compile", "auto")
        if gradient_mode == "grouped":
            if jit_compile is True:
                raise ValueError(
                    "Expected jit_compile=False with the grouped probe (its task groups have "
                    "data-dependent sizes, which XLA cannot compile). Received: jit_compile=True"
                )
            jit_compile = False
        super().compile(optimizer=optimizer, jit_compile=jit_compile, **kwargs)
        self.probe = probe
        self.probe_every = probe_every
        self.task_weighting = weighting
        self._gradient_mode = gradient_mode
        self._task_loss = loss
        self._losses_per_task = task_losses_lib.resolve_losses(loss, self.task_names)
        self._regularizers = list(regularizers or [])
        num_tasks = self._num_tasks
        # A plain holder: Keras would auto-track metrics assigned as attributes or lists and
        # list them in `self.metrics` (evaluate would then reset the probe's epoch state).
        state = _MetricState()
        state.user_metrics = list(metrics or [])
        state.task_metrics = [_get_metric(m) for m in state.user_metrics]
        state.task_losses = conflict_metrics.PerTaskMean(self.task_names, "loss_")
        state.triplet_accuracy = TripletAccuracy(num_tasks)
        state.seen_triplets = False
        state.probe = [
            conflict_metrics.PairwiseGradientCosine(num_tasks),
            conflict_metrics.ConflictFraction(),
            conflict_metrics.UpdateComplianceRatio(num_tasks),
            conflict_metrics.PerTaskMean(self.task_names, "grad_norm_"),
        ]
        self._mtl_metrics = state
        self._compile_kwargs = dict(kwargs, jit_compile=jit_compile)
        self._in_evaluate = False

    @property
    def metrics(self):
        metrics = super().metrics
        state = getattr(self, "_mtl_metrics", None)
        if self.compiled and state is not None:
            metrics = metrics + [state.task_losses] + state.task_metrics
            if state.seen_triplets:
                metrics.append(state.triplet_accuracy)
        return metrics

    def reset_metrics(self):
        super().reset_metrics()
        state = getattr(self, "_mtl_metrics", None)
        if state is not None and not getattr(self, "_in_evaluate", False):
            for metric in state.probe:
                metric.reset_state()

    def evaluate(self, *args, **kwargs):
        # Validation inside `fit` resets metrics; the probe's epoch state must survive it.
        self._in_evaluate = True
        try:
            return super().evaluate(*args, **kwargs)
        finally:
            self._in_evaluate = False

    @property
    def effective_probe(self):
        """How per-task gradients are computed: `"grouped"`, `"full"` or `"off"`."""
        return self._gradient_mode

    def conflict_matrices(self):
        """The epoch's T x T matrices as NumPy arrays.

        Returns:
            A dict with `cosine` (mean per-pair gradient cosine), `ucr`, `probed_batches`
            (per pair, the number of probed batches where both tasks were present; NaN entries
            of the other matrices are pairs never probed) and `task_names`.
        """
        cosine, _, ucr = self._mtl_metrics.probe[:3]
        return {"cosine": cosine.matrix(), "ucr": ucr.matrix(),
                "probed_batches": keras.ops.convert_to_numpy(ucr.count),
                "task_names": self.task_names}

    # --------------------------------------------------------------------------------- steps
    def train_step(self, data):
        batch = task_losses_lib.parse_batch(self, data)
        self._mtl_metrics.seen_triplets |= batch["kind"] == "triplet"
        context = tf.distribute.get_replica_context()
        num_replicas = context.num_replicas_in_sync if context is not None else 1
        probing = self.probe != "off"
        conditional = False
        # The global number of rows normalises every replica's loss (outside any tf.cond, so
        # that the all-reduce runs on every step and replica).
        rows = tf.cast(tf.size(batch["task_id"]), tf.float32)
        if num_replicas > 1:
            rows = context.all_reduce(tf.distribute.ReduceOp.SUM, rows)
        batch["rows"] = tf.maximum(rows, 1.0)
        if self._gradient_mode == "off":
            result = self._plain_gradients(batch)
            do_probe = tf.constant(False)
        elif self.probe_every == 1 or self.task_weighting.needs_task_gradients:
            result = self._task_gradients(batch)
            do_probe = tf.constant(probing)
        else:
            conditional = True
            do_probe = tf.equal(tf.cast(self.optimizer.iterations, tf.int64) % self.probe_every, 0)
            result = tf.cond(
                do_probe,
                lambda: self._task_gradients(batch),
                lambda: self._plain_gradients(batch, with_task_shape=True),
            )
        sums, counts, grads = result["sums"], result["counts"], result["grads"]
        if "flat" in result:
            flat, sums_all, counts_all = result["flat"], sums, counts
            if num_replicas > 1:
                flat, sums_all, counts_all = context.all_reduce(
                    tf.distribute.ReduceOp.SUM, [flat, sums, counts]
                )
            if conditional:
                gram = tf.cond(do_probe, lambda: gradient_probe.gram_matrix(flat),
                               lambda: tf.zeros([self._num_tasks, self._num_tasks]))
            else:
                gram = gradient_probe.gram_matrix(flat)
            task_means = tf.math.divide_no_nan(sums_all, counts_all)
            if self.task_weighting.needs_task_gradients:
                weights = self.task_weighting.task_weights(task_means, gram)
                result["objective"] = (tf.reduce_sum(weights * sums) / result["rows"]
                                       + result["regularization"])
                grads = [
                    tf.tensordot(weights, g, axes=1) + r if g is not None else r
                    for g, r in zip(result["per_task"], result["reg_grads"], strict=True)
                ]
            present = counts_all > 0
            self._update_probe_metrics(gram, present, tf.cast(do_probe, tf.float32))
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables, strict=True))
        self._loss_tracker.update_state(result["objective"] * num_replicas)
        self._mtl_metrics.task_losses.update_state(
            tf.math.divide_no_nan(sums, counts), sample_weight=counts)
        logs = self.get_metrics_result()
        if probing:
            logs.update(self._probe_results())
        return _for_strategy(logs)

    def test_step(self, data):
        batch = task_losses_lib.parse_batch(self, data)
        self._mtl_metrics.seen_triplets |= batch["kind"] == "triplet"
        sums, counts, pairs = task_losses_lib.task_loss_sums(self, batch, training=False)
        total = tf.reduce_sum(counts)
        if self.task_weighting.needs_task_gradients:
            weights = tf.ones_like(sums)  # no gradients at test time: report the plain loss
        else:
            weights = self.task_weighting.task_weights(tf.math.divide_no_nan(sums, counts))
        self._loss_tracker.update_state(
            tf.math.divide_no_nan(tf.reduce_sum(weights * sums), total), sample_weight=total
        )
        self._mtl_metrics.task_losses.update_state(
            tf.math.divide_no_nan(sums, counts), sample_weight=counts)
        self._update_task_metrics(pairs)
        logs = self.get_metrics_result()
        return _for_strategy(logs)

    # ------------------------------------------------------------------------------ helpers
    def _regularization(self):
        terms = [tf.cast(loss, tf.float32) for loss in self.losses]
        terms += [tf.cast(fn(self), tf.float32) for fn in self._regularizers]
        return tf.add_n(terms) if terms else tf.constant(0.0)

    def _plain_gradients(self, batch, with_task_shape=False):
        variables = self.trainable_variables
        with tf.GradientTape() as tape:
            sums, counts, pairs = task_losses_lib.task_loss_sums(self, batch, training=True)
            weights = self.task_weighting.task_weights(tf.math.divide_no_nan(sums, counts))
            objective = tf.reduce_sum(weights * sums) / batch["rows"]
            objective = objective + self._regularization() / _num_replicas()
        grads = _zeros_for_none(tape.gradient(objective, variables), variables)
        self._update_task_metrics(pairs)
        result = {"sums": sums, "counts": counts, "grads": grads, "objective": objective}
        if with_task_shape:
            # Stands in for the probed branch's (T, P) gradients inside `tf.cond` (branches may
            # differ in shape); one column, not P: no (T, P) zeros on every skipped step.
            result["flat"] = tf.zeros([self._num_tasks, 1])
        return result

    def _task_gradients(self, batch):
        """Per-task gradients: grouped sub-batches or one backward pass per task."""
        variables = self.trainable_variables
        shared_ids = {id(v) for v in self.shared_variables}
        shared_index = [i for i, v in enumerate(variables) if id(v) in shared_ids]
        num_tasks = self._num_tasks
        with tf.GradientTape(persistent=True) as tape:
            if self._gradient_mode == "grouped":
                groups = task_losses_lib.partition_batch(batch, num_tasks)
                sums, counts, pairs = [], [], []
                for task, group in enumerate(groups):
                    s, c, p = task_losses_lib.task_loss_sums(self, group, training=True,
                                                             only_task=task)
                    sums.append(s)
                    counts.append(c)
                    pairs.extend(p)
                # Each group's scalar loss depends on its own sub-graph only, so each backward
                # pass below traverses one group (summing the vectors first would send zero
                # gradients through every group: T full backward passes).
                group_losses = [tf.reduce_sum(s) for s in sums]
                sums, counts = tf.add_n(sums), tf.add_n(counts)
            else:
                sums, counts, pairs = task_losses_lib.task_loss_sums(self, batch, training=True)
                group_losses = tf.unstack(sums)
            rows = batch["rows"]
            scaled = [loss / rows for loss in group_losses]
            regularization = self._regularization() / _num_replicas()
        per_task = [_zeros_for_none(tape.gradient(scaled[t], variables), variables)
                    for t in range(num_tasks)]
        reg_grads = _zeros_for_none(tape.gradient(regularization, variables), variables)
        del tape
        flat = tf.stack([
            gradient_probe.flatten_gradients([grads[i] for i in shared_index]) for grads in per_task
        ])
        self._update_task_metrics(pairs)
        result = {"sums": sums, "counts": counts, "flat": flat}
        if self.task_weighting.needs_task_gradients:
            # Weights need the all-reduced Gram matrix: train_step combines the gradients.
            stacked = [tf.stack([grads[i] for grads in per_task]) for i in range(len(variables))]
            result.update(per_task=stacked, reg_grads=reg_grads, grads=reg_grads, rows=rows,
                          regularization=regularization)
        else:
            weights = self.task_weighting.task_weights(tf.math.divide_no_nan(sums, counts))
            result["objective"] = tf.reduce_sum(weights * sums) / rows + regularization
            result["grads"] = [
                tf.add_n([weights[t] * per_task[t][i] for t in range(num_tasks)] + [reg_grads[i]])
                for i in range(len(variables))
            ]
        return result

    def _update_probe_metrics(self, gram, present, weight):
        summary = gradient_probe.conflict_summary(gram, present)  # once, for the three metrics
        for metric in self._mtl_metrics.probe[:3]:
            metric.update_from_summary(summary, weight)
        norms = tf.sqrt(tf.maximum(tf.linalg.diag_part(gram), 0.0))
        task_weight = tf.cast(present, tf.float32) * weight
        self._mtl_metrics.probe[3].update_state(norms, sample_weight=task_weight)

    def _probe_results(self):
        logs = {}
        for metric in self._mtl_metrics.probe:
            result = metric.result()
            logs.update(result if isinstance(result, dict) else {metric.name: result})
        return logs

    def _update_task_metrics(self, pairs):
        for task_ids, y, y_pred in pairs:
            if y is None:
                self._mtl_metrics.triplet_accuracy.update_state(task_ids, y_pred)
            for metric in self._mtl_metrics.task_metrics:
                if isinstance(metric, TripletAccuracy):
                    if y is None:
                        metric.update_state(task_ids, y_pred)
                elif y is None:
                    continue
                elif hasattr(metric, "per_task_result"):
                    metric.update_state(y, y_pred, task_id=task_ids)
                else:
                    metric.update_state(y, y_pred)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Our steps need no symbolic pass; only the optimizer must be built in the strategy's
        # scope. Skipping Keras' version also avoids keras-team/keras#20585 (PerReplica
        # batches reaching the symbolic build under MultiWorkerMirroredStrategy).
        if self.optimizer is not None and not self.optimizer.built:
            with self.distribute_strategy.scope():
                self.optimizer.build(self.trainable_variables)

    # -------------------------------------------------------------------------------- config
    def get_compile_config(self):
        if not self.compiled:
            return {}
        serialize = keras.saving.serialize_keras_object
        return {
            "optimizer": serialize(self.optimizer),
            "loss": serialize(self._task_loss),
            "metrics": [serialize(m) for m in self._mtl_metrics.user_metrics],
            "probe": self.probe,
            "probe_every": self.probe_every,
            "loss_weighting": serialize(self.task_weighting),
            **{k: v for k, v in self._compile_kwargs.items() if isinstance(v, (int, bool, str))},
        }

    def compile_from_config(self, config):
        deserialize = keras.saving.deserialize_keras_object
        config = dict(config)
        for key in ("optimizer", "loss", "loss_weighting"):
            if config.get(key) is not None:
                config[key] = deserialize(config[key])
        config["metrics"] = [deserialize(m) for m in config.get("metrics") or []]
        self.compile(**config)
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "task_names": self._task_names_arg,
                "num_tasks": self._num_tasks,
                "task_specific_layers": self.task_specific_layers,
                "task_id_key": self.task_id_key,
            }
        )
        return config


def _get_metric(identifier):
    """A metric object from a name or an instance (functions are wrapped in a running mean)."""
    if isinstance(identifier, keras.metrics.Metric):
        return identifier
    metric = keras.metrics.get(identifier)
    if isinstance(metric, keras.metrics.Metric):
        return metric
    name = identifier if isinstance(identifier, str) else getattr(metric, "__name__", "metric")
    return keras.metrics.MeanMetricWrapper(metric, name=name)


class _MetricState:
    """Holds the model's own metric objects out of Keras' automatic attribute tracking."""


def _num_replicas():
    context = tf.distribute.get_replica_context()
    return context.num_replicas_in_sync if context is not None else 1


def _zeros_for_none(grads, variables):
    return [
        tf.zeros_like(v) if g is None else tf.convert_to_tensor(g)
        for g, v in zip(grads, variables, strict=True)
    ]


def _for_strategy(logs):
    """Gives scalars shape (1,) under MultiWorkerMirroredStrategy.

    Keras reduces step outputs with `strategy.reduce("MEAN", v, axis=0)` on multi-worker
    strategies, which fails on scalars (keras-team/keras#20329).
    """
    strategy = tf.distribute.get_strategy()
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return {k: tf.reshape(v, [1]) for k, v in logs.items()}
    return logs

