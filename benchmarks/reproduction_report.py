"""Reproduction report: Zhao et al. (ECCV 2018) Tables 1, 3, 4 and 6 on the embedded data.

Trains FSN, ITN, CSN, IB-25, modulation, task routing, cross-stitch and a top-down network
with one budget over several seeds, with the gradient-conflict probe on. The budget (`BUDGET`)
is the main job's data, network and optimiser (`examples/zappos_retrieval.py`) at 48 px for 4
epochs of 3,000 triplets, so that the whole report trains in about 40 minutes on one CPU
core. Seed `s` is one full replicate: the data (images and triplets) drawn with seed `s`,
then every method trained with seed `s` (initialisation, batch order).
The report gives, per method and task, the mean and standard deviation over seeds; each
method's difference from FSN, paired by seed, with a Student-t confidence interval
(`keras_mtl.evaluation.paired_difference`); and answers each claim of the paper as reproduced,
contradicted or inconclusive from those intervals (`keras_mtl.evaluation.claim_outcome`).

    python benchmarks/reproduction_report.py                  # 8 methods x 3 seeds, ~40 min, 1 core
    python benchmarks/reproduction_report.py --resume docs/reproduction/results.json
    python benchmarks/reproduction_report.py --quick          # smoke test, seconds per run
    python benchmarks/reproduction_report.py --data-dir ~/data/ut-zap50k --image-size 112

Resumable: results.json in --output-dir is rewritten after every finished run, and `--resume
PATH` reuses the runs of an earlier results.json whose configuration matches (a stopped report
loses at most the run in progress; a finished one re-renders without training). `--wait-for
FILE` waits before each run while FILE exists (a lock held by a timing benchmark).

Writes `report.md`, `results.json`, `accuracy.png` and `ucr_<method>.png` (UCR and cosine
matrices averaged over seeds) to --output-dir (default docs/reproduction/).
"""

import argparse
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:  # _seed_runs.py and _seed_statistics.py live next to this script
    sys.path.insert(0, HERE)

import _seed_runs as seed_runs  # noqa: E402
import numpy as np  # noqa: E402
from _seed_statistics import (  # noqa: E402
    CONFIDENCE,
    aggregate,
    as_float,
    by_seed,
    ci_text,
    differences_from,
    pm,
    pm_array,
    t_note,
    table,
)

from keras_mtl.evaluation.seeds import (  # noqa: E402
    claim_outcome,
    format_difference,
    paired_difference,
    seed_summary,
)

METHODS = ("fsn", "itn", "csn", "ib25", "modulation", "routing", "cross_stitch", "top_down")
LABELS = {"fsn": "FSN", "itn": "ITN", "csn": "CSN", "ib25": "IB-25", "modulation": "Modulation",
          "routing": "Task routing", "cross_stitch": "Cross-stitch", "top_down": "Top-down"}
BASELINE = "fsn"
# Zhao et al. Table 6 (UT-Zappos50K; class, closure, gender, heel, mean), in %.
PAPER_TABLE6 = {"fsn": (78.95, 80.33, 69.22, 73.35, 75.46),
                "itn": (92.01, 89.12, 79.10, 85.97, 86.61),
                "csn": (93.06, 89.37, 78.09, 86.42, 86.73),
                "modulation": (93.34, 90.57, 79.50, 89.27, 88.17)}
# Zhao et al. Table 3 (CelebA, 20 attributes): mean accuracy (%) and additional parameters.
PAPER_TABLE3 = {"modulation": (84.86, "10k"), "csn": (72.81, "3k"), "itn": (84.61, "51M"),
                "fsn": (69.4, "0"), "ib25": (75.47, "128k")}
# Zhao et al. Table 1 (CelebA): UCR (%) of a related and an unrelated pair, FSN and modulation.
PAPER_TABLE1 = {"related": ("smile / open mouth", 43.71, 52.77),
                "unrelated": ("smile / young", 22.1, 50.63)}
