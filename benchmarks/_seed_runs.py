"""Training runs over seeds, one budget: flags, data, the eight networks, train and evaluate.

Shared by `reproduction_report.py` and `weighting_comparison.py` (imported as a plain module,
like `_common`). Seed `s` is one full replicate: the data (images and triplets) drawn with
seed `s`, then the network initialised and trained (batch order) with `s`. Every run is
described by `run_config` and returns one JSON-ready record (`train_and_evaluate`): per-task
test triplet accuracy and counts, the last epoch's UCR and cosine matrices and their means by
kind of task pair, sizes and times. `run_all` trains a list of configurations, reusing the
runs of an earlier JSON whose configuration is equal (`--resume`).
"""

import os
import time

import numpy as np

from keras_mtl.evaluation.results_json import to_json_compatible


# ------------------------------------------------------------------------------ arguments
def add_budget_arguments(parser, budget, quick):
    """The flags of one training budget (defaults from `budget`), seeds, data and resume;
    `--quick` sets the flags left at their default to `quick`'s values."""
    add = parser.add_argument
    add("--seeds", default="0,1,2", help="comma list; seed s draws the data and trains with s")
    add("--num-images", type=int, default=budget["num_images"], help="generated images")
    add("--epochs", type=int, default=budget["epochs"], help="epochs per run")
    add("--train-triplets", type=int, default=budget["train_triplets"],
        help="train triplets per epoch (all tasks)")
    add("--test-triplets", type=int, default=budget["test_triplets"],
        help="test triplets (all tasks)")
    add("--batch-size", type=int, default=budget["batch_size"], help="triplets per batch")
    add("--image-size", type=int, default=budget["image_size"], help="square input side (>= 48)")
    add("--width", type=float, default=budget["width"], help="width multiplier (1.0 = paper)")
    add("--embedding-dim", type=int, default=budget["embedding_dim"],
        help="embedding size (paper: 256)")
    add("--learning-rate", type=float, default=budget["learning_rate"],
        help="Adagrad learning rate (paper 0.01 for 40 epochs)")
    add("--margin", type=float, default=budget["margin"], help="triplet margin (Eq. 6)")
    add("--data-dir", help="local UT-Zappos50K copy; unset: the embedded generated data")
    add("--cache-dir", help="where the embedded data is generated/cached (default: "
        "~/.keras/keras_mtl)")
    add("--run-dir", help="keep checkpoints, logs and per-epoch matrices here")
    add("--resume", help="an earlier results.json of this script: its runs with the same "
        "configuration are reused instead of trained again")
    add("--wait-for", help="before each run, wait while this file exists (e.g. "
        "/tmp/benchmarks.lock, held by a timing benchmark)")
    add("--deterministic", action="store_true",
        help="tf.config.experimental.enable_op_determinism(): a run is bit-identical when "
             "repeated (without it TensorFlow's multithreaded CPU kernels make reruns differ)")
    add("--verbose", type=int, default=0, help="Keras fit verbosity")
    add("--quick", action="store_true", help="tiny sizes for a smoke test: "
        + ", ".join(f"{k}={v}" for k, v in quick.items()) + " (flags left at default)")


def finish_arguments(parser, args, quick):
    """Applies --quick to the flags left at their default; parses --seeds."""
    if args.quick:
        for key, value in quick.items():
            if getattr(args, key) == parser.get_default(key):
                setattr(args, key, value)
    try:
        args.seeds = [int(s) for s in str(args.seeds).split(",") if s.strip()]
    except ValueError:
        parser.error(f"argument --seeds: expected comma-separated integers, received "
                     f"{args.seeds!r}")
    if not args.seeds or len(set(args.seeds)) != len(args.seeds):
        parser.error(f"argument --seeds: expected distinct integers, received {args.seeds}")
    return args


def run_config(args, method, seed, loss_weighting="uniform"):
    """Everything that determines one run: reused on --resume only when equal."""
    keys = ("num_images", "epochs", "train_triplets", "test_triplets", "batch_size",
            "image_size", "width", "embedding_dim", "learning_rate", "margin", "data_dir",
            "deterministic")
    return {"method": method, "loss_weighting": loss_weighting, "seed": seed,
            **{k: getattr(args, k) for k in keys}}


