"""Step time of every loss / gradient weighting: grouped per-task gradients vs the LibMTL way.

For each number of tasks T (default 4, 20, 40) one modulated Zhao et al. Table 2 network per
(method, mode) is compiled and trained on the same repeated batch of random triplets
(balanced: every task present). Modes:

- `plain`: `probe="off"`, uniform weighting: the baseline step;
- `grouped`: `probe="grouped"`: each task's sub-batch goes forward and backward once (about one
  plain step of work) and the method combines the per-task gradients through their Gram
  matrix;
- `full`: `probe="full"`: one backward pass per task over the whole batch, the way LibMTL
  computes per-task gradients in its single-input setting (T backward passes).

Timed steps are interleaved over the models of one T (plain, each method grouped, each method
full, plain, ...) so that a busy machine slows them alike; the median is reported with its
ratio to `plain`. Target (issue 14): every gradient method at most 1.15x a plain step at T=20
with grouped gradients.

    python benchmarks/weighting_cost.py                 # full grid (long on a CPU)
    python benchmarks/weighting_cost.py --quick         # smoke test
    python benchmarks/weighting_cost.py --tasks 20 --modes grouped --repeats 5
"""

import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:  # _common.py lives next to this script
    sys.path.insert(0, HERE)
import _common  # noqa: E402

NAME = "weighting_cost"
MODES = ("grouped", "full")
QUICK = {"tasks": [2], "methods": ["uniform", "mgda", "pcgrad", "uw"], "image_size": 48,
         "width": 0.125, "triplets_per_task": 2, "repeats": 2, "full_repeats": 1}


def parse_args(argv=None):
    from keras_mtl.weighting import METHODS

    parser = _common.base_parser(__doc__, NAME)
    parser.add_argument("--tasks", type=int, nargs="+", default=[4, 20, 40])
    parser.add_argument("--methods", nargs="+", choices=sorted(METHODS),
                        default=sorted(METHODS))
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--image-size", type=int, default=96)
    parser.add_argument("--width", type=float, default=0.5)
    parser.add_argument("--triplets-per-task", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5, help="timed steps per model")
    parser.add_argument("--full-repeats", type=int, default=2,
                        help="timed steps per `full` model (T backward passes each)")
    return _common.parse_args(parser, argv, QUICK)


def _models(args, num_tasks):
    import keras

    from keras_mtl.losses import TripletLoss
    from keras_mtl.models import zhao_retrieval_net
    from keras_mtl.weighting import METHODS

    models = {}
    configs = [("uniform", "plain")] + [(m, mode) for mode in args.modes for m in args.methods]
    for method, mode in configs:
        keras.utils.set_random_seed(0)
        model = zhao_retrieval_net(num_tasks, width_multiplier=args.width,
                                   input_shape=(args.image_size, args.image_size, 3))
        probe = {"plain": "off", "grouped": "grouped", "full": "full"}[mode]
        model.compile(optimizer="adagrad", loss=TripletLoss(0.2), probe=probe,
                      loss_weighting=method)
        models[(method, mode)] = model
    assert set(args.methods) <= set(METHODS)
    return models


def run(args, num_tasks):
    batch = _common.random_triplet_batch(num_tasks * args.triplets_per_task, args.image_size,
                                         num_tasks)
    models = _models(args, num_tasks)
    first = {}
    for key, model in models.items():
        start = time.perf_counter()
        model.train_on_batch(batch)
        first[key] = time.perf_counter() - start
    times = {key: [] for key in models}
    for repeat in range(args.repeats):
        for key, model in models.items():
            if key[1] == "full" and repeat >= args.full_repeats:
                continue
            start = time.perf_counter()
            model.train_on_batch(batch)
            times[key].append(time.perf_counter() - start)
    plain = statistics.median(times[("uniform", "plain")])
    rows = []
    for (method, mode), values in times.items():
        model = models[(method, mode)]
        median = statistics.median(values)
        rows.append({"num_tasks": num_tasks, "method": method, "mode": mode,
                     "gradient_method": bool(model.task_weighting.needs_task_gradients),
                     "first_step_s": first[(method, mode)], "median_s": median,
                     "vs_plain": median / plain, "repeats": len(values)})
    return rows


def main(argv=None):
    args = parse_args(argv)
    rows = []
    for num_tasks in args.tasks:
        rows += run(args, num_tasks)
        print(f"T={num_tasks} done", flush=True)
    print(_common.format_table(rows, [
        ("T", "num_tasks", "d"), ("method", "method", "s"), ("mode", "mode", "s"),
        ("step s", "median_s", ".3f"), ("x plain", "vs_plain", ".2f"),
        ("first step s", "first_step_s", ".1f")]))
    target = [r for r in rows if r["num_tasks"] == 20 and r["mode"] == "grouped"
              and r["gradient_method"]]
    summary = {"target_gradient_methods_grouped_t20_max_vs_plain":
               max((r["vs_plain"] for r in target), default=None)}
    print(summary)
    return _common.write_report(_common.output_path(args.output, NAME), NAME, args, rows,
                                summary=summary)


if __name__ == "__main__":
    main()
