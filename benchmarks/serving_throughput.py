"""Serving throughput: the exported SavedModel's `serving_default` versus `model.predict`.

Builds a Zhao retrieval net (`--method`, default `modulation`, random weights), exports it with
`keras_mtl.export.export_for_serving` into a temporary folder (the export verifies itself
against the Keras model), loads it back with `tf.saved_model.load`, and measures images per
second at each batch size (default 1, 32 and 256) along four paths from the same NumPy inputs
`{"image", "task_id"}`:

- `serving_default`: the SavedModel signature, what TF Serving runs (inputs converted with
  `tf.constant`, the output read back with `.numpy()`);
- `model.predict`: Keras' inference loop, `model.predict(x, batch_size=B)`;
- `predict_on_batch`: Keras' traced predict function without the loop (no data adapter or
  callbacks per call): the gap to `model.predict` is that per-call overhead;
- `model(x)`: a direct (eager) call of the Keras model.

How to read it: `images/s` is B divided by the median seconds per call (at least `--repeats`
calls and `--min-seconds` of them, after `--warmup` untimed ones); `x predict` divides it by
`model.predict`'s at the same batch size; `first call s` is the first, untimed call (for
`model.predict`: tracing its function). The export and the load are timed once (`export_s`,
`load_s`) and `max_abs_diff` compares the signature's output with `model.predict`'s.

    python benchmarks/serving_throughput.py
    python benchmarks/serving_throughput.py --image-size 150 --batch-sizes 1 32  # paper input
    python benchmarks/serving_throughput.py --quick
"""

import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:  # _common.py lives next to this script
    sys.path.insert(0, HERE)
import _common  # noqa: E402

NAME = "serving_throughput"
PATHS = ("serving_default", "model.predict", "predict_on_batch", "model(x)")
QUICK = {"batch_sizes": [1, 8], "image_size": 48, "width": 0.125, "repeats": 3, "warmup": 1,
         "min_seconds": 0.0}


def parse_args(argv=None):
    parser = _common.base_parser(__doc__, NAME)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 32, 256])
    parser.add_argument("--method", default="modulation",
                        help="zhao_retrieval_net method (fsn, modulation, routing, ...)")
    parser.add_argument("--num-tasks", type=int, default=4)
    parser.add_argument("--image-size", type=int, default=64, help="square input (>= 48)")
    parser.add_argument("--width", type=float, default=1.0, help="width_multiplier")
    parser.add_argument("--repeats", type=int, default=10, help="timed calls, at least")
    parser.add_argument("--min-seconds", type=float, default=1.0,
                        help="keep calling until the timed calls add up to this")
    parser.add_argument("--warmup", type=int, default=2, help="untimed first calls (>= 1)")
    parser.add_argument("--seed", type=int, default=0)
    return _common.parse_args(parser, argv, QUICK)


def inference_paths(model, signature, inputs, batch_size):
    """The ways to run `model` on `inputs` (see `PATHS`), each returning a NumPy array."""
    import keras
    import tensorflow as tf

    def serving_default():
        outputs = signature(**{k: tf.constant(v) for k, v in inputs.items()})
        return next(iter(outputs.values())).numpy()

    def predict():
        return model.predict(inputs, batch_size=batch_size, verbose=0)

    def on_batch():
        return model.predict_on_batch(inputs)

    def direct():
        return keras.ops.convert_to_numpy(model(inputs, training=False))

    return dict(zip(PATHS, (serving_default, predict, on_batch, direct), strict=True))


def main(argv=None):
    args = parse_args(argv)
    import keras
    import numpy as np
    import tensorflow as tf

    from keras_mtl.export import export_for_serving
    from keras_mtl.models import zhao_retrieval_net

    keras.utils.set_random_seed(args.seed)
    model = zhao_retrieval_net(args.num_tasks, method=args.method,
                               input_shape=(args.image_size, args.image_size, 3),
                               width_multiplier=args.width)
    print(f"serving_throughput: zhao_retrieval_net({args.num_tasks}, method={args.method!r}), "
          f"{args.image_size}px, width {args.width}, {model.count_params():,} params", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        path = export_for_serving(model, os.path.join(tmp, "zhao"))
        export_s = time.perf_counter() - start
        start = time.perf_counter()
        signature = tf.saved_model.load(str(path)).signatures["serving_default"]
        load_s = time.perf_counter() - start
        rng = np.random.default_rng(args.seed)
        for batch_size in args.batch_sizes:
            inputs = {
                "image": rng.uniform(size=(batch_size, args.image_size, args.image_size, 3))
                .astype("float32"),
                "task_id": (np.arange(batch_size) % args.num_tasks).astype("int32"),
            }
            paths = inference_paths(model, signature, inputs, batch_size)
            diff = float(np.max(np.abs(paths["serving_default"]() - paths["model.predict"]())))
            batch_rows = []
            for name, fn in paths.items():
                first, times = _common.time_calls(fn, args.warmup, args.repeats,
                                                  args.min_seconds)
                stats = _common.summarize(times)
                batch_rows.append({"path": name, "batch_size": batch_size,
                                   "first_call_s": first, **stats,
                                   "median_ms": stats["median_s"] * 1000,
                                   "images_per_s": batch_size / stats["median_s"],
                                   "max_abs_diff": diff})
                print(f"  batch {batch_size} {name}: {batch_rows[-1]['images_per_s']:,.1f} "
                      "images/s", flush=True)
            predict_rate = batch_rows[PATHS.index("model.predict")]["images_per_s"]
            for row in batch_rows:
                row["ratio_to_predict"] = row["images_per_s"] / predict_rate
            rows += batch_rows
    print(_common.format_table(rows, [
        ("batch", "batch_size", "d"), ("path", "path", ""), ("ms/call", "median_ms", ".2f"),
        ("images/s", "images_per_s", ",.1f"), ("x predict", "ratio_to_predict", ".2f"),
        ("first call s", "first_call_s", ".3f")]))
    print(f"  export {export_s:.1f} s (with verification), load {load_s:.1f} s; max |serving - "
          f"predict| {max(r['max_abs_diff'] for r in rows):.2g}")
    return _common.write_report(_common.output_path(args.output, NAME), NAME, args, rows,
                                export_s=export_s, load_s=load_s,
                                params=int(model.count_params()))


if __name__ == "__main__":
    main()
