"""Attribute-conditioned product retrieval on UT-Zappos50K (Zhao et al., ECCV 2018, Sec. 4.3).

One network embeds a shoe image *for a given task* (class, closure, gender, heel): two shoes
are near each other when they share that attribute. The tasks share one backbone (the Table 2
network) and fight over it; the modulation module gives each task a small set of its own
channel weights. This script trains that set-up with a triplet loss (Eq. 6), logs the
gradient conflict between tasks while training (UCR, Eq. 2), reports per-task triplet
accuracy like Table 6, draws the figures and exports the model for TF Serving.

Data: by default a generated, Zappos-like image set that the package makes on first use (in
seconds, cached under ~/.keras/keras_mtl), with the same four tasks and on-disk layout as the
real dataset, so the code path is the same. `--data-dir` points at a local copy of
UT-Zappos50K (`ut-zap50k-images/` + `ut-zap50k-data/meta-data.csv`, and optionally the
Conditional Similarity Networks triplet files); nothing is downloaded.

    python examples/zappos_retrieval.py                      # modulation, embedded data
    python examples/zappos_retrieval.py --compare            # FSN / ITN / CSN / modulation
    python examples/zappos_retrieval.py --data-dir ~/data/ut-zap50k --image-size 112

Outputs (under --output-dir, default outputs/zappos_retrieval/): `ucr_<method>.png` (UCR and
gradient-cosine heatmaps), `accuracy.png` (per-task bars per method), `retrieval_grid.png`
(query + top-k per task, Fig. 4), `logs/` (TensorBoard), `zappos_<method>.keras`
(checkpoint), `results.json`; the SavedModel goes to `saved_models/zappos_retrieval/<version>/`
with signature `serving_default(image: float32 [N, H, W, 3] in [0, 1], task_id: int32 [N])
-> {"embedding": float32 [N, D]}`. Preprocessing for serving: RGB, resize to the model's
size (bilinear, antialiased), divide by 255.
"""

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_mtl  # noqa: E402
from keras_mtl import datasets, evaluation  # noqa: E402
from keras_mtl.evaluation import fit_triplets  # noqa: E402
from keras_mtl.export import export_for_serving  # noqa: E402
from keras_mtl.losses import TripletLoss  # noqa: E402
from keras_mtl.models import zhao_retrieval_net  # noqa: E402

COMPARE = ("fsn", "itn", "csn", "modulation")
PAPER_NAMES = {
    "fsn": "Fully shared (FSN)",
    "itn": "Independent (ITN)",
    "csn": "CSN (Veit et al.)",
    "modulation": "Ours: modulation",
    "ib": "Independent branches",
    "routing": "Task routing",
    "cross_stitch": "Cross-stitch",
    "only_mask": "Only mask",
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Train and evaluate Zhao et al.'s attribute-conditioned shoe retrieval.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--data-dir", help="local UT-Zappos50K copy (default: embedded data)")
    parser.add_argument("--method", default="modulation",
                        help="builder variant of zhao_retrieval_net (modulation, fsn, itn, ib, "
                             "csn, routing, cross_stitch, only_mask)")
    parser.add_argument("--compare", action="store_true",
                        help=f"train {', '.join(COMPARE)} and print them side by side (Table 6)")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=64, help="triplets per batch")
    parser.add_argument("--image-size", type=int, default=64, help="square input side")
    parser.add_argument("--width", type=float, default=0.25,
                        help="width multiplier of the Table 2 network (1.0 = paper)")
    parser.add_argument("--embedding-dim", type=int, default=64, help="paper: 256")
    parser.add_argument("--learning-rate", type=float, default=0.05,
                        help="Adagrad learning rate (paper: 0.01 for 40 epochs)")
    parser.add_argument("--margin", type=float, default=0.2, help="triplet margin alpha (Eq. 6)")
    parser.add_argument("--train-triplets", type=int, default=4000,
                        help="triplets per epoch on the embedded data (all tasks)")
    parser.add_argument("--probe", default="grouped", choices=("grouped", "full", "off"),
                        help="gradient-conflict probe mode")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--top-k", type=int, default=5, help="neighbours in the retrieval grid")
    parser.add_argument("--output-dir", default="outputs/zappos_retrieval")
    parser.add_argument("--export-dir", default="saved_models/zappos_retrieval",
                        help="TF Serving base folder; a new numeric version is added")
    parser.add_argument("--no-export", action="store_true", help="skip the SavedModel export")
    parser.add_argument("--cache-dir", help="where the embedded data is generated/cached")
    parser.add_argument("--fast", action="store_true",
                        help="tiny sizes for a smoke test (seconds, not meaningful accuracies)")
    parser.add_argument("--verbose", type=int, default=1, help="Keras fit verbosity")
    args = parser.parse_args(argv)
    if args.fast:
        args.epochs, args.image_size, args.width = 1, 48, 0.125
        args.embedding_dim, args.train_triplets, args.batch_size = 16, 256, 32
    return args


