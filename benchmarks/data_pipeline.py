"""The triplet data pipeline: batches per second, and the main job's training step fed by it.

1. Throughput: `keras_mtl.datasets.triplet_pipeline` on the embedded generated dataset and on a
   fixture written in the real UT-Zappos50K layout (136x102 JPEGs, like the dataset's
   originals), with images cached in memory or streamed from disk, plus the vectorised
   triplet sampler.
2. Step: the main job's training step (`examples/zappos_retrieval.py` defaults: the modulated
   Zhao net at 64x64, width 0.25, embedding 64, grouped probe, Adagrad, 64 triplets) fed by the
   pipeline as `fit_triplets` feeds it (balanced, augmented) against the same step on
   in-memory arrays (batches taken from the same pipeline beforehand). Feeds alternate
   (`--repeats` rounds) so that a change of machine load hits both; per feed: wall ms per
   step (median and best round), user and system CPU seconds per step (`getrusage`), and the
   ratios pipeline / in-memory: of the medians, of the best rounds (robust to other jobs), of
   the CPU time, and per round (issue 15's target: at most 1.1).
3. With `--main-job`: runs `examples/zappos_retrieval.py` (plus `--main-job-args`) in a child
   process and records its wall, user and system time.

Prints tables and writes JSON (default `outputs/benchmarks/data_pipeline.json`).

    python benchmarks/data_pipeline.py                     # throughput and step (~3 min)
    python benchmarks/data_pipeline.py --main-job          # and the whole main job (~5 min)
    python benchmarks/data_pipeline.py --quick             # smoke test
"""

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICK = {"batches": 5, "fixture_images": 40, "steps": 3, "repeats": 1, "image_size": 48,
         "width": 0.125, "batch_size": 16, "embedding_dim": 8, "num_images": 200}


def parse_args(argv=None):
    parser = _common.base_parser(__doc__, "data_pipeline")
    parser.add_argument("--batch-size", type=int, default=64, help="triplets per batch")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batches", type=int, default=100, help="timed batches per setting")
    parser.add_argument("--fixture-images", type=int, default=400)
    parser.add_argument("--num-images", type=int, default=2400, help="generated images")
    parser.add_argument("--steps", type=int, default=40, help="timed training steps per feed")
    parser.add_argument("--repeats", type=int, default=2, help="alternating rounds per feed")
    parser.add_argument("--width", type=float, default=0.25)
    parser.add_argument("--embedding-dim", type=int, default=64)
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--main-job", action="store_true",
                        help="also time examples/zappos_retrieval.py in a child process")
    parser.add_argument("--main-job-args", default="",
                        help="extra flags for the main job, e.g. '--epochs 2'")
    parser.add_argument("--label", default=None,
                        help="a name for this run in the JSON (e.g. 'before', 'after')")
    return _common.parse_args(parser, argv, QUICK)


def _rate(ds, batches):
    it = iter(ds)
    next(it)  # warm-up: tracing, first decode
    start = time.perf_counter()
    count = 0
    for _ in range(batches):
        try:
            next(it)
        except StopIteration:
            it = iter(ds)
            next(it)
        count += 1
    return count / (time.perf_counter() - start)


def _real_layout_fixture(directory, num_images, seed=0):
    """Writes rendered shoes as 136x102 JPEGs in the UT-Zappos50K layout."""
    from PIL import Image

    from keras_mtl.datasets import generated

    generated.write_generated_zappos(directory, num_images=num_images, image_size=136, seed=seed)
    for root, _, files in os.walk(os.path.join(directory, "ut-zap50k-images")):
        for f in files:
            path = os.path.join(root, f)
            with Image.open(path) as img:
                resized = img.resize((136, 102))
            resized.save(path, quality=90)
    return directory