# The orderings of Tables 3 and 6 that the report tests: (b, a) claims "b above a".
ACCURACY_CLAIMS = (("modulation", "fsn"), ("modulation", "itn"), ("modulation", "csn"),
                   ("modulation", "ib25"), ("itn", "fsn"), ("csn", "fsn"), ("ib25", "fsn"))
# One budget for every method and seed, sized so that 8 methods x 3 seeds train in about
# 40 minutes on one CPU core: the main job's network, data, batch and optimiser
# (examples/zappos_retrieval.py), at 48 px instead of 64 and 4 epochs of 3,000 triplets
# instead of 6 of 4,000 (cross-stitch and ITN, one column per task, cost 4-7x an FSN step).
BUDGET = {"num_images": 2400, "epochs": 4, "train_triplets": 3000, "test_triplets": 3000,
          "batch_size": 64, "image_size": 48, "width": 0.25, "embedding_dim": 64,
          "learning_rate": 0.05, "margin": 0.2}
QUICK = {"num_images": 400, "epochs": 1, "train_triplets": 128, "test_triplets": 128,
         "batch_size": 32, "image_size": 48, "width": 0.125, "embedding_dim": 16,
         "seeds": "0,1"}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=(
        argparse.ArgumentDefaultsHelpFormatter))
    seed_runs.add_budget_arguments(parser, BUDGET, QUICK)
    parser.add_argument("--methods", default=",".join(METHODS),
                        help=f"comma list from {', '.join(METHODS)}")
    parser.add_argument("--output-dir", default="docs/reproduction",
                        help="report, JSON and PNGs")
    args = seed_runs.finish_arguments(parser, parser.parse_args(argv), QUICK)
    args.methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(args.methods) - set(METHODS))
    if unknown:
        parser.error(f"unknown --methods {unknown}; expected some of {list(METHODS)}")
    return args


def _paper_numbers(b, a):
    parts = []
    for name, paper, pick in (("Table 6", PAPER_TABLE6, -1), ("Table 3", PAPER_TABLE3, 0)):
        if a in paper and b in paper:
            parts.append(f"{paper[b][pick]:.2f} vs {paper[a][pick]:.2f} ({name})")
    return "; ".join(parts)


def claims(runs, seeds, has_relations=True):
    """Each paper claim with its paired difference over seeds and its outcome."""
    out = []
    present = {r["config"]["method"] for r in runs}
    for b, a in ACCURACY_CLAIMS:
        if not {a, b} <= present:
            continue
        d = paired_difference(by_seed(runs, a, "mean", seeds), by_seed(runs, b, "mean", seeds),
                              CONFIDENCE)
        out.append({"id": f"accuracy_{b}_vs_{a}", "table": "Tables 3 and 6"
                    if a in PAPER_TABLE6 and b in PAPER_TABLE6 else "Table 3",
                    "claim": f"{LABELS[b]} is more accurate than {LABELS[a]}",
                    "a_label": LABELS[a], "b_label": LABELS[b],
                    "paper": _paper_numbers(b, a) + " (mean triplet accuracy, %)",
                    "a": seed_summary(by_seed(runs, a, "mean", seeds)),
                    "b": seed_summary(by_seed(runs, b, "mean", seeds)),
                    "difference": d, "unit": "accuracy", "outcome": claim_outcome(d, "above")})
    if not has_relations or BASELINE not in present:
        return out
    rel, unrel = PAPER_TABLE1["related"], PAPER_TABLE1["unrelated"]
    fsn_related = by_seed(runs, BASELINE, ("ucr_by_pair", "related"), seeds)
    fsn_independent = by_seed(runs, BASELINE, ("ucr_by_pair", "independent"), seeds)
    d = paired_difference(fsn_independent, fsn_related, CONFIDENCE)
    out.append({"id": "ucr_fsn_related_vs_independent", "table": "Table 1",
                "claim": "Under FSN, related pairs have a higher UCR than unrelated pairs",
                "paper": f"{rel[1]}% ({rel[0]}) vs {unrel[1]}% ({unrel[0]})",
                "a": seed_summary(fsn_independent), "b": seed_summary(fsn_related),
                "a_label": "FSN, independent pairs", "b_label": "FSN, related pairs",
                "difference": d, "unit": "ucr", "outcome": claim_outcome(d, "above")})
    if "modulation" not in present:
        return out
    for kind, claim, paper in (
            ("all", "Modulation raises the UCR (mean over all pairs)",
             "every pair raised (Table 4); Table 1: "
             f"{unrel[1]}% -> {unrel[2]}% and {rel[1]}% -> {rel[2]}%"),
            ("independent", "Modulation raises the UCR of unrelated (independent) pairs",
             f"{unrel[1]}% -> {unrel[2]}% ({unrel[0]}, Table 1); every pair (Table 4)"),
            ("related", "Modulation raises the UCR of related pairs",
             f"{rel[1]}% -> {rel[2]}% ({rel[0]}, Table 1); every pair (Table 4)")):
        f = by_seed(runs, BASELINE, ("ucr_by_pair", kind), seeds)
        m = by_seed(runs, "modulation", ("ucr_by_pair", kind), seeds)
        d = paired_difference(f, m, CONFIDENCE)
        out.append({"id": f"ucr_modulation_vs_fsn_{kind}", "table": "Tables 1 and 4",
                    "claim": claim, "paper": paper, "a": seed_summary(f), "b": seed_summary(m),
                    "a_label": f"FSN, {kind} pairs", "b_label": f"modulation, {kind} pairs",
                    "difference": d, "unit": "ucr", "outcome": claim_outcome(d, "above")})
    return out



