"""Cost of the multi-task methods versus a fully shared network as the number of tasks T grows.

Measures, for each method and T (default 1, 4, 20, 40 and 312 tasks: 312 is the number of
CUB-200 attributes, the tasks of the task-routing paper's CUB experiment): parameters (all and
trainable), the median train-step time, the first step (tracing) and the peak memory. Each
configuration runs in a fresh worker process (`--isolation config`), which builds the network,
compiles it (`probe="off"`, `jit_compile=False`, `TripletLoss(0.2)`, Adagrad) and runs `fit`
on one repeated random triplet batch; its peak memory is the worker's peak RSS
(`resource.getrusage`) on CPU, or TensorFlow's peak GPU memory
(`tf.config.experimental.get_memory_info`) on a GPU.

Methods:
- Zhao et al. Table 2 retrieval net (`keras_mtl.models.zhao_retrieval_net`): `fsn` (fully
  shared: the baseline), `modulation`, `routing` and `cross_stitch` (one column per task).
- Levi & Ullman's `top_down` net (`keras_mtl.models.top_down_net`, `--td-backbone`, ResNet-18
  as in their CUB-200 experiment) and its baseline `td_shared`: the same backbone with hard
  sharing (`method="multi_branch"`: shared convs, one output layer per task). Their logits
  (`--td-classes`) serve as the triplet embedding, so every step does the same kind of work.

How to read it: `x base` columns divide step time and parameters by the family's shared
baseline (`fsn` or `td_shared`) at the same T. Cross-stitch grows linearly in T (parameters,
time and memory): a method stops at the first T predicted (secant through its two largest
measured T) to exceed `--memory-budget-gib` or `--config-timeout`, or at the first failure (out
of memory, timeout), and that T and every larger one are `n/a` with the reason. The "growth"
lines give the least-squares MiB and milliseconds per extra task. With `--isolation shared`
(the `--quick` default) all configurations share one process, so peak RSS is cumulative.

    python benchmarks/method_cost.py                              # full grid (long on a CPU)
    python benchmarks/method_cost.py --quick                      # smoke test, tiny nets
    python benchmarks/method_cost.py --image-size 150 --tasks 1 4 20 --methods fsn modulation
"""

import argparse
import json
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:  # _common.py lives next to this script
    sys.path.insert(0, HERE)
import _common  # noqa: E402

NAME = "method_cost"
ZHAO_METHODS = ("fsn", "modulation", "routing", "cross_stitch")
TOP_DOWN_METHODS = {"top_down": "top_down", "td_shared": "multi_branch"}
METHODS = ZHAO_METHODS + tuple(TOP_DOWN_METHODS)
BASELINE = {m: "fsn" for m in ZHAO_METHODS} | {m: "td_shared" for m in TOP_DOWN_METHODS}
STITCH_UNITS = 6  # one T x T cross-stitch unit after conv1, block2..block5 and fc
QUICK = {"methods": ["fsn", "cross_stitch", "top_down", "td_shared"], "tasks": [2],
         "image_size": 48, "width": 0.125, "triplets": 4, "steps": 2, "warmup": 1,
         "td_backbone": "lenet", "isolation": "shared"}
SETTINGS = ("image_size", "width", "triplets", "steps", "warmup", "td_backbone", "td_classes",
            "seed")


def parse_args(argv=None):
    parser = _common.base_parser(__doc__, NAME)
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--tasks", type=int, nargs="+", default=[1, 4, 20, 40, 312])
    parser.add_argument("--image-size", type=int, default=64, help="square input (>= 48)")
    parser.add_argument("--width", type=float, default=1.0, help="width_multiplier")
    parser.add_argument("--triplets", type=int, default=32, help="triplets per batch")
    parser.add_argument("--steps", type=int, default=5, help="timed steps")
    parser.add_argument("--warmup", type=int, default=2, help="untimed first steps (>= 1)")
    parser.add_argument("--td-backbone", default="resnet18", choices=["lenet", "vgg11",
                                                                      "resnet18"])
    parser.add_argument("--td-classes", type=int, default=2,
                        help="outputs per task of the top-down nets (2: a binary attribute)")
    parser.add_argument("--isolation", choices=["config", "shared"], default="config",
                        help="one worker process per configuration, or one for all")
    parser.add_argument("--memory-budget-gib", type=float, default=None,
                        help="predicted peak memory above which a T is skipped "
                             "(default 80%% of RAM; GPU runs: no default)")
    parser.add_argument("--config-timeout", type=float, default=1800,
                        help="seconds one configuration may take")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    return _common.parse_args(parser, argv, QUICK)


