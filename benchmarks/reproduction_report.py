"""Reproduction report: Zhao et al. (ECCV 2018) Tables 1, 3 and 6 on the embedded Zappos data.

Trains FSN, ITN, CSN, IB-25, modulation, task routing, cross-stitch and a top-down network
with one budget and seed, with the gradient-conflict probe on, then writes a Markdown report
that answers, from the numbers, the paper's three claims: does modulation beat the fully
shared net, do unrelated task pairs show a lower UCR, does modulation raise the UCR?

    python benchmarks/reproduction_report.py            # ~40 min on 2 busy CPU cores
    python benchmarks/reproduction_report.py --quick    # smoke test, seconds per method
    python benchmarks/reproduction_report.py --data-dir ~/data/ut-zap50k --image-size 112

Writes `report.md`, `results.json`, `accuracy.png` and `ucr_<method>.png` to --output-dir
(default docs/reproduction/). Training artefacts (checkpoints, TensorBoard logs, per-epoch
matrices) go to --run-dir, or to a temporary folder that is deleted.
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

# Strict JSON (NaN -> null), as written to results.json; kept under this name for the tests.
from keras_mtl.evaluation.results_json import to_json_compatible as without_nan  # noqa: E402, F401

METHODS = ("fsn", "itn", "csn", "ib25", "modulation", "routing", "cross_stitch", "top_down")
LABELS = {"fsn": "FSN", "itn": "ITN", "csn": "CSN", "ib25": "IB-25", "modulation": "Modulation",
          "routing": "Task routing", "cross_stitch": "Cross-stitch", "top_down": "Top-down"}
# Zhao et al. Table 6 (UT-Zappos50K; class, closure, gender, heel, mean), in %.
PAPER_TABLE6 = {"fsn": (78.95, 80.33, 69.22, 73.35, 75.46),
                "itn": (92.01, 89.12, 79.10, 85.97, 86.61),
                "csn": (93.06, 89.37, 78.09, 86.42, 86.73),
                "modulation": (93.34, 90.57, 79.50, 89.27, 88.17)}
# Zhao et al. Table 3 (CelebA, 20 attributes): mean accuracy (%) and additional parameters.
PAPER_TABLE3 = {"modulation": (84.86, "10k"), "csn": (72.81, "3k"), "itn": (84.61, "51M"),
                "fsn": (69.4, "0"), "ib25": (75.47, "128k")}
# Zhao et al. Table 1 (CelebA): UCR (%) of a related and an unrelated pair.
PAPER_TABLE1 = {"related": ("smile / open mouth", 43.71, 52.77),  # (pair, FSN, modulation)
                "unrelated": ("smile / young", 22.1, 50.63)}
# Ground truth of keras_mtl.datasets.generated (v2): closure follows class and heel follows
# gender (related); the four pairs across the two groups are independent ("unrelated" here).
RELATED_PAIRS = (("class", "closure"), ("gender", "heel"))
UNRELATED_PAIRS = (("class", "gender"), ("class", "heel"), ("closure", "gender"),
                   ("closure", "heel"))
ABOVE = ("is above", "is not above")
QUICK = {"epochs": 1, "train_triplets": 128, "test_triplets": 128, "batch_size": 32,
         "image_size": 48, "width": 0.125, "embedding_dim": 16}


# --------------------------------------------------------------------------- pure helpers
def pair_values(matrix, task_names, pairs):
    """Entries of a square matrix for named pairs, averaging (i, j) and (j, i); NaN-aware."""
    matrix = np.asarray(matrix, dtype=float)
    index = {name: i for i, name in enumerate(task_names)}
    values = []
    for a, b in pairs:
        i, j = index[a], index[b]
        values.append(float(np.nanmean([matrix[i, j], matrix[j, i]]))
                      if not np.all(np.isnan([matrix[i, j], matrix[j, i]])) else float("nan"))
    return values


def nan_mean(values):
    """Mean of the non-NaN values, or NaN when there are none."""
    values = np.asarray(values, dtype=float)
    return float(np.mean(values[~np.isnan(values)])) if np.any(~np.isnan(values)) else np.nan


def related_vs_unrelated(matrix, task_names, related=RELATED_PAIRS, unrelated=UNRELATED_PAIRS):
    """Mean matrix entry over related and over unrelated pairs, and their difference."""
    r = nan_mean(pair_values(matrix, task_names, related))
    u = nan_mean(pair_values(matrix, task_names, unrelated))
    return {"related": r, "unrelated": u, "difference": r - u}


def off_diagonal_mean(matrix):
    """Mean of the off-diagonal entries of a square matrix (NaN entries skipped)."""
    matrix = np.asarray(matrix, dtype=float)
    return nan_mean(matrix[~np.eye(len(matrix), dtype=bool)])


def mean_standard_error(correct, total):
    """Binomial standard error of the mean of per-task accuracies `correct / total`."""
    correct, total = np.asarray(correct, float), np.asarray(total, float)
    p = correct / total
    return float(np.sqrt(np.sum(p * (1 - p) / total)) / len(total))


def verdict(name_a, a, name_b, b, verb=("beats", "does not beat"), se=None, scale=100.0,
            unit="%"):
    """A sentence stating, from the numbers, whether `a` is above `b` (`verb`: yes, no)."""
    word = verb[0] if a > b else verb[1]
    text = f"{name_a} ({scale * a:.2f}{unit}) {word} {name_b} ({scale * b:.2f}{unit})"
    if se is not None:
        noise = "more than" if abs(a - b) > 2 * se else "within"
        text += (f"; the gap of {scale * (a - b):+.2f} points is {noise} two standard errors "
                 f"(2 x {scale * se:.2f})")
    return text


def order_disagreements(ours, paper):
    """Pairs of methods that `ours` and `paper` (dicts method -> score) order differently."""
    common = [m for m in paper if m in ours]
    return [(a, b) for k, a in enumerate(common) for b in common[k + 1:]
            if (ours[a] - ours[b]) * (paper[a] - paper[b]) < 0]


# ------------------------------------------------------------------------------ training
def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=(
        argparse.ArgumentDefaultsHelpFormatter))
    add = parser.add_argument
    add("--epochs", type=int, default=2, help="epochs per method")
    add("--train-triplets", type=int, default=2400, help="train triplets per epoch (all tasks)")
    add("--test-triplets", type=int, default=2000, help="test triplets (all tasks)")
    add("--batch-size", type=int, default=64, help="triplets per batch")
    add("--image-size", type=int, default=48, help="square input side (>= 48)")
    add("--width", type=float, default=0.25, help="width multiplier (1.0 = paper)")
    add("--embedding-dim", type=int, default=64, help="embedding size (paper: 256)")
    add("--learning-rate", type=float, default=0.05, help="Adagrad learning rate (paper 0.01)")
    add("--margin", type=float, default=0.2, help="triplet margin (Eq. 6)")
    add("--seed", type=int, default=0, help="seed of the data and of every build")
    add("--methods", default=",".join(METHODS), help=f"comma list from {', '.join(METHODS)}")
    add("--output-dir", default="docs/reproduction", help="report, JSON and PNGs")
    add("--run-dir", help="keep checkpoints, logs and per-epoch matrices here; unset: a "
        "temporary folder")
    add("--data-dir", help="local UT-Zappos50K copy; unset: the embedded generated data")
    add("--verbose", type=int, default=2, help="Keras fit verbosity")
    add("--quick", action="store_true", help="tiny sizes for a smoke test: "
        + ", ".join(f"{k}={v}" for k, v in QUICK.items()) + " (flags left at default)")
    args = parser.parse_args(argv)
    if args.quick:
        for key, value in QUICK.items():
            if getattr(args, key) == parser.get_default(key):
                setattr(args, key, value)
    args.methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(args.methods) - set(METHODS))
    if unknown:
        parser.error(f"unknown --methods {unknown}; expected some of {list(METHODS)}")
    return args


def load_data(args):
    """The real dataset from --data-dir, else the embedded generated one (same schema)."""
    from keras_mtl import datasets

    n = args.train_triplets
    return datasets.load_zappos_or_generated(
        args.data_dir, num_images=400 if args.quick else 2400,
        image_size=max(64, args.image_size),
        num_triplets={"train": n, "val": max(n // 10, 64), "test": args.test_triplets},
        seed=args.seed)


def build(method, data, args):
    """One of the eight networks with the report's shared sizes."""
    from keras_mtl.models import top_down_net, zhao_retrieval_net

    shape = (args.image_size, args.image_size, 3)
    if method == "top_down":
        # VGG-11 without BatchNorm (exact grouped probe); its linear classifier output,
        # flatten -> Dense(embedding_dim) like Zhao's fc, is the embedding.
        return top_down_net(data.num_tasks, backbone="vgg11", method="top_down",
                            input_shape=shape, num_classes=args.embedding_dim,
                            width_multiplier=args.width, shared_fc=(), branch_fc=(),
                            task_names=data.task_names)
    extra = {"method": "ib", "branch_dim": 25} if method == "ib25" else {"method": method}
    return zhao_retrieval_net(data.num_tasks, input_shape=shape, embedding_dim=args.embedding_dim,
                              width_multiplier=args.width, task_names=data.task_names, **extra)


