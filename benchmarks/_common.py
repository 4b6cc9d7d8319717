"""Helpers shared by the benchmark scripts: flags, timing, memory, worker processes, output.

Imported as a plain module (`import _common`) by the scripts next to it; nothing here imports
TensorFlow at module level, so a parent process that only plans and spawns workers stays light.
"""

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

RESULT_PREFIX = "RESULT "


# ------------------------------------------------------------------------------------ flags
def base_parser(doc, name):
    """An `ArgumentParser` with `--quick` and `--output` (`outputs/benchmarks/<name>.json`)."""
    parser = argparse.ArgumentParser(
        prog=f"{name}.py", description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes: a smoke test of the script, not a measurement")
    parser.add_argument("--output", default=os.path.join("outputs", "benchmarks", f"{name}.json"),
                        help=f"JSON file to write, or a folder to write {name}.json into")
    return parser


def parse_args(parser, argv, quick_defaults):
    """Parses `argv`; with `--quick`, flags the user did not give take `quick_defaults`."""
    args = parser.parse_args(argv)
    if args.quick:
        for key, value in quick_defaults.items():
            if getattr(args, key) == parser.get_default(key):
                setattr(args, key, value)
    return args


def output_path(output, name):
    """`output`, or `output/<name>.json` when `output` is an existing folder."""
    return os.path.join(output, f"{name}.json") if os.path.isdir(output) else output


# ----------------------------------------------------------------------------------- timing
def summarize(times):
    """Median, min and mean (seconds) of a list of durations."""
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "mean_s": statistics.fmean(times),
        "repeats": len(times),
    }


def time_calls(fn, warmup, repeats, min_seconds=0.0):
    """Times calls of `fn`: returns (first call seconds, timed durations).

    `max(1, warmup)` untimed calls (the first one's duration is returned), then at least
    `repeats` timed calls, more until `min_seconds` of timed calls have passed.
    """
    first = None
    for _ in range(max(1, warmup)):
        start = time.perf_counter()
        fn()
        first = time.perf_counter() - start if first is None else first
    times = []
    while len(times) < repeats or sum(times) < min_seconds:
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return first, times


def random_triplet_batch(num_triplets, image_size, num_tasks, seed=0):
    """Random triplets (tasks round-robin) as model inputs: three consecutive rows each."""
    import numpy as np

    from keras_mtl.losses import interleave_triplets

    rng = np.random.default_rng(seed)
    shape = (num_triplets, image_size, image_size, 3)
    batch = {k: rng.uniform(size=shape).astype("float32") for k in ("anchor", "positive",
                                                                   "negative")}
    batch["task_id"] = (np.arange(num_triplets) % num_tasks).astype("int32")
    return interleave_triplets(batch)


