#!/usr/bin/env python
"""Inference and training speed of DF2S2 next to its RetinaNet baselines.

    python tools/benchmark.py --threads 2 --rounds 5 --output benchmark.json

Inference, batch 1, at each ``--sizes`` (W x H; the paper reports 640x512), of
  - DF2S2 (``--config-file``, default ``configs/WIDER-FACE/df2s2_R_50.yaml``),
  - the RetinaNet baseline on an FPN with the same levels P2-P7
    (``--baseline-config-file``, default ``configs/WIDER-FACE/retinanet_R_50_FPN_P2P7.yaml``),
  - Detectron2's standard RetinaNet R50-FPN (P3-P7, model zoo
    ``COCO-Detection/retinanet_R_50_FPN_1x.yaml``, one class).
Training iteration (forward + backward + SGD step, batch 2 at ``--train-size`` squared,
default 640x640, with faces as targets) of DF2S2 with its segmentation branch on and off.

How it measures:
  - random weights; a model call takes a uint8 (3, H, W) image as Detectron2's data
    loader gives it (not resized), so a call includes normalisation, padding to the
    backbone's size divisibility (128 for DF2S2 and the P2-P7 baseline), the network,
    decoding and NMS;
  - every model uses DF2S2's post-processing settings (top-k, NMS, detections per
    image) and the score threshold ``--score-thresh``; its default, -1, makes every
    anchor a candidate so that post-processing does its maximal work for every model,
    whatever its random weights score;
  - interleaved rounds: each round runs every model once per size (the order rotates
    from round to round), after ``--warmup`` rounds that are not counted; the median over
    rounds is reported, so a slow-down of the machine hits all models alike;
  - training: the model makes the seg targets from the boxes (as it does without the
    WIDER FACE mapper, which makes them in the data loader); learning rate 0: the step
    does all its arithmetic but leaves the weights as they are, so every round times
    the same model;
  - FLOPs: fvcore, eval graph, batch 1 (a fused multiply-add counts as one);
    parameters: those of the eval graph (DF2S2's training-only seg predictor excluded);
  - devices: the CPU, and with CUDA also the GPU in fp32 and with AMP (``torch.autocast``,
    float16), with ``torch.cuda.synchronize()`` around each timed call.
Prints markdown tables; ``--output`` also writes every measurement as JSON.

``--deploy`` instead times the torch-free runtime next to the eager model, DF2S2 only,
on the CPU: ``FaceDetector.detect`` (PyTorch) and ``OnnxFaceDetector.detect``
(onnxruntime with ``--threads`` intra-op threads, pre- and post-processing in numpy) on
the same (H, W, 3) uint8 image, already at the test size, with the same random weights
(the model is exported to ONNX first, in a temporary folder); interleaved rounds, medians.
``--batch-sizes 1 4`` adds ``OnnxFaceDetector.detect`` of N copies of the image with
``batch_size=N`` (per-image time and images/s); ``--int8`` adds the int8 model
(``tools/export.py --int8``'s quantization, calibrated on 8 random images: latency only,
random weights have no accuracy to keep).
"""
import df2s2_d2  # noqa: F401  first: hides Detectron2's known import-time warnings
import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Sequence, Tuple

import numpy as np
import torch
from fvcore.nn import FlopCountAnalysis
from torch import nn

import detectron2
from detectron2 import model_zoo
from detectron2.export import TracingAdapter
from detectron2.modeling import build_model
from detectron2.solver import build_optimizer
from detectron2.structures import Boxes, Instances
from detectron2.utils.events import EventStorage

from df2s2_d2 import get_df2s2_cfg
from df2s2_d2.argument_parser import config_argument_parser
from df2s2_deploy.cpu_info import cpu_flags, cpu_name, flags_text
from df2s2_deploy.output_paths import check_output_file, replace_file

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
STANDARD_RETINANET = "COCO-Detection/retinanet_R_50_FPN_1x.yaml"
TRAIN_BATCH, FACES_PER_IMAGE = 2, 12


