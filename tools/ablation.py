#!/usr/bin/env python
"""The paper's ablations (Tables 2, 3) in miniature on the synthetic face benchmark.

    python tools/ablation.py --seeds 0 1 2 3 4 --jobs 2
    python tools/ablation.py --report-only

The variants are the files of ``configs/WIDER-FACE/ablations/``: each one bases
on ``df2s2_R_50.yaml`` and holds only the keys of its factor, and exactly those keys
are applied here to the miniature scale (the synthetic quick config, Detectron2's
from-scratch recipe, ``--iters`` iterations). Every variant trains with the same
schedule, data and seeds (``SEED`` fixes the init and the data order), is evaluated
on ``synth_faces_val`` by the official WIDER FACE protocol, and leaves
``<results>/runs/<variant>_seed<S>.json`` (APs in percent, wall time, overrides,
the training-loss curve; a failed run is recorded with its error). The report
is rebuilt at the end: ``<results>/ablation.md`` (mean +- std per variant; for each of
the paper's claims the paired difference over seeds with a 95 % confidence interval
and a verdict), ``ablation.png`` (bars with the intervals) and ``loss_curves.png``.
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml
from scipy import stats

REPO = Path(__file__).resolve().parents[1]
SCALE_CONFIG = "configs/Synth/df2s2_R_18_quick.yaml"
VARIANT_DIR = REPO / "configs/WIDER-FACE/ablations"
VARIANT_BASE = "../df2s2_R_50.yaml"

# Rows of the study, in order: neighbours in the first six differ in one factor.
VARIANTS = {
    "retinanet_p2p7": "RetinaNet, FPN P2-P7 (baseline)",
    "seg": "+ Seg. (FPN, separate towers)",
    "fus": "+ Fus. (FFP, no seg branch)",
    "fus_seg_separate": "Fus.+Seg., separate towers",
    "df2s2": "Fus.+Seg., shared tower (DF2S2)",
    "df2s2_no_crop": "DF2S2 without random crop",
    "lambda2_0.2": "DF2S2, lambda2 0.2",
    "lambda2_1.0": "DF2S2, lambda2 1.0",
    "df2s2_photometric": "DF2S2 + photometric distortion (ours)",
    "df2s2_normal_init": "DF2S2, RetinaNet's normal tower init",
}

# The miniature scale: from scratch, so every variant gets Detectron2's from-scratch
# recipe (group norm in the pyramid's convs, per-parameter gradient-norm clipping);
# without it the FPN P2-P7 variants went NaN at iterations 66-70 at lr 0.01.
SCALE = ["MODEL.FPN.NORM", "GN", "MODEL.FFP.NORM", "GN",
         "SOLVER.CLIP_GRADIENTS.ENABLED", "True", "SOLVER.CLIP_GRADIENTS.CLIP_TYPE", "norm",
         "SOLVER.CLIP_GRADIENTS.CLIP_VALUE", "5.0"]


def _flatten(node: dict, prefix: str = "") -> list:
    out = []
    for key, value in node.items():
        if isinstance(value, dict):
            out += _flatten(value, f"{prefix}{key}.")
        else:
            out += [f"{prefix}{key}", repr(value) if not isinstance(value, str) else value]
    return out


def variant_overrides(name: str) -> list:
    """The ``KEY VALUE`` overrides of a variant: its yaml's own keys, nothing else."""
    path = VARIANT_DIR / f"{name}_R_50.yaml"
    with open(path) as f:
        node = yaml.safe_load(f)
    if node.get("_BASE_") != VARIANT_BASE:
        raise ValueError(f"{path}: an ablation variant must base on {VARIANT_BASE!r}, so that its "
                         f"own keys are its whole difference; found _BASE_ {node.get('_BASE_')!r}")
    node.pop("_BASE_")
    return _flatten(node)