def claim_sentence(c):
    scale, digits, unit = (100.0, 2, " points") if c["unit"] == "accuracy" else (1.0, 3, "")
    return (f"{c['b_label']} {pm(c['b'], scale, digits)} vs {c['a_label']} "
            f"{pm(c['a'], scale, digits)}; "
            f"difference {format_difference(c['difference'], scale, unit, digits)}")


def render_markdown(summary):
    names, agg, seeds = summary["task_names"], summary["aggregate"], summary["seeds"]
    n = len(seeds)
    budget = summary["budget"]
    data_line = (f"the embedded generated Zappos-like data v2 (`keras_mtl.datasets.generated`; "
                 f"{budget['num_images']} images, {budget['image_size']}x{budget['image_size']}"
                 f" px; {budget['train_triplets']:,} training triplets per epoch, "
                 f"{budget['test_triplets']:,} test triplets)"
                 if not budget["data_dir"] else f"UT-Zappos50K from `{budget['data_dir']}`")
    setup = (
        f"Data: {data_line}. Budget, identical for every method and seed, sized so that the "
        f"whole report trains in well under an hour on one CPU core (the main job, "
        f"`examples/zappos_retrieval.py`, trains one seed at 64 px for 6 epochs of 4,000 "
        f"triplets; here {budget['image_size']} px): {budget['epochs']} epochs, batch "
        f"{budget['batch_size']} triplets, width x{budget['width']}, embedding "
        f"{budget['embedding_dim']}, Adagrad lr {budget['learning_rate']}, margin "
        f"{budget['margin']}; grouped gradient probe (UCR, Eq. 2, over the last epoch's "
        f"batches). Seeds {', '.join(map(str, seeds))}: seed s draws the data (images, "
        "triplets) and trains every method (initialisation, batch order, augmentation) with s, "
        "so one seed is one full replicate of the experiment."
        + (" Op determinism on (`--deterministic`)." if budget["deterministic"] else
           " Op determinism off: a rerun of one seed differs by TensorFlow's multithreaded CPU "
           "kernels as well; that noise is part of the spread over seeds."))
    stats = (
        f"**Statistics.** Mean ± sample standard deviation over the {n} seeds. Differences are "
        f"paired by seed (method minus FSN on the same data and batch order) with a two-sided "
        f"{100 * CONFIDENCE:g}% Student-t interval, mean ± t(n-1) sd / sqrt(n), t = "
        f"{t_note(n)} (`keras_mtl.evaluation.paired_difference`). A claim is **reproduced** "
        "when the whole interval lies on the paper's side of 0, **contradicted** when it lies "
        "entirely on the other side, **inconclusive** otherwise "
        "(`keras_mtl.evaluation.claim_outcome`). With 3 seeds only large, consistent "
        "differences are resolved; the per-run binomial standard error of the test set is "
        "given for scale.")
    parts = [
        "# Reproduction report: Zhao et al. (ECCV 2018) on keras-mtl",
        f"Generated by `make report` (= `python benchmarks/reproduction_report.py`, "
        f"{summary['created']}): {len(summary['runs'])} runs, {summary['cpu_s'] / 60:.0f} "
        f"CPU-minutes of training (process time), {summary['train_wall_s'] / 60:.0f} minutes "
        "of wall time in the runs (one run at a time, the process pinned to one CPU core, "
        "`taskset -c 1`; the CPU time is what the budget costs on a free core, the wall time "
        "also holds the other jobs that shared the machine). Every "
        "number, interval and verdict below is computed by that script from "
        "`results.json`; only the paper's numbers are constants (cited by table).",
        "## Set-up\n\n" + setup + "\n\n" + stats,
    ]
    rows = []
    for c in summary["claims"]:
        rows.append([c["table"], c["claim"], c["paper"], claim_sentence(c),
                     f"**{c['outcome']}**"])
    parts.append("## The paper's claims\n\n" + (table(
        ["paper", "claim", "paper's numbers", f"ours ({n} seeds)", "verdict"], rows)
        if rows else "(needs FSN and the compared methods)"))
    acc_rows = []
    for a in agg.values():
        acc_rows.append([a["label"]] + [pm_array(a["accuracy"], t) for t in range(len(names))]
                        + [pm(a["mean"]), f"{100 * a['binomial_se']:.2f}", f"{a['params']:,}",
                           f"{a['task_specific_params']:,}", f"{a['total_s']['mean']:.0f}"])
    paper_rows = [[f"{LABELS[m]} (paper)", *(f"{v:.2f}" for v in vals)]
                  for m, vals in PAPER_TABLE6.items()]
    parts.append(
        f"## Test triplet accuracy (%), Table 6 layout: mean ± sd over {n} seeds\n\n"
        + table(["method", *names, "mean", "binomial s.e. (one run)", "params",
                 "task-specific", "seconds per run"], acc_rows)
        + "\n\nbinomial s.e.: the test-set standard error of one run's mean, averaged over "
        "seeds (`keras_mtl.evaluation.accuracy_summary`). Paper, Table 6 (UT-Zappos50K, "
        "full-size network, 40 epochs):\n\n"
        + table(["method", *names, "mean"], paper_rows) + "\n\n![accuracy](accuracy.png)")
    diff_rows = []
    for m, d in summary["differences"].items():
        dm = d["mean"]
        per_seed = ", ".join(f"{100 * v:+.2f}" for v in dm["values"])
        diff_rows.append([agg[m]["label"], f"{100 * dm['difference']:+.2f}",
                          ci_text(dm), f"{100 * dm['sd']:.2f}" if not math.isnan(dm["sd"]) else "-",
                          per_seed, d["outcome"]])
    parts.append(
        "## Difference from FSN (mean accuracy, points), paired by seed\n\n"
        + table(["method", "difference", f"{100 * CONFIDENCE:g}% CI (paired t)",
                 "sd of the differences", "per seed", "vs FSN"], diff_rows)
        + "\n\n`beats` / `is behind`: the interval excludes 0; `indistinguishable`: it does "
        "not. Per-task differences are in `results.json` (`differences.<method>.per_task`).")
    if summary["has_relations"]:
        ucr_rows = [[a["label"], pm(a["ucr_by_pair"]["related"], 1, 3),
                     pm(a["ucr_by_pair"]["independent"], 1, 3),
                     pm(a["ucr_by_pair"]["all"], 1, 3)] for a in agg.values()]
        parts.append(
            "## UCR by kind of pair (last epoch, mean ± sd over seeds)\n\n"
            f"Related pairs: {', '.join('/'.join(p) for p in summary['pairs']['related'])}; "
            f"independent: {', '.join('/'.join(p) for p in summary['pairs']['independent'])}"
            " (ground truth of the generator, `data.relations`). UCR (Eq. 2): the fraction "
            "of batches in which two tasks' gradients on the shared weights have a positive "
            "inner product. ITN and cross-stitch share no trainable weight: no UCR.\n\n"
            + table(["method", "related", "independent", "all pairs"], ucr_rows))
    differ = [f"- {c['claim']} ({c['table']}): **{c['outcome']}**; {claim_sentence(c)}."
              for c in summary["claims"] if c["outcome"] != "reproduced"]
    parts.append("## Where we differ from the paper\n\n" + ("\n".join(differ) or
                 "Every tested claim is reproduced.") + "\n\nAbsolute accuracies are not "
                 "comparable with the paper's: generated images with known task relations, a "
                 f"network at x{budget['width']} of the paper's width and "
                 f"{budget['image_size']} px inputs, and a budget of minutes "
                 f"({budget['epochs']} epochs of {budget['train_triplets']:,} triplets) instead "
                 "of 40 epochs of real data.")
    seed_rows = [[LABELS.get(r["config"]["method"], r["config"]["method"]), r["config"]["seed"],
                  *(f"{100 * as_float(a):.2f}" for a in r["accuracy"]), f"{100 * r['mean']:.2f}",
                  f"{100 * r['mean_se']:.2f}", _num(r["ucr_by_pair"], "related"),
                  _num(r["ucr_by_pair"], "independent"), _num(r["ucr_by_pair"], "all"),
                  f"{r['total_s']:.0f}"] for r in summary["runs"]]
    parts.append("## Every run\n\n" + table(
        ["method", "seed", *names, "mean", "s.e.", "UCR related", "UCR independent",
         "UCR all", "seconds"], seed_rows))
    parts.append(f"## UCR matrices (shared weights, last epoch, mean over {n} seeds)")
    for m, a in agg.items():
        ucr = np.asarray(a["ucr_mean"], dtype=float)
        body = ("no shared trainable weights, so no UCR" if np.all(np.isnan(ucr))
                else _matrix(ucr, names) + f"\n\n![UCR {m}](ucr_{m}.png)")
        parts.append(f"### {a['label']} (probe {a['probe']}, {a['shared_params']:,} shared "
                     f"parameters)\n\n{body}")
    return "\n\n".join(parts) + "\n"


