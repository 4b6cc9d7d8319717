"""Why did modulation not beat the fully shared net? Controlled runs (issue 10, part 3).

Each setting trains the fully shared net (FSN) and the modulated net (Zhao et al. Table 2
network, modulation from block4 unless the setting says otherwise) with one budget and seed,
changing one thing from the base (the main job's defaults, `examples/zappos_retrieval.py`),
and records per-task test triplet accuracy, the mean and its binomial standard error, the
difference modulation - FSN with its standard error, and the UCR by kind of task pair
(`keras_mtl.evaluation`). The FSN run is shared by the settings that change only the
modulation (where it starts, its initial value).

    python benchmarks/modulation_ablation.py               # every setting (~1 hour, 2 cores)
    python benchmarks/modulation_ablation.py --settings base,data_v1
    python benchmarks/modulation_ablation.py --quick       # smoke test (seconds per setting)

Prints a table (also written as Markdown to --markdown) and writes JSON (default
`outputs/benchmarks/modulation_ablation.json`). The evidence table of
`docs/reproduction/why_modulation.md` comes from this script.
"""

import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common  # noqa: E402

# The main job's defaults (examples/zappos_retrieval.py), the base of every setting.
BASE = {
    "data": "v2", "coupling": 0.8, "num_images": 2400, "epochs": 6, "train_triplets": 4000,
    "test_triplets": 4000, "batch_size": 64, "image_size": 64, "width": 0.25,
    "embedding_dim": 64, "optimizer": "adagrad", "learning_rate": 0.05, "margin": 0.2,
    "modulate_from": "block4", "modulation_init": 1.0, "normalize": False, "seed": 0,
}
# (name, what it tests, overrides of BASE)
SETTINGS = (
    ("base", "the main job's settings on the redesigned data", {}),
    ("data_v1", "the data before issue 10 (closure a small mark; heel drawn from class and "
                "gender)", {"data": "v1"}),
    ("data_v1_epochs4", "data before issue 10, at the old main job's budget (4 epochs)",
     {"data": "v1", "epochs": 4}),
    ("independent", "redesigned data, all four attributes independent (coupling 0)",
     {"coupling": 0.0}),
    ("epochs4", "the old main job's budget: 4 epochs", {"epochs": 4}),
    ("epochs12", "twice the budget: 12 epochs", {"epochs": 12}),
    ("adagrad_lr0.01", "the paper's learning rate (Adagrad 0.01)", {"learning_rate": 0.01}),
    ("adagrad_lr0.2", "a larger Adagrad learning rate", {"learning_rate": 0.2}),
    ("adam_lr1e-3", "Adam 1e-3 instead of Adagrad", {"optimizer": "adam",
                                                    "learning_rate": 1e-3}),
    ("from_fc", "modulate only the embedding (fc)", {"modulate_from": "fc"}),
    ("from_block2", "modulate from block2 (Table 5's deepest)", {"modulate_from": "block2"}),
    ("init_0.5", "modulation weights initialised to 0.5 instead of 1",
     {"modulation_init": 0.5}),
    ("frozen_modulation", "modulation weights frozen at 1: the modulated graph with nothing "
                          "task-specific learning, i.e. FSN again (the gap is run-to-run noise)",
     {"modulation_init": "frozen"}),
    ("width0.5", "twice the width", {"width": 0.5}),
    ("margin1", "margin 1.0 instead of 0.2", {"margin": 1.0}),
    ("l2_normalized", "L2-normalised embeddings (margin 0.2)", {"normalize": True}),
)
MODULATION_ONLY = ("modulate_from", "modulation_init")
QUICK = {"num_images": 200, "epochs": 1, "train_triplets": 64, "test_triplets": 64,
         "batch_size": 16, "image_size": 48, "width": 0.125, "embedding_dim": 8}
QUICK_SETTINGS = ("base", "data_v1", "from_fc", "frozen_modulation")