# ----------------------------------------------------------------------------- the worker
def build_model(method, num_tasks, settings):
    from keras_mtl.models import top_down_net, zhao_retrieval_net

    shape = (settings["image_size"], settings["image_size"], 3)
    if method in TOP_DOWN_METHODS:
        return top_down_net(num_tasks, backbone=settings["td_backbone"],
                            method=TOP_DOWN_METHODS[method], input_shape=shape,
                            num_classes=settings["td_classes"],
                            width_multiplier=settings["width"])
    return zhao_retrieval_net(num_tasks, method=method, input_shape=shape,
                              width_multiplier=settings["width"])


def measure(method, num_tasks, settings):
    """Builds, compiles and times one configuration in this process."""
    import time

    import keras

    from keras_mtl.losses import TripletLoss

    keras.utils.set_random_seed(settings["seed"])
    start = time.perf_counter()
    model = build_model(method, num_tasks, settings)
    build_s = time.perf_counter() - start
    model.compile(optimizer="adagrad", loss=TripletLoss(0.2), probe="off", jit_compile=False)
    rss_after_build = _common.current_rss_mib()
    batch = _common.random_triplet_batch(settings["triplets"], settings["image_size"],
                                         num_tasks, settings["seed"])
    timing = _common.time_fit_steps(model, batch, settings["warmup"], settings["steps"])
    return {**_common.param_counts(model), "build_s": build_s, **timing,
            "rss_after_build_mib": rss_after_build, "peak_rss_mib": _common.peak_rss_mib(),
            "peak_gpu_mib": _common.gpu_peak_mib(), "devices": _common.device_names()}


def worker(spec):
    """Measures every configuration of `spec` in turn, emitting one result line each."""
    import gc

    import keras

    spec = json.loads(spec)
    for config in spec["configs"]:
        try:
            result = measure(config["method"], config["num_tasks"], spec["settings"])
        except Exception as exc:  # recorded as n/a by the parent
            result = {"error": f"{type(exc).__name__}: {exc}"}
        _common.emit_result({**config, **result})
        keras.backend.clear_session()
        gc.collect()


# ----------------------------------------------------------------------------- the parent
def static_reason(method, num_tasks):
    if method == "cross_stitch" and num_tasks < 2:
        return "cross-stitch needs >= 2 tasks (one column per task)"
    return None


def memory_budget_mib(args, key):
    """`--memory-budget-gib` in MiB; by default 80% of RAM for RSS, none for GPU memory."""
    if args.memory_budget_gib:
        return args.memory_budget_gib * 1024
    return 0.8 * (_common.total_memory_gib() or 0) * 1024 if key == "peak_rss_mib" else None


def predicted_reason(history, num_tasks, args):
    """Why `num_tasks` would not fit, extrapolated from the method's two largest measured T."""
    done = [r for r in history if r["status"] == "ok"]
    if len(done) < 2:
        return None
    a, b = done[-2], done[-1]

    def extrapolate(key):
        slope = (b[key] - a[key]) / (b["num_tasks"] - a["num_tasks"])
        return b[key] + slope * (num_tasks - b["num_tasks"])

    basis = f"secant through T={a['num_tasks']} and T={b['num_tasks']}"
    key = "peak_gpu_mib" if b.get("peak_gpu_mib") is not None else "peak_rss_mib"
    budget = memory_budget_mib(args, key)
    if budget and b.get(key) is not None:
        memory = extrapolate(key)
        if memory > budget:
            return (f"predicted peak memory {memory / 1024:.2f} GiB > budget "
                    f"{budget / 1024:.2f} GiB ({basis})")
    seconds = (extrapolate("build_s") + extrapolate("first_step_s")
               + extrapolate("median_s") * (args.warmup - 1 + args.steps))
    if seconds > args.config_timeout:
        return (f"predicted {seconds:.0f} s > --config-timeout {args.config_timeout:.0f} s "
                f"({basis})")
    return None


def run_configs(configs, args):
    """Runs `configs` in one worker process; returns one row per configuration."""
    settings = {key: getattr(args, key) for key in SETTINGS}
    spec = json.dumps({"configs": configs, "settings": settings})
    command = [sys.executable, os.path.abspath(__file__), "--worker", spec]
    results, error = _common.run_worker(command, args.config_timeout * len(configs))
    by_key = {(r["method"], r["num_tasks"]): r for r in results}
    rows = []
    for config in configs:
        result = by_key.get((config["method"], config["num_tasks"]))
        if result is None or "error" in result:
            reason = result["error"] if result else error or "no result from the worker"
            rows.append(na_row(config["method"], config["num_tasks"], reason))
        else:
            rows.append({**result, "status": "ok", "reason": None})
        print(f"  {config['method']} T={config['num_tasks']}: " + (
            f"{rows[-1]['median_s'] * 1000:.1f} ms/step" if rows[-1]["status"] == "ok"
            else f"n/a ({rows[-1]['reason']})"), flush=True)
    return rows