def throughput(args, tmp):
    from keras_mtl import datasets

    size = (args.image_size, args.image_size)
    generated_data = datasets.load_generated_zappos(
        num_images=args.num_images, cache_dir=os.path.join(tmp, "cache"),
        num_triplets={"train": 4000, "val": 64, "test": 64})
    real = datasets.load_zappos(
        _real_layout_fixture(os.path.join(tmp, "zappos"), args.fixture_images),
        num_triplets={"train": 8000}, split_fractions={"train": 0.8, "test": 0.2},
    )
    settings = [
        ("generated", generated_data, "balanced", False, True),
        ("generated", generated_data, "balanced", True, True),
        ("generated", generated_data, "one_task", True, True),
        ("generated", generated_data, "balanced", True, False),
        ("real_layout_136x102", real, "balanced", True, True),
        ("real_layout_136x102", real, "balanced", True, False),
    ]
    rows = []
    for name, data, sampling, augment, cache in settings:
        ds = datasets.triplet_pipeline(
            data, "train", batch_size=args.batch_size, image_size=size, sampling=sampling,
            augment=augment, cache_images=cache,
        )
        rate = _rate(ds, args.batches)
        rows.append({"data": name, "sampling": sampling, "augment": augment,
                     "cache_images": cache, "batches_per_s": round(rate, 2),
                     "triplets_per_s": round(rate * args.batch_size, 1)})
    print(_common.format_table(rows, [
        ("data", "data", "s"), ("sampling", "sampling", "s"), ("augment", "augment", ""),
        ("cache", "cache_images", ""), ("batches/s", "batches_per_s", ".2f"),
        ("triplets/s", "triplets_per_s", ".1f")]))
    return rows


def _cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def step_comparison(args, tmp):
    """The main job's step fed by the pipeline vs by in-memory arrays, alternating."""
    import keras
    import numpy as np
    import tensorflow as tf

    from keras_mtl import datasets
    from keras_mtl.losses import TripletLoss
    from keras_mtl.models import zhao_retrieval_net

    size = (args.image_size, args.image_size)
    data = datasets.load_generated_zappos(
        num_images=args.num_images, image_size=max(64, args.image_size),
        cache_dir=os.path.join(tmp, "cache"),
        num_triplets={"train": 4000, "val": 64, "test": 64})
    pipeline = datasets.triplet_pipeline(data, "train", batch_size=args.batch_size,
                                         image_size=size, augment=True, seed=0)
    batches = list(pipeline.take(args.steps + 2).as_numpy_iterator())
    stacked = {k: np.stack([b[k] for b in batches]) for k in batches[0]}
    in_memory = tf.data.Dataset.from_tensor_slices(stacked)
    feeds = {"pipeline": pipeline, "in_memory": in_memory}

    keras.utils.set_random_seed(0)
    model = zhao_retrieval_net(data.num_tasks, method="modulation", input_shape=size + (3,),
                               embedding_dim=args.embedding_dim, width_multiplier=args.width,
                               task_names=data.task_names)
    model.compile(optimizer=keras.optimizers.Adagrad(0.05), loss=TripletLoss(0.2),
                  probe="grouped")
    model.fit(in_memory.take(2), epochs=1, verbose=0)  # trace once for both feeds

    measured = {name: [] for name in feeds}
    for _ in range(args.repeats):
        for name, ds in feeds.items():
            model.fit(ds.take(2), epochs=1, verbose=0)  # a retrace per feed's shapes
            user0, sys0 = _cpu()
            start = time.perf_counter()
            model.fit(ds.take(args.steps), epochs=1, verbose=0, shuffle=False)
            wall = time.perf_counter() - start
            user1, sys1 = _cpu()
            measured[name].append({"wall_s": wall, "user_s": user1 - user0,
                                   "sys_s": sys1 - sys0})
    rows = []
    for name, runs in measured.items():
        rows.append({
            "feed": name,
            "ms_per_step": 1000 * statistics.median(r["wall_s"] for r in runs) / args.steps,
            "min_ms_per_step": 1000 * min(r["wall_s"] for r in runs) / args.steps,
            "user_s_per_step": statistics.median(r["user_s"] for r in runs) / args.steps,
            "sys_s_per_step": statistics.median(r["sys_s"] for r in runs) / args.steps,
            "runs": runs,
        })
    base = rows[1]
    # Each round runs both feeds back to back: the ratio within a round shares its load.
    round_ratios = [p["wall_s"] / m["wall_s"]
                    for p, m in zip(measured["pipeline"], measured["in_memory"], strict=True)]
    for row in rows:
        row["ratio_to_in_memory"] = row["ms_per_step"] / base["ms_per_step"]
        row["min_ratio_to_in_memory"] = row["min_ms_per_step"] / base["min_ms_per_step"]
        row["cpu_ratio_to_in_memory"] = ((row["user_s_per_step"] + row["sys_s_per_step"])
                                         / (base["user_s_per_step"] + base["sys_s_per_step"]))
    rows[0]["round_ratios"] = round_ratios
    rows[0]["median_round_ratio"] = statistics.median(round_ratios)
    print(_common.format_table(rows, [
        ("feed", "feed", "s"), ("ms/step", "ms_per_step", ".1f"),
        ("min ms/step", "min_ms_per_step", ".1f"),
        ("user s/step", "user_s_per_step", ".3f"), ("sys s/step", "sys_s_per_step", ".3f"),
        ("x in-memory", "ratio_to_in_memory", ".3f"),
        ("x (min)", "min_ratio_to_in_memory", ".3f"),
        ("x (CPU)", "cpu_ratio_to_in_memory", ".3f")]))
    print(f"pipeline / in-memory per round: {', '.join(f'{r:.3f}' for r in round_ratios)} "
          f"(median {statistics.median(round_ratios):.3f})")
    return rows