def _num(by_pair, kind):
    value = None if by_pair is None else by_pair.get(kind)
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else (
        f"{value:.3f}")


def _matrix(matrix, names):
    rows = [[name] + ["-" if i == j or np.isnan(matrix[i, j]) else f"{matrix[i, j]:.2f}"
                      for j in range(len(names))] for i, name in enumerate(names)]
    return table(["", *names], rows)


def save_figures(out, summary):
    """accuracy.png (mean ± sd bars) and ucr_<method>.png (mean matrices over seeds)."""
    from keras_mtl import evaluation

    names, agg = summary["task_names"], summary["aggregate"]
    save_seed_bars(out / "accuracy.png", {a["label"]: a for a in agg.values()}, names,
                   f"Test triplet accuracy, mean ± sd over {len(summary['seeds'])} seeds")
    for method, a in agg.items():
        ucr = np.asarray(a["ucr_mean"], dtype=float)
        if not np.all(np.isnan(ucr)):
            evaluation.save_matrix_heatmaps(
                out / f"ucr_{method}.png", {"ucr": ucr, "cosine": np.asarray(a["cosine_mean"])},
                names, f"({a['label']}, mean of {len(a['seeds'])})")


def save_seed_bars(path, results, task_names, title):
    """Grouped bars with error bars: per task and the mean, one bar per method."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    labels = list(task_names) + ["mean"]
    width = 0.8 / max(1, len(results))
    figure, axis = plt.subplots(figsize=(1.6 * len(labels) + 3, 3.8))
    for i, (label, a) in enumerate(results.items()):
        means = list(np.asarray(a["accuracy"]["mean"], float)) + [a["mean"]["mean"]]
        sds = list(np.asarray(a["accuracy"]["sd"], float)) + [a["mean"]["sd"]]
        positions = np.arange(len(labels)) + (i - (len(results) - 1) / 2) * width
        axis.bar(positions, 100 * np.array(means), width, yerr=100 * np.nan_to_num(sds),
                 capsize=2, label=label)
    axis.set_xticks(range(len(labels)), labels)
    axis.set_ylabel("accuracy (%)")
    axis.set_ylim(40, 100)
    axis.axhline(50, color="grey", lw=0.8, ls="--")
    axis.set_title(title, fontsize=9)
    axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def labelled(agg):
    """`aggregate`'s result with each method's display name as `label`."""
    return {m: {"label": LABELS.get(m, m), **a} for m, a in agg.items()}


def summarize(runs, args, relations, task_names, started):
    """The whole report as one dict (what results.json holds)."""
    seeds = list(args.seeds)
    methods = [m for m in args.methods if any(r["config"]["method"] == m for r in runs)]
    pairs = ({k: relations.pairs(k) for k in ("related", "independent", "conflicting")}
             if relations is not None else None)
    return {
        "created": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "task_names": list(task_names), "seeds": seeds, "methods": methods,
        "budget": {k: v for k, v in seed_runs.run_config(args, None, None).items()
                   if k not in ("method", "loss_weighting", "seed")},
        "has_relations": relations is not None,
        "relations": relations.to_dict() if relations is not None else None,
        "pairs": pairs,
        "statistics": (f"mean ± sample sd over seeds; differences paired by seed with a "
                       f"{100 * CONFIDENCE:g}% Student-t interval (n - 1 degrees of freedom)"),
        "aggregate": labelled(aggregate(runs, methods, seeds)),
        "differences": (differences_from(runs, methods, seeds, BASELINE)
                        if BASELINE in methods else {}),
        "claims": claims(runs, seeds, relations is not None),
        "runs": runs,
        "cpu_s": float(sum(r["cpu_s"] for r in runs)),
        "train_wall_s": float(sum(r["total_s"] for r in runs)),
        "script_s": time.time() - started,
        "args": {k: v for k, v in vars(args).items()},
    }


def main(argv=None):
    args = parse_args(argv)
    import keras_mtl
    from keras_mtl import evaluation

    started = time.time()
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    configs = [seed_runs.run_config(args, m, s) for s in args.seeds for m in args.methods]
    print(f"keras-mtl {keras_mtl.__version__}: {len(configs)} runs ({', '.join(args.methods)}"
          f" x seeds {args.seeds})", flush=True)
    known = {}

    def partial(runs):  # results.json after every run: what --resume reads
        evaluation.save_json(out / "results.json", {"complete": False, "runs": runs,
                                                    "args": vars(args)})

    def describe(config, data):
        known.setdefault("data", data)
        return f"\n== {seed_runs.run_key(config)} on {data.name} ({data.num_images} images)"

    runs = seed_runs.run_all(configs, args, on_run=partial, describe=describe)
    data = known.get("data") or seed_runs.load_data(
        seed_runs.run_config(args, None, args.seeds[0]), args.cache_dir)
    summary = summarize(runs, args, data.relations, data.task_names, started)
    summary["complete"] = True
    save_figures(out, summary)
    (out / "report.md").write_text(render_markdown(summary), encoding="utf-8")
    evaluation.save_json(out / "results.json", summary)
    print(f"\nWrote {out / 'report.md'}, results.json and the PNGs; {summary['cpu_s']:.0f} s "
          f"CPU in training runs, {time.time() - started:.0f} s in all.", flush=True)
    for c in summary["claims"]:
        print(f"- {c['claim']}: {c['outcome']} ({claim_sentence(c)})")
    return summary


if __name__ == "__main__":
    main()