def time_fit_steps(model, batch, warmup, steps):
    """Times `model.fit` steps on one repeated in-memory batch.

    The first step includes tracing (and XLA compilation with `jit_compile=True`); it is
    reported as `first_step_s` and, like the other `warmup` steps, left out of the summary.
    Each step is timed from `on_train_batch_begin` to `on_train_batch_end`, reading the loss
    back so that asynchronous (GPU) execution is finished.
    """
    import keras
    import tensorflow as tf

    times = []

    class Timer(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self.start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            if logs and "loss" in logs:
                float(logs["loss"])
            times.append(time.perf_counter() - self.start)

    warmup = max(1, warmup)
    data = tf.data.Dataset.from_tensors(batch).repeat()
    model.fit(data, steps_per_epoch=warmup + steps, epochs=1, verbose=0, shuffle=False,
              callbacks=[Timer()])
    return {"first_step_s": times[0], "step_times_s": times[warmup:], **summarize(times[warmup:])}


def param_counts(model):
    """`params` (all weights, as `count_params`) and `trainable_params`."""
    trainable = sum(int(_prod(v.shape)) for v in model.trainable_weights)
    return {"params": int(model.count_params()), "trainable_params": trainable}


def _prod(shape):
    out = 1
    for d in shape:
        out *= int(d)
    return out


# ----------------------------------------------------------------------------------- memory
def peak_rss_mib():
    """This process's peak resident set size (MiB) so far."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def current_rss_mib():
    """This process's resident set size now (MiB), or None where /proc is missing."""
    try:
        with open("/proc/self/statm") as handle:
            pages = int(handle.read().split()[1])
    except OSError:
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def gpu_peak_mib():
    """Peak TensorFlow memory on GPU:0 (MiB), or None without a GPU."""
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU"):
        return None
    return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20


def total_memory_gib():
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        return None


# ---------------------------------------------------------------------------------- workers
def emit_result(payload):
    """Prints one result line for the parent process (see `run_worker`)."""
    print(RESULT_PREFIX + json.dumps(payload), flush=True)


def run_worker(command, timeout):
    """Runs `command` (a Python worker) and collects its `emit_result` payloads.

    Returns `(results, error)`: `error` is None, or why the process did not finish (timeout,
    killed by a signal, e.g. out of memory, or a non-zero exit with its last stderr line).
    """
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    try:
        out = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
        return _parse_results(stdout), f"timed out after {timeout:.0f} s"
    results = _parse_results(out.stdout)
    if out.returncode < 0:
        return results, f"killed by signal {-out.returncode} (out of memory?)"
    if out.returncode != 0:
        lines = [x for x in out.stderr.strip().splitlines() if x.strip()]
        return results, f"exit {out.returncode}: {lines[-1] if lines else 'no stderr'}"
    return results, None


def _parse_results(stdout):
    return [json.loads(line[len(RESULT_PREFIX):]) for line in stdout.splitlines()
            if line.startswith(RESULT_PREFIX)]


# ----------------------------------------------------------------------------------- output
def device_names():
    """GPU names when TensorFlow is imported and sees one, else `["CPU"]`."""
    tf = sys.modules.get("tensorflow")
    gpus = tf.config.list_physical_devices("GPU") if tf is not None else []
    return [g.name for g in gpus] or ["CPU"]


def machine_info(devices=None):
    """CPU count, memory, load, library versions and devices of this machine."""
    def version(package):
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return None

    cpu_model = None
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as handle:
            names = [x.split(":", 1)[1].strip() for x in handle if x.startswith("model name")]
        cpu_model = names[0] if names else None
    return {
        "cpu_count": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": cpu_model or platform.processor() or None,
        "memory_gib": total_memory_gib(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "platform": platform.platform(),
        "python_version": platform.python_version(),
        "tensorflow_version": version("tensorflow") or version("tensorflow-cpu"),
        "keras_version": version("keras"),
        "keras_mtl_version": version("keras-mtl") or version("keras_mtl"),
        "devices": devices or device_names(),
    }


def write_report(path, name, args, results, devices=None, **extra):
    """Writes `{"benchmark", "created", "machine", "args", "results", **extra}` to `path`."""
    report = {
        "benchmark": name,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(devices),
        "args": vars(args),
        "results": results,
        **extra,
    }
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=2)
    print(f"wrote {path}")
    return report


def format_table(rows, columns):
    """A text table; `columns` are `(header, key, format)`, missing values print as `n/a`."""
    cells = [[header for header, _, _ in columns]]
    for row in rows:
        line = []
        for _, key, fmt in columns:
            value = row.get(key)
            line.append("n/a" if value is None else format(value, fmt))
        cells.append(line)
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in
                       enumerate(zip(r, widths, strict=True))).rstrip() for r in cells]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def print_notes(rows):
    """Prints the `reason` of every row that has one (n/a configurations)."""
    for row in rows:
        if row.get("reason"):
            label = ", ".join(f"{k}={row[k]}" for k in ("method", "num_tasks", "probe",
                                                       "jit_compile") if k in row)
            print(f"  n/a [{label}]: {row['reason']}")