def run_method(method, data, args, run_dir):
    """Builds, trains and evaluates one method; returns its row of results."""
    import keras

    from keras_mtl import evaluation
    from keras_mtl.evaluation import fit_triplets
    from keras_mtl.losses import TripletLoss

    keras.utils.set_random_seed(args.seed)
    start = time.time()
    model = build(method, data, args)
    model.compile(optimizer=keras.optimizers.Adagrad(args.learning_rate),
                  loss=TripletLoss(margin=args.margin), probe="grouped")
    size = (args.image_size, args.image_size)
    print(f"\n== {LABELS[method]}: {model.count_params():,} parameters", flush=True)
    history, conflicts = fit_triplets(model, data, epochs=args.epochs, batch_size=args.batch_size,
                                      image_size=size, seed=args.seed, output_dir=run_dir,
                                      run_name=method, verbose=args.verbose)
    train_s = time.time() - start
    acc = evaluation.triplet_accuracy(model, data, "test", image_size=size)
    last = conflicts.history[-1]
    shared = int(sum(np.prod(v.shape) for v in model.shared_variables))
    if shared == 0:  # nothing shared: the probe's zero gradients say nothing, UCR undefined
        last = {k: np.full_like(v, np.nan, dtype=float) for k, v in last.items()}
    return {
        "label": LABELS[method], "accuracy": acc["accuracy"].tolist(), "mean": acc["mean"],
        "correct": acc["correct"].tolist(), "total": acc["total"].tolist(),
        "mean_se": mean_standard_error(acc["correct"], acc["total"]),
        "params": int(model.count_params()),
        "trainable_params": int(sum(np.prod(v.shape) for v in model.trainable_variables)),
        "task_specific_params": int(sum(np.prod(v.shape) for v in model.task_specific_variables)),
        "shared_params": shared,
        "probe": model.effective_probe,
        "train_s": train_s, "total_s": time.time() - start,
        "final_loss": float(history.history["loss"][-1]),
        "ucr": last["ucr"].tolist(), "cosine": last["cosine"].tolist(),
        "ucr_per_epoch": [h["ucr"].tolist() for h in conflicts.history] if shared else None,
    }


