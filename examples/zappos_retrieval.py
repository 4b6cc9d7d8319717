"""Attribute-conditioned product retrieval on UT-Zappos50K (Zhao et al., ECCV 2018, Sec. 4.3).

One network embeds a shoe image *for a given task* (class, closure, gender, heel): two shoes
are near each other when they share that attribute. In the fully shared network (FSN) the
tasks share every weight and one embedding, and fight over it (destructive interference,
Sec. 3.1); the modulation module gives each task a small set of its own channel weights
(Eq. 5). This script trains both with one budget and seed, with a triplet loss (Eq. 6), logs
the gradient conflict between tasks while training (UCR, Eq. 2), and prints them side by side
(Table 6 layout) with standard errors, a verdict computed from the numbers, and each method's
UCR matrix with related and independent task pairs marked. Then it draws the figures and
exports the modulated model for TF Serving.

Data: by default a generated, Zappos-like image set that the package makes on first use (in
seconds, cached under ~/.keras/keras_mtl), with the same four tasks and on-disk layout as the
real dataset, so the code path is the same, and with *known* task relations: closure follows
class and heel follows gender (related pairs), every pair across the two groups is
independent (`keras_mtl.datasets.generated`). `--data-dir` points at a local copy of
UT-Zappos50K (`ut-zap50k-images/` + `ut-zap50k-data/meta-data.csv`, and optionally the
Conditional Similarity Networks triplet files); nothing is downloaded, and real data has no
known relations (the UCR matrices are printed unmarked).

    python examples/zappos_retrieval.py                      # FSN vs modulation, embedded data
    python examples/zappos_retrieval.py --compare            # FSN / ITN / CSN / modulation
    python examples/zappos_retrieval.py --methods fsn,ib,modulation --epochs 10
    python examples/zappos_retrieval.py --data-dir ~/data/ut-zap50k --image-size 112

Outputs (under --output-dir, default outputs/zappos_retrieval/): `ucr_<method>.png` (UCR and
gradient-cosine heatmaps), `accuracy.png` (per-task bars per method), `retrieval_grid.png`
(query + top-k per task, Fig. 4, exported model), `logs/` (TensorBoard), `zappos_<method>.keras`
(checkpoints), `results.json` (per method: per-task accuracy and triplet counts, mean and
standard error, UCR and cosine matrices with task names; the comparisons and verdicts; the
data's relation matrix); the SavedModel goes to `saved_models/zappos_retrieval/<version>/`
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
from keras_mtl import cli, datasets, evaluation  # noqa: E402
from keras_mtl.evaluation import fit_triplets  # noqa: E402
from keras_mtl.export import export_for_serving  # noqa: E402
from keras_mtl.losses import TripletLoss  # noqa: E402
from keras_mtl.models import zhao_retrieval_net  # noqa: E402
from keras_mtl.models.zhao_retrieval_net import METHODS, ZHAO_MIN_INPUT_SIZE  # noqa: E402

DEFAULT_METHODS = ("fsn", "modulation")
COMPARE = ("fsn", "itn", "csn", "modulation")
BASELINE = "fsn"
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
SHORT_NAMES = {"fsn": "FSN", "itn": "ITN", "csn": "CSN", "ib": "IB", "only_mask": "only-mask",
               "cross_stitch": "cross-stitch"}  # in sentences; others by their method name
FAST = {"epochs": 1, "image_size": 48, "width": 0.125, "embedding_dim": 16,
        "train_triplets": 256, "test_triplets": 256, "batch_size": 32, "num_images": 400}
SE_NOTE = ("s.e.: binomial standard error over the test triplets, sqrt(p (1 - p) / n) per task "
           "and sqrt(sum se_t^2) / T for the mean; a difference's s.e. is sqrt(se_a^2 + se_b^2) "
           "(conservative: both are scored on the same triplets). One training seed: the spread "
           "over seeds is not included.")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Train the fully shared and the modulated network of Zhao et al. on "
                    "attribute-conditioned shoe retrieval and compare them.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--data-dir", help="local UT-Zappos50K copy (default: embedded data)")
    parser.add_argument("--methods", type=cli.comma_list(METHODS), default=DEFAULT_METHODS,
                        help="comma-separated zhao_retrieval_net variants to train and compare "
                             f"(from {', '.join(METHODS)}); verdicts compare each with fsn")
    parser.add_argument("--compare", action="store_true",
                        help=f"train {', '.join(COMPARE)} (Table 6's methods)")
    parser.add_argument("--method", default="modulation", choices=METHODS,
                        help="the method exported for serving and shown in the retrieval grid "
                             "(trained too if not in --methods)")
    parser.add_argument("--epochs", type=cli.positive_int, default=6)
    parser.add_argument("--batch-size", type=cli.positive_int, default=64,
                        help="triplets per batch, a multiple of the 4 tasks (balanced batches)")
    parser.add_argument("--image-size", type=cli.int_at_least(
        ZHAO_MIN_INPUT_SIZE, "the Table 2 network's smallest input"), default=64,
        help="square input side")
    parser.add_argument("--width", type=cli.positive_float, default=0.25,
                        help="width multiplier of the Table 2 network (1.0 = paper)")
    parser.add_argument("--embedding-dim", type=cli.positive_int, default=64, help="paper: 256")
    parser.add_argument("--optimizer", default="adagrad", choices=("adagrad", "adam"),
                        help="paper: Adagrad")
    parser.add_argument("--learning-rate", type=cli.positive_float, default=0.05,
                        help="learning rate (paper: Adagrad 0.01 for 40 epochs)")
    parser.add_argument("--margin", type=cli.positive_float, default=0.2,
                        help="triplet margin alpha (Eq. 6)")
    parser.add_argument("--train-triplets", type=cli.positive_int, default=4000,
                        help="training triplets per epoch on the embedded data (all tasks)")
    parser.add_argument("--test-triplets", type=cli.positive_int, default=4000,
                        help="test triplets on the embedded data (all tasks); more triplets, "
                             "smaller standard errors")
    parser.add_argument("--num-images", type=cli.int_at_least(40), default=2400,
                        help="generated images (embedded data)")
    parser.add_argument("--probe", default="grouped", choices=("grouped", "full", "off"),
                        help="gradient-conflict probe mode (off: no UCR)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--top-k", type=cli.positive_int, default=5,
                        help="neighbours in the retrieval grid")
    parser.add_argument("--output-dir", default="outputs/zappos_retrieval")
    parser.add_argument("--export-dir", default="saved_models/zappos_retrieval",
                        help="TF Serving base folder; a new numeric version is added")
    parser.add_argument("--no-export", action="store_true", help="skip the SavedModel export")
    parser.add_argument("--cache-dir", help="where the embedded data is generated/cached")
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2),
                        help="Keras fit verbosity")
    cli.add_fast_flag(parser, FAST, what="a smoke test in seconds (accuracies not meaningful)")
    args = cli.parse_args(parser, argv, FAST)
    if args.batch_size % 4:
        parser.error(f"argument --batch-size: expected a multiple of 4 (the tasks share each "
                     f"batch evenly), received {args.batch_size}")
    methods = list(COMPARE if args.compare else args.methods)
    if args.method not in methods:
        methods.append(args.method)
    args.methods = tuple(methods)
    return args


def load_data(args):
    """The real dataset from --data-dir, else the embedded generated one (same schema)."""
    n = args.train_triplets
    return datasets.load_zappos_or_generated(
        args.data_dir,
        num_images=args.num_images,
        image_size=max(64, args.image_size),
        num_triplets={"train": n, "val": max(n // 10, 64), "test": args.test_triplets},
        seed=args.seed,
        cache_dir=args.cache_dir,
    )


def train(method, data, args, out_dir):
    """Builds, trains and checkpoints one variant; returns the model."""
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
    optimizer = (keras.optimizers.Adam if args.optimizer == "adam"
                 else keras.optimizers.Adagrad)(args.learning_rate)
    model.compile(optimizer=optimizer, loss=TripletLoss(margin=args.margin), probe=args.probe)
    print(f"\n== {PAPER_NAMES.get(method, method)}: {model.count_params():,} parameters")
    fit_triplets(model, data, epochs=args.epochs, batch_size=args.batch_size, image_size=size,
                 seed=args.seed, output_dir=out_dir, run_name=f"zappos_{method}",
                 verbose=args.verbose)
    return model


def format_table(results, task_names):
    """Table 6 layout: one row per method, per-task accuracy, the mean and its standard error."""
    header = (f"{'method':<22}" + "".join(f"{n:>9}" for n in task_names)
              + f"{'mean':>9}{'s.e.':>7}{'triplets':>10}")
    lines = [header, "-" * len(header)]
    for method, r in results.items():
        cells = "".join(f"{100 * a:>8.2f}%" for a in r["accuracy"])
        lines.append(f"{PAPER_NAMES.get(method, method):<22}{cells}{100 * r['mean']:>8.2f}%"
                     f"{100 * r['mean_se']:>7.2f}{int(np.sum(r['total'])):>10,}")
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
    if args.fast_message:
        print(args.fast_message)
    out_dir = Path(args.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.time()
    data = load_data(args)
    print(f"keras-mtl {keras_mtl.__version__}: {data.name}, {data.num_images} images, "
          f"tasks {', '.join(data.task_names)}; triplets "
          + ", ".join(f"{k}={len(v)}" for k, v in data.triplets.items()))
    if data.relations is not None:
        print("Task relations (ground truth of the generator): related "
              + ", ".join("/".join(p) for p in data.relations.pairs("related"))
              + "; independent " + ", ".join("/".join(p)
                                            for p in data.relations.pairs("independent")))

    results, matrices, models, seconds = {}, {}, {}, {}
    size = (args.image_size, args.image_size)
    for method in args.methods:
        began = time.time()
        model = train(method, data, args, out_dir)
        # The probe's matrices of the last epoch, read before anything else runs the model.
        matrices[method] = model.conflict_matrices() if args.probe != "off" else None
        counts = evaluation.triplet_accuracy(model, data, "test", image_size=size)
        results[method] = evaluation.accuracy_summary(counts["correct"], counts["total"])
        results[method]["parameters"] = model.count_params()
        models[method] = model
        seconds[method] = round(time.time() - began, 1)
        if matrices[method] is not None and model.effective_probe != "off":
            evaluation.save_matrix_heatmaps(
                out_dir / f"ucr_{method}.png",
                {"ucr": matrices[method]["ucr"], "cosine": matrices[method]["cosine"]},
                data.task_names, f"({method}, last epoch)")
        else:
            matrices[method] = None
    found = evaluation.compare_methods(results, matrices, data.relations, BASELINE,
                                       name=lambda m: SHORT_NAMES.get(m, m))

    print("\nTriplet accuracy on the test split (Zhao et al. Table 6 layout):")
    print(format_table(results, data.task_names))
    print(SE_NOTE)
    for v in found["accuracy"].values():
        print("Verdict: " + v["sentence"])
    for method, m in matrices.items():
        if m is None:
            continue
        legend = ("; R = related pair, I = independent pair (the data's ground truth)"
                  if data.relations is not None else "")
        print(f"\nUCR matrix, last epoch ({PAPER_NAMES.get(method, method)}): fraction of probed "
              f"batches in which the two tasks' gradients on the shared weights agree (Eq. 2)"
              f"{legend}")
        print(evaluation.format_pair_matrix(m["ucr"], data.task_names, data.relations))
    if found["ucr"]:
        print()
        print(evaluation.format_pair_summary(
            {PAPER_NAMES.get(k, k): v["by_pair"] for k, v in found["ucr"].items()}))
        for v in found["ucr"].values():
            print(v["related_above_independent"]["sentence"])
            if "raised_over_fsn" in v:
                print(v["raised_over_fsn"]["sentence"])

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
        "task_names": list(data.task_names),
        "relations": data.relations.to_dict() if data.relations is not None else None,
        "args": {k: v for k, v in vars(args).items() if k not in ("explicit", "fast_message")},
        "standard_error": SE_NOTE,
        **evaluation.comparison_record(data.task_names, results, matrices, seconds, found),
        "exported_method": None,
        "seconds": None,
    }
    export_path = None
    if not args.no_export:
        export_path = export_for_serving(main_model, args.export_dir)
        summary["exported_method"] = args.method
    summary["seconds"] = round(time.time() - start, 1)
    summary["export"] = str(export_path) if export_path else None
    evaluation.save_json(out_dir / "results.json", summary)

    print("\nWritten:")
    for path in figures:
        print(f"  {path}")
    print(f"  {out_dir / 'logs'}  (tensorboard --logdir {out_dir / 'logs'})")
    for method in results:
        print(f"  {out_dir / f'zappos_{method}.keras'}  (Keras checkpoint)")
    print(f"  {out_dir / 'results.json'}")
    if export_path:
        print(f"  {export_path}  (SavedModel for TF Serving of {args.method}, signature "
              "serving_default)")
    print(f"Done in {summary['seconds']} s.")
    return summary


if __name__ == "__main__":
    main()
