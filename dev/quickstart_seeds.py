#!/usr/bin/env python
"""`make quickstart`'s configuration over several seeds: does every seed train?

    python -m dev.quickstart_seeds --seeds 0 1 2 3 4 --jobs 2 [--readme README.md]

Runs ``tools/quickstart.py --output <output>/seed<S> SEED <S>`` for each seed (``--jobs``
at a time, ``--threads`` torch threads each), keeps each run's ``metrics.json`` as
``<results>/seed<S>.json`` with its training-loss curve, and writes
``<results>/summary.json`` and ``summary.md``: AP per seed (the generated val split and,
when the quick start found them, the real photos of ``real_photos_dev`` at IoU 0.5 and
0.3), mean, 95 % interval, and how many seeds reach the floor (``--floor-easy``,
``--floor-hard``). A seed whose ``seed<S>.json`` exists is not run again (``--rerun``
runs it anyway), so the study resumes.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from scipy import stats

from dev.generated_block import replace_block

REPO = Path(__file__).resolve().parents[1]
SUBSETS = ("easy", "medium", "hard")
# real-photo read-outs of the quick start's metrics.json, when it had the photos
REAL = ("real_photos_AP50", "real_photos_AP30")


def run_seed(seed: int, args) -> subprocess.Popen:
    out = Path(args.output) / f"seed{seed}"
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    log = open(out / "quickstart.log", "w")
    return subprocess.Popen([sys.executable, str(REPO / "tools/quickstart.py"), "--output", str(out),
                             "SEED", str(seed), *args.opts], stdout=log, stderr=subprocess.STDOUT,
                            env=env, cwd=REPO)


def collect(seed: int, args, returncode: int) -> dict:
    out = Path(args.output) / f"seed{seed}"
    record = {"seed": seed, "returncode": returncode}
    if (out / "metrics.json").exists():
        record.update(json.loads((out / "metrics.json").read_text()))
    train_metrics = out / "train" / "metrics.json"
    if train_metrics.exists():
        rows = [json.loads(x) for x in train_metrics.read_text().splitlines() if x.strip()]
        record["loss_curve"] = [[r["iteration"], round(r["total_loss"], 5)] for r in rows if "total_loss" in r]
    log = (out / "quickstart.log").read_text(errors="replace")
    # the loss watch's warning ("the training loss has risen for N iterations ..."), not the
    # quick start's closing advice, which quotes the phrase
    record["loss_rise_warnings"] = sum("training loss has risen for" in line for line in log.splitlines())
    return record


def summary(records: list, floor_easy: float, floor_hard: float) -> tuple:
    done = [r for r in records if "AP_easy" in r]
    table = {"seeds": [r["seed"] for r in records], "failed": [r["seed"] for r in records if "AP_easy" not in r]}
    real = [k for k in REAL if all(k in r for r in done)] if done else []
    for key in [f"AP_{s}" for s in SUBSETS] + real:
        values = [r[key] for r in done]
        half = (stats.t.ppf(0.975, len(values) - 1) * statistics.stdev(values) / len(values) ** 0.5
                if len(values) > 1 else float("nan"))
        table[key] = {"mean": statistics.mean(values) if values else float("nan"),
                      "ci95": half, "min": min(values, default=float("nan"))}
    passing = [r["seed"] for r in done if r["AP_easy"] >= floor_easy and r["AP_hard"] >= floor_hard]
    table.update(floor={"easy": floor_easy, "hard": floor_hard}, passing=passing)
    real_head = "".join(f" {REAL_NAMES[k]} |" for k in real)
    lines = [f"| seed | AP easy | AP medium | AP hard |{real_head} loss-rise warnings | total (s) |",
             "|---|---|---|---|" + "---|" * len(real) + "---|---|"]
    for r in sorted(records, key=lambda r: r["seed"]):
        if "AP_easy" in r:
            lines.append(f"| {r['seed']} | {r['AP_easy']:.1f} | {r['AP_medium']:.1f} | {r['AP_hard']:.1f} | "
                         + "".join(f"{r[k]:.1f} | " for k in real)
                         + f"{r['loss_rise_warnings']} | {r['total_seconds']:.0f} |")
        else:
            lines.append(f"| {r['seed']} | failed (exit {r['returncode']}) | | |" + " |" * len(real) + " | |")
    lines.append("| mean ± 95 % CI | " + " | ".join(
        f"{table[k]['mean']:.1f} ± {table[k]['ci95']:.1f}" for k in [f"AP_{s}" for s in SUBSETS] + real)
        + " | | |")
    lines += ["", f"{len(passing)} of {len(records)} seeds reach AP easy >= {floor_easy:g} and "
              f"AP hard >= {floor_hard:g}."]
    return table, "\n".join(lines) + "\n"


REAL_NAMES = {"real_photos_AP50": "real photos AP@0.5", "real_photos_AP30": "real photos AP@0.3"}


def readme_rows(table: dict, records: list, results: Path) -> str:
    """The README's quick-start rows: the mean over seeds with its interval, the worst seed."""
    done = [r for r in records if "AP_easy" in r]
    minutes = statistics.median(r["total_seconds"] for r in done) / 60 if done else float("nan")
    keys = [f"AP_{s}" for s in SUBSETS] + [k for k in REAL if k in table]
    cells = " | ".join(f"{table[k]['mean']:.1f} ± {table[k]['ci95']:.1f}" for k in keys)
    worst = " | ".join(f"{table[k]['min']:.1f}" for k in keys)
    config = done[0]["config"] if done else "?"
    head = " | ".join(["AP easy", "AP medium", "AP hard"] + [REAL_NAMES[k] for k in keys[3:]])
    return "\n".join([
        f"| `{config}` | {head} | quick start, total |",
        "|---|" + "---|" * len(keys) + "---|",
        f"| mean ± 95 % CI over {len(done)} seeds | {cells} | {minutes:.0f} min (median) |",
        f"| worst seed | {worst} | |",
        "",
        f"{len(table['passing'])} of {len(records)} seeds reach AP easy >= {table['floor']['easy']:g} and hard >= "
        f"{table['floor']['hard']:g}; written by `python -m dev.quickstart_seeds --readme`, every seed: "
        f"[{results}/summary.md]({results}/summary.md)."]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", default="output/quickstart_seeds")
    parser.add_argument("--results", default="results/quickstart_seeds")
    parser.add_argument("--floor-easy", type=float, default=80.0)
    parser.add_argument("--floor-hard", type=float, default=60.0)
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--rerun", action="store_true", help="run seeds that have results too")
    parser.add_argument("--readme", type=Path,
                        help="also write the summary row into this page (README.md) between its "
                             "<!-- quickstart-seeds --> markers")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides for every seed")
    args = parser.parse_args()
    results = Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    if not args.report_only:
        todo = [s for s in args.seeds if args.rerun or not (results / f"seed{s}.json").exists()]
        running = []
        while todo or running:
            while todo and len(running) < args.jobs:
                seed = todo.pop(0)
                running.append((seed, run_seed(seed, args)))
                print(f"started seed {seed}", flush=True)
            seed, proc = running.pop(0)
            proc.wait()
            record = collect(seed, args, proc.returncode)
            (results / f"seed{seed}.json").write_text(json.dumps(record, indent=1) + "\n")
            print(f"done seed {seed}: " + (" ".join(f"{s} {record[f'AP_{s}']:.1f}" for s in SUBSETS)
                                           if "AP_easy" in record else f"failed ({proc.returncode})"), flush=True)
    records = [json.loads(p.read_text()) for p in sorted(results.glob("seed*.json"))]
    table, markdown = summary(records, args.floor_easy, args.floor_hard)
    (results / "summary.json").write_text(json.dumps(table, indent=1) + "\n")
    (results / "summary.md").write_text(markdown)
    if args.readme:
        replace_block(args.readme, "quickstart-seeds", readme_rows(table, records, results))
    print(markdown)


if __name__ == "__main__":
    main()
