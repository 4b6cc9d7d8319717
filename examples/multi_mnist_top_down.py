"""Multi-MNIST with a top-down control network (Levi & Ullman, Sec. 4.1 and 4.3.1, Table 1).

Each image overlays 2, 3 or 4 digits, one per corner; task `LU` asks for the top-left digit,
`RL` for the bottom-right one, and so on (`keras_mtl.datasets.make_multi_mnist`). The tasks are
uncorrelated, so a shared network has to *look* somewhere else for each task. The top-down
network does it with one recognition network and no task branches: a task embedding starts a
top-down (TD) stream that, level by level, modulates the second bottom-up pass (BU2) of the same
LeNet. This script trains it and the paper's baselines (single-task networks, a multi-branch
network = "uniform scaling", channel modulation = "ch-mod"), all as `keras_mtl.MultiTaskModel`s
on `({"image", "task_id"}, digit)` batches where each sample's loss is that of its own task,
then prints a Table 1-style per-task accuracy table with parameter counts, the mean and its
standard error, and a one-line verdict per method against the multi-branch baseline ("uniform
scaling", the paper's main comparison), computed from the numbers.

Data: by default digits rendered from PIL's built-in font with random affine jitter
(`keras_mtl.datasets.generated_digits`, seconds, nothing downloaded); `--data-dir` points at a
TFDS data dir in which `mnist` is already prepared (`load_multi_mnist`, `download=False`).

    python examples/multi_mnist_top_down.py                        # 2 tasks, all four methods
    python examples/multi_mnist_top_down.py --num-tasks 4 --method top_down
    python examples/multi_mnist_top_down.py --data-dir ~/tensorflow_datasets --epochs 20

Outputs (under --output-dir, default outputs/multi_mnist_top_down/): `accuracy.png` (per-task
bars per method), `td_maps.png` (where the TD stream turns BU2 up, per task: the channel mean
of `sigmoid` of the level-0 TD -> BU2 lateral, i.e. the gate of Eq. 3), `multi_mnist_<method>
.keras` (checkpoints), `results.json` (per method: per-task accuracy, standard errors and
counts, mean and its standard error, parameters, seconds; the verdicts).
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
from keras_mtl.datasets.generated_digits import generate_digits  # noqa: E402
from keras_mtl.models import top_down_lenet  # noqa: E402
from keras_mtl.models.top_down_nets import MIN_INPUT_SIZES  # noqa: E402

METHODS = ("single_task", "multi_branch", "ch_mod", "top_down")
PAPER_NAMES = {
    "single_task": "Single task",
    "multi_branch": "Uniform scaling",
    "ch_mod": "ch-mod",
    "top_down": "Ours: top-down",
}
SHORT_NAMES = {"single_task": "single-task", "multi_branch": "uniform scaling",
               "ch_mod": "ch-mod", "top_down": "top-down"}  # in verdict sentences
BASELINE = "multi_branch"  # Table 1's main comparison: top-down vs uniform scaling
LENET_PARAMS = 24_250  # one standard LeNet (no biases): Table 1's "#P" unit
SE_NOTE = ("s.e.: binomial standard error over the test images, sqrt(p (1 - p) / n) per task "
           "and sqrt(sum se_t^2) / T for the mean; a difference's s.e. is sqrt(se_a^2 + "
           "se_b^2) (conservative: both are scored on the same images). One training seed: "
           "the spread over seeds is not included.")


FAST = {"epochs": 1, "train_images": 300, "test_images": 200}  # a smoke test in seconds


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Train Levi & Ullman's top-down network and its baselines on Multi-MNIST.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--data-dir", help="TFDS data dir with `mnist` prepared (default: "
                                           "digits rendered offline)")
    parser.add_argument("--num-tasks", type=int, default=2, choices=(2, 3, 4),
                        help="digits per image = tasks (LU, RL, LL, RU)")
    parser.add_argument("--method", choices=METHODS,
                        help="train this top_down_net method and the multi-branch baseline "
                             "it is compared with (default: all four)")
    parser.add_argument("--compare", action="store_true",
                        help="train all four methods even with --method (Table 1)")
    parser.add_argument("--epochs", type=cli.positive_int, default=3)
    parser.add_argument("--batch-size", type=cli.positive_int, default=128,
                        help="(image, task) pairs per batch, rounded down to a multiple of "
                             "--num-tasks (paper: 512)")
    parser.add_argument("--learning-rate", type=cli.positive_float, default=2e-3,
                        help="Adam (paper: 1e-3)")
    parser.add_argument("--train-images", type=cli.positive_int, default=4000,
                        help="multi-digit training images (paper: 60,000)")
    parser.add_argument("--test-images", type=cli.positive_int, default=2000)
    parser.add_argument("--image-size", type=cli.int_at_least(
        MIN_INPUT_SIZES["lenet"], "LeNet's smallest input"), default=28,
        help="the 36x36 canvas is resized to this (LeNet: 28)")
    parser.add_argument("--no-td-maps", action="store_true", help="skip td_maps.png")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output-dir", default="outputs/multi_mnist_top_down")
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2),
                        help="Keras fit verbosity")
    cli.add_fast_flag(parser, FAST, what="a smoke test in seconds (accuracies not meaningful)")
    args = cli.parse_args(parser, argv, FAST)
    if args.batch_size < args.num_tasks:
        parser.error(f"argument --batch-size: expected at least --num-tasks "
                     f"({args.num_tasks}), received {args.batch_size}")
    args.batch_size -= args.batch_size % args.num_tasks
    return args


def load_data(args):
    """Train and test `MultiDigitDataset`s from TFDS `mnist`, else from rendered digits."""
    common = dict(num_tasks=args.num_tasks, seed=args.seed)
    if args.data_dir:
        return tuple(
            datasets.load_multi_mnist(split=split, data_dir=args.data_dir, num_images=n, **common)
            for split, n in (("train", args.train_images), ("test", args.test_images))
        )
    # Separate digit pools (different renderings) for train and test, as MNIST's splits.
    pools = [generate_digits(max(1000, n // 2), seed=args.seed * 2 + k)
             for k, n in enumerate((args.train_images, args.test_images))]
    return tuple(datasets.make_multi_mnist(digits, labels, num_images=n, **common)
                 for (digits, labels), n in zip(pools, (args.train_images, args.test_images),
                                                strict=True))


def per_task_counts(model, data, args):
    """Correct answers and questions per task on `data`: every image is asked every task once.

    Returns:
        `(correct, total)`, int arrays `(T,)`.
    """
    ds = datasets.classification_pipeline(
        data.images, data.labels, batch_size=512, sampling="sequential",
        image_size=(args.image_size,) * 2, seed=args.seed)
    logits = model.predict(ds, verbose=0)  # predict ignores the targets
    # "sequential" visits the pairs in stored order: all images for task 0, then task 1, ...
    hit = (np.argmax(logits, axis=-1) == data.labels.T.reshape(-1)).reshape(
        len(data.task_names), -1)
    return hit.sum(axis=1).astype("int64"), np.full(len(hit), hit.shape[1], dtype="int64")


def train(method, train_data, args, out_dir):
    keras.utils.set_random_seed(args.seed)
    model = top_down_lenet(args.num_tasks, method=method, task_names=train_data.task_names,
                           input_shape=(args.image_size, args.image_size, 1))
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["sparse_categorical_accuracy"], probe="off")
    ds = datasets.classification_pipeline(
        train_data.images, train_data.labels, batch_size=args.batch_size, sampling="balanced",
        image_size=(args.image_size,) * 2, seed=args.seed)
    print(f"\n== {PAPER_NAMES[method]}: {model.count_params():,} parameters "
          f"(x{model.count_params() / LENET_PARAMS:.2f} LeNet)")
    model.fit(ds, epochs=args.epochs, shuffle=False, verbose=args.verbose, callbacks=[
        keras.callbacks.ModelCheckpoint(str(out_dir / f"multi_mnist_{method}.keras")),
        keras.callbacks.TerminateOnNaN(),
    ])
    return model


def format_table(results, task_names):
    """A Table 1-style text table: method, #P (x LeNet), per-task accuracy, mean, its s.e."""
    header = (f"{'method':<18}{'params':>9}{'#P':>8}" + "".join(f"{n:>9}" for n in task_names)
              + f"{'mean':>9}{'s.e.':>7}")
    lines = [header, "-" * len(header)]
    for method, r in results.items():
        cells = "".join(f"{100 * a:>8.2f}%" for a in r["accuracy"])
        ratio = f"x{r['ratio']:.2f}"
        lines.append(f"{PAPER_NAMES[method]:<18}{r['params']:>9,}{ratio:>8}"
                     f"{cells}{100 * r['mean']:>8.2f}%{100 * r['mean_se']:>7.2f}")
    return "\n".join(lines)


