#!/usr/bin/env python
"""Does the segmentation supervision help? The controlled study at the quick start's scale.

    python -m dev.seg_study --quickstart-seeds output/quickstart_seeds   # DF2S2 arm
    python -m dev.seg_study --variants retinanet_p2p7 seg fus --seeds 0 1 2 3 4
    python -m dev.seg_study --variants seg_norm_foreground lambda2_0.2 --seeds 0 1 2 3 4
    python -m dev.seg_study --report-only [--readme README.md]

Every run trains the quick start itself (``configs/Synth/df2s2_R_18_photo.yaml``: R-18
from scratch, 500 iterations of batch 8 at 256 px, on the photo-like faces) with one
model factor changed, the ablation variant's own keys (``configs/WIDER-FACE/ablations``,
as ``dev/ablation.py`` applies them); nothing else differs: same seeds (init and data
order), data, schedule, loader (the config's one worker) and two torch threads, one run
at a time. At this scale the models are trained: the quick start reaches 80 / 83 / 64 on
the held-out generated val split, where the earlier 128-px study's baseline stopped at
65 / 36 / 20. The DF2S2 arm is the quick start (``SHARED_TOWER``, ``SEG_HEAD``, lambda2
0.05 are its defaults), so ``--quickstart-seeds`` imports ``dev/quickstart_seeds.py``'s
training folders as ``df2s2`` runs instead of training them again.

Each run is read out on the held-out generated val split (``photo_faces_val``: WIDER FACE
easy / medium / hard, AP per face size, sqrt(w*h) bins of ``--breakdown``, and per WIDER
attribute) and on the real photos of ``real_photos_dev`` (AP at IoU 0.3 and 0.5), and
keeps its loss terms.
Every finished run is ``<results>/runs/<variant>_seed<S>.json`` and is skipped when the
study runs again (it spans sessions); the report ``<results>/seg_study.md`` gives the
means and, for each question, the paired difference over seeds with a 95 % t-interval
and a verdict.
"""
import argparse
import json
import math
import statistics
import sys
from pathlib import Path

import yaml

from dev.ablation import loss_curve, paired_interval, schedule, t_half_width, variant_overrides, verdict
from dev.generated_block import link_from, replace_block
from dev.photo_runs import CONFIG, datasets_root, final_val_readouts, loss_terms, run_queue, train_and_read_out

VARIANTS = {
    "retinanet_p2p7": "RetinaNet, FPN P2-P7 (baseline)",
    "seg": "+ Seg. (FPN, separate towers)",
    "fus": "+ Fus. (FFP, separate towers, no seg)",
    "df2s2": "DF2S2: Fus. + Seg., shared tower (the quick start)",
    "seg_norm_cell_mean": "DF2S2, seg loss: mean over every cell of every level",
    "seg_norm_foreground": "DF2S2, seg loss: summed, over the face cells",
    "lambda2_0.1": "DF2S2, lambda2 0.1",
    "lambda2_0.2": "DF2S2, lambda2 0.2",
    "lambda2_0.5": "DF2S2, lambda2 0.5",
    "lambda2_1.0": "DF2S2, lambda2 1.0",
}
# The questions, each a paired difference "a - b" (> 0: a is better).
QUESTIONS = [
    ("+ Seg. on FPN (Table 2)", "seg", "retinanet_p2p7"),
    ("+ Fus. (Table 2)", "fus", "retinanet_p2p7"),
    ("Seg. on top of Fus.: DF2S2 - Fus. (Table 2)", "df2s2", "fus"),
    ("DF2S2 - baseline", "df2s2", "retinanet_p2p7"),
    ("seg loss over all cells - per-level mean", "seg_norm_cell_mean", "df2s2"),
    ("seg loss over face cells - per-level mean", "seg_norm_foreground", "df2s2"),
    ("lambda2 0.1 - 0.05 (Table 3)", "lambda2_0.1", "df2s2"),
    ("lambda2 0.2 - 0.05 (Table 3)", "lambda2_0.2", "df2s2"),
    ("lambda2 0.5 - 0.05 (Table 3)", "lambda2_0.5", "df2s2"),
    ("lambda2 1.0 - 0.05 (Table 3)", "lambda2_1.0", "df2s2"),
]
SIZES = ("0-16", "16-32", "32-64", "64-128", "128-inf")
READOUTS = {"val_AP_easy": "val easy", "val_AP_medium": "val medium", "val_AP_hard": "val hard",
            **{f"val_AP_size_{s}": f"size {s}" for s in SIZES},
            "real_AP30": "real photos AP@0.3", "real_AP50": "real photos AP@0.5"}