def main_job(args, tmp):
    """Runs the main job in a child process; its wall, user and system seconds."""
    command = [sys.executable, os.path.join(ROOT, "examples", "zappos_retrieval.py"),
               "--output-dir", os.path.join(tmp, "main_job"), "--export-dir",
               os.path.join(tmp, "main_job_export"), "--cache-dir", os.path.join(tmp, "mj_cache"),
               "--verbose", "0"] + args.main_job_args.split()
    if args.quick:
        command.append("--fast")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=ROOT + os.pathsep
                                   + os.environ.get("PYTHONPATH", "")))
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    row = {"command": " ".join(command[1:]), "exit_status": done.returncode,
           "wall_s": round(wall, 1), "user_s": round(after.ru_utime - before.ru_utime, 1),
           "sys_s": round(after.ru_stime - before.ru_stime, 1)}
    if done.returncode:
        row["stderr_tail"] = done.stderr[-2000:]
    print(f"main job: wall {row['wall_s']} s, user {row['user_s']} s, sys {row['sys_s']} s "
          f"(exit {done.returncode})")
    return row


def main(argv=None):
    args = parse_args(argv)
    from keras_mtl import datasets

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_throughput:
            results["throughput"] = throughput(args, tmp)
        results["step"] = step_comparison(args, tmp)
        if args.main_job:
            results["main_job"] = main_job(args, tmp)

    import numpy as np

    labels = np.random.default_rng(0).integers(0, 10, size=(50_000, 4))
    start = time.perf_counter()
    datasets.sample_triplets(labels, 50_000, seed=0)
    sample_rate = 200_000 / (time.perf_counter() - start)
    print(f"sample_triplets: {sample_rate:,.0f} triplets/s (200k over 4 tasks, 50k images)")
    results["sample_triplets_per_s"] = round(sample_rate)
    try:
        from keras_mtl.datasets.pipeline import usable_cpus
    except ImportError:  # a pipeline from before issue 15
        usable_cpus = None
    return _common.write_report(_common.output_path(args.output, "data_pipeline"),
                                "data_pipeline", args, results, label=args.label,
                                usable_cpus=usable_cpus() if usable_cpus else None)


if __name__ == "__main__":
    main()