def chosen_methods(args):
    """All four methods (default, or `--compare`), else the baseline and `--method`."""
    if args.compare or args.method is None:
        return list(METHODS)
    return list(dict.fromkeys((BASELINE, args.method)))


def verdicts(results):
    """Each method against the multi-branch baseline (`keras_mtl.evaluation.verdict`)."""
    if BASELINE not in results:
        return {}
    return {m: evaluation.verdict(SHORT_NAMES[BASELINE], results[BASELINE], SHORT_NAMES[m], r)
            for m, r in results.items() if m != BASELINE}


def save_td_maps(model, data, args, path, num_images=4):
    """Input images and, per task, the channel mean of sigmoid(lateral_td0): the BU2 gate."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import tensorflow as tf

    probe = keras.Model(model.input, model.get_layer("lateral_td0").output)
    images = tf.image.resize(tf.cast(data.images[:num_images], tf.float32) / 255.0,
                             (args.image_size,) * 2)
    names = data.task_names
    figure, axes = plt.subplots(num_images, len(names) + 1,
                                figsize=(1.6 * (len(names) + 1), 1.6 * num_images), squeeze=False)
    for t, name in enumerate(names):
        gate = keras.ops.sigmoid(probe.predict_on_batch(
            {"image": images, "task_id": tf.fill([num_images], t)}))
        maps = np.asarray(keras.ops.mean(gate, axis=-1))
        for i in range(num_images):
            axes[i, t + 1].imshow(maps[i], cmap="magma")  # per-map contrast
            axes[0, t + 1].set_title(f"TD: {name}", fontsize=8)
    for i in range(num_images):
        axes[i, 0].imshow(images[i, ..., 0], cmap="gray")
        axes[i, 0].set_xlabel(" ".join(str(v) for v in data.labels[i]), fontsize=7)
    for axis in axes.flat:
        axis.set_xticks([])
        axis.set_yticks([])
    axes[0, 0].set_title("input", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def main(argv=None):
    args = parse_args(argv)
    if args.fast_message:
        print(args.fast_message)
    out_dir = Path(args.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.time()
    train_data, test_data = load_data(args)
    source = "TFDS mnist" if args.data_dir else "rendered digits"
    print(f"keras-mtl {keras_mtl.__version__}: Multi-MNIST from {source}, {args.num_tasks} tasks "
          f"({', '.join(train_data.task_names)}); {len(train_data.images)} train / "
          f"{len(test_data.images)} test images")

    methods = chosen_methods(args)
    results, models = {}, {}
    for method in methods:
        began = time.time()
        model = models[method] = train(method, train_data, args, out_dir)
        correct, total = per_task_counts(model, test_data, args)
        results[method] = {**evaluation.accuracy_summary(correct, total),
                           "params": model.count_params(),
                           "ratio": model.count_params() / LENET_PARAMS,
                           "seconds": round(time.time() - began, 1)}
    found = verdicts(results)

    print(f"\nPer-task test accuracy, {args.num_tasks} tasks (Levi & Ullman Table 1 layout; "
          f"#P in units of one LeNet, {LENET_PARAMS:,} parameters):")
    print(format_table(results, train_data.task_names))
    print(SE_NOTE)
    for v in found.values():
        print("Verdict: " + v["sentence"])
    figures = [evaluation.save_accuracy_bars(
        out_dir / "accuracy.png", {PAPER_NAMES[k]: v["accuracy"] for k, v in results.items()},
        train_data.task_names, title="Multi-MNIST accuracy per task")]
    if "top_down" in models and not args.no_td_maps:
        figures.append(save_td_maps(models["top_down"], test_data, args, out_dir / "td_maps.png"))
    summary = {
        "data": source,
        "args": {k: v for k, v in vars(args).items() if k not in ("explicit", "fast_message")},
        "task_names": list(train_data.task_names),
        "standard_error": SE_NOTE,
        "results": results,
        "verdicts": {k: {"outcome": v["outcome"], "sentence": v["sentence"],
                         **v["difference"]} for k, v in found.items()},
        "seconds": round(time.time() - start, 1),
    }
    evaluation.save_json(out_dir / "results.json", summary)
    print("\nWritten:")
    for path in figures:
        print(f"  {path}")
    for method in methods:
        print(f"  {out_dir / f'multi_mnist_{method}.keras'}  (Keras checkpoint)")
    print(f"  {out_dir / 'results.json'}")
    print(f"Done in {summary['seconds']} s.")
    return summary


if __name__ == "__main__":
    main()
