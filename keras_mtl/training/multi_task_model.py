"""`MultiTaskModel`: a functional `keras.Model` whose `train_step` measures and can resolve
destructive interference between tasks."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import NamedTuple

import keras
import tensorflow as tf

from keras_mtl.layers.task_ids import check_task_id_dtype
from keras_mtl.layers.task_specific import iter_layers, task_specific_variables
from keras_mtl.training import gradient_probe
from keras_mtl.training.conflict_tracker import ConflictTracker
from keras_mtl.training.guarded_update import (
    apply_if,
    for_strategy,
    guarded_weights,
    num_replicas,
    sum_replicas,
)
from keras_mtl.training.metric_plan import build_metric_plan, unique_metrics, update_metrics
from keras_mtl.training.packed_logs import LogPacking
from keras_mtl.training.per_task_mean import PerTaskMean
from keras_mtl.training.task_batch import parse_batch
from keras_mtl.training.task_gradients import task_gradients
from keras_mtl.training.task_losses import build_loss_plan, task_counts, task_loss_sums
from keras_mtl.training.training_monitor import SummaryProgbar, TrainingMonitor
from keras_mtl.training.training_state import TrainingState
from keras_mtl.weighting import UniformWeighting
from keras_mtl.weighting import get as get_weighting

PROBES = ("grouped", "full", "representation", "off")


@keras.saving.register_keras_serializable(package="keras_mtl")
class MultiTaskModel(keras.Model):
    """A functional `keras.Model` for multi-task networks, with a gradient-conflict probe.

    Built like any functional model. Two settings:

    - **one task per sample**: the inputs are a dict holding each row's task id under
      `task_id_key`; each example's loss comes from its own task (its own output, when the
      model has one output per task). Triplets are three consecutive rows
      (`keras_mtl.losses.interleave_triplets`), scored by `TripletLoss`.
    - **every sample labelled for every task**: no task id input and one output per task
      (`fit(x, {task: labels})`); a missing label (-1, NaN, or a per-task sample weight of 0)
      leaves that sample out of that task.

    While training, a probe measures destructive interference (Zhao et al. Eq. 2) on the shared
    variables: the per-task gradients' Gram matrix gives `grad_cosine` (mean pairwise cosine),
    `ucr` (Update Compliance Ratio), `grad_conflict_frac` and `grad_norm_<task>`;
    `loss_<task>` is logged in any case. `conflict_matrices()` returns the epoch's T x T
    matrices. The same per-task gradients feed the conflict-aware weightings
    (`compile(loss_weighting=...)`). Probe modes (`compile(probe=...)`):

    - `"grouped"` (default, one task per sample): the batch is split by task and each group
      goes forward and backward once (a loop over the tasks present, so the graph does not
      grow with T); exact unless rows interact (a trainable BatchNormalization: falls back to
      `"full"` with a warning); about the cost of a plain step; not XLA-compilable.
    - `"full"`: one forward pass and one backward pass per task; exact for any model; the
      mode used when every sample is labelled for every task.
    - `"representation"`: per-task gradients with respect to the output of
      `representation_layer` (MGDA-UB's shortcut): about the cost of a plain step in both
      settings; its Gram matrix approximates that of the shared weights' gradients.
    - `"off"`: a plain step.

    A step whose loss or gradients are not finite, or (under XLA) whose task ids are out of
    range, changes neither the weights nor the optimizer state: it is skipped, counted
    (`skipped_steps`), reported with a warning naming the step and the tasks, and training
    stops after `compile(max_skipped_steps=...)` such steps. Under `mixed_float16` the loss is
    scaled with `optimizer.scale_loss` and the per-task gradients unscaled before the probe
    and the weighting, so every logged quantity is the float32 one.

    Reference:
        Zhao et al., "A Modulation Module for Multi-task Learning with Applications in Image
        Retrieval", ECCV 2018, Sec. 3.1 (Eq. 2, UCR) and Eq. 6.

    Args:
        inputs: the functional model's inputs (a dict with `task_id_key` for one task per
            sample).
        outputs: its outputs: one tensor, or a dict / list with one output per task.
        task_names: the task names (used in metric names); default `task_<i>`.
        num_tasks: T (inferred from `task_names` when given).
        task_specific_layers: names of layers whose weights belong to individual tasks (heads,
            branches); with every layer's `task_specific_weights` they form the task-specific
            set; all other trainable variables are shared.
        task_id_key: the input holding the task ids (default `"task_id"`).
        representation_layer: name of the layer whose output is the shared representation
            for `probe="representation"` (e.g. the last shared layer before the task heads).
        name: model name.

    Call arguments:
        inputs: a dict keyed like the model's inputs (`task_id_key` holding integer task ids
            of shape `(batch,)`, checked to be an integer dtype), or one array for an
            image-only model.
        training: bool, training mode (dropout, batch-norm statistics).

    Example:
    >>> image = keras.Input((8, 8, 3), name="image")
    >>> task_id = keras.Input((), dtype="int32", name="task_id")
    >>> x = keras.layers.Dense(4)(keras.layers.Flatten()(image))
    >>> model = MultiTaskModel({"image": image, "task_id": task_id}, x, num_tasks=2)
    >>> model.compile(optimizer="sgd", loss=TripletLoss(0.2), probe="grouped")
    >>> model.fit(keras_mtl.datasets.triplet_pipeline(data, "train", batch_size=32))
    """

    def __init__(
        self,
        inputs,
        outputs,
        name: str | None = None,
        *,
        task_names: Sequence[str] | None = None,
        num_tasks: int | None = None,
        task_specific_layers: Sequence[str] | None = None,
        task_id_key: str = "task_id",
        representation_layer: str | None = None,
        **kwargs,
    ):
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)
        if task_names is not None:
            task_names = [str(n) for n in task_names]
            if num_tasks is not None and num_tasks != len(task_names):
                raise ValueError(
                    "Expected `num_tasks` to equal len(task_names). Received: "
                    f"num_tasks={num_tasks}, task_names={task_names}"
                )
            num_tasks = len(task_names)
        if num_tasks is not None and (
            isinstance(num_tasks, bool) or not isinstance(num_tasks, int) or num_tasks < 1
        ):
            raise ValueError(f"Expected `num_tasks` to be a positive int. Received: {num_tasks}")
        self._task_names_arg = task_names
        self._num_tasks = num_tasks
        self.task_specific_layers = list(task_specific_layers or [])
        self.task_id_key = task_id_key
        self.representation_layer = representation_layer
        if representation_layer is not None:
            self.get_layer(representation_layer)  # raises for an unknown name
        self._split_override = None
        self._log_packing = LogPacking()
        self.conflict_tracker = None
        self.plan = None
        task_specific_variables(self, self.task_specific_layers)  # validates the names

    # ----------------------------------------------------------------------- tasks, variables
    @property
    def num_tasks(self) -> int | None:
        return self._num_tasks

    @property
    def task_names(self) -> list[str]:
        if self._task_names_arg is not None:
            return list(self._task_names_arg)
        return [f"task_{i}" for i in range(self._num_tasks or 0)]

    @property
    def takes_task_ids(self) -> bool:
        """Whether each row names its task (one task per sample) in input `task_id_key`."""
        return isinstance(self.input, dict) and self.task_id_key in self.input

    @property
    def task_specific_variables(self) -> list:
        """Trainable variables that belong to individual tasks (not probed)."""
        if self._split_override is not None:
            return list(self._split_override)
        marked = {id(v) for v in task_specific_variables(self, self.task_specific_layers)}
        return [v for v in self.network_variables if id(v) in marked]

    @task_specific_variables.setter
    def task_specific_variables(self, variables):
        self._split_override = list(variables)
        self.train_function = None

    @property
    def shared_variables(self) -> list:
        """Trainable variables shared by the tasks: the probe's gradients live here."""
        specific = {id(v) for v in self.task_specific_variables}
        return [v for v in self.network_variables if id(v) not in specific]

    @shared_variables.setter
    def shared_variables(self, variables):
        shared = {id(v) for v in variables}
        self.task_specific_variables = [v for v in self.network_variables if id(v) not in shared]

    @property
    def network_variables(self) -> list:
        """The network's trainable variables (without a loss weighting's own parameters)."""
        own = {id(v) for v in getattr(self.task_weighting_layer, "trainable_weights", [])}
        return [v for v in self.trainable_variables if id(v) not in own]

    @property
    def task_weighting_layer(self):
        weighting = getattr(self, "task_weighting", None)
        return weighting if isinstance(weighting, keras.layers.Layer) else None

    # ------------------------------------------------------------------------------- compile
    def compile(
        self,
        optimizer="rmsprop",
        loss=None,
        loss_weights=None,
        metrics=None,
        probe: str = "grouped",
        probe_every: int = 1,
        probe_sketch_dim: int | None = None,
        loss_weighting="uniform",
        regularizers: Sequence[Callable] | None = None,
        max_skipped_steps: int = 10,
        **kwargs,
    ):
        """Configures training.

        Args:
            optimizer: a Keras optimizer or its name.
            loss: one loss for every task, or a dict / list with one loss per task or per
                output (e.g. `{"logits": ..., "td_map": ...}`).
            loss_weights: optional weights of the losses, keyed like `loss`.
            metrics: metrics of the predictions: a list (for every output; with one task per
                sample, metrics with a `task_id` argument such as `PerTaskAccuracy` receive
                the task ids; when every sample is labelled for every task, each task gets
                its own copy, logged as `<task>_<name>`), or a dict keyed by output or task.
                A loss may add its own (`TripletLoss` adds `TripletAccuracy`).
            probe: `"grouped"` (default), `"full"`, `"representation"` (needs
                `representation_layer`) or `"off"`: how the per-task gradients are taken (see
                the class docstring).
            probe_every: probe every k-th step (metrics average over probed steps).
            probe_sketch_dim: None (exact per-task gradients, K x P floats for the K tasks of
                a batch), or k to keep a count sketch of k floats per task (memory bounded;
                inner products unbiased, cosines within about `sqrt(2 / k)`).
            loss_weighting: `"uniform"`, a list of T weights, a method name (`"mgda"`, ...) or
                a weighting object.
            regularizers: callables `fn(model) -> scalar` added to the objective (e.g.
                `keras_mtl.losses.WeightPenalty(TaskRelevanceLoss(...), "modulation_fc")`,
                Zhao Eq. 8). Serializable ones are saved with the model; plain functions are
                not (a warning says so when saving).
            max_skipped_steps: training stops with an error once more steps than this were
                skipped for non-finite values within one `fit`.
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
        for arg, value, low in (("probe_every", probe_every, 1),
                                ("max_skipped_steps", max_skipped_steps, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"Expected `{arg}` to be an int >= {low}. Received: "
                                 f"{arg}={value!r}")
        if probe_sketch_dim is not None and (
            isinstance(probe_sketch_dim, bool) or not isinstance(probe_sketch_dim, int)
            or probe_sketch_dim < 1
        ):
            raise ValueError("Expected `probe_sketch_dim` to be None or a positive int. "
                             f"Received: probe_sketch_dim={probe_sketch_dim!r}")
        weighting = get_weighting(loss_weighting)
        jit_compile = kwargs.pop("jit_compile", "auto")
        probe, gradient_mode = self._resolve_probe(probe, weighting, jit_compile)
        if gradient_mode == "grouped":
            jit_compile = False
        super().compile(optimizer=optimizer, jit_compile=jit_compile, **kwargs)
        if isinstance(weighting, keras.layers.Layer) and not weighting.built:
            weighting.build(self._num_tasks)
        self.task_weighting = weighting
        self.probe, self.probe_every, self.probe_sketch_dim = probe, probe_every, probe_sketch_dim
        self.max_skipped_steps = max_skipped_steps
        self._gradient_mode = gradient_mode
        self._loss_config = (loss, loss_weights)
        self.plan = build_loss_plan(loss, self.task_names, self.output,
                                    has_task_id=self.takes_task_ids, loss_weights=loss_weights)
        self._regularizers = list(regularizers or [])
        self._user_metrics = metrics
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.task_loss_tracker = PerTaskMean(self.task_names, "loss_")
        self._metric_heads = build_metric_plan(metrics, self.plan, self.task_names)
        self.conflict_tracker = ConflictTracker(self.task_names) if probe != "off" else None
        self.training_state = TrainingState(self._num_tasks)
        self._compile_kwargs = dict(kwargs, jit_compile=jit_compile)

    def _resolve_probe(self, probe, weighting, jit_compile):
        """The probe that is logged and how per-task gradients are computed."""
        if probe != "off" and self.built and not self.shared_variables:
            warnings.warn(
                "The model has no shared trainable variables (all are task-specific, e.g. "
                "independent networks or one column per task), so gradient conflict between "
                f"tasks is undefined. Using probe='off' instead of {probe!r}.", stacklevel=3)
            probe = "off"
        cross_row = any(isinstance(layer, keras.layers.BatchNormalization) and layer.trainable
                        for layer in iter_layers(self))
        exact = "full" if (cross_row or not self.takes_task_ids) else "grouped"
        if probe == "grouped" and exact == "full" and cross_row:
            warnings.warn(
                "The model has a trainable BatchNormalization layer, so per-task sub-batch "
                "gradients are not exact. Using probe='full' instead of 'grouped'.",
                stacklevel=3)
        if probe == "representation" and self.representation_layer is None:
            raise ValueError(
                "Expected `representation_layer` (the layer whose output is the shared "
                "representation) in the MultiTaskModel constructor for "
                "probe='representation'. Received: representation_layer=None")
        mode = probe
        if probe == "grouped" or (probe == "off" and getattr(
                weighting, "needs_task_gradients", False)):
            mode = exact
        if mode == "grouped" and jit_compile is True:
            raise ValueError(
                "Expected jit_compile=False with the grouped probe (its task groups have "
                "data-dependent sizes, which XLA cannot compile). Received: jit_compile=True")
        return probe, mode

    @property
    def metrics(self):
        # Keras' documented pattern for a custom train_step: list the trackers to reset. The
        # conflict tracker is not one of them: validation must not reset the probe's epoch.
        if not hasattr(self, "loss_tracker"):
            return super().metrics
        return [self.loss_tracker, self.task_loss_tracker] + unique_metrics(self._metric_heads)

    def _logs(self, training=False):
        logs = {}
        for metric in self.metrics:
            result = metric.result()
            logs.update(result if isinstance(result, dict) else {metric.name: result})
        if training:
            logs.update(self.training_state.result())
            if self.conflict_tracker is not None:
                logs.update(self.conflict_tracker.result())
        return logs

    @property
    def effective_probe(self) -> str:
        """How per-task gradients are computed: `"grouped"`, `"full"` or `"off"`."""
        return self._gradient_mode

    def conflict_matrices(self) -> dict:
        """The epoch's T x T `cosine`, `ucr` and `probed_batches` matrices and `task_names`."""
        if self.conflict_tracker is None:
            raise ValueError("Expected a model compiled with a probe. Received: probe='off'")
        return self.conflict_tracker.matrices()

    # --------------------------------------------------------------------------------- steps
    def fit(self, *args, callbacks=None, verbose="auto", **kwargs):
        """`keras.Model.fit`, plus the probe's epoch reset and the skipped-step guard.

        The progress bar shows the summary metrics only; per-task values (`loss_<task>`,
        `grad_norm_<task>`, per-task metrics) still reach `History`, `CSVLogger` and
        `TensorBoard`.
        """
        callbacks = list(callbacks or [])
        callbacks.insert(0, TrainingMonitor(self.max_skipped_steps))
        if verbose != 0 and not any(isinstance(c, keras.callbacks.ProgbarLogger)
                                    for c in callbacks):
            hidden = {"skipped_steps"} | {f"{p}_{t}" for p in ("loss", "grad_norm")
                                          for t in self.task_names}
            hidden |= {f"val_{k}" for k in hidden}
            callbacks.append(SummaryProgbar(hidden))
        return super().fit(*args, callbacks=callbacks, verbose=verbose, **kwargs)

    def train_step(self, data):
        # The outline of Keras' own step: unpack, per-task losses and gradients, combine,
        # apply (skipped for a bad batch), update the trackers, return the logs.
        batch, ids_ok = parse_batch(self, data, raise_now=self.jit_compile is not True)
        counts = sum_replicas(task_counts(self.plan, batch.y, batch.sample_weight,
                                                    batch.task_id))
        step = self._task_gradients(batch, counts, ids_ok)
        variables, gradients = self._weighting_gradients(step)
        ok = self._batch_ok(step, gradients, ids_ok)
        apply_if(self.optimizer, gradients, variables, ok)
        self._record(step, ok, ids_ok)
        return for_strategy(self._log_packing.step_logs(self._logs(training=True), "train"))

    def _task_gradients(self, batch, counts, ids_ok):
        """One pass: per-task gradients, their Gram matrix and the combined update."""
        num_tasks, weighting = self._num_tasks, self.task_weighting
        if self.plan.labelled:
            task_scale = tf.math.divide_no_nan(1.0, counts)
        else:
            task_scale = tf.ones([num_tasks]) / tf.maximum(tf.reduce_sum(counts), 1.0)
        present = counts > 0
        gradient_method = bool(getattr(weighting, "needs_task_gradients", False))
        # Loss weightings weigh this pass with what they know from earlier steps.
        plain = gradient_method or isinstance(weighting, UniformWeighting)
        pre_weights = tf.ones([num_tasks]) if plain else weighting.task_weights(
            self.training_state.task_losses, None, present)
        loss_scale = self.optimizer.scale_loss(tf.constant(1.0))
        variables = self.network_variables
        shared_ids = {id(v) for v in self.shared_variables}
        shared = [id(v) in shared_ids for v in variables]
        sketch = self._sketch(variables, shared)
        chosen = {}

        def weights_fn(rows, tasks, loss_sums):  # representation mode: MGDA-UB in one pass
            chosen["gram"] = self._gram(rows, tasks)
            losses = tf.math.divide_no_nan(sum_replicas(loss_sums), counts)
            return guarded_weights(weighting, losses, chosen["gram"], present, ids_ok)

        def run(mode):
            return task_gradients(
                self._forward, self._task_losses, batch, variables, shared,
                num_tasks=num_tasks, mode=mode, task_scale=task_scale,
                task_weights=pre_weights, loss_scale=loss_scale, sketch=sketch,
                output_spec=tf.nest.map_structure(
                    lambda t: tf.TensorSpec(t.shape, t.dtype), self.output),
                weights_fn=weights_fn if gradient_method else None)

        mode, do_probe = self._gradient_mode, tf.constant(self._gradient_mode != "off")
        if mode != "off" and self.probe_every > 1 and not gradient_method:
            do_probe = tf.equal(self.optimizer.iterations % self.probe_every, 0)
            result = tf.cond(do_probe, lambda: run(mode), lambda: run("off"))
        else:
            result = run(mode)
        sums = sum_replicas(result.loss_sums)
        task_losses = tf.math.divide_no_nan(sums, counts)
        gradients, gram = list(result.gradients), chosen.get("gram")
        if mode != "off" and gram is None:
            gram = self._gram(result.task_gradients, result.tasks)
            if gradient_method:
                weights = guarded_weights(weighting, task_losses, gram, present, ids_ok)
                gradients = self._combine(result, weights, gradients, shared, variables, sketch,
                                          batch, task_scale, loss_scale)
        objective = tf.reduce_sum(pre_weights * task_scale * sums) + result.regularization
        return _Step(result, variables, gradients, gram, sums, counts, task_losses, present,
                     do_probe, objective, loss_scale)

    def _sketch(self, variables, shared):
        if self.probe_sketch_dim is None:
            return None
        size = sum(v.shape.num_elements() for v, s in zip(variables, shared, strict=True) if s)
        buckets, signs = gradient_probe.sketch_hashes(size, self.probe_sketch_dim, 0)
        return buckets, signs, self.probe_sketch_dim

    def _batch_ok(self, step, gradients, ids_ok):
        """Whether the step may be applied: finite loss (and gradients), valid task ids."""
        finite = tf.reduce_all(tf.math.is_finite(step.sums))
        if not isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer):
            # (with a loss scale, overflowing gradients are the scale's business)
            finite = tf.logical_and(finite, tf.reduce_all(
                [tf.reduce_all(tf.math.is_finite(g)) for g in gradients]))
        ok = tf.logical_and(finite, ids_ok)
        if num_replicas() > 1:  # skip on every replica if any replica saw a bad batch
            ok = sum_replicas(1.0 - tf.cast(ok, tf.float32)) < 0.5
        return ok

    def _record(self, step, ok, ids_ok):
        """Updates the trackers with a step (a skipped one counts in `skipped_steps` only)."""
        finite = tf.math.is_finite(step.sums)
        reason = tf.where(ids_ok, tf.where(tf.reduce_all(finite), 2, 1), 3)
        self.training_state.update_state(ok, reason, self.optimizer.iterations,
                                         tf.logical_not(finite), step.task_losses)
        weight = tf.cast(ok, tf.float32)
        self.loss_tracker.update_state(tf.where(ok, step.objective, 0.0), sample_weight=weight)
        self.task_loss_tracker.update_state(tf.where(ok, step.task_losses, 0.0),
                                            sample_weight=step.counts * weight)
        update_metrics(self._metric_heads, step.result.metric_items, weight)
        if self.conflict_tracker is not None and step.gram is not None:
            # Every replica adds the same Gram matrix to a sum-on-read metric: count it once.
            probed = tf.cast(tf.logical_and(step.do_probe, ok), tf.float32) / num_replicas()
            self.conflict_tracker.update_state(step.gram, step.present, probed)

    def test_step(self, data):
        batch, _ = parse_batch(self, data)
        counts = task_counts(self.plan, batch.y, batch.sample_weight, batch.task_id)
        y_pred, _ = self._forward(batch.x, training=False)
        sums, items = self._task_losses(y_pred, batch)
        global_counts = sum_replicas(counts)
        if self.plan.labelled:
            scale = tf.math.divide_no_nan(1.0, global_counts)
            self.loss_tracker.update_state(tf.reduce_sum(scale * sums))
        else:
            total = tf.reduce_sum(counts)
            self.loss_tracker.update_state(tf.math.divide_no_nan(tf.reduce_sum(sums), total),
                                           sample_weight=total)
        self.task_loss_tracker.update_state(tf.math.divide_no_nan(sums, counts),
                                            sample_weight=counts)
        update_metrics(self._metric_heads, items, 1.0)
        return for_strategy(self._log_packing.step_logs(self._logs(), "test"))

    def make_train_function(self, force=False):
        # Keras' function, its logs packed into one vector while it runs (packed_logs.py: a
        # first step that does not grow with the number of tasks).
        if self.train_function is None or force:
            super().make_train_function(force=True)
            self.train_function = self._log_packing.compiled(self.train_function, "train")
        return self.train_function

    def make_test_function(self, force=False):
        if self.test_function is None or force:
            super().make_test_function(force=True)
            self.test_function = self._log_packing.compiled(self.test_function, "test")
        return self.test_function

    # ------------------------------------------------------------------------------ helpers
    def _forward(self, x, training=True):
        if training and self._gradient_mode == "representation":
            layer = self.get_layer(self.representation_layer)
            z, y_pred = keras.Model(self.input, [layer.output, self.output])(
                x, training=training)
        else:
            y_pred, z = self(x, training=training), None
        penalties = [tf.cast(loss, tf.float32) for loss in self.losses]
        penalties += [tf.cast(fn(self), tf.float32) for fn in self._regularizers]
        regularization = tf.add_n(penalties) if penalties else tf.constant(0.0)
        return (y_pred, regularization) if z is None else (y_pred, regularization, z)

    def _task_losses(self, y_pred, batch):
        return task_loss_sums(self.plan, y_pred, batch.y, batch.sample_weight, batch.task_id)

    def _gram(self, rows, tasks):
        """The all-replica `(T, T)` Gram matrix of the per-task shared gradients."""
        replicas = num_replicas() > 1
        if self._gradient_mode == "representation":  # rows of different samples per replica
            gram = gradient_probe.scatter_gram(gradient_probe.gram_matrix(rows), tasks,
                                               self._num_tasks)
            return sum_replicas(gram)
        if replicas:
            full = tf.scatter_nd(tasks[:, None], rows, [self._num_tasks, tf.shape(rows)[1]])
            full = sum_replicas(full)
            return gradient_probe.gram_matrix(full)
        return gradient_probe.scatter_gram(gradient_probe.gram_matrix(rows), tasks,
                                           self._num_tasks)

    def _combine(self, result, weights, gradients, shared, variables, sketch, batch, task_scale,
                 loss_scale):
        """Shared variables: `sum_t w_t g_t`; task-specific ones keep their own gradient."""
        if sketch is None:
            row_weights = tf.gather(weights, result.tasks)
            flat = tf.linalg.matvec(result.task_gradients, row_weights, transpose_a=True)
            combined = gradient_probe.unflatten_gradients(
                flat * loss_scale, [v for v, s in zip(variables, shared, strict=True) if s])
        else:  # sketches cannot be combined: one more weighted pass for the shared variables
            again = task_gradients(
                self._forward, self._task_losses, batch, variables, shared,
                num_tasks=self._num_tasks, mode="off", task_scale=task_scale,
                task_weights=weights, loss_scale=loss_scale)
            combined = [g for g, s in zip(again.gradients, shared, strict=True) if s]
        combined = iter(combined)
        return [next(combined) if s else g for g, s in zip(gradients, shared, strict=True)]

    def _weighting_gradients(self, step):
        """The step's variables and gradients, plus a learnable weighting's own (UW, ...)."""
        layer = self.task_weighting_layer
        own = list(getattr(layer, "trainable_weights", []))
        if not own:
            return step.variables, step.gradients
        with tf.GradientTape() as tape:
            auxiliary = layer.auxiliary_loss(step.task_losses, step.gram, step.present)
            if auxiliary is not None:
                # Every replica computes the same auxiliary loss and the optimizer sums the
                # replicas' gradients: count it once.
                scaled = step.loss_scale * auxiliary / num_replicas()
        if auxiliary is None:
            return step.variables, step.gradients
        grads = tape.gradient(scaled, own)
        grads = [tf.zeros_like(v) if g is None else g for g, v in zip(grads, own, strict=True)]
        return step.variables + own, step.gradients + grads

    def call(self, inputs, training=None, mask=None, **kwargs):
        # The functional graph casts each input to its declared dtype before any layer runs,
        # so a float task id would be truncated silently: check the dtype first.
        if isinstance(inputs, dict) and self.task_id_key in inputs:
            check_task_id_dtype(inputs[self.task_id_key], self.task_id_key)
        return super().call(inputs, training=training, mask=mask, **kwargs)

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
        loss, loss_weights = self._loss_config
        return {
            "optimizer": serialize(self.optimizer),
            "loss": serialize(loss),
            "loss_weights": loss_weights,
            "metrics": serialize(self._user_metrics),
            "probe": self.probe,
            "probe_every": self.probe_every,
            "probe_sketch_dim": self.probe_sketch_dim,
            "loss_weighting": serialize(self.task_weighting),
            "max_skipped_steps": self.max_skipped_steps,
            "regularizers": self._serializable_regularizers(),
            **{k: v for k, v in self._compile_kwargs.items() if isinstance(v, (int, bool, str))},
        }

    def compile_from_config(self, config):
        deserialize = keras.saving.deserialize_keras_object
        config = dict(config)
        config["regularizers"] = [deserialize(r) for r in config.get("regularizers") or []]
        for key in ("optimizer", "loss", "loss_weighting", "metrics"):
            if config.get(key) is not None:
                config[key] = deserialize(config[key])
        self.compile(**config)
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def _serializable_regularizers(self):
        saved = []
        for regularizer in self._regularizers:
            if hasattr(regularizer, "get_config"):
                saved.append(keras.saving.serialize_keras_object(regularizer))
            else:
                warnings.warn(
                    f"The regularizer {regularizer!r} is a plain function and is not saved with "
                    "the model; use a serializable one such as `keras_mtl.losses.WeightPenalty` "
                    "to resume training with it.", stacklevel=3)
        return saved

    def get_config(self):
        config = super().get_config()
        config.update({
            "task_names": self._task_names_arg,
            "num_tasks": self._num_tasks,
            "task_specific_layers": self.task_specific_layers,
            "task_id_key": self.task_id_key,
            "representation_layer": self.representation_layer,
        })
        return config


class _Step(NamedTuple):
    """What one training pass produced, for the update and the trackers."""

    result: object
    variables: list
    gradients: list
    gram: object
    sums: object
    counts: object
    task_losses: object
    present: object
    do_probe: object
    objective: object
    loss_scale: object