def na_row(method, num_tasks, reason):
    return {"method": method, "num_tasks": num_tasks, "status": "n/a", "reason": reason}


def run_grid(args):
    tasks = sorted(set(args.tasks))
    if args.isolation == "shared":
        configs = [{"method": m, "num_tasks": t} for m in args.methods for t in tasks
                   if not static_reason(m, t)]
        measured = {(r["method"], r["num_tasks"]): r for r in run_configs(configs, args)}
        return [measured.get((m, t)) or na_row(m, t, static_reason(m, t))
                for m in args.methods for t in tasks]
    rows = []
    for method in args.methods:
        history, stop = [], None
        for num_tasks in tasks:
            reason = (static_reason(method, num_tasks) or stop
                      or predicted_reason(history, num_tasks, args))
            if reason:
                row = na_row(method, num_tasks, reason)
                print(f"  {method} T={num_tasks}: n/a ({reason})", flush=True)
                if not static_reason(method, num_tasks):
                    stop = stop or f"stopped at T={num_tasks}: {reason}"
            else:
                row = run_configs([{"method": method, "num_tasks": num_tasks}], args)[0]
                if row["status"] != "ok":
                    stop = f"T={num_tasks} failed: {row['reason']}"
            history.append(row)
            rows.append(row)
    return rows


def add_comparisons(rows):
    """Ratios to the baseline at the same T; cross-stitch parameter estimates where n/a."""
    ok = {(r["method"], r["num_tasks"]): r for r in rows if r["status"] == "ok"}
    fsn_params = next((r["params"] for r in ok.values() if r["method"] == "fsn"), None)
    for row in rows:
        row["baseline"] = BASELINE[row["method"]]
        base = ok.get((row["baseline"], row["num_tasks"]))
        measured = row["status"] == "ok" and base is not None
        row["step_ratio"] = row["median_s"] / base["median_s"] if measured else None
        row["params_ratio"] = row["params"] / base["params"] if measured else None
        t = row["num_tasks"]
        if row["method"] == "cross_stitch" and row["status"] != "ok" and fsn_params and t > 1:
            row["params_estimate"] = t * fsn_params + STITCH_UNITS * t * t
            row["reason"] += f" (estimated params {row['params_estimate']:,})"


def growth(rows):
    """Least-squares growth per extra task of each method's memory and step time."""
    out = {}
    for method in dict.fromkeys(r["method"] for r in rows):
        done = [r for r in rows if r["method"] == method and r["status"] == "ok"]
        if len(done) < 2:
            continue
        xs = [r["num_tasks"] for r in done]
        key = "peak_gpu_mib" if done[0].get("peak_gpu_mib") is not None else "peak_rss_mib"
        out[method] = {
            "memory_key": key,
            "memory_mib_per_task": statistics.linear_regression(
                xs, [r[key] for r in done]).slope,
            "step_ms_per_task": statistics.linear_regression(
                xs, [r["median_s"] * 1000 for r in done]).slope,
            "tasks": xs,
            "memory_mib": [r[key] for r in done],
        }
    return out


COLUMNS = [("method", "method", ""), ("T", "num_tasks", "d"), ("params", "params", ",d"),
           ("trainable", "trainable_params", ",d"), ("step ms", "median_ms", ".1f"),
           ("x base step", "step_ratio", ".2f"), ("x base params", "params_ratio", ".3f"),
           ("first step s", "first_step_s", ".1f"), ("peak MiB", "peak_mib", ",.0f")]


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        worker(args.worker)
        return None
    print(f"method_cost: {len(args.methods)} methods x T={sorted(set(args.tasks))}, "
          f"{args.image_size}px, width {args.width}, {args.triplets} triplets/step, "
          f"isolation={args.isolation}", flush=True)
    rows = run_grid(args)
    add_comparisons(rows)
    for row in rows:
        row["median_ms"] = row["median_s"] * 1000 if row.get("median_s") else None
        row["peak_mib"] = row.get("peak_gpu_mib") or row.get("peak_rss_mib")
    print(_common.format_table(rows, COLUMNS))
    _common.print_notes(rows)
    rates = growth(rows)
    for method, g in rates.items():
        print(f"  growth {method}: {g['memory_mib_per_task']:+.1f} MiB ({g['memory_key']}) and "
              f"{g['step_ms_per_task']:+.2f} ms/step per extra task, T={g['tasks']}")
    devices = next((r["devices"] for r in rows if r.get("devices")), None)
    return _common.write_report(_common.output_path(args.output, NAME), NAME, args, rows,
                                devices=devices, growth=rates,
                                peak_memory_per_config=args.isolation == "config")


if __name__ == "__main__":
    main()
