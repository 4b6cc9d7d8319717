"""Step time and peak memory of the gradient-conflict probe: off vs grouped vs full.

Each (input size, number of tasks) runs in its own subprocess with one model per probe mode;
timed steps are interleaved across modes so that other load on the machine hits all modes alike.
Peak resident memory is measured per mode in further fresh processes (`--no-memory` to skip).
Prints a table and writes JSON.

The network is the Zhao et al. Table 2 retrieval net (conv1, four blocks of conv / stride-2
pool / residual block of two convs, fc 256) with per-task channel scaling from block4 on:
`keras_mtl.models.zhao_retrieval_net(T, method="modulation")`.

Usage:
    python benchmarks/probe_overhead.py                      # full grid (slow on CPU)
    python benchmarks/probe_overhead.py --sizes 48 --tasks 1 4 --steps 3 --triplets 8 \\
        --no-memory
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:  # _common.py lives next to this script
    sys.path.insert(0, HERE)
import _common  # noqa: E402


def build_model(num_tasks, size):
    from keras_mtl.models import zhao_retrieval_net

    model = zhao_retrieval_net(num_tasks, method="modulation", input_shape=(size, size, 3))
    return model, "keras_mtl.models.zhao_retrieval_net"


def run_config(args):
    """Times every probe mode for one (size, T) in this process; prints a JSON line.

    One model per mode; timed steps are interleaved (off, grouped, full, off, ...) so that
    load from other processes on the machine affects every mode alike.
    """
    import tensorflow as tf

    from keras_mtl.losses import TripletLoss

    batch = _common.random_triplet_batch(args.triplets, args.size, args.num_tasks)
    models, source = {}, None
    for probe in args.probes:
        model, source = build_model(args.num_tasks, args.size)
        model.compile(optimizer="adagrad", loss=TripletLoss(0.2), probe=probe)
        for _ in range(args.warmup):
            model.train_on_batch(batch)
        models[probe] = model
    times = {probe: [] for probe in args.probes}
    for _ in range(args.steps):
        for probe, model in models.items():
            start = time.perf_counter()
            model.train_on_batch(batch)
            times[probe].append(time.perf_counter() - start)
    peak_gpu = None
    if tf.config.list_physical_devices("GPU"):
        peak_gpu = tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
    print("RESULT " + json.dumps({
        "num_tasks": args.num_tasks, "size": args.size, "triplets": args.triplets,
        "median_step_s": {p: statistics.median(t) for p, t in times.items()},
        "step_times_s": times, "peak_gpu_mib": peak_gpu,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "params": models[args.probes[0]].count_params(), "network": source,
    }))


def run_memory(args):
    """Peak resident memory of one probe mode (a few steps in a fresh process)."""

    from keras_mtl.losses import TripletLoss

    batch = _common.random_triplet_batch(args.triplets, args.size, args.num_tasks)
    model, _ = build_model(args.num_tasks, args.size)
    model.compile(optimizer="adagrad", loss=TripletLoss(0.2), probe=args.probes[0])
    for _ in range(2):
        model.train_on_batch(batch)
    print("RESULT " + json.dumps(
        {"peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def _subprocess(args, extra):
    command = [sys.executable, __file__, "--triplets", str(args.triplets), "--steps",
               str(args.steps), "--warmup", str(args.warmup)] + extra
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run(command, capture_output=True, text=True, env=env)
    lines = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")]
    if not lines:
        print(out.stderr[-3000:], file=sys.stderr)
        raise RuntimeError(f"configuration failed: {command}")
    return json.loads(lines[-1][len("RESULT "):])


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 150])
    parser.add_argument("--tasks", type=int, nargs="+", default=[1, 4, 20, 40])
    parser.add_argument("--probes", nargs="+", default=["off", "grouped", "full"])
    parser.add_argument("--triplets", type=int, default=40, help="triplets per batch")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per configuration")
    parser.add_argument("--warmup", type=int, default=2, help="untimed first steps")
    parser.add_argument("--max-full-tasks", type=int, default=20,
                        help="skip probe='full' above this many tasks (it costs ~T steps)")
    parser.add_argument("--memory", action=argparse.BooleanOptionalAction, default=True,
                        help="also measure peak RSS per mode in separate processes")
    parser.add_argument("--output", default="outputs/benchmarks/probe_overhead.json")
    parser.add_argument("--mode", choices=["config", "memory"], help=argparse.SUPPRESS)
    parser.add_argument("--num-tasks", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode == "config":
        run_config(args)
        return
    if args.mode == "memory":
        run_memory(args)
        return

    results = []
    for size in args.sizes:
        for num_tasks in args.tasks:
            probes = [p for p in args.probes
                      if not (p == "full" and num_tasks > args.max_full_tasks)]
            where = ["--num-tasks", str(num_tasks), "--size", str(size)]
            timing = _subprocess(args, ["--mode", "config", "--probes", *probes] + where)
            off = timing["median_step_s"].get("off")
            for probe in probes:
                median = timing["median_step_s"][probe]
                row = {"size": size, "num_tasks": num_tasks, "probe": probe,
                       "triplets": args.triplets, "median_step_s": median,
                       "ratio_to_off": median / off if off else None,
                       "step_times_s": timing["step_times_s"][probe],
                       "params": timing["params"], "network": timing["network"],
                       "peak_gpu_mib": timing["peak_gpu_mib"], "peak_rss_mib": None}
                if args.memory:
                    row["peak_rss_mib"] = _subprocess(
                        args, ["--mode", "memory", "--probes", probe] + where)["peak_rss_mib"]
                results.append(row)
                ratio = f"{row['ratio_to_off']:.3f}" if row["ratio_to_off"] else "-"
                print(f"size={size} T={num_tasks} probe={probe}: {median * 1000:.1f} ms "
                      f"(x off {ratio})", flush=True)

    header = (f"{'size':>5} {'T':>3} {'probe':>8} {'median ms':>10} {'x off':>6} "
              f"{'peak RSS MiB':>13}")
    print(header)
    print("-" * len(header))
    for r in results:
        ratio = f"{r['ratio_to_off']:.3f}" if r["ratio_to_off"] else "-"
        memory = f"{r['peak_rss_mib']:.0f}" if r["peak_rss_mib"] else "-"
        print(f"{r['size']:>5} {r['num_tasks']:>3} {r['probe']:>8} "
              f"{r['median_step_s'] * 1000:>10.1f} {ratio:>6} {memory:>13}")
    os.makedirs(os.path.dirname(args.output) or ".", exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as handle:
        json.dump({"results": results, "args": vars(args)}, handle, indent=2)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
