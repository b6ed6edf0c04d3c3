"""A GPU study in one go: inference FPS, training speed with and without AMP, then the seg study.

    python -m dev.gpu_study --output-dir results/gpu                 # one GPU, <= --budget s
    python -m dev.gpu_study --smoke --output-dir /tmp/gpu_smoke      # the same code, CPU, seconds

1. Inference at 640x512 (W x H), batch 1 and 8, float32 and AMP (float16 autocast; on the
   CPU bfloat16), of DF2S2 R50, the RetinaNet P2-P7 baseline and Detectron2's RetinaNet
   P3-P7 (``tools/benchmark.py``'s models: random weights, DF2S2's post-processing, every
   anchor a candidate); uint8 images already on the device; synchronised timing.
   ``--smoke``: ResNet-18 backbones, narrow pyramids and heads, 64 px images.
2. Training with ``configs/WIDER-FACE/df2s2_R_50.yaml`` (random init), 8 images per GPU,
   640 px crops, AMP off and on, on synthetic faces in the WIDER FACE layout
   (``generate_synthetic_dataset``) through ``train_net.Trainer``'s loader and optimizer;
   the step is AMPTrainer's (autocast, gradient scaler on CUDA), with learning rate 0 (all
   the arithmetic, the random-init weights kept, as tools/benchmark.py does): iterations
   / s, data time per iteration, peak GPU memory.
3. With the time left of ``--budget``: the seg-supervision study of ``dev/seg_study.py``
   (baseline, + Seg., + Fus., DF2S2 on the quick start's config and photo-like faces, seeds
   0-4 in order) at a longer schedule, ``--study-iters``, ``--study-jobs`` runs at a time,
   stopped at the deadline (not in ``--smoke``: its command is recorded).
Writes ``<output-dir>/gpu_study.json`` and ``gpu_study.md`` after each part.
"""
import df2s2_d2  # noqa: F401  first: hides Detectron2's known import-time warnings
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from df2s2_d2 import get_df2s2_cfg
from df2s2_d2.amp import amp_dtype, inference_autocast
from df2s2_d2.data import generate_synthetic_dataset, register_wider_face_layout
from df2s2_deploy.output_paths import check_output_dir, replace_file

REPO = Path(__file__).resolve().parents[1]
TRAIN_CONFIG = "configs/WIDER-FACE/df2s2_R_50.yaml"
STUDY_VARIANTS = ("retinanet_p2p7", "seg", "fus", "df2s2")
PAPER_FPS = "26.45 FPS, RetinaNet P3-P7 at 640x512 on a Tesla P40 (the paper)"
SETTINGS = {
    "full": dict(device="cuda", size=(512, 640), batches=(1, 8), warmup=10, iters=50,
                 train_batch=8, train_size=640, train_warmup=5, train_iters=30,
                 images=64, image_size=1024, workers=4, opts=[]),
    "smoke": dict(device="cpu", size=(64, 64), batches=(1, 2), warmup=1, iters=2,
                  train_batch=2, train_size=64, train_warmup=1, train_iters=2,
                  images=4, image_size=128, workers=0,
                  opts=["MODEL.RESNETS.DEPTH", 18, "MODEL.RESNETS.RES2_OUT_CHANNELS", 64,
                        "MODEL.FPN.OUT_CHANNELS", 32, "MODEL.FFP.OUT_CHANNELS", 32,
                        "MODEL.RETINANET.NUM_CONVS", 1]),
}


def precision(device: str, amp: bool) -> str:
    return str(amp_dtype(device)).replace("torch.", "") + " autocast" if amp else "float32"