def get_parser() -> argparse.ArgumentParser:
    parser = config_argument_parser(__doc__.split("\n\n")[0],
                                    config_file_default=str(CONFIGS / "WIDER-FACE/df2s2_R_50.yaml"),
                                    config_file_help="the DF2S2 config",
                                    opts_help="config options for every model: KEY VALUE pairs")
    parser.add_argument("--baseline-config-file", metavar="FILE",
                        default=str(CONFIGS / "WIDER-FACE/retinanet_R_50_FPN_P2P7.yaml"),
                        help="the RetinaNet P2-P7 config DF2S2 is compared with")
    parser.add_argument("--device", choices=["all", "cpu", "cuda"], default="all",
                        help="all: the CPU, plus CUDA (fp32 and AMP) when available")
    parser.add_argument("--sizes", nargs="+", type=parse_size, metavar="WxH",
                        default=[(256, 320), (512, 640), (768, 1024)],
                        help="inference image sizes, width x height (default: 320x256 640x512 1024x768)")
    parser.add_argument("--rounds", type=int, default=10, help="timed rounds")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--score-thresh", type=float, default=-1.0,
                        help="score threshold of every model (-1: every anchor is a candidate)")
    parser.add_argument("--train-size", type=int, default=640, help="side of the square training images")
    parser.add_argument("--skip-training", action="store_true", help="time inference only")
    parser.add_argument("--output", metavar="JSON", help="also write the measurements here")
    parser.add_argument("--deploy", action="store_true",
                        help="time the torch-free deploy runtime next to the eager model instead")
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[1], metavar="N",
                        help="--deploy: also time the runtime with N images per network call")
    parser.add_argument("--int8", action="store_true", help="--deploy: also time the int8 model")
    return parser


def parse_size(text: str) -> Tuple[int, int]:
    """'640x512' -> (height 512, width 640)."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size {text!r}: expected WIDTHxHEIGHT, e.g. 640x512") from None
    return height, width


def load_cfg(config_file: str, device: str, args, opts: Sequence = ()):
    """``config_file`` + ``opts`` with DF2S2's post-processing settings, then the command
    line's opts; random weights on ``device``, score threshold ``--score-thresh``."""
    reference = get_df2s2_cfg(args.config_file, args.opts)
    cfg = get_df2s2_cfg(config_file, opts)
    cfg.merge_from_list([
        "MODEL.RETINANET.TOPK_CANDIDATES_TEST", reference.MODEL.RETINANET.TOPK_CANDIDATES_TEST,
        "MODEL.RETINANET.NMS_THRESH_TEST", reference.MODEL.RETINANET.NMS_THRESH_TEST,
        "TEST.DETECTIONS_PER_IMAGE", reference.TEST.DETECTIONS_PER_IMAGE,
        *args.opts,
        "MODEL.WEIGHTS", "", "MODEL.DEVICE", device, "MODEL.RETINANET.SCORE_THRESH_TEST", args.score_thresh,
    ])
    return cfg


def inference_models(device: str, args) -> Dict[str, nn.Module]:
    """The three compared models, eval mode, keyed by their config names."""
    specs = [
        (args.config_file, []),
        (args.baseline_config_file, []),
        (model_zoo.get_config_file(STANDARD_RETINANET), ["MODEL.RETINANET.NUM_CLASSES", 1]),
    ]
    models = {}
    for config_file, opts in specs:
        torch.manual_seed(0)
        name = Path(config_file).stem + (" (Detectron2)" if config_file.endswith(STANDARD_RETINANET) else "")
        models[name] = build_model(load_cfg(config_file, device, args, opts)).eval()
    return models


def training_models(device: str, args) -> Dict[str, Tuple[nn.Module, torch.optim.Optimizer]]:
    """DF2S2 with the seg branch on and off, train mode, each with a learning-rate-0 optimizer."""
    models = {}
    for label, seg in (("seg on", True), ("seg off", False)):
        torch.manual_seed(0)
        cfg = load_cfg(args.config_file, device, args, ["MODEL.DF2S2.SEG_HEAD", seg, "SOLVER.BASE_LR", 0.0])
        model = build_model(cfg).train()
        models[f"{Path(args.config_file).stem}, {label}"] = (model, build_optimizer(cfg, model))
    return models