def load_data(args):
    """The real dataset from --data-dir, else the embedded generated one (same schema)."""
    n = args.train_triplets
    return datasets.load_zappos_or_generated(
        args.data_dir,
        num_images=400 if args.fast else 2400,
        image_size=max(64, args.image_size),
        num_triplets={"train": n, "val": max(n // 10, 64), "test": max(n // 4, 128)},
        seed=args.seed,
        cache_dir=args.cache_dir,
    )


def train(method, data, args, out_dir):
    """Builds, trains and checkpoints one variant; returns the model and its conflict log."""
    keras.utils.set_random_seed(args.seed)
    size = (args.image_size, args.image_size)
    model = zhao_retrieval_net(
        data.num_tasks,
        method=method,
        input_shape=size + (3,),
        embedding_dim=args.embedding_dim,
        width_multiplier=args.width,
        task_names=data.task_names,
    )
    model.compile(
        optimizer=keras.optimizers.Adagrad(args.learning_rate),
        loss=TripletLoss(margin=args.margin),
        probe=args.probe,
    )
    print(f"\n== {PAPER_NAMES.get(method, method)}: {model.count_params():,} parameters")
    _, conflicts = fit_triplets(model, data, epochs=args.epochs, batch_size=args.batch_size,
                                image_size=size, seed=args.seed, output_dir=out_dir,
                                run_name=f"zappos_{method}", verbose=args.verbose)
    return model, conflicts


def format_table(results, task_names):
    """A Table 6-style text table: one row per method, per-task accuracy and the mean."""
    header = f"{'method':<22}" + "".join(f"{n:>9}" for n in task_names) + f"{'mean':>9}"
    lines = [header, "-" * len(header)]
    for method, r in results.items():
        cells = "".join(f"{100 * a:>8.2f}%" for a in r["accuracy"])
        lines.append(f"{PAPER_NAMES.get(method, method):<22}{cells}{100 * r['mean']:>8.2f}%")
    return "\n".join(lines)


def format_matrix(matrix, task_names):
    width = max(len(n) for n in task_names) + 2
    lines = [" " * width + "".join(f"{n:>{width}}" for n in task_names)]
    for name, row in zip(task_names, matrix, strict=True):
        lines.append(f"{name:<{width}}" + "".join(f"{v:>{width}.2f}" for v in row))
    return "\n".join(lines)


def retrieval_grid(model, data, args, path):
    """One query per task from the test split and its top-k neighbours (Zhao Fig. 4)."""
    size = (args.image_size, args.image_size)
    gallery = data.splits["test"]
    rng = np.random.default_rng(args.seed)
    rows = []
    for task, name in enumerate(data.task_names):
        known = gallery[data.labels[gallery, task] >= 0]
        query = int(rng.choice(known))
        neighbours = evaluation.retrieve(model, data, [query], gallery, task, args.top_k,
                                         image_size=size)[0]
        rows.append((name, query, list(neighbours)))
    shown = sorted({i for _, q, n in rows for i in (q, *n)})
    pixels = dict(zip(shown, np.concatenate(list(
        datasets.image_pipeline(data, shown, image_size=(96, 96)).as_numpy_iterator())),
        strict=True))

    def label(task_name, index):
        task = data.task_names.index(task_name)
        value = data.labels[index, task]
        return data.label_names[task][value] if value >= 0 else "?"

    return evaluation.save_retrieval_grid(path, pixels.__getitem__, rows, labels=label)


def main(argv=None):
    args = parse_args(argv)
    out_dir = Path(args.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.time()
    data = load_data(args)
    print(f"keras-mtl {keras_mtl.__version__}: {data.name}, {data.num_images} images, "
          f"tasks {', '.join(data.task_names)}; triplets "
          + ", ".join(f"{k}={len(v)}" for k, v in data.triplets.items()))

    methods = list(COMPARE) if args.compare else [args.method]
    if args.method not in methods:
        methods.append(args.method)
    results, matrices, models = {}, {}, {}
    for method in methods:
        model, conflicts = train(method, data, args, out_dir)
        results[method] = evaluation.triplet_accuracy(
            model, data, "test", image_size=(args.image_size, args.image_size))
        # The matrices of the last epoch, as the callback saved them.
        matrices[method] = conflicts.history[-1] if conflicts.history else None
        models[method] = model
        if matrices[method] is not None:
            evaluation.save_matrix_heatmaps(
                out_dir / f"ucr_{method}.png",
                {"ucr": matrices[method]["ucr"], "cosine": matrices[method]["cosine"]},
                data.task_names, f"({method}, last epoch)")

    print("\nTriplet accuracy on the test split (Zhao et al. Table 6 layout):")
    print(format_table(results, data.task_names))
    for method, m in matrices.items():
        if m is not None:
            print(f"\nUCR matrix, last epoch ({method}): fraction of probed batches in which "
                  "the two tasks' gradients on the shared weights agree (Eq. 2)")
            print(format_matrix(m["ucr"], data.task_names))

    main_model = models[args.method]
    figures = [
        evaluation.save_accuracy_bars(
            out_dir / "accuracy.png", {PAPER_NAMES.get(k, k): v["accuracy"]
                                       for k, v in results.items()}, data.task_names),
        retrieval_grid(main_model, data, args, out_dir / "retrieval_grid.png"),
    ]
    figures += [out_dir / f"ucr_{k}.png" for k, v in matrices.items() if v is not None]
    summary = {
        "data": data.name,
        "args": vars(args),
        "results": {k: {"accuracy": v["accuracy"].tolist(), "correct": v["correct"].tolist(),
                        "total": v["total"].tolist(), "mean": v["mean"]}
                    for k, v in results.items()},
        "ucr": {k: None if v is None else np.asarray(v["ucr"]).tolist()
                for k, v in matrices.items()},
        "seconds": None,
    }
    export_path = None
    if not args.no_export:
        export_path = export_for_serving(main_model, args.export_dir)
    summary["seconds"] = round(time.time() - start, 1)
    summary["export"] = str(export_path) if export_path else None
    evaluation.save_json(out_dir / "results.json", summary)

    print("\nWritten:")
    for path in figures:
        print(f"  {path}")
    print(f"  {out_dir / 'logs'}  (tensorboard --logdir {out_dir / 'logs'})")
    print(f"  {out_dir / f'zappos_{args.method}.keras'}  (Keras checkpoint)")
    print(f"  {out_dir / 'results.json'}")
    if export_path:
        print(f"  {export_path}  (SavedModel for TF Serving, signature serving_default)")
    print(f"Done in {summary['seconds']} s.")
    return summary


if __name__ == "__main__":
    main()