# The hard faces of one WIDER attribute value each (``--breakdown``'s subsets, the other
# faces ignored): the nuisances the generated val split draws on purpose.
ATTRIBUTE_READOUTS = {f"val_AP_{a}": a.replace("_", " ") for a in (
    "occlusion_partial", "occlusion_heavy", "pose_atypical", "blur_heavy", "illumination_extreme",
    "expression_exaggerate")}
LABELS = {**READOUTS, **ATTRIBUTE_READOUTS}


def model_overrides(variant: str) -> list:
    """The variant's ``KEY VALUE`` model overrides (none for ``df2s2``: the config's own)."""
    return [] if variant == "df2s2" else variant_overrides(variant)


def run_one(variant: str, seed: int, args) -> dict:
    out = Path(args.output) / f"{variant}_seed{seed}"
    scale = ["MODEL.DEVICE", args.device, *(schedule(args.iters) if args.iters else [])]
    record = train_and_read_out(out, ["SEED", str(seed), *scale, *model_overrides(variant), *args.opts])
    return {"variant": variant, "seed": seed, "device": args.device, **record}


def quickstart_record(folder: Path) -> dict:
    """A ``dev/quickstart_seeds.py`` run folder (``seed<S>/``: the quick start's
    metrics.json and its ``train/``) as a ``df2s2`` run of this study."""
    quick = json.loads((folder / "metrics.json").read_text())
    metrics = folder / "train" / "metrics.json"
    config = yaml.safe_load((folder / "train" / "config.yaml").read_text())
    seed = config["SEED"]
    if folder.name != f"seed{seed}" or quick.get("config") != CONFIG:
        raise ValueError(f"{folder}: expected a quick start of {CONFIG} with SEED {folder.name[4:]}, "
                         f"found {quick.get('config')} with SEED {seed}")
    return {"variant": "df2s2", "seed": seed, "iters": config["SOLVER"]["MAX_ITER"],
            "wall_seconds": quick["train_and_eval_seconds"], "overrides": ["SEED", str(seed)],
            "source": "tools/quickstart.py via dev/quickstart_seeds.py", **final_val_readouts(metrics),
            **{f"real_{k[len('real_photos_'):]}": v for k, v in quick.items() if k.startswith("real_photos_")},
            "loss_curve": loss_curve(metrics), "loss_terms": loss_terms(metrics)}


def load_readouts(results: Path) -> dict:
    """{variant: {readout: {seed: value}}} of the finished runs."""
    runs = {}
    for path in sorted((results / "runs").glob("*.json")):
        r = json.loads(path.read_text())
        for key in LABELS:
            if key in r:
                runs.setdefault(r["variant"], {}).setdefault(key, {})[r["seed"]] = r[key]
    return runs


def _mean_ci(values: list) -> str:
    half = t_half_width(values)
    return f"{statistics.mean(values):.1f}" + ("" if math.isnan(half) else f" ± {half:.1f}")


def _difference(a: dict, b: dict) -> str:
    mean, half, n = paired_interval(a, b)
    if n == 0:
        return ""
    interval = "" if math.isnan(half) else f" [{mean - half:+.1f}, {mean + half:+.1f}]"
    return f"{mean:+.1f}{interval} {verdict(mean, half).replace('reproduced', 'better').replace('contradicted', 'worse')}"


def question_table(runs: dict, keys: list) -> list:
    lines = ["| question (a - b, paired) | seeds | " + " | ".join(LABELS[k] for k in keys) + " |",
             "|---|---|" + "---|" * len(keys)]
    for question, a, b in QUESTIONS:
        if a in runs and b in runs:
            n = len(set(runs[a]["val_AP_hard"]) & set(runs[b]["val_AP_hard"]))
            cells = [_difference(runs[a].get(k, {}), runs[b].get(k, {})) for k in keys]
            lines.append(f"| {question} | {n} | " + " | ".join(cells) + " |")
    return lines


def verdict_block(runs: dict, results: Path, page: Path) -> str:
    """The lines for ``page`` (the README): the questions on the main read-outs."""
    keys = ["val_AP_hard", "val_AP_size_0-16", "val_AP_size_16-32", "val_AP_size_32-64", "real_AP30"]
    lines = question_table(runs, keys)
    lines += ["", f"Paired AP differences with 95 % intervals, quick-start scale. Written by "
              f"`python -m dev.seg_study --readme README.md`; all read-outs: "
              f"[{results}/seg_study.md]({link_from(page, results / 'seg_study.md')})."]
    return "\n".join(lines) + "\n"


