"""Loss and gradient weightings on the embedded Zappos data: accuracy, UCR and step time (issue 14).

Trains one network, the fully shared net (FSN) by default, with every weighting of
`keras_mtl.weighting.METHODS` (`model.compile(loss_weighting=...)`) over several seeds with one
budget, and reports per method the test triplet accuracy (mean ± sd over seeds), its
difference from the uniform weighting paired by seed with a Student-t interval, the UCR by
kind of task pair, and the median training step time.

Why FSN: every weight is shared, so every gradient conflict between tasks reaches every weight
(the embedded data's independent task pairs have a negative gradient cosine under FSN,
`docs/reproduction/why_modulation.md`); that is where a weighting has the most to do. A
task-conditioned network (`--network modulation`) removes much of the conflict by itself.

    python benchmarks/weighting_comparison.py                       # 14 methods x 3 seeds
    python benchmarks/weighting_comparison.py --resume benchmarks/results/weighting_comparison.json
    python benchmarks/weighting_comparison.py --methods uniform,pcgrad,mgda --seeds 0
    python benchmarks/weighting_comparison.py --quick               # smoke test

Resumable like `reproduction_report.py` (same training, statistics and flags: `_seed_runs.py`,
`_seed_statistics.py`): the
JSON is rewritten after every run, `--resume` reuses matching runs, `--wait-for FILE` waits
before each run while FILE exists. Prints the table; writes the JSON to --output (default
`benchmarks/results/weighting_comparison.json`) and the table with its reading to --markdown
(default `docs/reproduction/weighting_comparison.md`).
"""

import argparse
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:  # the report and its _seed_* modules live next to this script
    sys.path.insert(0, HERE)

import _seed_runs as seed_runs  # noqa: E402
import _seed_statistics as stats  # noqa: E402
import numpy as np  # noqa: E402
import reproduction_report as report  # noqa: E402

from keras_mtl.evaluation.seeds import claim_outcome, paired_difference  # noqa: E402

BASELINE = "uniform"
# Smaller than the reproduction report's budget (2 epochs of 2,560 triplets instead of 4 of
# 3,000; the same data, network, image size and optimiser), so that 14 methods x 3 seeds train
# in about 20 CPU-minutes on one core. FSN is still learning at this budget, so a weighting has
# room to help (or hurt).
BUDGET = dict(report.BUDGET, epochs=2, train_triplets=2560)
KINDS = {"uniform": "baseline", "mgda": "gradient", "pcgrad": "gradient", "cagrad": "gradient",
         "gradvac": "gradient", "imtl_g": "gradient", "nash_mtl": "gradient",
         "aligned_mtl": "gradient", "upgrad": "gradient", "uw": "loss", "dwa": "loss",
         "rlw": "loss", "famo": "loss", "gradnorm": "loss"}
QUICK = dict(report.QUICK, methods="uniform,pcgrad,uw")


def parse_args(argv=None):
    from keras_mtl.weighting import METHODS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=(
        argparse.ArgumentDefaultsHelpFormatter))
    seed_runs.add_budget_arguments(parser, BUDGET, QUICK)
    parser.add_argument("--methods", default=",".join(METHODS),
                        help="comma list of keras_mtl.weighting.METHODS names (uniform is "
                             "always trained: the baseline)")
    parser.add_argument("--network", default="fsn", choices=report.METHODS,
                        help="the network every weighting trains (FSN: all weights shared)")
    parser.add_argument("--output", default="benchmarks/results/weighting_comparison.json",
                        help="the JSON: every run, the summary per method")
    parser.add_argument("--markdown", default="docs/reproduction/weighting_comparison.md",
                        help="the table and what it shows")
    args = seed_runs.finish_arguments(parser, parser.parse_args(argv), QUICK)
    names = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(names) - set(METHODS))
    if unknown:
        parser.error(f"argument --methods: expected names from {', '.join(METHODS)}, "
                     f"received {', '.join(unknown)}")
    args.methods = [BASELINE] + [m for m in dict.fromkeys(names) if m != BASELINE]
    return args


