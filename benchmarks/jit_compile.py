"""`jit_compile=True` (XLA) versus off for the Zhao retrieval net's training step.

For each method (default `modulation`), probe mode and `jit_compile` setting, builds
`keras_mtl.models.zhao_retrieval_net`, compiles it (`TripletLoss(0.2)`, Adagrad, `probe=...`,
`jit_compile=False` or `True`) and times `fit` steps on one repeated random triplet batch, one
configuration after another in this process.

How to read it: `step ms` is the median step after `--warmup` untimed ones; `first step s` is
the first step: tracing plus, with XLA, compilation; `compile s` (first step minus the median
step) estimates that one-time cost. `speed-up` is the median step with jit off divided by the
median with it on (same method and probe), and `break-even` the number of steps after which
XLA's extra first-step cost is paid back (only when XLA is faster). `xla` is the model's
effective `jit_compile` after `compile` (Keras turns it off for models that do not support it).

Probes: `"off"` is a plain step. `"grouped"` (the library default) splits the batch by task id
into groups of data-dependent sizes, which XLA cannot compile: `MultiTaskModel.compile` rejects
`jit_compile=True` with a ValueError, recorded as n/a, and its `jit_compile=False` row shows the
probe's cost next to the plain step. `"full"` (one backward pass per task) has static shapes.
Keras' default `jit_compile="auto"` is off on CPU-only machines and on with a GPU; this script
always sets it explicitly.

    python benchmarks/jit_compile.py
    python benchmarks/jit_compile.py --methods fsn modulation routing --image-size 150
    python benchmarks/jit_compile.py --quick
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:  # _common.py lives next to this script
    sys.path.insert(0, HERE)
import _common  # noqa: E402

NAME = "jit_compile"
QUICK = {"probes": ["off"], "image_size": 48, "width": 0.125, "triplets": 4,
         "steps": 2, "warmup": 1, "num_tasks": 2}


def parse_args(argv=None):
    parser = _common.base_parser(__doc__, NAME)
    parser.add_argument("--methods", nargs="+", default=["modulation"],
                        help="zhao_retrieval_net methods")
    parser.add_argument("--probes", nargs="+", choices=["off", "grouped", "full"],
                        default=["off", "grouped", "full"])
    parser.add_argument("--num-tasks", type=int, default=4)
    parser.add_argument("--image-size", type=int, default=64, help="square input (>= 48)")
    parser.add_argument("--width", type=float, default=1.0, help="width_multiplier")
    parser.add_argument("--triplets", type=int, default=32, help="triplets per batch")
    parser.add_argument("--steps", type=int, default=10, help="timed steps")
    parser.add_argument("--warmup", type=int, default=2, help="untimed first steps (>= 1)")
    parser.add_argument("--seed", type=int, default=0)
    return _common.parse_args(parser, argv, QUICK)


def measure(method, probe, jit_compile, args):
    """One configuration: a row with `status` "ok" and timings, or "n/a" and the reason."""
    import keras

    from keras_mtl.losses import TripletLoss
    from keras_mtl.models import zhao_retrieval_net

    row = {"method": method, "probe": probe, "jit_compile": jit_compile}
    keras.backend.clear_session()
    keras.utils.set_random_seed(args.seed)
    model = zhao_retrieval_net(args.num_tasks, method=method,
                               input_shape=(args.image_size, args.image_size, 3),
                               width_multiplier=args.width)
    try:
        model.compile(optimizer="adagrad", loss=TripletLoss(0.2), probe=probe,
                      jit_compile=jit_compile)
        batch = _common.random_triplet_batch(args.triplets, args.image_size, args.num_tasks,
                                             args.seed)
        timing = _common.time_fit_steps(model, batch, args.warmup, args.steps)
    except Exception as exc:  # compile's ValueError, or an op XLA cannot compile
        message = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        return {**row, "status": "n/a", "reason": f"{type(exc).__name__}: {message}"}
    return {**row, "status": "ok", "reason": None, "xla": bool(model.jit_compile), **timing,
            "median_ms": timing["median_s"] * 1000,
            "compile_s": timing["first_step_s"] - timing["median_s"]}


def compare(rows):
    """Adds `speed_up` and `break_even_steps` to the jit rows (versus jit off, same probe)."""
    off = {(r["method"], r["probe"]): r for r in rows
           if not r["jit_compile"] and r["status"] == "ok"}
    for row in rows:
        base = off.get((row["method"], row["probe"]))
        if not row["jit_compile"] or row["status"] != "ok" or base is None:
            continue
        row["speed_up"] = base["median_s"] / row["median_s"]
        saved = base["median_s"] - row["median_s"]
        extra = row["first_step_s"] - base["first_step_s"]
        row["break_even_steps"] = max(0.0, extra / saved) if saved > 0 else None


def main(argv=None):
    args = parse_args(argv)
    print(f"jit_compile: methods {args.methods}, probes {args.probes}, T={args.num_tasks}, "
          f"{args.image_size}px, width {args.width}, {args.triplets} triplets/step", flush=True)
    rows = []
    for method in args.methods:
        for probe in args.probes:
            for jit_compile in (False, True):
                rows.append(measure(method, probe, jit_compile, args))
                row = rows[-1]
                print(f"  {method} probe={probe} jit_compile={jit_compile}: " + (
                    f"{row['median_ms']:.1f} ms/step" if row["status"] == "ok"
                    else "n/a"), flush=True)
    compare(rows)
    print(_common.format_table(rows, [
        ("method", "method", ""), ("probe", "probe", ""), ("jit", "jit_compile", ""),
        ("xla", "xla", ""), ("step ms", "median_ms", ".1f"),
        ("first step s", "first_step_s", ".2f"), ("compile s", "compile_s", ".2f"),
        ("speed-up", "speed_up", ".2f"), ("break-even", "break_even_steps", ".0f")]))
    _common.print_notes(rows)
    return _common.write_report(_common.output_path(args.output, NAME), NAME, args, rows)


if __name__ == "__main__":
    main()
