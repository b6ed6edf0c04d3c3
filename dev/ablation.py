#!/usr/bin/env python
"""The paper's ablations (Tables 2, 3) in miniature on the synthetic face benchmark.

    python -m dev.ablation --seeds 0 1 2 3 4 --jobs 2
    python -m dev.ablation --device cuda --jobs 10 --deadline 480 TEST.EVAL_PERIOD 375
    python -m dev.ablation --import-train-dirs DIR --iters 3000 --device cuda
    python -m dev.ablation --report-only

The variants are the files of ``configs/WIDER-FACE/ablations/``: each one bases
on ``df2s2_R_50.yaml`` and holds only the keys of its factor, and exactly those keys
are applied here to the miniature scale (the synthetic quick config, Detectron2's
from-scratch recipe, ``--iters`` iterations). Every variant trains with the same
schedule, data and seeds (``SEED`` fixes the init and the data order), is evaluated
on ``synth_faces_val`` by the official WIDER FACE protocol, and leaves
``<results>/runs/<variant>_seed<S>.json`` (APs in percent, wall time, overrides,
the training-loss curve, every evaluation; a failed run is recorded with its error).
With ``TEST.EVAL_PERIOD`` the runs are also evaluated during training; ``--deadline``
stops every run after that many seconds and records what it reached (``stopped_at``);
``--import-train-dirs`` reads training folders made elsewhere. The report is rebuilt
at the end: ``<results>/ablation.md`` (mean +- std per variant; for each of the paper's
claims the paired difference over seeds with a 95 % confidence interval and a verdict;
with evaluations during training or stopped runs, the same at every evaluation
iteration that both sides reached, and the baseline's loss over the base LR),
``ablation.png`` (bars with the intervals), ``ap_curves.png`` and ``loss_curves.png``.
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

from typing import Optional

import yaml
from scipy import stats

from dev.generated_block import link_from, replace_block

REPO = Path(__file__).resolve().parents[1]
SCALE_CONFIG = "configs/Synth/df2s2_R_18_quick.yaml"
VARIANT_DIR = REPO / "configs/WIDER-FACE/ablations"
VARIANT_BASE = "../df2s2_R_50.yaml"

# Rows of the study, in order: neighbours in the first eight differ in one factor.
VARIANTS = {
    "retinanet_p2p7": "RetinaNet, FPN P2-P7 (baseline)",
    "seg": "+ Seg. (FPN, separate towers)",
    "fus_psi_xavier": "+ Fus. (FFP, Psi xavier)",
    "fus_psi_zero": "+ Fus. (FFP, Psi zero)",
    "df2s2_psi_xavier": "Fus.+Seg., shared tower (DF2S2, Psi xavier)",
    "df2s2_psi_zero": "Fus.+Seg., shared tower (DF2S2, Psi zero)",
    "fus_seg_separate": "Fus.+Seg., separate towers",
    "fus": "+ Fus. (FFP, no seg branch)",
    "df2s2": "Fus.+Seg., shared tower (DF2S2)",
    "df2s2_no_crop": "DF2S2 without random crop",
    "lambda2_0.2": "DF2S2, lambda2 0.2",
    "lambda2_1.0": "DF2S2, lambda2 1.0",
    "df2s2_photometric": "DF2S2 + photometric distortion (ours)",
    "df2s2_normal_init": "DF2S2, RetinaNet's normal tower init",
    "df2s2_landmarks_off": "DF2S2 on the landmark data, no landmark branch",
    "df2s2_landmarks": "DF2S2 + five-landmark branch",
}

# The current controlled study (docs/development.md): its variants and its scale, which
# the command line gives after the other flags.
CONTROLLED_STUDY = ["retinanet_p2p7", "seg", "fus_psi_xavier", "fus_psi_zero", "df2s2_psi_xavier",
                    "df2s2_psi_zero", "fus_seg_separate", "df2s2_landmarks_off", "df2s2_landmarks"]
CONTROLLED_STUDY_SCALE = ["MODEL.FFP.OUT_CHANNELS", "32", "MODEL.FPN.OUT_CHANNELS", "32",
                          "SOLVER.IMS_PER_BATCH", "4", "INPUT.FACE_AUG.TRAIN_SIZE", "128",
                          "INPUT.MIN_SIZE_TEST", "160", "INPUT.MAX_SIZE_TEST", "320"]

LOSS_TERMS = ("loss_cls", "loss_box_reg", "loss_seg")


def default_psi_init() -> str:
    """``MODEL.FFP.PSI_INIT``'s default: the init of the variants that do not set it."""
    from df2s2_d2 import get_df2s2_cfg

    return get_df2s2_cfg().MODEL.FFP.PSI_INIT