def synchronize(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def inference_rows(s: dict) -> list:
    """FPS of the three models at s["size"], per batch size and precision."""
    from tools.benchmark import inference_models

    device, (height, width) = s["device"], s["size"]
    args = argparse.Namespace(
        config_file=str(REPO / TRAIN_CONFIG), opts=s["opts"], score_thresh=-1.0,
        baseline_config_file=str(REPO / "configs/WIDER-FACE/retinanet_R_50_FPN_P2P7.yaml"))
    rows = []
    for name, model in inference_models(device, args).items():
        for batch in s["batches"]:
            images = [{"image": torch.randint(0, 256, (3, height, width), dtype=torch.uint8,
                                              device=device)} for _ in range(batch)]
            for amp in (False, True):
                with torch.no_grad(), inference_autocast(device, amp):
                    for _ in range(s["warmup"]):
                        model(images)
                    synchronize(device)
                    start = time.perf_counter()
                    for _ in range(s["iters"]):
                        model(images)
                    synchronize(device)
                seconds = time.perf_counter() - start
                rows.append({"model": name, "batch": batch, "amp": precision(device, amp),
                             "size": f"{width}x{height}", "fps": batch * s["iters"] / seconds})
        del model
        if device == "cuda":
            torch.cuda.empty_cache()
    return rows


def synthetic_faces(folder: str, s: dict) -> str:
    """A synthetic training set in the WIDER FACE layout, registered; returns its name."""
    from detectron2.data import DatasetCatalog

    generate_synthetic_dataset(folder, num_train=s["images"], num_val=1, seed=0,
                               image_size=s["image_size"])
    name = "gpu_study_faces_train"
    if name in DatasetCatalog.list():
        DatasetCatalog.remove(name)
    register_wider_face_layout(name, folder, "train")
    return name


def training_rows(s: dict, dataset: str) -> list:
    """Iterations / s, data time and peak memory of TRAIN_CONFIG's training step."""
    from detectron2.utils.events import EventStorage
    from train_net import Trainer

    device = s["device"]
    cfg = get_df2s2_cfg(str(REPO / TRAIN_CONFIG), [
        "MODEL.WEIGHTS", "", "MODEL.DEVICE", device, "DATASETS.TRAIN", f"('{dataset}',)",
        "SOLVER.IMS_PER_BATCH", s["train_batch"], "INPUT.FACE_AUG.TRAIN_SIZE", s["train_size"],
        "DATALOADER.NUM_WORKERS", s["workers"], "SOLVER.BASE_LR", 0.0, *s["opts"],
    ])
    rows = []
    for amp in (False, True):
        torch.manual_seed(0)
        model = Trainer.build_model(cfg).train()
        optimizer = Trainer.build_optimizer(cfg, model)
        loader = iter(Trainer.build_train_loader(cfg))
        scaler = torch.amp.GradScaler(device, enabled=amp and device == "cuda")
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        data_times, step_times = [], []
        with EventStorage():
            for step in range(s["train_warmup"] + s["train_iters"]):
                synchronize(device)
                start = time.perf_counter()
                data = next(loader)
                loaded = time.perf_counter()
                with torch.autocast(torch.device(device).type, dtype=amp_dtype(device), enabled=amp):
                    losses = sum(model(data).values())
                optimizer.zero_grad()
                scaler.scale(losses).backward()
                scaler.step(optimizer)
                scaler.update()
                synchronize(device)
                if step >= s["train_warmup"]:
                    data_times.append(loaded - start)
                    step_times.append(time.perf_counter() - start)
        rows.append({
            "amp": precision(device, amp), "batch": s["train_batch"],
            "crop": s["train_size"], "iters_per_s": len(step_times) / sum(step_times),
            "data_time_s": sum(data_times) / len(data_times), "loss": float(losses),
            "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else None,
        })
        del model, optimizer, loader
    return rows


def seg_study(args, left: float) -> dict:
    """The seg-supervision study (dev/seg_study.py: baseline, + Seg., + Fus., DF2S2 on the
    quick start's config) on the GPU at ``--study-iters`` for ``left`` seconds (recorded,
    not run, in --smoke)."""
    command = [sys.executable, "-m", "dev.seg_study", "--device", "cuda",
               "--iters", str(args.study_iters), "--jobs", str(args.study_jobs), "--threads", "1",
               "--deadline", str(int(left)), "--variants", *STUDY_VARIANTS, "--seeds", "0", "1", "2", "3", "4",
               "--results", os.path.join(args.output_dir, "seg_study"),
               "--output", os.path.join(args.work_dir, "seg_study")]
    record = {"command": " ".join(command), "seconds_left": left}
    if args.smoke or left < 60:
        record["ran"] = False
        return record
    started = time.perf_counter()
    record["returncode"] = subprocess.call(command, cwd=REPO)
    record.update(ran=True, seconds=time.perf_counter() - started)
    return record


def markdown(report: dict) -> str:
    lines = [f"Device: {report['device_name']}; torch {report['torch']}.", "",
             "| model | size (WxH) | batch | precision | images / s |", "|:--|:--|--:|:--|--:|"]
    for r in report.get("inference", []):
        lines.append(f"| {r['model']} | {r['size']} | {r['batch']} | {r['amp']} | {r['fps']:.2f} |")
    lines += ["", f"Reference: {PAPER_FPS}.", ""]
    if report.get("training"):
        lines += ["| training | batch | crop | iterations / s | data time (s / iter) | peak GPU memory (GiB) |",
                  "|:--|--:|--:|--:|--:|--:|"]
        for r in report["training"]:
            memory = f"{r['peak_memory_gib']:.2f}" if r["peak_memory_gib"] is not None else "n/a"
            lines.append(f"| {r['amp']} | {r['batch']} | {r['crop']} | {r['iters_per_s']:.3f} | "
                         f"{r['data_time_s']:.3f} | {memory} |")
    if "seg_study" in report:
        a = report["seg_study"]
        lines += ["", f"Seg-supervision study ({'ran' if a['ran'] else 'not run'}): `{a['command']}`"]
    return "\n".join(lines) + "\n"


def write(report: dict, output_dir: str) -> None:
    for name, text in (("gpu_study.json", json.dumps(report, indent=2) + "\n"),
                       ("gpu_study.md", markdown(report))):
        def save(tmp, text=text):
            with open(tmp, "w") as f:
                f.write(text)

        replace_file(os.path.join(output_dir, name), save)


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output-dir", default="results/gpu")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, 2 iterations, on the CPU")
    parser.add_argument("--budget", type=float, default=540, help="seconds for the whole study")
    parser.add_argument("--study-iters", type=int, default=2000, help="the seg study's schedule")
    parser.add_argument("--study-jobs", type=int, default=10, help="the seg study's runs at a time")
    parser.add_argument("--work-dir", help="synthetic data and study runs (default: a temporary folder)")
    return parser


def main(argv=None) -> dict:
    args = get_parser().parse_args(argv)
    started = time.perf_counter()
    s = SETTINGS["smoke" if args.smoke else "full"]
    if s["device"] == "cuda" and not torch.cuda.is_available():
        raise SystemExit("error: this machine has no CUDA device; the study needs one "
                         "(--smoke runs the same code on the CPU)")
    check_output_dir(args.output_dir)
    args.work_dir = args.work_dir or tempfile.mkdtemp(prefix="gpu_study_")
    report = {
        "smoke": args.smoke, "device": s["device"], "torch": torch.__version__,
        "device_name": torch.cuda.get_device_name() if s["device"] == "cuda" else platform.processor() or "CPU",
        "settings": s,
    }
    report["inference"] = inference_rows(s)
    write(report, args.output_dir)
    report["training"] = training_rows(s, synthetic_faces(os.path.join(args.work_dir, "faces"), s))
    write(report, args.output_dir)
    report["seg_study"] = seg_study(args, args.budget - (time.perf_counter() - started) - 30)
    report["seconds"] = time.perf_counter() - started
    write(report, args.output_dir)
    print(markdown(report))
    return report


if __name__ == "__main__":
    main()