def random_image(height: int, width: int, seed: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.integers(0, 256, (3, height, width), dtype=np.uint8))


def training_batch(size: int, seed: int = 0) -> List[Dict]:
    """TRAIN_BATCH random size x size images, each with FACES_PER_IMAGE faces (width 12 px
    to size / 2, height 1.2 x width)."""
    rng = np.random.default_rng(seed)
    batch = []
    for k in range(TRAIN_BATCH):
        widths = np.exp(rng.uniform(np.log(12), np.log(size / 2), FACES_PER_IMAGE))
        x0 = rng.uniform(0, size - widths)
        y0 = rng.uniform(0, size - 1.2 * widths)
        boxes = np.stack([x0, y0, x0 + widths, y0 + 1.2 * widths], axis=1)
        instances = Instances((size, size))
        instances.gt_boxes = Boxes(torch.as_tensor(boxes, dtype=torch.float32))
        instances.gt_classes = torch.zeros(FACES_PER_IMAGE, dtype=torch.int64)
        batch.append({"image": random_image(size, size, seed + k), "instances": instances})
    return batch


def eval_graph_counts(model: nn.Module, image: torch.Tensor) -> Tuple[int, float]:
    """(parameters, GFLOPs) of the eval graph: modules never called at inference are not counted."""
    adapter = TracingAdapter(model, [{"image": image}], allow_non_tensor=True)
    flops = FlopCountAnalysis(adapter, adapter.flattened_inputs)
    flops.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    with torch.no_grad():
        total = flops.total()
    uncalled = flops.uncalled_modules()
    params = sum(
        p.numel() for n, p in adapter.named_parameters() if not any(n.startswith(m + ".") for m in uncalled)
    )
    return params, total / 1e9


def timed_ms(fn: Callable[[], object], cuda: bool) -> float:
    if cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if cuda:
        torch.cuda.synchronize()
    return 1000 * (time.perf_counter() - start)