SUBSETS = ("easy", "medium", "hard")

# The miniature scale is the quick config's recipe (from scratch: group norm in the
# pyramid's projections, gradient-norm clipping), with the paper's 4-conv head; the
# width, image sizes and schedule are the study's command-line choices.
SCALE = ["MODEL.RETINANET.NUM_CONVS", "4"]


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


def synthetic_twin(overrides: list) -> list:
    """``KEY VALUE`` overrides with the WIDER FACE data sets of ``DATASETS.*`` keys
    (``wider_face_*``) swapped for their synthetic twins (``synth_faces_*``): the study
    trains on the synthetic faces."""
    out = list(overrides)
    for i in range(1, len(out), 2):
        if out[i - 1].startswith("DATASETS."):
            out[i] = out[i].replace("wider_face_", "synth_faces_")
    return out


def run_command(variant: str, seed: int, args) -> list:
    out = Path(args.output) / "train" / f"{variant}_seed{seed}"
    return [sys.executable, str(REPO / "train_net.py"), "--config-file", str(REPO / SCALE_CONFIG),
            "SEED", str(seed), "OUTPUT_DIR", str(out), "MODEL.DEVICE", args.device,
            "DATALOADER.NUM_WORKERS", str(args.workers), *schedule(args.iters), *SCALE,
            *synthetic_twin(variant_overrides(variant)), *args.opts]


def loss_curve(metrics_file: Path, term: str = "total_loss") -> list:
    """[[iteration, loss], ...] of one loss term in Detectron2's metrics.json."""
    rows = [json.loads(line) for line in metrics_file.read_text().splitlines() if line.strip()]
    return [[r["iteration"], round(r[term], 5)] for r in rows if term in r]


def ap_curve(metrics_file: Path) -> list:
    """[[iteration, AP easy, AP medium, AP hard], ...]: every WIDER FACE evaluation
    (``TEST.EVAL_PERIOD`` and the final one) that metrics.json holds."""
    from df2s2_d2.evaluation import wider_face_ap_curve

    return [[it, *(round(aps[s], 3) for s in SUBSETS)] for it, aps in wider_face_ap_curve(str(metrics_file))]


def iterations_done(iteration: int, iters: int) -> int:
    """Iterations trained when metrics.json records an evaluation at ``iteration``: a
    periodic one runs after step ``iteration`` (0-based), the final one is recorded at
    ``iters`` itself."""
    return min(iteration + 1, iters)


def log_wall_seconds(log_file: Path) -> float:
    """Seconds between the first and the last time-stamped line of a Detectron2 log."""
    stamps = [line[1:15] for line in log_file.read_text(errors="replace").splitlines()
              if len(line) > 16 and line[0] == "[" and line[15] == " "]
    if not stamps:
        raise ValueError(f"{log_file}: no time-stamped line ('[MM/DD HH:MM:SS ...'): not a Detectron2 log")
    first, last = (time.strptime(s, "%m/%d %H:%M:%S") for s in (stamps[0], stamps[-1]))
    return float(time.mktime(last) - time.mktime(first))


def run_record(variant: str, seed: int, train_dir: Path, iters: int, device: str, opts: list,
               wall_seconds: float) -> dict:
    """The per-run JSON: APs of the last evaluation, every evaluation (``ap_curve``), the
    total loss curve and one curve per loss term the model has (``loss_terms``); a run
    that ended before ``iters`` (a time limit) says where it stopped."""
    metrics = train_dir / "metrics.json"
    losses = loss_curve(metrics) if metrics.exists() else []
    terms = {t: loss_curve(metrics, t) for t in LOSS_TERMS} if metrics.exists() else {}
    aps = ap_curve(metrics) if metrics.exists() else []
    record = {"variant": variant, "seed": seed, "iters": iters, "device": device,
              "wall_seconds": round(wall_seconds, 1), "overrides": variant_overrides(variant) + list(opts),
              "ap_curve": aps, "loss_curve": losses, "loss_terms": {t: c for t, c in terms.items() if c}}
    last = losses[-1][0] + 1 if losses else 0
    if last < iters:
        record["stopped_at"] = last
    if aps:
        record.update({f"AP_{k}": v for k, v in zip(SUBSETS, aps[-1][1:])}, AP_iteration=iterations_done(aps[-1][0], iters))
    return record


