"""Many tasks: first step (tracing), step time and peak memory of the probe at T = 4 .. 312.

For each method (`modulation`, `routing`: Zhao et al.'s Table 2 network) and number of tasks
T (default 4, 40, 312: CUB-200's 312 attributes in the task-routing paper), three probe
settings each run in a fresh worker process on one repeated batch of random triplets with
round-robin task ids (so a batch of 64 triplets holds min(T, 64) tasks):

- `off`: a plain training step (the baseline);
- `exact`: the grouped probe keeping each present task's exact flat gradient (K x P floats);
- `sketch`: the grouped probe keeping a count sketch of `--sketch-dim` floats per task.

Reported per configuration: the first step (trace + first run) in seconds, the median of the
timed steps, and the worker's peak resident memory (RSS; TensorFlow's peak GPU memory on a
GPU). Derived: first step at T over first step at the smallest T, step and memory of each
probe over `off` at the same T. Targets (issue 15): first step at T=312 at most 2x that at
T=4; probe step at most 1.2x plain at T=40 and 312; the probe's extra memory at most 1 GiB
at T=312, 150 px (the bounded-memory `sketch` setting).

`--sketch-error` measures instead how far the sketched Gram matrix is from the exact one:
for a few batches of a small modulated net, exact per-task gradients and their sketches of
several sizes give cosine matrices and inner-product signs (what UCR counts); it reports the
mean and largest cosine error and the fraction of task pairs whose sign flips.

    python benchmarks/many_tasks.py                       # full grid (long on a CPU)
    python benchmarks/many_tasks.py --quick               # smoke test
    python benchmarks/many_tasks.py --sketch-error        # accuracy of the sketch
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:  # _common.py lives next to this script
    sys.path.insert(0, HERE)
import _common  # noqa: E402

NAME = "many_tasks"
PROBES = ("off", "exact", "sketch")
QUICK = {"methods": ["modulation"], "tasks": [2, 8], "image_size": 48, "width": 0.125,
         "triplets": 8, "steps": 2, "sketch_dim": 256, "sketch_dims": [64, 256],
         "error_batches": 2}


def parse_args(argv=None):
    parser = _common.base_parser(__doc__, NAME)
    parser.add_argument("--methods", nargs="+", choices=("modulation", "routing"),
                        default=["modulation", "routing"])
    parser.add_argument("--tasks", type=int, nargs="+", default=[4, 40, 312])
    parser.add_argument("--probes", nargs="+", choices=PROBES, default=list(PROBES))
    parser.add_argument("--image-size", type=int, default=150)
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--triplets", type=int, default=64)
    parser.add_argument("--steps", type=int, default=3, help="timed steps after the first")
    parser.add_argument("--sketch-dim", type=int, default=65536)
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per worker")
    parser.add_argument("--sketch-error", action="store_true",
                        help="measure the sketch's cosine and sign error instead of cost")
    parser.add_argument("--sketch-dims", type=int, nargs="+", default=[4096, 16384, 65536])
    parser.add_argument("--error-batches", type=int, default=8)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    return _common.parse_args(parser, argv, QUICK)


def _model(method, num_tasks, args):
    from keras_mtl.models import zhao_retrieval_net

    return zhao_retrieval_net(num_tasks, method=method, width_multiplier=args.width,
                              input_shape=(args.image_size, args.image_size, 3))


def run_config(args, method, num_tasks, probe):
    """One worker: build, compile, one first step, timed steps; emits a result line."""
    import keras
    import tensorflow as tf

    from keras_mtl.losses import TripletLoss

    model = _model(method, num_tasks, args)
    model.compile(optimizer="adagrad", loss=TripletLoss(0.2),
                  probe="off" if probe == "off" else "grouped",
                  probe_sketch_dim=args.sketch_dim if probe == "sketch" else None)
    batch = _common.random_triplet_batch(args.triplets, args.image_size, num_tasks)
    data = tf.data.Dataset.from_tensors(batch).repeat()
    times = []

    class StepTimer(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self.start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            float(logs["loss"])
            times.append(time.perf_counter() - self.start)

    model.fit(data, steps_per_epoch=1 + args.steps, epochs=1, verbose=0,
              callbacks=[StepTimer()])
    _common.emit_result({
        "method": method, "num_tasks": num_tasks, "probe": probe,
        "present_tasks": min(num_tasks, args.triplets),
        "first_step_s": times[0], **_common.summarize(times[1:]),
        "peak_rss_mib": _common.peak_rss_mib(), "peak_gpu_mib": _common.gpu_peak_mib(),
        "params": int(model.count_params()),
    })


def run_sketch_error(args):
    """Exact vs sketched cosines and signs on the same per-task gradients."""
    import numpy as np
    import tensorflow as tf

    from keras_mtl.losses import TripletLoss
    from keras_mtl.training import TaskBatch, gradient_probe, task_gradients
    from keras_mtl.training.task_losses import build_loss_plan, task_loss_sums

    num_tasks = min(args.tasks[-1], args.triplets)
    model = _model("modulation", num_tasks, args)
    plan = build_loss_plan(TripletLoss(0.2), model.task_names, model.output, has_task_id=True)
    variables = model.trainable_variables
    shared_ids = {id(v) for v in model.shared_variables}
    shared = [id(v) in shared_ids for v in variables]

    def forward(x):
        return model(x, training=True), tf.constant(0.0)

    def losses(y_pred, part):
        return task_loss_sums(plan, y_pred, part.y, part.sample_weight, part.task_id)

    errors = {dim: {"cosine": [], "flips": [], "pairs": 0} for dim in args.sketch_dims}
    for seed in range(args.error_batches):
        x = _common.random_triplet_batch(args.triplets, args.image_size, num_tasks, seed=seed)
        batch = TaskBatch(x, None, None, tf.constant(x["task_id"]))
        exact = task_gradients(forward, losses, batch, variables, shared,
                               num_tasks=num_tasks, mode="grouped",
                               task_scale=tf.fill([num_tasks], 1.0 / args.triplets),
                               task_weights=tf.ones([num_tasks]),
                               output_spec=tf.TensorSpec((None, 256), tf.float32))
        rows = exact.task_gradients
        gram = gradient_probe.gram_matrix(rows).numpy()
        cosine = gradient_probe.cosine_from_gram(gram).numpy()
        upper = np.triu_indices(len(gram), 1)
        for dim in args.sketch_dims:
            buckets, signs = gradient_probe.sketch_hashes(rows.shape[1], dim, seed=seed)
            approx = gradient_probe.gram_matrix(
                gradient_probe.count_sketch(rows, buckets, signs, dim)).numpy()
            approx_cos = gradient_probe.cosine_from_gram(approx).numpy()
            errors[dim]["cosine"].extend(np.abs(approx_cos - cosine)[upper].tolist())
            errors[dim]["flips"].extend((np.sign(approx) != np.sign(gram))[upper].tolist())
            errors[dim]["pairs"] += len(upper[0])
    rows_out = []
    for dim, e in errors.items():
        cos = np.array(e["cosine"])
        rows_out.append({"sketch_dim": dim, "pairs": e["pairs"],
                         "mean_abs_cosine_error": float(cos.mean()),
                         "max_abs_cosine_error": float(cos.max()),
                         "sign_flip_fraction": float(np.mean(e["flips"])),
                         "bound_sqrt_2_over_k": float(np.sqrt(2 / dim))})
    return rows_out


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        method, num_tasks, probe = json.loads(args.worker)
        run_config(args, method, num_tasks, probe)
        return None
    path = _common.output_path(args.output, NAME)
    if args.sketch_error:
        rows = run_sketch_error(args)
        print(_common.format_table(rows, [
            ("sketch dim", "sketch_dim", "d"), ("pairs", "pairs", "d"),
            ("mean |cos err|", "mean_abs_cosine_error", ".4f"),
            ("max |cos err|", "max_abs_cosine_error", ".4f"),
            ("sign flips", "sign_flip_fraction", ".4f"),
            ("sqrt(2/k)", "bound_sqrt_2_over_k", ".4f")]))
        return _common.write_report(path, NAME, args, rows, mode="sketch_error")
    rows = []
    for method in args.methods:
        for num_tasks in args.tasks:
            for probe in args.probes:
                command = [sys.executable, os.path.abspath(__file__), "--worker",
                           json.dumps([method, num_tasks, probe])] + list(
                               sys.argv[1:] if argv is None else argv)
                results, error = _common.run_worker(command, args.timeout)
                row = results[0] if results else {"method": method, "num_tasks": num_tasks,
                                                  "probe": probe}
                if error:
                    row["reason"] = error
                rows.append(row)
                print(json.dumps(row), flush=True)
    _derive(rows)
    print(_common.format_table(rows, [
        ("method", "method", "s"), ("T", "num_tasks", "d"), ("probe", "probe", "s"),
        ("first step s", "first_step_s", ".1f"), ("x first(T min)", "first_vs_small_t", ".2f"),
        ("step s", "median_s", ".2f"), ("x off", "step_vs_off", ".2f"),
        ("peak MiB", "peak_rss_mib", ".0f"), ("+MiB vs off", "extra_mib", ".0f")]))
    _common.print_notes(rows)
    return _common.write_report(path, NAME, args, rows, mode="cost")


def _derive(rows):
    """Ratios: first step vs the smallest T, step and memory vs `off` at the same T."""
    def find(method, num_tasks, probe):
        return next((r for r in rows if (r["method"], r["num_tasks"], r["probe"]) ==
                     (method, num_tasks, probe) and "median_s" in r), None)

    for row in rows:
        if "median_s" not in row:
            continue
        smallest = min(r["num_tasks"] for r in rows if r["method"] == row["method"])
        base_t = find(row["method"], smallest, row["probe"])
        off = find(row["method"], row["num_tasks"], "off")
        if base_t:
            row["first_vs_small_t"] = row["first_step_s"] / base_t["first_step_s"]
        if off:
            row["step_vs_off"] = row["median_s"] / off["median_s"]
            memory = "peak_gpu_mib" if row.get("peak_gpu_mib") else "peak_rss_mib"
            row["extra_mib"] = row[memory] - off[memory]


if __name__ == "__main__":
    main()