# ------------------------------------------------------------------------------- training
def load_data(config, cache_dir=None):
    """The real dataset from `data_dir`, else the embedded generated one drawn with `seed`."""
    from keras_mtl import datasets

    n = config["train_triplets"]
    return datasets.load_zappos_or_generated(
        config["data_dir"], num_images=config["num_images"],
        image_size=max(64, config["image_size"]),
        num_triplets={"train": n, "val": max(n // 10, 64), "test": config["test_triplets"]},
        seed=config["seed"], cache_dir=cache_dir)


def build(config, data):
    """One of the eight networks with the run's sizes, compiled with its loss weighting."""
    import inspect

    import keras

    from keras_mtl import weighting
    from keras_mtl.losses import TripletLoss
    from keras_mtl.models import top_down_net, zhao_retrieval_net

    method, size = config["method"], config["image_size"]
    shape = (size, size, 3)
    keras.utils.set_random_seed(config["seed"])
    if method == "top_down":
        # VGG-11 without BatchNorm (exact grouped probe); its linear classifier output,
        # flatten -> Dense(embedding_dim) like Zhao's fc, is the embedding.
        model = top_down_net(data.num_tasks, backbone="vgg11", method="top_down",
                             input_shape=shape, num_classes=config["embedding_dim"],
                             width_multiplier=config["width"], shared_fc=(), branch_fc=(),
                             task_names=data.task_names)
    else:
        extra = {"method": "ib", "branch_dim": 25} if method == "ib25" else {"method": method}
        model = zhao_retrieval_net(data.num_tasks, input_shape=shape,
                                   embedding_dim=config["embedding_dim"],
                                   width_multiplier=config["width"],
                                   task_names=data.task_names, **extra)
    cls = weighting.METHODS[config["loss_weighting"]]
    seeded = "seed" in inspect.signature(cls.__init__).parameters  # PCGrad, RLW, GradVac
    chosen = cls(seed=config["seed"]) if seeded else cls()
    model.compile(optimizer=keras.optimizers.Adagrad(config["learning_rate"]),
                  loss=TripletLoss(margin=config["margin"]), probe="grouped",
                  loss_weighting=chosen)
    return model


def _step_timer():
    import keras

    class StepTimer(keras.callbacks.Callback):
        """Wall time of every training step (the median is robust to tracing and pauses)."""

        def __init__(self):
            super().__init__()
            self.times = []

        def on_train_batch_begin(self, batch, logs=None):
            self.start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.times.append(time.perf_counter() - self.start)

    return StepTimer()


def train_and_evaluate(config, data, run_dir=None, verbose=0):
    """Builds, trains and evaluates one run; returns its JSON-ready record."""
    import keras

    from keras_mtl import evaluation
    from keras_mtl.evaluation import fit_triplets

    wall, cpu = time.time(), time.process_time()
    model = build(config, data)
    size = (config["image_size"], config["image_size"])
    timer = _step_timer()
    name = f"{config['method']}_{config['loss_weighting']}_seed{config['seed']}"
    history, _ = fit_triplets(model, data, epochs=config["epochs"],
                              batch_size=config["batch_size"], image_size=size,
                              seed=config["seed"], output_dir=run_dir, run_name=name,
                              verbose=verbose, callbacks=[timer])
    train_s = time.time() - wall
    # The probe's matrices of the last epoch, read before evaluation runs the model.
    shared = int(sum(np.prod(v.shape) for v in model.shared_variables))
    if shared == 0 or model.effective_probe == "off":
        # Nothing shared (ITN, cross-stitch): the probe is off and UCR undefined.
        ucr = cosine = np.full((data.num_tasks, data.num_tasks), np.nan)
    else:
        matrices = model.conflict_matrices()
        ucr, cosine = np.asarray(matrices["ucr"], float), np.asarray(matrices["cosine"], float)
    counts = evaluation.triplet_accuracy(model, data, "test", image_size=size)
    acc = evaluation.accuracy_summary(counts["correct"], counts["total"])
    record = {
        "key": run_key(config), "config": config, "task_names": list(data.task_names),
        "accuracy": acc["accuracy"], "correct": acc["correct"], "total": acc["total"],
        "mean": acc["mean"], "mean_se": acc["mean_se"],
        "params": int(model.count_params()),
        "task_specific_params": int(sum(np.prod(v.shape)
                                        for v in model.task_specific_variables)),
        "shared_params": shared, "probe": model.effective_probe,
        "ucr": ucr, "cosine": cosine,
        "ucr_by_pair": (evaluation.pair_summary(ucr, data.relations)
                        if data.relations is not None else None),
        "cosine_by_pair": (evaluation.pair_summary(cosine, data.relations)
                           if data.relations is not None else None),
        "final_loss": float(history.history["loss"][-1]),
        "step_s_median": float(np.median(timer.times)) if timer.times else None,
        "steps": len(timer.times), "train_s": train_s,
        "total_s": time.time() - wall, "cpu_s": time.process_time() - cpu,
    }
    keras.backend.clear_session()
    return to_json_compatible(record)


def run_key(config):
    return f"{config['method']}/{config['loss_weighting']}/seed{config['seed']}"


def wait_while(path, poll_s=30.0):
    """Sleeps while `path` exists; returns the seconds waited."""
    waited = 0.0
    while path and os.path.exists(path):
        if waited == 0:
            print(f"waiting: {path} exists", flush=True)
        time.sleep(poll_s)
        waited += poll_s
    return waited


def earlier_runs(path):
    """`key -> record` of an earlier results.json (empty when `path` is None or missing)."""
    if not path or not os.path.exists(path):
        return {}
    import json

    with open(path, encoding="utf-8") as handle:
        return {r["key"]: r for r in json.load(handle).get("runs", [])}


def run_all(configs, args, on_run=None, describe=None):
    """Trains every config (reusing --resume's matching runs); calls `on_run(runs)` after each.

    Runs are ordered as `configs`; the data of each seed is loaded once.
    """
    if args.deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    earlier = earlier_runs(args.resume)
    runs, data_cache = [], {}
    for config in configs:
        key = run_key(config)
        old = earlier.get(key)
        if old is not None and old["config"] == to_json_compatible(config):
            runs.append(old)
            print(f"{key}: mean {100 * old['mean']:.2f}% (from --resume)", flush=True)
            continue
        wait_while(args.wait_for)
        data_key = tuple((k, v) for k, v in config.items()
                         if k in ("seed", "num_images", "image_size", "train_triplets",
                                  "test_triplets", "data_dir"))
        if data_key not in data_cache:
            data_cache.clear()  # one seed's data at a time
            data_cache[data_key] = load_data(config, args.cache_dir)
        data = data_cache[data_key]
        if describe:
            print(describe(config, data), flush=True)
        record = train_and_evaluate(config, data, args.run_dir or None, args.verbose)
        runs.append(record)
        print(f"{key}: mean {100 * record['mean']:.2f}% (s.e. {100 * record['mean_se']:.2f})"
              f" in {record['total_s']:.0f} s wall, {record['cpu_s']:.0f} s CPU", flush=True)
        if on_run:
            on_run(runs)
    return runs