def import_runs(train_root: Path, runs_dir: Path, iters: int, device: str, opts: list) -> list:
    """Per-run JSON of training folders ``<train_root>/<variant>_seed<S>/`` (metrics.json,
    log.txt) made elsewhere, e.g. on a GPU machine; the wall time is read from the log."""
    runs_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for folder in sorted(p for p in train_root.iterdir() if (p / "metrics.json").exists()):
        variant, _, seed = folder.name.rpartition("_seed")
        if variant not in VARIANTS or not seed.isdigit():
            raise ValueError(f"{folder}: expected a folder <variant>_seed<S>, variant one of {list(VARIANTS)}")
        record = run_record(variant, int(seed), folder, iters, device, opts,
                            log_wall_seconds(folder / "log.txt"))
        path = runs_dir / f"{variant}_seed{seed}.json"
        path.write_text(json.dumps(record, indent=1) + "\n")
        written.append(path)
    return written


def finish(variant, seed, proc, start, log_path, args, runs_dir, stopped=False) -> None:
    """Writes the run's JSON: finished, ``stopped`` at the deadline, or failed (with the reason)."""
    train_dir = Path(args.output) / "train" / f"{variant}_seed{seed}"
    record = run_record(variant, seed, train_dir, args.iters, args.device, args.opts,
                        time.perf_counter() - start)
    if proc.returncode == 0 or stopped:
        aps = " ".join(f"{k} {record[f'AP_{k}']:.1f}" for k in SUBSETS) if "AP_hard" in record else "no evaluation"
        where = f"stopped at iteration {record['stopped_at']}, " if stopped else ""
        print(f"done {variant} seed {seed}: {where}{aps} ({record['wall_seconds']:.0f} s)", flush=True)
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
    running, started = [], time.perf_counter()
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
        if args.deadline and time.perf_counter() - started > args.deadline:
            # The time limit: stop every run, keep what each reached, start no more.
            todo = []
            for item in running:
                item[2].kill()
                item[2].wait()
                finish(*item, args, runs_dir, stopped=True)
            running = []
        for item in [r for r in running if r[2].poll() is not None]:
            running.remove(item)
            finish(*item, args, runs_dir)


# The paper's claims, each a paired difference "a - b" expected to be > 0. "fus" and
# "df2s2" stand for the runs of the default Psi init (see ``resolve``).
CLAIMS = [
    ("Table 2: Seg. > baseline", "seg", "retinanet_p2p7", SUBSETS),
    ("Table 2: Fus. > baseline", "fus", "retinanet_p2p7", SUBSETS),
    ("Table 2: DF2S2 (Fus.+Seg., default init) >= baseline", "df2s2", "retinanet_p2p7", SUBSETS),
    ("Table 2: Fus.+Seg. (DF2S2) > Seg.", "df2s2", "seg", SUBSETS),
    ("Table 2: Fus.+Seg. (DF2S2) > Fus.", "df2s2", "fus", SUBSETS),
    ("Fus.+Seg.: shared tower > separate towers", "df2s2", "fus_seg_separate", SUBSETS),
    ("Fus. zero > Fus. xavier", "fus_psi_zero", "fus_psi_xavier", SUBSETS),
    ("DF2S2 zero > DF2S2 xavier", "df2s2_psi_zero", "df2s2_psi_xavier", SUBSETS),
    ("Fus. xavier > baseline", "fus_psi_xavier", "retinanet_p2p7", SUBSETS),
    ("DF2S2 xavier > baseline", "df2s2_psi_xavier", "retinanet_p2p7", SUBSETS),
    ("Table 2: Aug. (random crop) helps hard", "df2s2", "df2s2_no_crop", ("hard",)),
    ("Table 3: lambda2 0.05 > 0.2", "df2s2", "lambda2_0.2", SUBSETS),
    ("Table 3: lambda2 0.05 > 1.0", "df2s2", "lambda2_1.0", SUBSETS),
    ("Ours: photometric distortion helps", "df2s2_photometric", "df2s2", SUBSETS),
    ("Paper's Xavier tower init > RetinaNet's normal", "df2s2", "df2s2_normal_init", SUBSETS),
    ("Landmark supervision helps box AP", "df2s2_landmarks", "df2s2_landmarks_off", SUBSETS),
]


