"""Tune a multi-task retrieval network with KerasTuner on the embedded shoe data.

Which multi-task method should share the Table 2 network of Zhao et al. between the four
UT-Zappos50K-like tasks (class, closure, gender, heel), and with what settings? This script
lets KerasTuner answer on the generated data that ships with keras_mtl:

1. load the embedded data (`keras_mtl.datasets.load_generated_zappos`, cached after the
   first run) and make balanced triplet batches (`triplet_pipeline`);
2. define the search space with `keras_mtl.tuning.RetrievalHyperModel`: the method
   (modulation, fully shared, IB-k, CSN, task routing, cross-stitch), then the settings of
   the sampled method (modulated blocks and mode, branch size, masks, sharing ratio,
   cross-stitch initialisation), the embedding size and the learning rate;
3. search with RandomSearch (default), Hyperband or BayesianOptimization, maximising the
   validation triplet accuracy averaged over the tasks (`val_triplet_accuracy`);
4. print the best configuration and one row per trial.

Run `python examples/tune_retrieval.py` (a few minutes on a 2-core CPU), `--fast` for a
smoke test (well under a minute), `--help` for every flag. The tuner's files go to
`--directory` (default `outputs/tuning`, git-ignored); a later run with `--resume` continues
a search instead of starting over.
"""

import argparse
import importlib.util
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import keras_tuner  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_mtl import cli, datasets  # noqa: E402
from keras_mtl.models.zhao_retrieval_net import ZHAO_MIN_INPUT_SIZE  # noqa: E402
from keras_mtl.tuning import RetrievalHyperModel, trials_summary  # noqa: E402
from keras_mtl.tuning.retrieval_hypermodel import SEARCHABLE_METHODS  # noqa: E402

TUNERS = ("random", "hyperband", "bayesian")
DEFAULTS = {  # a few minutes on a 2-core CPU
    "max_trials": 6,
    "epochs": 3,
    "image_size": 48,
    "width_multiplier": 0.25,
    "num_images": 800,
    "train_triplets": 1024,
    "val_triplets": 512,
    "batch_size": 32,
    "methods": "modulation,fsn,ib,csn,routing",
}
FAST = {  # the smoke test run by tests/examples/test_tune_retrieval.py
    "max_trials": 2,
    "epochs": 1,
    "image_size": 48,
    "width_multiplier": 0.125,
    "num_images": 200,
    "train_triplets": 64,
    "val_triplets": 64,
    "batch_size": 32,
    "methods": "modulation,fsn",
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="KerasTuner search over keras_mtl retrieval methods on the embedded data.",
    )

    def preset(key):
        return f"(default {DEFAULTS[key]}; with --fast {FAST[key]})"

    parser.add_argument("--tuner", choices=TUNERS, default="random",
                        help="search algorithm: RandomSearch, Hyperband or "
                             "BayesianOptimization (default %(default)s)")
    parser.add_argument("--max-trials", type=cli.positive_int, default=DEFAULTS["max_trials"],
                        help="trials of random/bayesian; Hyperband sizes its brackets from "
                             f"--epochs instead {preset('max_trials')}")
    parser.add_argument("--epochs", type=cli.positive_int, default=DEFAULTS["epochs"],
                        help=f"epochs per trial; Hyperband's max_epochs {preset('epochs')}")
    parser.add_argument("--methods", type=cli.comma_list(SEARCHABLE_METHODS),
                        default=DEFAULTS["methods"],
                        help="comma-separated methods to search, from modulation, fsn, itn, "
                             "ib, csn, routing, cross_stitch (itn and cross_stitch train one "
                             f"network per task) {preset('methods')}")
    parser.add_argument("--image-size", type=cli.int_at_least(
        ZHAO_MIN_INPUT_SIZE, "the Table 2 network's smallest input"),
        default=DEFAULTS["image_size"], help=f"image side in pixels {preset('image_size')}")
    parser.add_argument("--width-multiplier", type=cli.positive_float,
                        default=DEFAULTS["width_multiplier"],
                        help="scales every conv width of the Table 2 network "
                             f"{preset('width_multiplier')}")
    parser.add_argument("--num-images", type=cli.int_at_least(40), default=DEFAULTS["num_images"],
                        help=f"generated images {preset('num_images')}")
    parser.add_argument("--train-triplets", type=cli.positive_int,
                        default=DEFAULTS["train_triplets"],
                        help=f"training triplets over all tasks {preset('train_triplets')}")
    parser.add_argument("--val-triplets", type=cli.positive_int,
                        default=DEFAULTS["val_triplets"],
                        help=f"validation triplets over all tasks {preset('val_triplets')}")
    parser.add_argument("--batch-size", type=cli.positive_int, default=DEFAULTS["batch_size"],
                        help=f"triplets per batch, a multiple of the 4 tasks "
                             f"{preset('batch_size')}")
    parser.add_argument("--optimizer", default="adagrad",
                        choices=("adagrad", "adam", "rmsprop", "sgd"),
                        help="optimizer; Zhao et al. use Adagrad (default %(default)s)")
    parser.add_argument("--directory", default=os.path.join("outputs", "tuning"),
                        help="where KerasTuner writes its trials (default %(default)s)")
    parser.add_argument("--project-name", default="tune_retrieval",
                        help="sub-folder of --directory for this search (default "
                             "%(default)s)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the search stored in --directory/--project-name "
                             "instead of overwriting it")
    parser.add_argument("--cache-dir", default=None,
                        help="where the generated data is cached (default "
                             "$KERAS_HOME/keras_mtl/datasets, i.e. ~/.keras/...)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the data, the search and the weights (default "
                             "%(default)s)")
    parser.add_argument("--verbose", type=int, default=0, choices=(0, 1, 2),
                        help="KerasTuner/Keras verbosity; 0 prints only this script's lines "
                             "(default %(default)s)")
    cli.add_fast_flag(parser, FAST, what="a tiny run for smoke tests")
    args = cli.parse_args(parser, argv, FAST)
    if args.batch_size % 4:
        parser.error(f"argument --batch-size: expected a multiple of 4 (the tasks share each "
                     f"batch evenly), received {args.batch_size}")
    missing = [package for module, package in (("scipy", "scipy"), ("sklearn", "scikit-learn"))
               if importlib.util.find_spec(module) is None]
    if args.tuner == "bayesian" and missing:
        parser.error(f"--tuner bayesian needs {' and '.join(missing)} (KerasTuner's Gaussian "
                     "process): pip install -e '.[bayesian]'")
    return args