def schedule(iters: int) -> list:
    """The quick config's schedule scaled to ``iters`` (steps at 80 % and 93 %)."""
    return ["SOLVER.MAX_ITER", str(iters), "SOLVER.STEPS", f"({int(iters * 0.8)}, {int(iters * 0.93)})",
            "SOLVER.WARMUP_ITERS", str(min(100, iters // 5)), "SOLVER.CHECKPOINT_PERIOD", str(10 * iters)]


def run_command(variant: str, seed: int, args) -> list:
    out = Path(args.output) / "train" / f"{variant}_seed{seed}"
    return [sys.executable, str(REPO / "train_net.py"), "--config-file", str(REPO / SCALE_CONFIG),
            "SEED", str(seed), "OUTPUT_DIR", str(out), "MODEL.DEVICE", args.device,
            "DATALOADER.NUM_WORKERS", str(args.workers), *schedule(args.iters), *SCALE,
            *variant_overrides(variant), *args.opts]


def loss_curve(metrics_file: Path) -> list:
    """[[iteration, total_loss], ...] of Detectron2's metrics.json."""
    rows = [json.loads(line) for line in metrics_file.read_text().splitlines() if line.strip()]
    return [[r["iteration"], round(r["total_loss"], 5)] for r in rows if "total_loss" in r]


def finish(variant, seed, proc, start, log_path, args, runs_dir) -> None:
    from df2s2_d2.evaluation import final_wider_face_ap

    record = {"variant": variant, "seed": seed, "iters": args.iters, "device": args.device,
              "wall_seconds": round(time.perf_counter() - start, 1),
              "overrides": variant_overrides(variant) + list(args.opts)}
    train_dir = Path(args.output) / "train" / f"{variant}_seed{seed}"
    if proc.returncode == 0:
        ap = final_wider_face_ap(str(train_dir / "metrics.json"))
        record.update({f"AP_{k}": v for k, v in ap.items()})
        record["loss_curve"] = loss_curve(train_dir / "metrics.json")
        print(f"done {variant} seed {seed}: easy {record['AP_easy']:.1f} medium "
              f"{record['AP_medium']:.1f} hard {record['AP_hard']:.1f} ({record['wall_seconds']:.0f} s)",
              flush=True)
    else:  # recorded as a failed run, with the reason
        lines = log_path.read_text().strip().splitlines() or ["(no output)"]
        record["failed"] = next((x for x in reversed(lines) if "Error" in x), lines[-1])
        print(f"FAILED {variant} seed {seed}: {record['failed']}", flush=True)
    (runs_dir / f"{variant}_seed{seed}.json").write_text(json.dumps(record, indent=1) + "\n")


def run_all(args) -> None:
    from df2s2_d2.data import ensure_synthetic_dataset

    ensure_synthetic_dataset(str(Path(os.getenv("DETECTRON2_DATASETS", "datasets")) / "synth_faces"))
    runs_dir = Path(args.results) / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    Path(args.output).mkdir(parents=True, exist_ok=True)
    todo = [(v, s) for s in args.seeds for v in args.variants
            if not (runs_dir / f"{v}_seed{s}.json").exists()]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    running = []
    while todo or running:
        while todo and len(running) < args.jobs:
            variant, seed = todo.pop(0)
            log_path = Path(args.output) / f"{variant}_seed{seed}.log"
            with open(log_path, "w") as log:
                proc = subprocess.Popen(run_command(variant, seed, args), stdout=log,
                                        stderr=subprocess.STDOUT, env=env, cwd=REPO)
            running.append((variant, seed, proc, time.perf_counter(), log_path))
            print(f"started {variant} seed {seed}", flush=True)
        time.sleep(1)
        for item in [r for r in running if r[2].poll() is not None]:
            running.remove(item)
            finish(*item, args, runs_dir)


SUBSETS = ("easy", "medium", "hard")
# The paper's claims, each a paired difference "a - b" expected to be > 0.
CLAIMS = [
    ("Table 2: Seg. > baseline", "seg", "retinanet_p2p7", SUBSETS),
    ("Table 2: Fus. > baseline", "fus", "retinanet_p2p7", SUBSETS),
    ("Table 2: Fus.+Seg. (DF2S2) > Seg.", "df2s2", "seg", SUBSETS),
    ("Table 2: Fus.+Seg. (DF2S2) > Fus.", "df2s2", "fus", SUBSETS),
    ("Fus.+Seg.: shared tower > separate towers", "df2s2", "fus_seg_separate", SUBSETS),
    ("Table 2: Aug. (random crop) helps hard", "df2s2", "df2s2_no_crop", ("hard",)),
    ("Table 3: lambda2 0.05 > 0.2", "df2s2", "lambda2_0.2", SUBSETS),
    ("Table 3: lambda2 0.05 > 1.0", "df2s2", "lambda2_1.0", SUBSETS),
    ("Ours: photometric distortion helps", "df2s2_photometric", "df2s2", SUBSETS),
    ("Paper's Xavier tower init > RetinaNet's normal", "df2s2", "df2s2_normal_init", SUBSETS),
]


def paired_interval(a: dict, b: dict, confidence: float = 0.95):
    """Mean of a[s] - b[s] over the seeds both have, and its t-interval half-width."""
    seeds = sorted(set(a) & set(b))
    diffs = [a[s] - b[s] for s in seeds]
    if len(diffs) < 2:
        return (diffs[0] if diffs else float("nan")), float("nan"), len(diffs)
    half = stats.t.ppf(0.5 + confidence / 2, len(diffs) - 1) * statistics.stdev(diffs) / math.sqrt(len(diffs))
    return statistics.mean(diffs), half, len(diffs)


def verdict(mean: float, half: float) -> str:
    """reproduced (interval above 0), contradicted (below 0), else undecided."""
    if math.isnan(half):
        return "undecided"
    return "reproduced" if mean - half > 0 else "contradicted" if mean + half < 0 else "undecided"


def load_runs(results: Path) -> dict:
    """{variant: {subset: {seed: AP}}} of the successful runs, plus failures under "failed"."""
    runs = {"failed": []}
    for path in sorted((results / "runs").glob("*.json")):
        r = json.loads(path.read_text())
        if "failed" in r:
            runs["failed"].append(r)
            continue
        for subset in SUBSETS:
            runs.setdefault(r["variant"], {}).setdefault(subset, {})[r["seed"]] = r[f"AP_{subset}"]
    return runs


def report_markdown(runs: dict, variants: dict) -> str:
    lines = ["| variant | seeds | AP easy | AP medium | AP hard |", "|---|---|---|---|---|"]
    for name, what in variants.items():
        if name not in runs:
            continue
        cells = [f"{statistics.mean(v.values()):.1f} ± {statistics.stdev(v.values()) if len(v) > 1 else 0:.1f}"
                 for v in (runs[name][s] for s in SUBSETS)]
        lines.append(f"| {what} | {len(runs[name]['easy'])} | " + " | ".join(cells) + " |")
    lines += ["", "Mean ± standard deviation over seeds.", "",
              "| claim | subset | paired difference (AP) | 95 % CI | seeds | verdict |",
              "|---|---|---|---|---|---|"]
    for claim, a, b, subsets in CLAIMS:
        if a not in runs or b not in runs:
            continue
        for subset in subsets:
            mean, half, n = paired_interval(runs[a][subset], runs[b][subset])
            interval = "n/a" if math.isnan(half) else f"[{mean - half:+.1f}, {mean + half:+.1f}]"
            lines.append(f"| {claim} | {subset} | {mean:+.1f} | {interval} | {n} | {verdict(mean, half)} |")
    for r in runs["failed"]:
        lines.append(f"\nFailed: {r['variant']} seed {r['seed']}: {r['failed']}")
    return "\n".join(lines)


def plot_report(results: Path, runs: dict, variants: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in variants if n in runs]
    fig, ax = plt.subplots(figsize=(11, 4.5))
    width = 0.27
    for k, subset in enumerate(SUBSETS):
        means, halves = [], []
        for n in names:
            values = list(runs[n][subset].values())
            means.append(statistics.mean(values))
            t = stats.t.ppf(0.975, len(values) - 1) if len(values) > 1 else float("nan")
            halves.append(t * statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0)
        ax.bar([i + (k - 1) * width for i in range(len(names))], means, width, yerr=halves,
               capsize=3, label=f"AP {subset}")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels([variants[n] for n in names], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("AP (%), mean and 95 % CI over seeds")
    ax.legend()
    fig.tight_layout()
    fig.savefig(results / "ablation.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4))
    for path in sorted((results / "runs").glob("*.json")):
        r = json.loads(path.read_text())
        if r.get("loss_curve") and r["variant"] in ("retinanet_p2p7", "df2s2"):
            it, loss = zip(*r["loss_curve"])
            ax.plot(it, loss, color="C0" if r["variant"] == "retinanet_p2p7" else "C3", alpha=0.6,
                    label=variants[r["variant"]] if r["seed"] == 0 else None)
    ax.set_xlabel("iteration")
    ax.set_ylabel("training loss (total)")
    ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    fig.savefig(results / "loss_curves.png", dpi=110)
    plt.close(fig)


def write_report(results: Path, variants: dict) -> str:
    runs = load_runs(results)
    text = report_markdown(runs, variants)
    (results / "ablation.md").write_text(text + "\n")
    if any(k != "failed" for k in runs):
        plot_report(results, runs, variants)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="output/ablation", help="training folders and logs")
    parser.add_argument("--results", default="results/ablation", help="per-run JSON and the report")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--iters", type=int, default=1000, help="training iterations per run")
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    parser.add_argument("--workers", type=int, default=0, help="data-loader workers per run")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--report-only", action="store_true", help="only rebuild the report")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="extra overrides for every run")
    args = parser.parse_args()
    if not args.report_only:
        run_all(args)
    print(write_report(Path(args.results), VARIANTS))


if __name__ == "__main__":
    main()
