#!/usr/bin/env python
"""Which ingredient of the photo-like face data buys how much real-photo AP.

    python -m dev.photo_ingredients --seeds 0 1 2 --jobs 2 --threads 1 --iters 250
    python -m dev.photo_ingredients --report-only
    python -m dev.photo_ingredients --variants no_real_backgrounds --iters 0 --jobs 1 --threads 2 \
        --workers 1 --results results/photo_ingredients_500 --seeds 0 1 2

The last runs a variant at the quick start's own schedule and loader; its ``photo`` arm
is then the quick start itself (``dev/quickstart_seeds.py``'s runs of the same seeds,
``--quickstart-seeds results/quickstart_seeds`` pairs with them).

One factor at a time from the quick start's recipe (:class:`PhotoRecipe`): every variant
trains ``configs/Synth/df2s2_R_18_photo.yaml`` (its model, batch and input size, the
schedule scaled to ``--iters``) with the same seeds, on the same number of images
generated with the same seed; only the training data differ:

- ``photo``: the default recipe (real LFW faces, background photos, hard negatives,
  photometric effects);
- ``no_real_faces``: procedural faces only; ``no_real_backgrounds``: procedural
  backgrounds only; ``no_hard_negatives``; ``no_photometric``;
- ``cartoon``: the cartoon set (``synth_faces``), the earlier quick start's data.

Each run is read out twice: AP on the real photos of ``real_photos_dev`` (IoU 0.3 and
0.5) and WIDER FACE AP on the held-out generated val split (``photo_faces_val``, the
default recipe, whose 20 LFW faces no training set holds). Every finished run is kept in
``<results>/runs/<variant>_seed<S>.json`` and skipped when the study is run again; the
report ``<results>/ingredients.md`` gives, per variant, the mean over seeds and the
paired difference from ``photo`` with a 95 % t-interval and a verdict.
"""
import argparse
import json
import statistics
import sys
from pathlib import Path

from dev.ablation import paired_interval, schedule, t_half_width, verdict
from dev.photo_runs import datasets_root, run_queue, train_and_read_out

VARIANTS = {
    "photo": ("the quick start's recipe", {}),
    "no_real_faces": ("procedural faces only (no LFW crops)", {"real_faces": 0.0}),
    "no_real_backgrounds": ("procedural backgrounds only", {"real_backgrounds": 0.0}),
    "no_hard_negatives": ("no LFW non-faces or photo patches as non-faces", {"hard_negatives": False}),
    "no_photometric": ("no grey / colour cast / motion blur / JPEG", {"photometric": False}),
    "cartoon": ("the cartoon faces (synth_faces, the earlier quick start)", None),
}
READOUTS = {"real_AP30": "real photos AP@0.3", "real_AP50": "real photos AP@0.5",
            "val_AP_hard": "generated val AP hard", "val_AP_easy": "generated val AP easy"}


def train_dataset(variant: str) -> str:
    """The registered training split of ``variant`` (generated if missing)."""
    from df2s2_d2.data import PhotoRecipe, ensure_photo_dataset, ensure_synthetic_dataset

    if VARIANTS[variant][1] is None:
        ensure_synthetic_dataset(str(datasets_root() / "synth_faces"))
        return "synth_faces_train"
    folder = "photo_faces" if variant == "photo" else f"photo_faces_{variant}"
    ensure_photo_dataset(str(datasets_root() / folder), PhotoRecipe(**VARIANTS[variant][1]))
    return f"{folder}_train"


def run_one(variant: str, seed: int, args) -> dict:
    """Train one variant and seed, then read it out; returns the per-run record."""
    out = Path(args.output) / f"{variant}_seed{seed}"
    opts = ["SEED", str(seed), "DATALOADER.NUM_WORKERS", str(args.workers),
            "DATASETS.TRAIN", f"('{train_dataset(variant)}',)", "DATASETS.TEST", "('photo_faces_val',)",
            *(schedule(args.iters) if args.iters else []), *args.opts]
    record = train_and_read_out(out, opts)
    return {"variant": variant, "seed": seed, "threads": args.threads, "recipe": VARIANTS[variant][1], **record}


def run_all(args) -> None:
    runs_dir = Path(args.results) / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    Path(args.output).mkdir(parents=True, exist_ok=True)
    from df2s2_d2.data import ensure_photo_dataset, find_real_photos

    if find_real_photos(str(datasets_root())) is None:
        raise SystemExit("no real_photos_dev: put the photos in $DETECTRON2_DATASETS/real_photos")
    ensure_photo_dataset(str(datasets_root() / "photo_faces"))  # the common val split
    for variant in args.variants:  # every data set before the runs start
        train_dataset(variant)
    todo = [(v, s) for s in args.seeds for v in args.variants if not (runs_dir / f"{v}_seed{s}.json").exists()]
    run_queue([(f"{v} seed {s}", [sys.executable, "-m", "dev.photo_ingredients", "--run-one", v, str(s),
                                  "--iters", str(args.iters), "--threads", str(args.threads),
                                  "--workers", str(args.workers), "--output", args.output,
                                  "--results", args.results, *args.opts])
               for v, s in todo], jobs=args.jobs, threads=args.threads)
    print(write_report(Path(args.results), args.quickstart_seeds))