def make_tuner(args, hypermodel):
    common = dict(
        objective=hypermodel.objective,
        directory=args.directory,
        project_name=args.project_name,
        overwrite=not args.resume,
        seed=args.seed,
    )
    if args.tuner == "hyperband":
        return keras_tuner.Hyperband(hypermodel, max_epochs=args.epochs, factor=3, **common)
    if args.tuner == "bayesian":
        return keras_tuner.BayesianOptimization(
            hypermodel, max_trials=args.max_trials,
            num_initial_points=max(2, args.max_trials // 3), **common,
        )
    return keras_tuner.RandomSearch(hypermodel, max_trials=args.max_trials, **common)


def format_value(value):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_table(rows):
    """Fixed-width text table; hyperparameters inactive in every trial are left out."""
    hidden = {"best_step", "tuner/initial_epoch", "tuner/bracket", "tuner/round",
              "tuner/trial_id"}
    columns = [c for c in rows[0] if c not in hidden and any(r[c] is not None for r in rows)]
    cells = [[format_value(r[c]) for c in columns] for r in rows]
    headers = [c.replace("tuner/", "") for c in columns]
    widths = [max(len(h), *(len(line[i]) for line in cells)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True))
              for line in cells]
    return "\n".join(line.rstrip() for line in lines)


def main(argv=None):
    args = parse_args(argv)
    if args.fast_message:
        print(args.fast_message)
    keras.utils.set_random_seed(args.seed)
    if args.verbose == 0:  # e.g. tf.function retracing notices: every trial is a new model
        tf.get_logger().setLevel("ERROR")
    start = time.time()

    # 1. Data: the generated Zappos-like shoes, four tasks, balanced triplet batches.
    data = datasets.load_generated_zappos(
        num_images=args.num_images,
        image_size=args.image_size,
        num_triplets={"train": args.train_triplets, "val": args.val_triplets, "test": 8},
        seed=args.seed,
        cache_dir=args.cache_dir,
    )
    size = (args.image_size, args.image_size)
    train = datasets.triplet_pipeline(
        data, "train", batch_size=args.batch_size, image_size=size, sampling="balanced",
        seed=args.seed,
    )
    val = datasets.triplet_pipeline(
        data, "val", batch_size=256, image_size=size, sampling="sequential"
    )

    # 2. Search space: methods and their settings; sizes fixed so that a trial is quick.
    hypermodel = RetrievalHyperModel(
        data.num_tasks,
        input_shape=(*size, 3),
        width_multiplier=args.width_multiplier,
        task_names=data.task_names,
        methods=args.methods,
        embedding_dims=(32, 64, 128),
        learning_rate=(3e-3, 1e-1),
        optimizer=args.optimizer,
        seed=args.seed,
    )

    # 3. Search, maximising the validation triplet accuracy averaged over tasks.
    tuner = make_tuner(args, hypermodel)
    print(
        f"{args.tuner} search over {', '.join(args.methods)}: tasks {data.task_names}, "
        f"{args.image_size}x{args.image_size} images, {args.train_triplets} train / "
        f"{args.val_triplets} val triplets, {args.epochs} epoch(s) per trial"
    )
    sys.stdout.flush()
    tuner.search(train, validation_data=val, epochs=args.epochs, shuffle=False,
                 verbose=args.verbose)

    # 4. Report.
    rows = trials_summary(tuner)
    best = rows[0]
    objective = hypermodel.objective.name
    print(f"\nBest configuration ({objective} = {format_value(best['score'])}, "
          f"trial {best['trial_id']}):")
    for name, value in tuner.get_best_hyperparameters(1)[0].values.items():
        if not name.startswith("tuner/"):
            print(f"  {name}: {format_value(value)}")
    print(f"\nTrials ({len(rows)}, best first; score = {objective}, '-' = not used):")
    print(format_table(rows))
    print(f"\nTook {time.time() - start:.0f} s; tuner files in "
          f"{os.path.join(args.directory, args.project_name)}")
    return rows


if __name__ == "__main__":
    main()