def summarize(runs, args, task_names, pairs, started):
    """Per weighting: accuracy and UCR over seeds, the paired difference from uniform."""
    seeds, net = list(args.seeds), args.network
    rows = {}
    base = stats.aggregate(runs, [net], seeds, loss_weighting=BASELINE).get(net)
    for method in args.methods:
        agg = stats.aggregate(runs, [net], seeds, loss_weighting=method).get(net)
        if agg is None:
            continue
        row = {"kind": KINDS.get(method, "?"), **agg}
        if method != BASELINE and base is not None:
            diff = stats.differences_from(runs, [net], seeds, baseline=net,
                                           loss_weighting=method)[net]
            row["difference"] = diff
            row["step_ratio"] = (agg["step_s_median"]["mean"] / base["step_s_median"]["mean"]
                                 if base["step_s_median"]["mean"] else float("nan"))
            # process time of whole runs: robust to other jobs on the machine, unlike wall time
            row["cpu_ratio"] = (agg["cpu_s"] / base["cpu_s"] if base["cpu_s"]
                                else float("nan"))
            row["ucr_difference"] = {
                kind: paired_difference(
                    stats.by_seed(runs, net, ("ucr_by_pair", kind), seeds, BASELINE),
                    stats.by_seed(runs, net, ("ucr_by_pair", kind), seeds, method),
                    stats.CONFIDENCE)
                for kind in ("all", "independent")}
        rows[method] = row
    return {
        "created": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "network": net,
        "task_names": list(task_names), "seeds": seeds, "methods": list(rows),
        "budget": {k: v for k, v in seed_runs.run_config(args, net, None).items()
                   if k not in ("method", "loss_weighting", "seed")},
        "pairs": pairs, "results": rows, "runs": runs,
        "cpu_s": float(sum(r["cpu_s"] for r in runs)),
        "train_wall_s": float(sum(r["total_s"] for r in runs)),
        "script_s": time.time() - started, "args": vars(args),
    }


def _listed(methods):
    return ", ".join(f"`{m}`" for m in methods) if methods else "none"


def resolution_sentence(results):
    """How large a difference from uniform the seeds resolve: the median interval half-width."""
    halves = [(d["mean"]["ci_high"] - d["mean"]["ci_low"]) / 2 for r in results.values()
              if (d := r.get("difference")) and not math.isnan(d["mean"]["ci_low"])]
    if not halves:
        return ""
    return (f" The median half-width of a {100 * stats.CONFIDENCE:g}% interval of a difference "
            f"from uniform is {100 * float(np.median(halves)):.2f} points: smaller effects "
            "are not resolved at this budget and number of seeds.")


def ucr_sentence(results):
    """Which weightings raise or lower the UCR (all pairs, independent pairs) over uniform."""
    out = []
    for kind, label in (("all", "all pairs"), ("independent", "independent pairs")):
        diffs = {m: r["ucr_difference"][kind] for m, r in results.items()
                 if "ucr_difference" in r}
        raised = [m for m, d in diffs.items() if claim_outcome(d, "above") == "reproduced"]
        lowered = [m for m, d in diffs.items() if claim_outcome(d, "above") == "contradicted"]
        out.append(f"UCR of {label} above uniform's (interval above 0): {_listed(raised)}; "
                   f"below: {_listed(lowered)}")
    return " " + "; ".join(out) + "." if out else ""


def cost_sentence(results):
    """The range of the runs' CPU time relative to uniform, and the most expensive method."""
    ratios = {m: r["cpu_ratio"] for m, r in results.items()
              if "cpu_ratio" in r and not math.isnan(r["cpu_ratio"])}
    if not ratios:
        return ""
    worst = max(ratios, key=ratios.get)
    return (f" CPU time of a run relative to uniform: {min(ratios.values()):.2f}x to "
            f"{ratios[worst]:.2f}x (`{worst}`).")