def resolve(name: str, runs: dict, psi_init: str) -> str:
    """``name``, or for "fus" / "df2s2" without runs of their own, the variant that sets
    the default Psi init explicitly ("df2s2" -> "df2s2_psi_zero")."""
    if name in runs or name not in ("fus", "df2s2"):
        return name
    return f"{name}_psi_{psi_init}"


def t_half_width(values: list, confidence: float = 0.95) -> float:
    """Half-width of the t-interval of the mean of ``values`` (nan for fewer than 2)."""
    if len(values) < 2:
        return float("nan")
    return stats.t.ppf(0.5 + confidence / 2, len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))


def paired_interval(a: dict, b: dict, confidence: float = 0.95):
    """Mean of a[s] - b[s] over the seeds both have, and its t-interval half-width."""
    seeds = sorted(set(a) & set(b))
    diffs = [a[s] - b[s] for s in seeds]
    if len(diffs) < 2:
        return (diffs[0] if diffs else float("nan")), float("nan"), len(diffs)
    return statistics.mean(diffs), t_half_width(diffs, confidence), len(diffs)


def verdict(mean: float, half: float) -> str:
    """reproduced (interval above 0), contradicted (below 0), else undecided."""
    if math.isnan(half):
        return "undecided"
    return "reproduced" if mean - half > 0 else "contradicted" if mean + half < 0 else "undecided"


def load_records(results: Path) -> list:
    """Every per-run JSON of ``<results>/runs``."""
    return [json.loads(p.read_text()) for p in sorted((results / "runs").glob("*.json"))]


def load_runs(records: list) -> dict:
    """{variant: {subset: {seed: AP}}} of the runs that completed their schedule, plus
    failures under "failed" (a run stopped early counts only in ``load_ap_by_iteration``)."""
    runs = {"failed": []}
    for r in records:
        if "failed" in r:
            runs["failed"].append(r)
            continue
        if "stopped_at" in r:
            continue
        for subset in SUBSETS:
            runs.setdefault(r["variant"], {}).setdefault(subset, {})[r["seed"]] = r[f"AP_{subset}"]
    return runs


def load_ap_by_iteration(records: list) -> dict:
    """{iterations trained: {variant: {subset: {seed: AP}}}} of every evaluation in the runs' AP curves."""
    by_iter = {}
    for r in records:
        for it, *aps in r.get("ap_curve", []):
            for subset, ap in zip(SUBSETS, aps):
                by_iter.setdefault(iterations_done(it, r["iters"]), {}).setdefault(r["variant"], {}).setdefault(subset, {})[r["seed"]] = ap
    return dict(sorted(by_iter.items()))