def quickstart_record(path: Path) -> dict:
    """A ``dev/quickstart_seeds.py`` run as a ``photo`` run of this study (the same config,
    data and seed at the quick start's own schedule)."""
    q = json.loads(path.read_text())
    return {"variant": "photo", "seed": q["seed"], "iters": 500, "real_AP30": q["real_photos_AP30"],
            "real_AP50": q["real_photos_AP50"], "val_AP_hard": q["AP_hard"], "val_AP_easy": q["AP_easy"]}


def load_readouts(results: Path, quickstart_seeds: Path = None) -> dict:
    """{variant: {readout: {seed: value}}} of the finished runs (and, from
    ``quickstart_seeds``, the quick start's runs as ``photo``), and under "iters" the
    schedules they ran."""
    runs = {"iters": set()}
    records = [json.loads(p.read_text()) for p in sorted((results / "runs").glob("*.json"))]
    if quickstart_seeds is not None:
        records += [quickstart_record(p) for p in sorted(quickstart_seeds.glob("seed*.json"))]
    for r in records:
        runs["iters"].add(r.get("iters"))
        for key in READOUTS:
            runs.setdefault(r["variant"], {}).setdefault(key, {})[r["seed"]] = r[key]
    return runs


def write_report(results: Path, quickstart_seeds: Path = None) -> str:
    """``ingredients.md``: means per variant, paired differences from ``photo``."""
    runs = load_readouts(results, quickstart_seeds)
    iters = ", ".join(str(i) for i in sorted(i for i in runs.pop("iters") if i is not None))
    lines = ["# Ingredients of the photo-like face data: real-photo AP and held-out generated AP", "",
             "Written by `python -m dev.photo_ingredients`. Every run trains the quick start's model "
             f"and batch for {iters} iterations (the quick start: 500; a shorter run scales its schedule). AP in percent; "
             "mean +- 95 % t-interval over seeds; differences paired by seed against `photo` (the quick "
             "start's recipe).", "",
             "| variant | seeds | " + " | ".join(READOUTS.values()) + " |",
             "|---|---|" + "---|" * len(READOUTS)]
    for variant, (what, _) in VARIANTS.items():
        if variant not in runs:
            continue
        cells = []
        for key in READOUTS:
            values = list(runs[variant][key].values())
            half = t_half_width(values)
            cells.append(f"{statistics.mean(values):.1f}" + ("" if half != half else f" +- {half:.1f}"))
        lines.append(f"| `{variant}`: {what} | {len(runs[variant]['real_AP30'])} | " + " | ".join(cells) + " |")
    lines += ["", "Paired difference `photo` - variant (what the ingredient buys; > 0: it helps):", "",
              "| without | " + " | ".join(READOUTS.values()) + " |", "|---|" + "---|" * len(READOUTS)]
    for variant in VARIANTS:
        if variant == "photo" or variant not in runs or "photo" not in runs:
            continue
        cells = []
        for key in READOUTS:
            mean, half, n = paired_interval(runs["photo"][key], runs[variant][key])
            word = {"reproduced": "helps", "contradicted": "hurts"}.get(verdict(mean, half), "undecided")
            interval = "" if half != half else f" [{mean - half:+.1f}, {mean + half:+.1f}]"
            cells.append(f"{mean:+.1f}{interval} {word} (n={n})")
        lines.append(f"| `{variant}` | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    (results / "ingredients.md").write_text(text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--iters", type=int, default=250,
                        help="iterations, the schedule scaled; 0: the config's own (the quick start's)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--output", default="output/photo_ingredients")
    parser.add_argument("--results", default="results/photo_ingredients")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--quickstart-seeds", type=Path,
                        help="dev/quickstart_seeds.py results whose runs are the 'photo' arm")
    parser.add_argument("--run-one", nargs=2, metavar=("VARIANT", "SEED"), help=argparse.SUPPRESS)
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides, KEY VALUE ...")
    args = parser.parse_args()
    if args.run_one:
        variant, seed = args.run_one[0], int(args.run_one[1])
        record = run_one(variant, seed, args)
        path = Path(args.results) / "runs" / f"{variant}_seed{seed}.json"
        path.write_text(json.dumps(record, indent=1) + "\n")
        print(f"{variant} seed {seed}: real AP30 {record['real_AP30']:.1f} AP50 {record['real_AP50']:.1f}, "
              f"val AP hard {record['val_AP_hard']:.1f} ({record['wall_seconds']:.0f} s)", flush=True)
    elif args.report_only:
        print(write_report(Path(args.results), args.quickstart_seeds))
    else:
        run_all(args)


if __name__ == "__main__":
    main()