# -------------------------------------------------------------------------------- report
def comparisons(results, task_names):
    """The three questions and the paper comparisons, answered from `results`."""
    out = {"answers": [], "differences": [], "ucr_groups": {}}
    for method, r in results.items():
        groups = related_vs_unrelated(r["ucr"], task_names)
        out["ucr_groups"][method] = {**groups, "all_pairs": off_diagonal_mean(r["ucr"])}
    fsn, mod = results.get("fsn"), results.get("modulation")
    rel, unrel = PAPER_TABLE1["related"], PAPER_TABLE1["unrelated"]
    if fsn and mod:
        se = float(np.hypot(fsn["mean_se"], mod["mean_se"]))
        beats = mod["mean"] > fsn["mean"]
        out["answers"].append("**Does modulation beat the fully shared net?** " + verdict(
            "Modulation", mod["mean"], "FSN", fsn["mean"], se=se) + " (mean test triplet "
            "accuracy). Paper: modulation 88.17% beats FSN 75.46% (Table 6, Zappos) and "
            "84.86% vs 69.4% (Table 3, CelebA).")
        if not beats:
            out["differences"].append(f"Modulation does not beat FSN here "
                                      f"({100 * mod['mean']:.2f}% vs {100 * fsn['mean']:.2f}%); "
                                      "the paper has it 12.7 points ahead (Table 6).")
    if fsn:
        g = out["ucr_groups"]["fsn"]
        lower = g["unrelated"] < g["related"]
        out["answers"].append("**Do unrelated task pairs show a lower UCR?** Under FSN, "
                              + verdict("the related pairs' mean UCR", g["related"],
                                        "the unrelated pairs'", g["unrelated"], verb=ABOVE)
                              + f", so unrelated pairs {'do' if lower else 'do not'}"
                              f" show a lower UCR. Paper, FSN: {rel[1]}% (related, {rel[0]}) vs "
                              f"{unrel[1]}% (unrelated, {unrel[0]}) (Table 1).")
        if not lower:
            out["differences"].append(
                f"Unrelated pairs do not show a lower UCR under FSN (related "
                f"{100 * g['related']:.2f}%, unrelated {100 * g['unrelated']:.2f}%); in the "
                "paper the unrelated pair's UCR is about half the related pair's (Table 1).")
    if fsn and mod:
        f_all, m_all = out["ucr_groups"]["fsn"]["all_pairs"], out["ucr_groups"]["modulation"][
            "all_pairs"]
        pairs = [(a, b) for k, a in enumerate(task_names) for b in task_names[k + 1:]]
        diffs = np.subtract(pair_values(mod["ucr"], task_names, pairs),
                            pair_values(fsn["ucr"], task_names, pairs))
        raised, equal = int(np.sum(diffs > 0)), int(np.sum(diffs == 0))
        out["answers"].append("**Does modulation raise the UCR?** " + verdict(
            "Modulation's mean UCR over all pairs", m_all, "FSN's", f_all, verb=ABOVE)
            + f"; it is higher on {raised} of {len(pairs)} pairs (equal on {equal}). Paper: "
            f"raised on every pair (Table 1: {unrel[1]}% -> {unrel[2]}% and {rel[1]}% -> "
            f"{rel[2]}%; Table 4: all pairs).")
        if raised < len(pairs):
            out["differences"].append(f"Modulation raises the UCR on only {raised} of "
                                      f"{len(pairs)} pairs (mean {100 * m_all:.2f}% vs FSN "
                                      f"{100 * f_all:.2f}%); the paper reports all pairs raised.")
    means = {m: 100 * r["mean"] for m, r in results.items()}
    for table, paper in (("Table 6 (Zappos)", {m: v[-1] for m, v in PAPER_TABLE6.items()}),
                         ("Table 3 (CelebA)", {m: v[0] for m, v in PAPER_TABLE3.items()})):
        for a, b in order_disagreements(means, paper):
            hi, lo = (a, b) if paper[a] > paper[b] else (b, a)
            se = 100 * float(np.hypot(results[a]["mean_se"], results[b]["mean_se"]))
            noise = "more than" if abs(means[a] - means[b]) > 2 * se else "within"
            out["differences"].append(
                f"{table} ranks {LABELS[hi]} ({paper[hi]:.2f}%) above {LABELS[lo]} "
                f"({paper[lo]:.2f}%); here {LABELS[hi]} ({means[hi]:.2f}%) is below "
                f"{LABELS[lo]} ({means[lo]:.2f}%), a gap {noise} two standard errors "
                f"(2 x {se:.2f}).")
    return out