def base_lr_loss_windows(records: list, window: int = 200) -> list:
    """[(first iteration, median training loss)] of consecutive ``window``-iteration windows
    of the base-LR phase (after warm-up, before the first LR step and the earliest stop),
    the median over every logged value of ``records`` in the window."""
    warmup = min(min(100, r["iters"] // 5) for r in records)
    end = min(min(r.get("stopped_at", r["iters"]), int(r["iters"] * 0.8)) for r in records)
    out = []
    for start in range(warmup, end - window + 1, window):
        values = [loss for r in records for it, loss in r["loss_curve"] if start <= it < start + window]
        out.append((start, statistics.median(values)))
    return out


def _mean_std(values: dict) -> str:
    return f"{statistics.mean(values.values()):.1f} ± {statistics.stdev(values.values()) if len(values) > 1 else 0:.1f}"


def _claim_rows(runs: dict, psi_init: str, prefix: str = "") -> list:
    rows = []
    for claim, a, b, subsets in CLAIMS:
        a, b = resolve(a, runs, psi_init), resolve(b, runs, psi_init)
        if a not in runs or b not in runs:
            continue
        for subset in subsets:
            mean, half, n = paired_interval(runs[a][subset], runs[b][subset])
            if n == 0:
                continue
            interval = "n/a" if math.isnan(half) else f"[{mean - half:+.1f}, {mean + half:+.1f}]"
            rows.append(f"| {claim} | {prefix}{subset} | {mean:+.1f} | {interval} | {n} | {verdict(mean, half)} |")
    return rows


CLAIM_HEADER = ["| claim | subset | paired difference (AP) | 95 % CI | seeds | verdict |",
                "|---|---|---|---|---|---|"]


def verdict_table(runs: dict, psi_init: str, results: Path, page: Path) -> str:
    """The claims in one short table: per subset the paired difference, its 95 % interval
    and the verdict, for ``page`` (``--readme``), which links the report."""
    seeds = {len(v["hard"]) for k, v in runs.items() if k != "failed"}
    lines = ["| claim (paired over seeds) | easy | medium | hard |", "|---|---|---|---|"]
    for claim, a, b, subsets in CLAIMS:
        a, b = resolve(a, runs, psi_init), resolve(b, runs, psi_init)
        if a not in runs or b not in runs:
            continue
        cells = []
        for subset in SUBSETS:
            if subset not in subsets:
                cells.append("")
                continue
            mean, half, n = paired_interval(runs[a][subset], runs[b][subset])
            cells.append(f"{mean:+.1f} [{mean - half:+.1f}, {mean + half:+.1f}] {verdict(mean, half)}")
        lines.append(f"| {claim} | " + " | ".join(cells) + " |")
    lines += ["", f"AP differences with 95 % intervals over {'/'.join(map(str, sorted(seeds)))} seeds; "
              f"variants without a Psi init of their own use the default, {psi_init!r}. Written by "
              f"`python -m dev.ablation --readme`; the full report: "
              f"[{results}/ablation.md]({link_from(page, results / 'ablation.md')})."]
    return "\n".join(lines) + "\n"


def report_markdown(runs: dict, variants: dict, psi_init: str) -> str:
    lines = ["| variant | seeds | AP easy | AP medium | AP hard |", "|---|---|---|---|---|"]
    for name, what in variants.items():
        if name not in runs:
            continue
        cells = [_mean_std(runs[name][s]) for s in SUBSETS]
        lines.append(f"| {what} | {len(runs[name]['easy'])} | " + " | ".join(cells) + " |")
    lines += ["", "Mean ± standard deviation over seeds.", "", *CLAIM_HEADER, *_claim_rows(runs, psi_init)]
    for r in runs["failed"]:
        lines.append(f"\nFailed: {r['variant']} seed {r['seed']}: {r['failed']}")
    return "\n".join(lines)


def report_by_iteration(by_iter: dict, variants: dict, records: list, psi_init: str) -> str:
    """AP per variant at every evaluation iteration, the claims at each iteration where both
    sides were evaluated, and the baseline's training loss over the base-LR phase."""
    lines = ["| iteration | variant | seeds | AP easy | AP medium | AP hard |", "|---|---|---|---|---|---|"]
    for it, runs in by_iter.items():
        for name, what in variants.items():
            if name in runs:
                cells = [_mean_std(runs[name][s]) for s in SUBSETS]
                lines.append(f"| {it} | {what} | {len(runs[name]['hard'])} | " + " | ".join(cells) + " |")
    lines += ["", "Mean ± standard deviation over seeds, at each evaluation (after `iteration` "
              "training iterations).", "", *CLAIM_HEADER]
    for it, runs in by_iter.items():
        lines += _claim_rows(runs, psi_init, prefix=f"{it} it, ")
    baseline = [r for r in records if r["variant"] == "retinanet_p2p7" and r.get("loss_curve")]
    if baseline:
        windows = base_lr_loss_windows(baseline)
        lines += ["", f"Baseline training loss at the base LR, median over {len(baseline)} runs per "
                  "200 iterations: " + ", ".join(f"{a}-{a + 199}: {v:.3f}" for a, v in windows) + "."]
        if len(windows) > 1:
            change = 100 * (windows[-1][1] / windows[-2][1] - 1)
            lines.append(f"Change over the last window: {change:+.1f} %.")
    return "\n".join(lines)


def pyplot():
    """matplotlib.pyplot on the Agg backend (files, no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_report(results: Path, runs: dict, variants: dict) -> None:
    plt = pyplot()
    names = [n for n in variants if n in runs]
    fig, ax = plt.subplots(figsize=(11, 4.5))
    width = 0.27
    for k, subset in enumerate(SUBSETS):
        means, halves = [], []
        for n in names:
            values = list(runs[n][subset].values())
            means.append(statistics.mean(values))
            halves.append(t_half_width(values) if len(values) > 1 else 0)
        ax.bar([i + (k - 1) * width for i in range(len(names))], means, width, yerr=halves,
               capsize=3, label=f"AP {subset}")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels([variants[n] for n in names], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("AP (%), mean and 95 % CI over seeds")
    ax.legend()
    fig.tight_layout()
    fig.savefig(results / "ablation.png", dpi=110)
    plt.close(fig)


def plot_loss_curves(results: Path, records: list, variants: dict, psi_init: str) -> None:
    """The total loss and each loss term of the baseline and DF2S2 (default Psi init),
    every seed, log scale: which term lags."""
    plt = pyplot()
    names = {r["variant"] for r in records}
    pair = ["retinanet_p2p7", resolve("df2s2", names, psi_init)]
    fig, axes = plt.subplots(1, 1 + len(LOSS_TERMS), figsize=(16, 4))
    for ax, term in zip(axes, ("total_loss", *LOSS_TERMS)):
        for r in records:
            curve = r.get("loss_curve") if term == "total_loss" else r.get("loss_terms", {}).get(term)
            if curve and r["variant"] in pair:
                it, loss = zip(*curve)
                ax.plot(it, loss, color=f"C{pair.index(r['variant'])}", alpha=0.6,
                        label=variants[r["variant"]] if r["seed"] == min(x["seed"] for x in records) else None)
        ax.set_title(term)
        ax.set_xlabel("iteration")
        ax.set_yscale("log")
    axes[0].set_ylabel("training loss")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(results / "loss_curves.png", dpi=110)
    plt.close(fig)


def plot_ap_curves(results: Path, by_iter: dict, variants: dict) -> None:
    """AP hard against training iterations, mean and 95 % CI over seeds, per variant."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for k, name in enumerate(variants):
        points = [(it, list(runs[name]["hard"].values())) for it, runs in by_iter.items() if name in runs]
        if not points:
            continue
        xs = [x for x, _ in points]
        means = [statistics.mean(v) for _, v in points]
        halves = [t_half_width(v) if len(v) > 1 else 0 for _, v in points]
        ax.errorbar(xs, means, yerr=halves, capsize=3, marker="o", color=f"C{k}", label=variants[name])
    ax.set_xlabel("training iterations")
    ax.set_ylabel("AP hard (%), mean and 95 % CI")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(results / "ap_curves.png", dpi=110)
    plt.close(fig)


def write_report(results: Path, variants: dict, readme: Optional[Path] = None) -> str:
    """Rebuild ``<results>/ablation.md`` and the figures; with ``readme``, put the verdict
    table between its ``<!-- ablation-verdicts -->`` markers."""
    all_records = load_records(results)
    runs = load_runs(all_records)
    psi_init = default_psi_init()
    text = report_markdown(runs, variants, psi_init)
    records = [r for r in all_records if "failed" not in r]
    by_iter = load_ap_by_iteration(records)
    if any("stopped_at" in r or len(r.get("ap_curve", [])) > 1 for r in records):
        text += "\n\n## By evaluation\n\n" + report_by_iteration(by_iter, variants, records, psi_init)
        plot_ap_curves(results, by_iter, variants)
    (results / "ablation.md").write_text(text + "\n")
    if any(k != "failed" for k in runs):
        plot_report(results, runs, variants)
    if any(r.get("loss_curve") for r in records):
        plot_loss_curves(results, records, variants, psi_init)
    if readme is not None:
        replace_block(readme, "ablation-verdicts", verdict_table(runs, psi_init, results, readme))
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
    parser.add_argument("--deadline", type=float, default=0,
                        help="seconds: then stop every run and record the evaluations it reached")
    parser.add_argument("--import-train-dirs", metavar="DIR",
                        help="write per-run JSON of training folders DIR/<variant>_seed<S> made elsewhere")
    parser.add_argument("--report-only", action="store_true", help="only rebuild the report")
    parser.add_argument("--readme", type=Path,
                        help="also write the verdict table into this page (README.md) between its markers")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="extra overrides for every run")
    args = parser.parse_args()
    if args.import_train_dirs:
        import_runs(Path(args.import_train_dirs), Path(args.results) / "runs", args.iters, args.device, args.opts)
    elif not args.report_only:
        from df2s2_deploy.output_paths import check_output_dir

        check_output_dir(args.output)  # before any run starts
        check_output_dir(args.results, what="--results")
        run_all(args)
    print(write_report(Path(args.results), VARIANTS, args.readme))


if __name__ == "__main__":
    main()