def scope_sentence(summary):
    """What a comparison at this budget can and cannot say (from its budget and results)."""
    budget, results = summary["budget"], summary["results"]
    steps = budget["epochs"] * (budget["train_triplets"] // budget["batch_size"])  # full batches
    base = results.get(BASELINE, {}).get("mean", {}).get("mean", float("nan"))
    moved = [m for m, r in results.items()
             if r.get("difference", {}).get("outcome") in ("beats", "is behind")]
    ratios = [r["cpu_ratio"] for r in results.values()
              if not math.isnan(r.get("cpu_ratio", float("nan")))]
    cost = (f"at {min(ratios):.2f}-{max(ratios):.2f}x the CPU time of a uniform run"
            if ratios else "")
    return (
        f"Each run trains {steps} steps of {budget['batch_size']} triplets, after which "
        f"{summary['network'].upper()} with the uniform weighting is at "
        f"{100 * base:.2f}% mean test triplet accuracy: a short budget on one network and one "
        f"data set, with {len(summary['seeds'])} seeds. "
        + ("No weighting moves the accuracy by more than the intervals resolve, so this "
           "comparison does not rank the methods; it shows that each of them trains this "
           f"network end to end with the grouped per-task gradients {cost}, and how each "
           "changes the gradient agreement (UCR) between tasks. "
           if not moved else
           f"{_listed(moved)} moved the accuracy beyond the interval; the others did not. ")
        + "A longer budget, more seeds or a task-conditioned network (`--network "
        "modulation`) would be needed to rank them; none of this is tuned per method.")


def render_markdown(summary):
    names, seeds, results = summary["task_names"], summary["seeds"], summary["results"]
    n, budget = len(seeds), summary["budget"]
    head = ["method", "kind", "mean accuracy (%)", "vs uniform (points)",
            f"{100 * stats.CONFIDENCE:g}% CI (paired t)", "verdict", "UCR all pairs",
            "UCR related", "UCR independent", "step (ms, wall)", "step / uniform",
            "CPU per run / uniform"]
    rows = []
    for method, r in results.items():
        d = r.get("difference")
        rows.append([
            f"`{method}`", r["kind"], stats.pm(r["mean"]),
            f"{100 * d['mean']['difference']:+.2f}" if d else "-",
            stats.ci_text(d["mean"]) if d else "-", d["outcome"] if d else "baseline",
            stats.pm(r["ucr_by_pair"]["all"], 1, 3),
            stats.pm(r["ucr_by_pair"]["related"], 1, 3),
            stats.pm(r["ucr_by_pair"]["independent"], 1, 3),
            f"{1000 * r['step_s_median']['mean']:.0f}",
            f"{r['step_ratio']:.2f}" if d and not math.isnan(r["step_ratio"]) else "-",
            f"{r['cpu_ratio']:.2f}" if d and not math.isnan(r["cpu_ratio"]) else "-"])
    task_rows = [[f"`{m}`", *(stats.pm_array(r["accuracy"], t) for t in range(len(names))),
                  stats.pm(r["mean"])] for m, r in results.items()]
    better = [m for m, r in results.items() if r.get("difference", {}).get("outcome") == "beats"]
    worse = [m for m, r in results.items()
             if r.get("difference", {}).get("outcome") == "is behind"]
    best = max(results, key=lambda m: results[m]["mean"]["mean"])
    finding = (
        f"Against the uniform weighting, paired by seed with {n} seeds: "
        + (f"{', '.join(f'`{m}`' for m in better)} {'is' if len(better) == 1 else 'are'} "
           "ahead (interval above 0)" if better else "no method is clearly ahead")
        + "; " + (f"{', '.join(f'`{m}`' for m in worse)} "
                  f"{'is' if len(worse) == 1 else 'are'} behind (interval below 0)"
                  if worse else "none is clearly behind")
        + f"; the others are indistinguishable from uniform at this budget. The highest mean is "
        f"`{best}` ({stats.pm(results[best]['mean'])}%)." + resolution_sentence(results)
        + ucr_sentence(results) + cost_sentence(results))
    pairs = summary["pairs"] or {}
    parts = [
        "# Loss and gradient weightings on the embedded data (issue 14)",
        f"Generated by `python benchmarks/weighting_comparison.py` ({summary['created']}): "
        f"{len(summary['runs'])} runs, {summary['cpu_s'] / 60:.0f} CPU-minutes of training "
        f"(process time), {summary['train_wall_s'] / 60:.0f} minutes of wall time in the "
        "runs. Every number below is computed by that script from "
        "`benchmarks/results/weighting_comparison.json`.",
        "## Set-up\n\n"
        f"Network: **{report.LABELS.get(summary['network'], summary['network'])}** (Zhao et al. "
        "Table 2 network"
        + (", every weight shared by the four tasks. It is where shared-weight conflict is "
           "largest: under FSN the embedded data's independent task pairs have a negative "
           "gradient cosine and a low UCR, so a weighting that resolves conflicts has the most "
           "to do here" if summary["network"] == "fsn" else "")
        + f"). Data: the embedded Zappos-like data v2, {budget['num_images']} images at "
        f"{budget['image_size']} px, {budget['train_triplets']:,} training triplets per epoch, "
        f"{budget['test_triplets']:,} test triplets, drawn per seed. Budget, the same for "
        f"every method: {budget['epochs']} epochs (smaller than the reproduction report's "
        f"{report.BUDGET['epochs']} epochs of {report.BUDGET['train_triplets']:,} triplets, "
        f"so that {len(summary['methods'])} methods x {n} seeds train in about 20 CPU-minutes "
        f"on one core; the accuracies are therefore lower than the report's), batch "
        f"{budget['batch_size']}, width x{budget['width']}, embedding "
        f"{budget['embedding_dim']}, Adagrad lr {budget['learning_rate']}, margin "
        f"{budget['margin']}; grouped per-task gradients (the probe) for every method, each "
        "method with its paper's default hyperparameters (`keras_mtl.weighting`); PCGrad, "
        f"GradVac and RLW seeded with the run's seed. Seeds {', '.join(map(str, seeds))}.\n\n"
        "**Statistics** as in `report.md`: mean ± sd over seeds; the difference from uniform "
        f"is paired by seed with a {100 * stats.CONFIDENCE:g}% Student-t interval "
        f"({stats.t_note(n)}); `beats` / `is behind` when the interval excludes 0. UCR "
        "(Eq. 2) over the last epoch, by kind of pair (related: "
        + ", ".join("/".join(p) for p in pairs.get("related", [])) + "; independent: "
        + ", ".join("/".join(p) for p in pairs.get("independent", []))
        + "). Cost: `step (ms, wall)` is the median wall time of a training step (probe and "
        "weighting included), averaged over "
        "seeds; it includes whatever else ran on the machine, so on a shared machine it can "
        "be off by a factor of 2. `CPU per run / uniform` is the process time of a whole run "
        "(tracing, training, evaluation) relative to uniform's: robust to other jobs, but "
        "diluted by the fixed costs. `benchmarks/weighting_cost.py` measures the cost of "
        "each method properly.",
        "## Results\n\n" + stats.table(head, rows) + "\n\n" + finding,
        "## What it shows\n\n" + scope_sentence(summary),
        "## Per task (%, mean ± sd over seeds)\n\n"
        + stats.table(["method", *names, "mean"], task_rows),
    ]
    return "\n\n".join(parts) + "\n"


def budget_note(args):
    """One line: this comparison's budget against the reproduction report's."""
    mine = seed_runs.run_config(args, args.network, None)
    keys = ("epochs", "train_triplets", "image_size", "test_triplets")
    ours = ", ".join(f"{k}={mine[k]}" for k in keys)
    theirs = ", ".join(f"{k}={report.BUDGET[k]}" for k in keys)
    smaller = mine["epochs"] * mine["train_triplets"] < (report.BUDGET["epochs"]
                                                         * report.BUDGET["train_triplets"])
    return (f"Budget: {ours}; the reproduction report trains {theirs}"
            + (" (this comparison's training budget is smaller: its accuracies are not the "
               "report's)." if smaller else "."))


def main(argv=None):
    args = parse_args(argv)
    import keras_mtl
    from keras_mtl import evaluation

    started = time.time()
    json_path, md_path = Path(args.output), Path(args.markdown)
    for path in (json_path, md_path):
        path.parent.mkdir(parents=True, exist_ok=True)
    configs = [seed_runs.run_config(args, args.network, s, m)
               for s in args.seeds for m in args.methods]
    print(f"keras-mtl {keras_mtl.__version__}: {len(configs)} runs of {args.network} "
          f"({', '.join(args.methods)} x seeds {args.seeds})\n{budget_note(args)}", flush=True)
    known = {}

    def partial(runs):
        evaluation.save_json(json_path, {"complete": False, "runs": runs, "args": vars(args)})

    def describe(config, data):
        known.setdefault("data", data)
        return f"\n== {seed_runs.run_key(config)}"

    runs = seed_runs.run_all(configs, args, on_run=partial, describe=describe)
    data = known.get("data") or seed_runs.load_data(
        seed_runs.run_config(args, args.network, args.seeds[0]), args.cache_dir)
    pairs = ({k: data.relations.pairs(k) for k in ("related", "independent")}
             if data.relations is not None else None)
    summary = summarize(runs, args, data.task_names, pairs, started)
    summary["complete"] = True
    text = render_markdown(summary)
    md_path.write_text(text, encoding="utf-8")
    evaluation.save_json(json_path, summary)
    print("\n" + text.split("## Results\n\n")[1].split("\n\n## ")[0])
    print(budget_note(args))
    print(f"Wrote {md_path} and {json_path} ({summary['cpu_s']:.0f} s CPU in training runs, "
          f"{summary['script_s']:.0f} s in all).", flush=True)
    return summary


if __name__ == "__main__":
    main()
