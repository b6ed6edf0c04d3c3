"""int8 quantization levers of the deploy model: latency next to float32 and WIDER-protocol AP.

    python -m dev.int8_study --config-file configs/Synth/df2s2_R_18_quick.yaml \\
        --weights model_final.pth --threads 2 --rounds 5 --output-dir results/int8

Exports the float32 deploy model once (``tools/export.py --format deploy``), then per
variant (calibration method, number of calibration images, node groups kept in float32,
per-channel or per-tensor weights, 7- or 8-bit weights) writes the int8 model with the
code of ``--int8``, and measures:
  - latency: ``OnnxFaceDetector.detect_resized`` (network, decoding, NMS) of one val image
    resized to each ``--sizes`` W x H, int8 and float32 alternating, ``--threads``
    onnxruntime threads, medians over ``--rounds`` after one warm-up call each;
  - AP: ``df2s2-detect --wider-face`` on the val images of ``--dataset`` (its folder
    ``<root>/WIDER_val/images``) and the ``wider-face-eval`` protocol on its ground truth.
``--full-graph`` adds the naive alternative: the whole ``--format onnx`` graph (network,
box decoding and NMS) quantized with every op int8 (MinMax, 32 images at the test size,
per-channel weights), evaluated by ``tools/export.py``'s exported-model path (AP only).
Writes ``<output-dir>/int8_study.json`` and ``int8_study.md``; the models go to a
temporary folder.
"""
import df2s2_d2  # noqa: F401  first: hides Detectron2's known import-time warnings
import argparse
import json
import logging
import os
import statistics
import tempfile
import time
from typing import Dict

import numpy as np
from PIL import Image

from detectron2.data import MetadataCatalog
from df2s2_d2.argument_parser import config_argument_parser
from df2s2_d2.deploy_export import calibration_files
from df2s2_deploy import OnnxFaceDetector
from df2s2_deploy.cpu_info import cpu_flags, cpu_name, flags_text
from df2s2_deploy.deploy_config import DeployConfig
from df2s2_deploy.detect import main as detect_main
from df2s2_deploy.evaluation.wider_face import evaluate_prediction_dir
from df2s2_deploy.output_paths import check_output_dir, replace_file
from df2s2_deploy.preprocessing import read_image, resize
from df2s2_deploy.quantization import quantize_deploy_model
from tools import export

# name -> (method, calibration images, groups in float32, per-channel weights, 7-bit weights)
VARIANTS = {
    "minmax-32": ("minmax", 32, (), True, True),
    "minmax-32 8-bit weights": ("minmax", 32, (), True, False),
    "minmax-8": ("minmax", 8, (), True, True),
    "minmax-128": ("minmax", 128, (), True, True),
    "percentile-32": ("percentile", 32, (), True, True),
    "entropy-32": ("entropy", 32, (), True, True),
    "minmax-32 per-tensor": ("minmax", 32, (), False, True),
    "minmax-32 stem fp32": ("minmax", 32, ("stem",), True, True),
    "minmax-32 predictors fp32": ("minmax", 32, ("predictors",), True, True),
    "minmax-32 stride4 fp32": ("minmax", 32, ("stride4",), True, True),
    "minmax-32 all three fp32": ("minmax", 32, ("stem", "predictors", "stride4"), True, True),
}
SUBSETS = ("easy", "medium", "hard")