def percent_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(summary):
    from keras_mtl.training.conflict_matrix_callback import matrix_to_markdown

    names, results, a = summary["task_names"], summary["results"], summary["args"]
    cmp, train = summary["comparisons"], summary["num_triplets"]["train"]
    real = "" if summary["data"] == "zappos_generated" else (
        "; on real data these groups are an assumption, not ground truth")
    setup = (f"Data: {summary['data']} ({summary['num_images']} images; triplets "
             + ", ".join(f"{k} {v}" for k, v in summary["num_triplets"].items()) + "). Budget, "
             f"identical for every method: {a['epochs']} epochs of {train} train "
             f"triplets, batch {a['batch_size']}, {a['image_size']}x{a['image_size']} images, "
             f"width x{a['width']}, embedding {a['embedding_dim']}, Adagrad lr "
             f"{a['learning_rate']}, margin {a['margin']}, seed {a['seed']} (set before every "
             f"build). Probe: per-task gradients on the shared weights at every step; UCR is the "
             f"fraction of the last epoch's {max(train // a['batch_size'], 1)} "
             "batches in which two tasks' gradients have a positive inner product (Eq. 2).")
    table = [[r["label"]] + [f"{100 * x:.2f}" for x in r["accuracy"]]
             + [f"{100 * r['mean']:.2f}", f"{100 * r['mean_se']:.2f}", f"{r['params']:,}",
                f"{r['task_specific_params']:,}", f"{r['total_s']:.0f}"]
             for r in results.values()]
    paper = [[f"{LABELS[m]} (paper)"] + [f"{x:.2f}" for x in v] for m, v in PAPER_TABLE6.items()]
    groups = [[results[m]["label"]] + [f"{100 * g[k]:.2f}" for k in
                                       ("related", "unrelated", "all_pairs")]
              for m, g in cmp["ucr_groups"].items()]
    parts = [
        "# Reproduction report: Zhao et al. (ECCV 2018) on keras-mtl",
        f"Generated by `python benchmarks/reproduction_report.py` on {summary['created']}; "
        f"{summary['seconds']:.0f} s in all. Every number and every ordering below is "
        "computed by that script; only the paper's numbers are constants (cited by table).",
        "## Set-up\n\n" + setup,
        "## Test triplet accuracy (%), Table 6 layout\n\n" + percent_table(
            ["method", *names, "mean", "s.e.", "params", "task-specific", "seconds"], table)
        + "\n\ns.e.: binomial standard error of the mean. Paper, Table 6 (UT-Zappos50K, "
        "full-size network, 40 epochs):\n\n" + percent_table(["method", *names, "mean"], paper)
        + "\n\n![accuracy](accuracy.png)",
        "## Answers\n\n" + "\n\n".join(cmp["answers"] or ["(needs FSN and modulation)"]),
        "## UCR of related and unrelated pairs (%, last epoch)\n\nRelated: "
        + ", ".join("/".join(p) for p in RELATED_PAIRS) + "; unrelated: "
        + ", ".join("/".join(p) for p in UNRELATED_PAIRS) + " (ground truth of the generator, "
        f"`keras_mtl.datasets.generated`, `data.relations`{real}).\n\n"
        + percent_table(["method", "related", "unrelated", "all pairs"], groups),
        "## Where we differ from the paper\n\n" + ("\n".join(
            f"- {d}" for d in cmp["differences"]) or "No computed ordering differs from the "
            "paper's.") + "\n\nAbsolute accuracies are not comparable: generated images, a "
        "reduced network and a budget of minutes instead of 40 epochs.",
        "## UCR matrices (shared weights, last epoch)",
    ]
    for method, r in results.items():
        ucr = np.asarray(r["ucr"], dtype=float)
        body = ("no shared trainable weights, so no UCR" if np.all(np.isnan(ucr))
                else matrix_to_markdown(ucr, names) + f"\n\n![UCR {method}](ucr_{method}.png)")
        parts.append(f"### {r['label']} (probe {r['probe']}, {r['shared_params']:,} shared "
                     f"parameters)\n\n{body}")
    return "\n\n".join(parts) + "\n"


