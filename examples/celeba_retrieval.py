"""20-task face retrieval on CelebA (Zhao et al., ECCV 2018, Sec. 4.2, Table 3).

One network embeds a face *for a given attribute*: two faces are near each other when they
agree on that attribute (both smiling, or both not). Twenty attributes share one backbone
(the Table 2 network); with that many tasks the fully shared network (FSN) suffers most from
destructive interference, which the modulation module (a few per-task channel weights)
mitigates. This script trains FSN and the modulated network with one budget and seed, with a
triplet loss (Eq. 6), logs the gradient conflict between every pair of tasks (UCR, Eq. 2), and
prints them side by side like Table 3: per-attribute triplet accuracy, the mean and its
standard error, and a one-line verdict computed from the numbers; then the UCR by kind of task
pair (related / independent, Table 1) and the most and least compatible pairs.

Data: by default generated cartoon faces that the package makes on first use (seconds, cached
under ~/.keras/keras_mtl; `keras_mtl.datasets.generated_faces`), with the 20 attributes of
Table 3 and CelebA's raw on-disk layout, read back by the real loader. Some attributes are
drawn dependent (smiling / cheekbones / open mouth; the beard attributes through `Male`; age,
bald, receding hairline, eye bags through `Young`; chubby / double chin) and the groups
independent of each other; the ground truth is `data.relations`. `--data-dir` points at a
local CelebA: the raw layout (`img_align_celeba/`, `list_attr_celeba.txt`,
`list_eval_partition.txt`) or a TFDS data dir in which `celeb_a` is prepared; nothing is
downloaded, and real data has no known relations.

    python examples/celeba_retrieval.py                       # FSN vs modulation, embedded faces
    python examples/celeba_retrieval.py --compare             # FSN / IB-25 / modulation
    python examples/celeba_retrieval.py --methods fsn,csn,modulation --epochs 8
    python examples/celeba_retrieval.py --data-dir ~/data/celeba --image-size 96 --epochs 10

Outputs (under --output-dir, default outputs/celeba_retrieval/): `accuracy.png` (per-attribute
bars per method), `ucr_<method>.png` (UCR and gradient-cosine heatmaps, last epoch),
`conflict_celeba_<method>/` (per-epoch matrices as CSV/NPZ), `logs/` (TensorBoard),
`celeba_<method>.keras` (checkpoint), `results.json` (per method: per-attribute accuracy,
standard errors and triplet counts, mean and its standard error, UCR and cosine matrices and
their means by kind of pair; the verdicts; the data's relations).
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
from keras_mtl.datasets.generated_faces import attribute_correlation  # noqa: E402
from keras_mtl.evaluation import fit_triplets  # noqa: E402
from keras_mtl.losses import TripletLoss  # noqa: E402
from keras_mtl.models import zhao_retrieval_net  # noqa: E402
from keras_mtl.models.zhao_retrieval_net import METHODS, ZHAO_MIN_INPUT_SIZE  # noqa: E402

DEFAULT_METHODS = ("fsn", "modulation")
COMPARE = ("fsn", "ib", "modulation")
BASELINE = "fsn"
PAPER_NAMES = {
    "fsn": "FSN",
    "itn": "ITN",
    "ib": "IB-{k}",
    "csn": "CSN",
    "modulation": "Modulation",
    "routing": "Routing",
    "cross_stitch": "X-stitch",
    "only_mask": "Only mask",
}


FAST = {  # a smoke test in seconds
    "epochs": 1, "image_size": 48, "width": 0.125, "embedding_dim": 16, "train_triplets": 12,
    "test_triplets": 10, "num_images": 600,
    # 3 of the 20 tasks (a correlated pair and an independent one): tracing the grouped
    # probe's 20 per-task sub-graphs alone takes minutes on a small CPU.
    "attributes": "Smiling,High_Cheekbones,Goatee", "batch_size": 36,
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Train and evaluate Zhao et al.'s 20-attribute face retrieval.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--data-dir", help="local CelebA: raw layout or a TFDS data dir "
                                           "(default: embedded generated faces)")
    parser.add_argument("--source", default="auto", choices=("auto", "raw", "tfds"),
                        help="layout of --data-dir; auto = raw when list_attr_celeba.txt exists")
    parser.add_argument("--method", default="modulation", choices=METHODS,
                        help="the builder variant compared with the fully shared net (fsn): "
                             "trains fsn and this one (unless --methods or --compare says "
                             "otherwise)")
    parser.add_argument("--methods", type=cli.comma_list(METHODS), default=None,
                        help="comma-separated zhao_retrieval_net variants to train and compare "
                             f"(from {', '.join(METHODS)}); verdicts compare each with fsn "
                             "(default: fsn and --method)")
    parser.add_argument("--compare", action="store_true",
                        help=f"train {', '.join(COMPARE)} and print them side by side (Table 3)")
    parser.add_argument("--attributes", default="zhao20",
                        help="the tasks: 'zhao20' (Table 3) or comma-separated CelebA names")
    parser.add_argument("--branch-dim", type=cli.positive_int, default=25,
                        help="k of IB-k (paper: 25, 256)")
    parser.add_argument("--epochs", type=cli.positive_int, default=5)
    parser.add_argument("--batch-size", type=cli.positive_int, default=60,
                        help="triplets per batch, a multiple of the number of tasks (balanced)")
    parser.add_argument("--image-size", type=cli.int_at_least(
        ZHAO_MIN_INPUT_SIZE, "the Table 2 network's smallest input"), default=48,
        help="square input side (paper: 150)")
    parser.add_argument("--width", type=cli.positive_float, default=0.25,
                        help="width multiplier of the Table 2 network (1.0 = paper)")
    parser.add_argument("--embedding-dim", type=cli.positive_int, default=64, help="paper: 256")
    parser.add_argument("--optimizer", default="adam", choices=("adam", "adagrad"),
                        help="paper: Adagrad (lr 0.01, 30,000 triplets per attribute); on the "
                             "small default budget Adagrad stays at the margin (loss 0.2), "
                             "Adam learns")
    parser.add_argument("--learning-rate", type=cli.positive_float, default=1e-3,
                        help="learning rate of --optimizer (paper: Adagrad 0.01)")
    parser.add_argument("--margin", type=cli.positive_float, default=0.2,
                        help="triplet margin alpha (Eq. 6)")
    parser.add_argument("--train-triplets", type=cli.positive_int, default=200,
                        help="training triplets per attribute (paper: 30,000)")
    parser.add_argument("--test-triplets", type=cli.positive_int, default=300,
                        help="test triplets per attribute (paper: 10,000)")
    parser.add_argument("--num-images", type=cli.int_at_least(500), default=2000,
                        help="generated faces")
    parser.add_argument("--max-images-per-split", type=cli.positive_int,
                        help="cap on images per split (TFDS source)")
    parser.add_argument("--probe", default="grouped", choices=("grouped", "full", "off"),
                        help="gradient-conflict probe mode")
    parser.add_argument("--top-pairs", type=cli.positive_int, default=5,
                        help="most / least compatible task pairs to print")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output-dir", default="outputs/celeba_retrieval")
    parser.add_argument("--cache-dir", help="where the embedded faces are generated/cached")
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2),
                        help="Keras fit verbosity")
    cli.add_fast_flag(parser, FAST, what="a smoke test in seconds (accuracies not meaningful)")
    args = cli.parse_args(parser, argv, FAST)
    if args.attributes != "zhao20":
        args.attributes = [a.strip() for a in args.attributes.split(",") if a.strip()]
        if not args.attributes:
            parser.error("argument --attributes: expected 'zhao20' or CelebA attribute names")
    if args.methods is None:
        args.methods = tuple(COMPARE) if args.compare else tuple(dict.fromkeys(
            (BASELINE, args.method)))
    elif args.compare:
        args.methods = tuple(dict.fromkeys((*args.methods, *COMPARE)))
    num_tasks = 20 if args.attributes == "zhao20" else len(args.attributes)
    if args.batch_size % num_tasks:
        parser.error(f"argument --batch-size: expected a multiple of the number of tasks "
                     f"({num_tasks}), for batches balanced over tasks, received "
                     f"{args.batch_size}")
    return args


def load_data(args):
    """CelebA from --data-dir (raw layout or TFDS), else the embedded generated faces."""
    triplets = {"train": args.train_triplets, "val": max(args.train_triplets // 10, 5),
                "test": args.test_triplets}
    if args.data_dir:
        source = args.source
        if source == "auto":
            raw = any(os.path.isfile(os.path.join(args.data_dir, p))
                      for p in ("list_attr_celeba.txt", "Anno/list_attr_celeba.txt"))
            source = "raw" if raw else "tfds"
        return datasets.load_celeba(
            args.data_dir, source=source, attributes=args.attributes, num_triplets=triplets,
            seed=args.seed,
            image_size=(args.image_size, args.image_size),
            max_images_per_split=args.max_images_per_split)
    return datasets.load_generated_celeba(
        num_images=args.num_images, image_size=max(64, args.image_size), num_triplets=triplets,
        attributes=args.attributes, seed=args.seed, cache_dir=args.cache_dir)


def display_name(method, args):
    return PAPER_NAMES.get(method, method).format(k=args.branch_dim)


def model_task_names(names):
    """CelebA names as identifiers (builders need them for layer and metric names)."""
    return [n if n.isidentifier() else f"attr_{n}" for n in names]  # 5_o_Clock_Shadow


def train(method, data, args, out_dir):
    """Builds, trains and checkpoints one variant; returns the model and its conflict log."""
    keras.utils.set_random_seed(args.seed)
    size = (args.image_size, args.image_size)
    model = zhao_retrieval_net(
        data.num_tasks, method=method, input_shape=size + (3,),
        embedding_dim=args.embedding_dim, width_multiplier=args.width,
        branch_dim=args.branch_dim, task_names=model_task_names(data.task_names))
    optimizer = {"adam": keras.optimizers.Adam, "adagrad": keras.optimizers.Adagrad}
    model.compile(optimizer=optimizer[args.optimizer](args.learning_rate),
                  loss=TripletLoss(margin=args.margin), probe=args.probe)
    print(f"\n== {display_name(method, args)}: {model.count_params():,} parameters")
    _, conflicts = fit_triplets(model, data, epochs=args.epochs, batch_size=args.batch_size,
                                image_size=size, seed=args.seed, output_dir=out_dir,
                                run_name=f"celeba_{method}", verbose=args.verbose)
    return model, conflicts


def format_table(results, task_names, args):
    """Table 3, transposed for 20 attributes: one row per attribute, one column per method;
    then the mean over attributes, its binomial standard error, triplets and parameters."""
    names = [display_name(m, args) for m in results]
    width = max(len(n) for n in [*task_names, "test triplets"]) + 2
    header = f"{'attribute':<{width}}" + "".join(f"{n:>11}" for n in names)
    lines = [header, "-" * len(header)]
    for t, task in enumerate(task_names):
        lines.append(f"{task:<{width}}"
                     + "".join(f"{100 * r['accuracy'][t]:>10.2f}%" for r in results.values()))
    lines.append("-" * len(header))
    lines.append(f"{'mean':<{width}}" + "".join(f"{100 * r['mean']:>10.2f}%"
                                               for r in results.values()))
    lines.append(f"{'s.e.':<{width}}" + "".join(f"{100 * r['mean_se']:>11.2f}"
                                               for r in results.values()))
    lines.append(f"{'test triplets':<{width}}" + "".join(f"{int(np.sum(r['total'])):>11,}"
                                                        for r in results.values()))
    lines.append(f"{'parameters':<{width}}" + "".join(f"{r['parameters']:>11,}"
                                                     for r in results.values()))
    return "\n".join(lines)


def ranked_pairs(ucr, cosine, correlation, task_names, k):
    """The k most and k least compatible task pairs by UCR (ties broken by gradient cosine)."""
    rows = [(ucr[i, j], cosine[i, j], correlation[i, j], task_names[i], task_names[j])
            for i in range(len(task_names)) for j in range(i + 1, len(task_names))
            if np.isfinite(ucr[i, j])]
    rows.sort(key=lambda r: (r[0], r[1]))
    return rows[::-1][:k], rows[:k]


def format_pairs(title, rows):
    lines = [title, f"  {'pair':<42}{'UCR':>7}{'cosine':>9}{'label corr':>12}"]
    for u, c, r, a, b in rows:
        lines.append(f"  {a + ' / ' + b:<42}{u:>7.2f}{c:>9.3f}{r:>12.2f}")
    return "\n".join(lines)


SE_NOTE = ("s.e.: binomial standard error over the test triplets, sqrt(p (1 - p) / n) per "
           "attribute and sqrt(sum se_t^2) / T for the mean; a difference's s.e. is "
           "sqrt(se_a^2 + se_b^2) (conservative: both are scored on the same triplets). One "
           "training seed: the spread over seeds is not included.")


def main(argv=None):
    args = parse_args(argv)
    out_dir = Path(args.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.time()
    if args.fast_message:
        print(args.fast_message)
    data = load_data(args)
    print(f"keras-mtl {keras_mtl.__version__}: {data.name}, {data.num_images} images, "
          f"{data.num_tasks} attribute tasks (Zhao Table 3); triplets "
          + ", ".join(f"{k}={len(v)}" for k, v in data.triplets.items()))
    if data.relations is not None:
        print(f"Task relations (ground truth of the generator): "
              f"{len(data.relations.pairs('related'))} related pairs (dependent by "
              f"construction), {len(data.relations.pairs('independent'))} independent")

    methods = list(args.methods)
    size = (args.image_size, args.image_size)
    results, matrices, seconds = {}, {}, {}
    for method in methods:
        began = time.time()
        model, _ = train(method, data, args, out_dir)
        # The probe's matrices of the last epoch, read before evaluation runs the model.
        matrices[method] = model.conflict_matrices() if args.probe != "off" else None
        counts = evaluation.triplet_accuracy(model, data, "test", image_size=size)
        results[method] = evaluation.accuracy_summary(counts["correct"], counts["total"])
        results[method]["parameters"] = model.count_params()
        seconds[method] = round(time.time() - began, 1)
        if matrices[method] is not None and model.effective_probe != "off":
            evaluation.save_matrix_heatmaps(
                out_dir / f"ucr_{method}.png",
                {"ucr": matrices[method]["ucr"], "cosine": matrices[method]["cosine"]},
                data.task_names, f"({method}, last epoch)")
        else:
            matrices[method] = None
    found = evaluation.compare_methods(results, matrices, data.relations, BASELINE,
                                       name=lambda m: display_name(m, args))

    print("\nTriplet accuracy on the test split (Zhao et al. Table 3, one row per attribute):")
    print(format_table(results, data.task_names, args))
    print(SE_NOTE)
    for v in found["accuracy"].values():
        print("Verdict: " + v["sentence"])
    if found["ucr"]:
        print()
        print(evaluation.format_pair_summary(
            {display_name(k, args): v["by_pair"] for k, v in found["ucr"].items()}))
        for v in found["ucr"].values():
            print(v["related_above_independent"]["sentence"])
            if "raised_over_fsn" in v:
                print(v["raised_over_fsn"]["sentence"])
    correlation = attribute_correlation(data.labels[data.splits["train"]])
    for method, m in matrices.items():
        if m is None:
            continue
        ucr = np.asarray(m["ucr"])
        off = ucr[~np.eye(len(ucr), dtype=bool)]
        print(f"\nUCR ({display_name(method, args)}, last epoch; Eq. 2: fraction of probed "
              f"batches in which two tasks' gradients on the shared weights agree): mean "
              f"{np.nanmean(off):.3f}, min {np.nanmin(off):.3f}, max {np.nanmax(off):.3f}")
        best, worst = ranked_pairs(ucr, np.asarray(m["cosine"]), correlation, data.task_names,
                                   args.top_pairs)
        print(format_pairs("Most compatible pairs:", best))
        print(format_pairs("Least compatible pairs:", worst))

    figures = [evaluation.save_accuracy_bars(
        out_dir / "accuracy.png",
        {display_name(k, args): v["accuracy"] for k, v in results.items()}, data.task_names,
        title="Triplet accuracy per attribute")]
    figures += [out_dir / f"ucr_{k}.png" for k, v in matrices.items() if v is not None]
    summary = {
        "data": data.name,
        "args": {k: v for k, v in vars(args).items() if k not in ("explicit", "fast_message")},
        "task_names": list(data.task_names),
        "relations": data.relations.to_dict() if data.relations is not None else None,
        "standard_error": SE_NOTE,
        **evaluation.comparison_record(data.task_names, results, matrices, seconds, found),
        "seconds": round(time.time() - start, 1),
    }
    evaluation.save_json(out_dir / "results.json", summary)

    print("\nWritten:")
    for path in figures:
        print(f"  {path}")
    print(f"  {out_dir / 'logs'}  (tensorboard --logdir {out_dir / 'logs'})")
    for method in methods:
        print(f"  {out_dir / f'celeba_{method}.keras'}  (Keras checkpoint)")
    print(f"  {out_dir / 'results.json'}")
    print(f"Done in {summary['seconds']} s.")
    return summary


if __name__ == "__main__":
    main()