def write_report(results: Path, readme: Path = None) -> str:
    runs = load_readouts(results)
    records = [json.loads(p.read_text()) for p in sorted((results / "runs").glob("*.json"))]
    scales = ", ".join(sorted({f"{r['iters']} iterations on {r.get('device', 'cpu')}" for r in records}))
    lines = ["# Segmentation supervision at the quick start's scale", "",
             "Written by `python -m dev.seg_study`. Each run is the quick start (R-18 from scratch, "
             f"batch 8 of 256 px crops of the photo-like faces; here {scales or 'no run yet'}) with one "
             "model factor changed. AP in percent, mean ± 95 % t-interval over seeds; `val`: the held-out "
             "generated split (WIDER FACE protocol; sizes: sqrt(w*h) in px, faces outside a bin ignored); "
             "real photos: `real_photos_dev`.", "",
             "| variant | seeds | " + " | ".join(READOUTS.values()) + " |", "|---|---|" + "---|" * len(READOUTS)]
    for variant, what in VARIANTS.items():
        if variant in runs:
            cells = [_mean_ci(list(runs[variant][k].values())) if k in runs[variant] else "" for k in READOUTS]
            lines.append(f"| `{variant}`: {what} | {len(runs[variant]['val_AP_hard'])} | " + " | ".join(cells) + " |")
    lines += ["", "## Paired differences", "", *question_table(runs, list(READOUTS)),
              "", "## Paired differences by WIDER attribute", "",
              "Val AP over the hard faces drawn with one attribute value (the others ignored, as "
              "`wider-face-eval --breakdown` computes it). These subsets are small and the intervals "
              "many: at 95 % about one decided interval in twenty is chance, so a lone one is a lead, "
              "not a finding.", "",
              *question_table(runs, list(ATTRIBUTE_READOUTS))]
    text = "\n".join(lines) + "\n"
    (results / "seg_study.md").write_text(text)
    if readme is not None:
        replace_block(readme, "seg-study-verdicts", verdict_block(runs, results, readme))
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=["retinanet_p2p7", "seg", "fus"], choices=list(VARIANTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--iters", type=int, default=0,
                        help="iterations, the schedule scaled (dev/ablation.py's); 0: the config's own")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time")
    parser.add_argument("--threads", type=int, default=2, help="torch threads per run")
    parser.add_argument("--deadline", type=float, default=0,
                        help="seconds: then stop the running runs (lost) and start no more")
    parser.add_argument("--output", default="output/seg_study")
    parser.add_argument("--results", default="results/seg_study")
    parser.add_argument("--quickstart-seeds", type=Path, metavar="DIR",
                        help="import DIR/seed<S> (dev/quickstart_seeds.py's output) as the df2s2 arm")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--readme", type=Path, help="also write the verdict lines into this page")
    parser.add_argument("--run-one", nargs=2, metavar=("VARIANT", "SEED"), help=argparse.SUPPRESS)
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides for every run, KEY VALUE ...")
    args = parser.parse_args()
    runs_dir = Path(args.results) / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    if args.run_one:
        variant, seed = args.run_one[0], int(args.run_one[1])
        record = run_one(variant, seed, args)
        (runs_dir / f"{variant}_seed{seed}.json").write_text(json.dumps(record, indent=1) + "\n")
        print(f"{variant} seed {seed}: val hard {record['val_AP_hard']:.1f}, real AP30 "
              f"{record.get('real_AP30', float('nan')):.1f} ({record['wall_seconds']:.0f} s)", flush=True)
        return
    if args.quickstart_seeds:
        for folder in sorted(args.quickstart_seeds.glob("seed*")):
            record = quickstart_record(folder)
            (runs_dir / f"df2s2_seed{record['seed']}.json").write_text(json.dumps(record, indent=1) + "\n")
    elif not args.report_only:
        from df2s2_d2.data import ensure_photo_dataset, find_real_photos

        if find_real_photos(str(datasets_root())) is None:
            print("warning: no real_photos_dev ($DETECTRON2_DATASETS/real_photos or ../shared/real_photos): "
                  "the runs are read out on the generated val split only", flush=True)
        ensure_photo_dataset(str(datasets_root() / "photo_faces"))
        Path(args.output).mkdir(parents=True, exist_ok=True)
        todo = [(v, s) for s in args.seeds for v in args.variants
                if not (runs_dir / f"{v}_seed{s}.json").exists()]
        run_queue([(f"{v} seed {s}", [sys.executable, "-m", "dev.seg_study", "--run-one", v, str(s),
                                      "--output", args.output, "--results", args.results,
                                      "--iters", str(args.iters), "--device", args.device, *args.opts])
                   for v, s in todo], jobs=args.jobs, threads=args.threads, deadline=args.deadline)
    print(write_report(Path(args.results), args.readme))


if __name__ == "__main__":
    main()
