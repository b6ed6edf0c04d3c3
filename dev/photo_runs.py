"""One training run of the quick start's photo config, and its read-outs.

The studies on the photo-like faces (``dev/photo_ingredients.py``, ``dev/seg_study.py``)
train ``configs/Synth/df2s2_R_18_photo.yaml`` with their own overrides and read every
run out the same way: WIDER FACE AP on the held-out generated val split
(``photo_faces_val``: easy / medium / hard and the ``--breakdown`` subsets, face sizes
included) and AP on the real photos of ``real_photos_dev`` (IoU 0.3 and 0.5).
"""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from dev.ablation import LOSS_TERMS, loss_curve

REPO = Path(__file__).resolve().parents[1]
CONFIG = "configs/Synth/df2s2_R_18_photo.yaml"
BREAKDOWN_PREFIX = "wider_face_breakdown/AP_"


def datasets_root() -> Path:
    return Path(os.getenv("DETECTRON2_DATASETS", "datasets"))


def final_val_readouts(metrics_file: Path) -> dict:
    """{"val_AP_easy", ..., "val_AP_size_16-32", ...}: the last evaluation's WIDER FACE
    APs (percent, 3 decimals) and its breakdown subsets, from Detectron2's metrics.json. A
    breakdown subset without faces has no entry (an empty bin has no AP)."""
    from df2s2_d2.evaluation import final_wider_face_ap

    out = {f"val_AP_{k}": round(v, 3) for k, v in final_wider_face_ap(str(metrics_file)).items()}
    rows = [json.loads(x) for x in metrics_file.read_text().splitlines() if x.strip()]
    last = next((r for r in reversed(rows) if any(k.startswith(BREAKDOWN_PREFIX) for k in r)), {})
    out.update({f"val_AP_{k[len(BREAKDOWN_PREFIX):]}": round(v, 3) for k, v in last.items()
                if k.startswith(BREAKDOWN_PREFIX)})
    return out


def loss_terms(metrics_file: Path) -> dict:
    """{term: [[iteration, loss], ...]} of every loss term the run logged."""
    curves = {t: loss_curve(metrics_file, t) for t in LOSS_TERMS}
    return {t: c for t, c in curves.items() if c}


def run_log(out: Path) -> Path:
    """``<out>.log`` beside the run's folder; a dot in the run's name (``lambda2_0.1_seed0``)
    stays part of the name."""
    return out.with_name(out.name + ".log")


def clear_stopped_run(out: Path) -> None:
    """Remove what a run stopped part-way (at a study's deadline) left in ``out``: its
    rerun starts from scratch, and Detectron2 appends to ``metrics.json``, so old rows would
    mix into the new run's losses and read-outs."""
    if out.is_dir():
        shutil.rmtree(out)


def train_and_read_out(out: Path, opts: list) -> dict:
    """Train ``CONFIG`` with ``opts`` into ``out`` (log ``out.log``), then read it out:
    the val APs, the real-photo APs (``real_*``, when ``real_photos_dev`` is found), the
    loss curves and the wall time."""
    from df2s2_d2 import get_df2s2_cfg
    from df2s2_d2.data import find_real_photos
    from df2s2_d2.evaluation.real_photo_check import check_real_photos

    start = time.perf_counter()
    clear_stopped_run(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(run_log(out), "w") as log:
        subprocess.run([sys.executable, str(REPO / "train_net.py"), "--config-file", str(REPO / CONFIG),
                        "OUTPUT_DIR", str(out), *opts], check=True, stdout=log, stderr=subprocess.STDOUT,
                       cwd=REPO)
    cfg = get_df2s2_cfg(str(REPO / CONFIG), opts)
    real = {}
    if find_real_photos(str(datasets_root())) is not None:
        real = check_real_photos(cfg, str(out / "model_final.pth"), "real_photos_dev", str(out / "real_photos"),
                                 draw=False)
    return {"iters": cfg.SOLVER.MAX_ITER, "wall_seconds": round(time.perf_counter() - start, 1),
            "overrides": opts, **final_val_readouts(out / "metrics.json"),
            **{f"real_{k}": v for k, v in real.items()},
            "loss_curve": loss_curve(out / "metrics.json"), "loss_terms": loss_terms(out / "metrics.json")}


def run_queue(commands: list, jobs: int, threads: int, deadline: float = 0) -> None:
    """Run ``[(name, argv), ...]`` as subprocesses, ``jobs`` at a time with ``threads``
    torch threads each, printing when each starts and ends; after ``deadline`` seconds
    (0: none) stop the running ones and start no more."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    todo, running, started = list(commands), [], time.perf_counter()
    while todo or running:
        while todo and len(running) < jobs:
            name, argv = todo.pop(0)
            running.append((name, subprocess.Popen(argv, env=env, cwd=REPO)))
            print(f"started {name}", flush=True)
        time.sleep(2)
        if deadline and time.perf_counter() - started > deadline:
            for name, proc in running:
                proc.kill()
                proc.wait()
                print(f"stopped {name} at the deadline", flush=True)
            return
        for item in [r for r in running if r[1].poll() is not None]:
            running.remove(item)
            print(f"{'done' if item[1].returncode == 0 else 'FAILED'} {item[0]}", flush=True)