def main(argv=None):
    args = parse_args(argv)
    import keras_mtl
    from keras_mtl import evaluation

    start = time.time()
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = load_data(args)
    print(f"keras-mtl {keras_mtl.__version__}: {data.name}, {data.num_images} images, "
          f"methods {', '.join(args.methods)}", flush=True)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for method in args.methods:
            results[method] = run_method(method, data, args, args.run_dir or tmp)
            r = results[method]
            print(f"{r['label']}: mean {100 * r['mean']:.2f}% in {r['total_s']:.0f} s", flush=True)
    names = list(data.task_names)
    evaluation.save_accuracy_bars(out / "accuracy.png",
                                  {r["label"]: r["accuracy"] for r in results.values()}, names,
                                  "Test triplet accuracy, equal budget")
    for method, r in results.items():
        if not np.all(np.isnan(np.asarray(r["ucr"], dtype=float))):
            evaluation.save_matrix_heatmaps(out / f"ucr_{method}.png",
                                            {"ucr": np.asarray(r["ucr"]),
                                             "cosine": np.asarray(r["cosine"])},
                                            names, f"({r['label']}, last epoch)")
    summary = {
        "created": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "data": data.name,
        "num_images": int(data.num_images), "task_names": names,
        "num_triplets": {k: len(v) for k, v in data.triplets.items()}, "args": vars(args),
        "results": results, "comparisons": comparisons(results, names),
        "seconds": time.time() - start,
    }
    (out / "report.md").write_text(render_markdown(summary), encoding="utf-8")
    evaluation.save_json(out / "results.json", summary)
    print(f"\nWrote {out / 'report.md'}, results.json and the PNGs in "
          f"{time.time() - start:.0f} s.")
    return summary


if __name__ == "__main__":
    main()
