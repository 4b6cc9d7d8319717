"""How good is the cheap probe? Representation gradients (MGDA-UB) vs exact weight gradients.

When every sample is labelled for every task, exact per-task gradients of the shared weights
need one backward pass per task (`probe="full"`). `probe="representation"` differentiates each
task's loss with respect to the shared representation `Z` instead (Sener & Koltun 2018,
MGDA-UB): one backward pass per task through the heads only, plus the ordinary one. This script
measures what that approximation changes, on the embedded CelebA-like faces (20 attributes,
every face labelled for every attribute) and `keras_mtl.models.multi_label_net`:

- on the same batches and weights (the network trained a few epochs first with `probe="off"`),
  the Gram matrices of both modes give pairwise cosines and signs; reported: the correlation of
  the two modes' cosines over task pairs, the mean absolute cosine difference, the fraction of
  pairs whose sign (what UCR counts) differs, and the distance between the MGDA weights each
  Gram matrix gives;
- the step time of `off`, `representation` and `full` (interleaved, median).

    python benchmarks/representation_probe.py
    python benchmarks/representation_probe.py --quick
"""

import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:  # _common.py lives next to this script
    sys.path.insert(0, HERE)
import _common  # noqa: E402

NAME = "representation_probe"
QUICK = {"num_images": 500, "image_size": 48, "width": 0.125, "batch_size": 32,
         "train_epochs": 1, "batches": 2, "repeats": 1}


def parse_args(argv=None):
    parser = _common.base_parser(__doc__, NAME)
    parser.add_argument("--num-images", type=int, default=2000)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--width", type=float, default=0.25)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--train-epochs", type=int, default=3)
    parser.add_argument("--batches", type=int, default=8, help="batches compared")
    parser.add_argument("--repeats", type=int, default=5, help="timed steps per mode")
    return _common.parse_args(parser, argv, QUICK)


def _data(args):
    import numpy as np

    from keras_mtl import datasets

    data = datasets.load_generated_celeba(num_images=args.num_images, image_size=64)
    images = np.concatenate(list(datasets.image_pipeline(
        data, None, image_size=(args.image_size, args.image_size)).as_numpy_iterator()))
    names = [n if n.isidentifier() else f"attr_{n}" for n in data.task_names]  # 5_o_Clock...
    labels = {name: data.labels[:, t].astype("float32")[:, None]
              for t, name in enumerate(names)}
    return images, labels, names


def _model(args, task_names, probe):
    import keras

    from keras_mtl.models import multi_label_net

    keras.utils.set_random_seed(0)
    model = multi_label_net(len(task_names), width_multiplier=args.width,
                            input_shape=(args.image_size, args.image_size, 3),
                            task_names=task_names)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.BinaryCrossentropy(from_logits=True), probe=probe)
    return model


def compare(args, model, images, labels):
    """Exact and representation Gram matrices on the same batches and weights."""
    import keras
    import numpy as np
    import tensorflow as tf

    from keras_mtl.training import TaskBatch, gradient_probe, task_gradients
    from keras_mtl.training.task_losses import task_counts
    from keras_mtl.weighting.mgda import min_norm_weights

    layer = model.get_layer(model.representation_layer)
    both = keras.Model(model.input, [layer.output, model.output])
    variables = model.network_variables
    shared_ids = {id(v) for v in model.shared_variables}
    shared = [id(v) in shared_ids for v in variables]
    num_tasks = model.num_tasks
    stats = {"corr": [], "abs": [], "flips": [], "weights": []}
    for b in range(args.batches):
        rows = slice(b * args.batch_size, (b + 1) * args.batch_size)
        y = {k: v[rows] for k, v in labels.items()}
        batch = TaskBatch({"image": images[rows]}, y, None, None)
        counts = task_counts(model.plan, y, None, None)
        grams = {}
        for mode in ("full", "representation"):
            def forward(x, mode=mode):
                z, out = both(x, training=True)
                return (out, tf.constant(0.0), z) if mode == "representation" else (
                    out, tf.constant(0.0))

            result = task_gradients(
                forward, model._task_losses, batch, variables, shared, num_tasks=num_tasks,
                mode=mode, task_scale=tf.math.divide_no_nan(1.0, counts),
                task_weights=tf.ones([num_tasks]))
            grams[mode] = gradient_probe.gram_matrix(result.task_gradients).numpy()
        cos = {m: gradient_probe.cosine_from_gram(g).numpy() for m, g in grams.items()}
        upper = np.triu_indices(num_tasks, 1)
        a, r = cos["full"][upper], cos["representation"][upper]
        stats["corr"].append(float(np.corrcoef(a, r)[0, 1]))
        stats["abs"].append(float(np.mean(np.abs(a - r))))
        stats["flips"].append(float(np.mean(np.sign(a) != np.sign(r))))
        w = {m: min_norm_weights(g / max(np.trace(g), 1e-12)).numpy() for m, g in grams.items()}
        stats["weights"].append(float(np.abs(w["full"] - w["representation"]).sum() / 2))
    return {"cosine_correlation": statistics.fmean(stats["corr"]),
            "mean_abs_cosine_difference": statistics.fmean(stats["abs"]),
            "sign_flip_fraction": statistics.fmean(stats["flips"]),
            "mgda_weights_total_variation": statistics.fmean(stats["weights"]),
            "batches": args.batches, "pairs_per_batch": num_tasks * (num_tasks - 1) // 2}


def main(argv=None):
    args = parse_args(argv)
    images, labels, task_names = _data(args)
    trained = _model(args, task_names, "off")
    trained.fit({"image": images}, labels, batch_size=args.batch_size,
                epochs=args.train_epochs, verbose=0)
    accuracy = compare(args, trained, images, labels)
    print(accuracy)
    models = {mode: _model(args, task_names, mode) for mode in ("off", "representation", "full")}
    x = {"image": images[:args.batch_size]}
    y = {k: v[:args.batch_size] for k, v in labels.items()}
    for model in models.values():
        model.train_on_batch(x, y)
    times = {mode: [] for mode in models}
    for _ in range(args.repeats):
        for mode, model in models.items():
            start = time.perf_counter()
            model.train_on_batch(x, y)
            times[mode].append(time.perf_counter() - start)
    plain = statistics.median(times["off"])
    rows = [{"probe": mode, "median_s": statistics.median(t),
             "vs_off": statistics.median(t) / plain} for mode, t in times.items()]
    print(_common.format_table(rows, [("probe", "probe", "s"), ("step s", "median_s", ".3f"),
                                      ("x off", "vs_off", ".2f")]))
    return _common.write_report(_common.output_path(args.output, NAME), NAME, args, rows,
                                accuracy=accuracy, num_tasks=len(task_names))


if __name__ == "__main__":
    main()