def interleaved(calls: Dict[str, Callable[[], object]], rounds: int, warmup: int, cuda: bool) -> Dict:
    """{name: milliseconds per timed round}; each round runs every call once, in rotated order."""
    names = list(calls)
    times = {name: [] for name in names}
    for r in range(warmup + rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            ms = timed_ms(calls[name], cuda)
            if r >= warmup:
                times[name].append(ms)
    return times


def autocast(device: str, amp: bool):
    if amp:
        return torch.autocast(device_type=device, dtype=torch.float16)
    return contextlib.nullcontext()


def benchmark_inference(models, sizes, device, amp, args) -> List[Dict]:
    calls = {}
    for name, model in models.items():
        for height, width in sizes:
            image = random_image(height, width, seed=height * width)

            def call(model=model, image=image):
                with torch.no_grad(), autocast(device, amp):
                    return model([{"image": image}])

            calls[(name, height, width)] = call
    times = interleaved(calls, args.rounds, args.warmup, device == "cuda")
    return [  # grouped by size
        {"model": name, "height": h, "width": w, "device": device, "amp": amp, "ms": times[(name, h, w)]}
        for h, w in sizes for name in models
    ]


def benchmark_training(models, device, amp, args) -> List[Dict]:
    batch = training_batch(args.train_size)
    scaler = torch.amp.GradScaler(device) if amp else None

    def step(model, optimizer):
        with autocast(device, amp):
            loss = sum(model(batch).values())
        optimizer.zero_grad()
        if scaler is None:
            loss.backward()
            optimizer.step()
        else:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()

    calls = {name: (lambda m=m, o=o: step(m, o)) for name, (m, o) in models.items()}
    with EventStorage(0):
        times = interleaved(calls, args.rounds, args.warmup, device == "cuda")
    return [{"model": name, "device": device, "amp": amp, "ms": times[name]} for name in calls]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def setting(device: str, amp: bool) -> str:
    return f"{device}, {'AMP (float16)' if amp else 'fp32'}"


def inference_tables(rows, counts, df2s2: str, baseline: str, header: str) -> str:
    lines = [header, "", "| model | size (WxH) | params (M) | GFLOPs | ms median | FPS |",
             "|:--|:--|--:|--:|--:|--:|"]
    for row in rows:
        params, gflops = counts[(row["model"], row["height"], row["width"])]
        ms = median(row["ms"])
        lines.append(f"| {row['model']} | {row['width']}x{row['height']} | {params / 1e6:.2f} | "
                     f"{gflops:.1f} | {ms:.1f} | {1000 / ms:.2f} |")
    lines += ["", f"| size (WxH) | {df2s2} / {baseline}: ms | GFLOPs | params |", "|:--|--:|--:|--:|"]
    by_key = {(r["model"], r["height"], r["width"]): r for r in rows}
    for _, h, w in [k for k in by_key if k[0] == df2s2]:
        ours, base = counts[(df2s2, h, w)], counts[(baseline, h, w)]
        ratio = median(by_key[(df2s2, h, w)]["ms"]) / median(by_key[(baseline, h, w)]["ms"])
        lines.append(f"| {w}x{h} | {ratio:.2f} | {ours[1] / base[1]:.2f} | {ours[0] / base[0]:.2f} |")
    return "\n".join(lines)


def training_table(rows, header: str) -> str:
    lines = [header, "", "| model | ms median | iterations / s |", "|:--|--:|--:|"]
    for row in rows:
        ms = median(row["ms"])
        lines.append(f"| {row['model']} | {ms:.1f} | {1000 / ms:.3f} |")
    on, off = (median(r["ms"]) for r in rows)
    lines.append(f"| seg on / seg off | {on / off:.3f} | |")
    return "\n".join(lines)


def settings(args) -> List[Tuple[str, bool]]:
    """(device, amp) pairs to measure."""
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch.cuda.is_available() is False on this machine")
    cuda = [("cuda", False), ("cuda", True)] if torch.cuda.is_available() else []
    return {"all": [("cpu", False)] + cuda, "cpu": [("cpu", False)], "cuda": cuda}[args.device]


def measure(device: str, amp: bool, args, counts: Dict, report: Dict) -> List[str]:
    """Time inference (and training) on ``device``; fills ``counts`` (first call) and ``report``;
    returns the markdown tables."""
    where = setting(device, amp) + (f", {torch.get_num_threads()} threads" if device == "cpu" else "")
    models = inference_models(device, args)
    names = list(models)
    if not counts:
        for name, model in models.items():
            for h, w in args.sizes:
                counts[(name, h, w)] = eval_graph_counts(model, random_image(h, w, seed=0))
        report["counts"] = [{"model": n, "height": h, "width": w, "params": p, "gflops": g}
                            for (n, h, w), (p, g) in counts.items()]
    rows = benchmark_inference(models, args.sizes, device, amp, args)
    del models
    report["inference"] += rows
    header = f"### Inference, {where}: batch 1, median of {args.rounds} rounds"
    tables = [inference_tables(rows, counts, names[0], names[1], header)]
    if not args.skip_training:
        rows = benchmark_training(training_models(device, args), device, amp, args)
        report["training"] += rows
        size = f"{args.train_size}x{args.train_size}"
        header = (f"### Training iteration, {where}: batch {TRAIN_BATCH} at {size}, "
                  f"forward + backward + SGD step, median of {args.rounds} rounds")
        tables.append(training_table(rows, header))
    return tables


def benchmark_deploy(args, report: Dict) -> str:
    """Eager FaceDetector and the deploy OnnxFaceDetector, end to end per image, CPU."""
    from df2s2_d2 import FaceDetector
    from df2s2_d2.deploy_export import export_deploy
    from df2s2_deploy import OnnxFaceDetector

    lines = ["| model | size (WxH) | ms median | FPS (images / s) |", "|:--|:--|--:|--:|"]
    ratios = []
    with tempfile.TemporaryDirectory() as folder:
        for height, width in args.sizes:
            cfg = load_cfg(args.config_file, "cpu", args, [
                "INPUT.MIN_SIZE_TEST", min(height, width), "INPUT.MAX_SIZE_TEST", max(height, width)
            ])
            torch.manual_seed(0)
            eager = FaceDetector(cfg)
            image = random_image(height, width, seed=1).permute(1, 2, 0).numpy().copy()
            path = export_deploy(
                cfg, eager.model, [{"image": random_image(height, width, seed=0)}],
                os.path.join(folder, f"{width}x{height}"),
            )
            deploy = OnnxFaceDetector(path, num_threads=args.threads or 0)
            calls = {
                "eager (PyTorch, FaceDetector)": lambda: eager.detect(image),
                "deploy (onnxruntime + numpy)": lambda: deploy.detect(image),
            }
            per_call = {name: 1 for name in calls}
            for n in (n for n in args.batch_sizes if n > 1):
                name = f"deploy, batch {n} (per image)"
                calls[name] = lambda n=n: deploy.detect([image] * n, batch_size=n)
                per_call[name] = n
            if args.int8:
                int8 = OnnxFaceDetector(quantized(path, deploy.config), num_threads=args.threads or 0)
                calls["deploy int8 (onnxruntime + numpy)"] = lambda: int8.detect(image)
                per_call["deploy int8 (onnxruntime + numpy)"] = 1
            times = interleaved(calls, args.rounds, args.warmup, cuda=False)
            for name, values in times.items():
                values = [v / per_call[name] for v in values]
                ms = median(values)
                lines.append(f"| {name} | {width}x{height} | {ms:.1f} | {1000 / ms:.2f} |")
                report["inference"].append({"model": name, "size": [height, width], "ms": values})
            fp32 = median(times["deploy (onnxruntime + numpy)"])
            int8 = median(times["deploy int8 (onnxruntime + numpy)"]) / fp32 if args.int8 else None
            ratios.append((width, height, fp32 / median(times["eager (PyTorch, FaceDetector)"]), int8))
    lines += ["", "| size (WxH) | deploy / eager time |" + (" int8 / fp32 deploy time |" if args.int8 else ""),
              "|:--|--:|" + ("--:|" if args.int8 else "")]
    lines += [f"| {w}x{h} | {ratio:.2f} |" + (f" {int8:.2f} |" if int8 else "") for w, h, ratio, int8 in ratios]
    header = (f"Deploy runtime next to eager ({Path(args.config_file).stem}, random weights, "
              f"{torch.get_num_threads()} threads, median of {args.rounds} interleaved rounds)")
    return "\n".join([header, ""] + lines)


def quantized(path: str, config) -> str:
    """The int8 model of the deploy model at `path`, calibrated on 8 seeded noise images."""
    from df2s2_deploy.quantization import quantize_deploy_model

    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (480, 640, 3), dtype=np.uint8) for _ in range(8)]
    return quantize_deploy_model(path, config, images, calibration="minmax on 8 noise images")