def parse_args(argv=None):
    parser = _common.base_parser(__doc__, "modulation_ablation")
    parser.add_argument("--settings", default=None,
                        help="comma-separated setting names (default: all; --quick: "
                             + ", ".join(QUICK_SETTINGS) + ")")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", default=None,
                        help="where the data is generated (default: a temporary folder)")
    parser.add_argument("--markdown", default=None,
                        help="also write the table as Markdown to this file")
    parser.add_argument("--resume", default=None,
                        help="an earlier JSON of this script: its settings with the same "
                             "configuration are reused instead of trained again")
    parser.add_argument("--deterministic", action="store_true",
                        help="tf.config.experimental.enable_op_determinism(): bit-identical "
                             "reruns (without it, TensorFlow's multithreaded CPU kernels make "
                             "two runs of one setting differ by about a point)")
    parser.add_argument("--verbose", type=int, default=0, help="Keras fit verbosity")
    args = parser.parse_args(argv)
    names = [s[0] for s in SETTINGS]
    chosen = args.settings.split(",") if args.settings else (
        list(QUICK_SETTINGS) if args.quick else names)
    unknown = [c for c in chosen if c not in names]
    if unknown:
        parser.error(f"unknown settings {unknown}; expected names from {names}")
    args.settings = chosen
    return args


def setting_config(overrides, seed, quick):
    config = dict(BASE, seed=seed)
    if quick:
        config.update(QUICK)
    config.update(overrides)
    return config