def get_parser() -> argparse.ArgumentParser:
    parser = config_argument_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--weights", required=True)
    parser.add_argument("--calibration-dataset", default="synth_faces_train")
    parser.add_argument("--dataset", default="synth_faces_val", help="evaluated (WIDER layout)")
    parser.add_argument("--variants", nargs="*", choices=sorted(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--sizes", nargs="*", default=["320x256", "640x512"], metavar="WxH")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--output-dir", default="results/int8")
    parser.add_argument("--full-graph", action="store_true",
                        help="also quantize the whole --format onnx graph, decoding and NMS included")
    return parser


class _Reader:
    """onnxruntime's CalibrationDataReader over prepared feeds."""

    def __init__(self, feeds):
        self.feeds = iter(feeds)

    def get_next(self):
        return next(self.feeds, None)


def full_graph_ap(args, images, work: str) -> Dict[str, float]:
    """AP of the whole exported graph (network, decoding, NMS) with every op int8."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    export.main(["--config-file", args.config_file, "--format", "onnx", "--output", work,
                 "MODEL.WEIGHTS", args.weights, *args.opts])
    cfg = export.setup_cfg(export.get_parser().parse_args(
        ["--config-file", args.config_file, "--output", work, *args.opts]))
    resized = [resize(im, cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TEST) for im in images]
    reader = _Reader([{"image": im.astype(np.float32).transpose(2, 0, 1).copy()} for im in resized])
    path = os.path.join(work, "model_int8.onnx")
    quantize_static(os.path.join(work, "model.onnx"), path, reader, quant_format=QuantFormat.QDQ,
                    per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax)
    cfg.defrost()
    cfg.DATASETS.TEST = (args.dataset,)
    result = export.evaluate_exported(cfg, path, os.path.join(work, "full_graph"))[args.dataset]
    return {s: result["wider_face"][f"AP_{s}"] for s in SUBSETS}


def write_text(path: str, text: str) -> None:
    def write(tmp):
        with open(tmp, "w") as f:
            f.write(text)

    replace_file(path, write)


def latency(fp32: OnnxFaceDetector, int8: OnnxFaceDetector, image: np.ndarray, rounds: int):
    """Median seconds of detect_resized(image), float32 and int8 alternating."""
    times = {"fp32": [], "int8": []}
    for detector in (fp32, int8):
        detector.detect_resized(image)
    for _ in range(rounds):
        for name, detector in (("fp32", fp32), ("int8", int8)):
            start = time.perf_counter()
            detector.detect_resized(image)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def wider_ap(model: str, images: str, gt: str, threads: int, work: str) -> Dict[str, float]:
    """easy / medium / hard AP of `model`: df2s2-detect --wider-face, then the protocol."""
    predictions = tempfile.mkdtemp(dir=work)
    code = detect_main([images, "--model", model, "--output", predictions, "--wider-face",
                        "--threads", str(threads)])
    if code:
        raise RuntimeError(f"df2s2-detect failed on {model}")
    curves, _, _ = evaluate_prediction_dir(predictions, gt)
    return {s: 100 * curves[s].ap for s in SUBSETS}


def markdown(report: dict) -> str:
    sizes = report["sizes"]
    head = ["variant", *(f"int8 / fp32 at {s}" for s in sizes), *SUBSETS, "max AP lost"]
    lines = ["| " + " | ".join(head) + " |", "|:--" + "|--:" * (len(head) - 1) + "|"]
    fp32 = report["fp32"]["ap"]
    row = ["fp32", *("1.00" for _ in sizes), *(f"{fp32[s]:.1f}" for s in SUBSETS), ""]
    lines.append("| " + " | ".join(row) + " |")
    for name, v in report["variants"].items():
        ratios = [f"{v['latency'][s]['int8'] / v['latency'][s]['fp32']:.2f}" for s in sizes]
        lost = max(0.0, *(fp32[s] - v["ap"][s] for s in SUBSETS))  # a gain loses nothing
        row = [name, *ratios, *(f"{v['ap'][s]:.1f}" for s in SUBSETS), f"{lost:.1f}"]
        lines.append("| " + " | ".join(row) + " |")
    if "full_graph" in report:
        ap = report["full_graph"]["ap"]
        lost = max(0.0, *(fp32[s] - ap[s] for s in SUBSETS))
        row = ["whole --format onnx graph, minmax-32, every op int8", *("n/a" for _ in sizes),
               *(f"{ap[s]:.1f}" for s in SUBSETS), f"{lost:.1f}"]
        lines.append("| " + " | ".join(row) + " |")
    ms = [f"{s}: fp32 {1000 * statistics.median(v['latency'][s]['fp32'] for v in report['variants'].values()):.0f} ms"
          for s in sizes]
    lines += ["", "float32 latency, median over the variants' runs: " + ", ".join(ms) + "."]
    if "cpu_flags" in report:  # int8 kernels differ with VNNI: the numbers are this CPU's
        lines += ["", f"CPU: {report['cpu']}; flags {flags_text(report['cpu_flags'])}."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = get_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    check_output_dir(args.output_dir, [args.weights, args.config_file])
    with tempfile.TemporaryDirectory(prefix="int8_study_") as work:
        return study(args, work)


def study(args, work: str) -> dict:
    """Every variant of `args`, its models in the folder `work`; returns the report."""
    export.main(["--config-file", args.config_file, "--format", "deploy", "--output", work,
                 "MODEL.WEIGHTS", args.weights, *args.opts])
    model = os.path.join(work, "face_detector.onnx")
    config = DeployConfig.load(os.path.join(work, "face_detector.json"))
    meta = MetadataCatalog.get(args.dataset)
    images, gt = meta.image_root, meta.wider_face_gt_dir
    calibration = {
        n: [read_image(f, config.input.format) for f in calibration_files(args.calibration_dataset, n)]
        for n in sorted({VARIANTS[v][1] for v in args.variants})
    }
    sample = read_image(sorted(calibration_files(args.dataset, 1))[0], config.input.format)
    fp32 = OnnxFaceDetector(model, num_threads=args.threads)
    report = {
        "config": args.config_file, "weights": args.weights, "threads": args.threads,
        "rounds": args.rounds, "sizes": args.sizes, "cpu": cpu_name(),
        "cpu_flags": cpu_flags(),
        "calibration_dataset": args.calibration_dataset, "dataset": args.dataset,
        "fp32": {"ap": wider_ap(model, images, gt, args.threads, work)}, "variants": {},
    }
    print("fp32", report["fp32"]["ap"], flush=True)
    for name in args.variants:
        method, count, exclude, per_channel, reduce_range = VARIANTS[name]
        out = quantize_deploy_model(model, config, calibration[count], method=method,
                                    per_channel=per_channel, reduce_range=reduce_range, exclude=exclude,
                                    output_path=os.path.join(work, f"int8_{len(report['variants'])}.onnx"))
        int8 = OnnxFaceDetector(out, num_threads=args.threads)
        timings = {}
        for size in args.sizes:
            w, h = (int(x) for x in size.split("x"))
            image = np.asarray(Image.fromarray(sample).resize((w, h), Image.BILINEAR))
            timings[size] = latency(fp32, int8, image, args.rounds)
        report["variants"][name] = {
            "method": method, "calibration_images": count, "fp32_groups": list(exclude),
            "per_channel": per_channel, "reduce_range": reduce_range, "latency": timings,
            "ap": wider_ap(out, images, gt, args.threads, work),
        }
        print(name, report["variants"][name], flush=True)
        os.makedirs(args.output_dir, exist_ok=True)
        write_text(os.path.join(args.output_dir, "int8_study.json"), json.dumps(report, indent=2) + "\n")
        write_text(os.path.join(args.output_dir, "int8_study.md"), markdown(report))
    if args.full_graph:
        images = [read_image(f, config.input.format)
                  for f in calibration_files(args.calibration_dataset, 32)]
        report["full_graph"] = {"ap": full_graph_ap(args, images, os.path.join(work, "full"))}
        write_text(os.path.join(args.output_dir, "int8_study.json"), json.dumps(report, indent=2) + "\n")
        write_text(os.path.join(args.output_dir, "int8_study.md"), markdown(report))
    print(markdown(report))
    return report


if __name__ == "__main__":
    main()