def _write_json(path: str, report: Dict) -> None:
    with open(path, "w") as f:
        json.dump(report, f, indent=1)


def main(argv=None) -> Dict:
    """Runs the benchmark, prints the tables; returns the report that --output writes."""
    parser = get_parser()
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.warmup < 0:
        parser.error("--rounds must be at least 1 and --warmup at least 0")
    if args.output:
        check_output_file(args.output, [args.config_file])  # before the measurements
    if args.threads:
        torch.set_num_threads(args.threads)
    report = {
        "command": " ".join(["python tools/benchmark.py", *(sys.argv[1:] if argv is None else argv)]),
        "torch": torch.__version__, "detectron2": detectron2.__version__,
        "cpu": cpu_name(), "cpu_flags": cpu_flags(), "threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "counts": [], "inference": [], "training": [],
    }
    tables, counts = [], {}
    if args.deploy:
        tables.append(benchmark_deploy(args, report))
    else:
        for device, amp in settings(args):
            tables += measure(device, amp, args, counts, report)
    machine = f"{report['cpu']} ({flags_text(report['cpu_flags'])})" + (f", {report['cuda']}" if report["cuda"] else "")
    print(f"\n{machine}; torch {report['torch']}, detectron2 {report['detectron2']}\n")
    print("\n\n".join(tables))
    if args.output:
        replace_file(args.output, lambda tmp: _write_json(tmp, report))
    return report


if __name__ == "__main__":
    main()