def load_data(config, cache_dir):
    from keras_mtl import datasets

    n = config["train_triplets"]
    triplets = {"train": n, "val": max(n // 10, 64), "test": config["test_triplets"]}
    kwargs = dict(num_images=config["num_images"], image_size=max(64, config["image_size"]),
                  num_triplets=triplets, seed=config["seed"])
    if config["data"] == "v1":
        import _zappos_v1

        return _zappos_v1.load_v1(cache_dir, **kwargs)
    return datasets.load_generated_zappos(cache_dir=cache_dir, coupling=config["coupling"],
                                          **kwargs)


def build(method, data, config):
    import keras

    from keras_mtl.losses import TripletLoss
    from keras_mtl.models import zhao_retrieval_net
    from keras_mtl.training import MultiTaskModel

    keras.utils.set_random_seed(config["seed"])
    size = config["image_size"]
    model = zhao_retrieval_net(
        data.num_tasks, method=method, input_shape=(size, size, 3),
        embedding_dim=config["embedding_dim"], width_multiplier=config["width"],
        modulate_from=config["modulate_from"], task_names=data.task_names)
    if method == "modulation":
        init = config["modulation_init"]
        for layer in model.layers:
            if layer.name.startswith("modulation_"):
                if init == "frozen":
                    layer.trainable = False
                else:
                    layer.task_kernel.assign(float(init) * keras.ops.ones_like(layer.task_kernel))
    if config["normalize"]:
        output = keras.layers.UnitNormalization(name="l2_normalize")(model.output)
        model = MultiTaskModel(inputs=model.input, outputs=output, task_names=data.task_names,
                               task_specific_layers=model.task_specific_layers,
                               name=f"{model.name}_l2")
    if config["optimizer"] == "adam":
        optimizer = keras.optimizers.Adam(config["learning_rate"])
    else:
        optimizer = keras.optimizers.Adagrad(config["learning_rate"])
    model.compile(optimizer=optimizer, loss=TripletLoss(margin=config["margin"]),
                  probe="grouped")
    return model


def train_and_score(method, data, config, verbose=0):
    """Trains one method; returns accuracy summary, UCR/cosine matrices and pair summaries."""
    import keras

    from keras_mtl import evaluation
    from keras_mtl.evaluation import fit_triplets

    start = time.perf_counter()
    model = build(method, data, config)
    size = (config["image_size"], config["image_size"])
    fit_triplets(model, data, epochs=config["epochs"], batch_size=config["batch_size"],
                 image_size=size, seed=config["seed"], verbose=verbose)
    matrices = model.conflict_matrices()  # the last epoch's, before evaluation runs the model
    counts = evaluation.triplet_accuracy(model, data, "test", image_size=size)
    summary = evaluation.accuracy_summary(counts["correct"], counts["total"])
    result = {
        "accuracy": summary["accuracy"], "correct": summary["correct"],
        "total": summary["total"], "mean": summary["mean"], "mean_se": summary["mean_se"],
        "ucr": matrices["ucr"], "cosine": matrices["cosine"],
        "ucr_by_pair": evaluation.pair_summary(matrices["ucr"], data.relations),
        "cosine_by_pair": evaluation.pair_summary(matrices["cosine"], data.relations),
        "seconds": time.perf_counter() - start,
    }
    keras.backend.clear_session()
    return result


def run(args):
    from keras_mtl import evaluation

    rows, fsn_cache, data_cache = [], {}, {}
    earlier = {}
    if args.resume:
        import json

        with open(args.resume, encoding="utf-8") as handle:
            earlier = {r["setting"]: r for r in json.load(handle)["results"]}
    with tempfile.TemporaryDirectory() as tmp:
        cache_dir = args.cache_dir or tmp
        for name, description, overrides in SETTINGS:
            if name not in args.settings:
                continue
            config = setting_config(overrides, args.seed, args.quick)
            fsn_key = tuple(sorted((k, v) for k, v in config.items() if k not in MODULATION_ONLY))
            if name in earlier and earlier[name]["config"] == config:
                rows.append(dict(earlier[name], description=description))
                fsn_cache.setdefault(fsn_key, rows[-1]["fsn"])
                print(format_row(rows[-1]) + "  (from --resume)", flush=True)
                continue
            data_key = (config["data"], config["coupling"], config["num_images"],
                        config["image_size"], config["train_triplets"], config["test_triplets"])
            if data_key not in data_cache:
                data_cache[data_key] = load_data(config, cache_dir)
            data = data_cache[data_key]
            if fsn_key not in fsn_cache:
                fsn_cache[fsn_key] = train_and_score("fsn", data, config, args.verbose)
            fsn = fsn_cache[fsn_key]
            mod = train_and_score("modulation", data, config, args.verbose)
            found = evaluation.verdict("FSN", fsn, "modulation", mod)
            row = {"setting": name, "description": description, "overrides": overrides,
                   "config": config, "task_names": list(data.task_names),
                   "relations": data.relations.to_dict(), "fsn": fsn, "modulation": mod,
                   "difference": found["difference"], "verdict": found["sentence"],
                   "outcome": found["outcome"]}
            rows.append(row)
            print(format_row(row), flush=True)
    return rows


def _num(value, fmt=".2f"):
    """`value` formatted, or "-" for a missing one (NaN, or None once read back from JSON)."""
    if value is None or value != value:
        return "-"
    return format(value, fmt)


def format_row(row):
    f, m, d = row["fsn"], row["modulation"], row["difference"]
    return (f"{row['setting']:<18} FSN {100 * f['mean']:6.2f}  modulation {100 * m['mean']:6.2f}"
            f"  diff {100 * d['difference']:+6.2f} +- {100 * d['se']:.2f} (z {d['z']:+5.1f})"
            f"  UCR FSN rel/ind {_num(f['ucr_by_pair']['related'])}/"
            f"{_num(f['ucr_by_pair']['independent'])}  mod all "
            f"{_num(m['ucr_by_pair']['all'])} vs FSN {_num(f['ucr_by_pair']['all'])}")


def markdown_table(rows):
    """The evidence table: setting, FSN mean, modulation mean, their s.e., the difference."""
    head = ("| setting | what changes | FSN mean (s.e.) | modulation mean (s.e.) | "
            "difference (s.e., z) | FSN UCR related / independent | UCR all pairs FSN / "
            "modulation | per task, modulation (FSN) |")
    lines = [head, "|" + "---|" * 8]
    for row in rows:
        f, m, d = row["fsn"], row["modulation"], row["difference"]
        per_task = ", ".join(
            f"{n} {100 * a:.1f} ({100 * b:.1f})"
            for n, a, b in zip(row["task_names"], m["accuracy"], f["accuracy"], strict=True))
        ucr_f, ucr_m = f["ucr_by_pair"], m["ucr_by_pair"]
        lines.append(
            f"| `{row['setting']}` | {row['description']} | {100 * f['mean']:.2f} "
            f"({100 * f['mean_se']:.2f}) | {100 * m['mean']:.2f} ({100 * m['mean_se']:.2f}) | "
            f"{100 * d['difference']:+.2f} ({100 * d['se']:.2f}, {d['z']:+.1f}) | "
            f"{_num(ucr_f['related'])} / {_num(ucr_f['independent'])} | {_num(ucr_f['all'])} / "
            f"{_num(ucr_m['all'])} | {per_task} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = parse_args(argv)
    if args.deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    start = time.perf_counter()
    rows = run(args)
    table = markdown_table(rows)
    print()
    print(table)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as handle:
            handle.write(table)
    from keras_mtl.evaluation import to_json_compatible

    return _common.write_report(
        _common.output_path(args.output, "modulation_ablation"), "modulation_ablation", args,
        to_json_compatible(rows), base=dict(BASE), seconds=round(time.perf_counter() - start, 1),
        standard_error=("binomial over test triplets: se_t = sqrt(p_t (1 - p_t) / n_t), "
                        "se(mean) = sqrt(sum se_t^2) / T, se(difference) = "
                        "sqrt(se_FSN^2 + se_mod^2); one seed, so training variance is not "
                        "included"),
    )


if __name__ == "__main__":
    main()
