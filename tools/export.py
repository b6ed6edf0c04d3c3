#!/usr/bin/env python
"""Export a detector of this project's configs to TorchScript or ONNX by tracing, and
optionally evaluate the exported file.

    python tools/export.py --config-file configs/WIDER-FACE/df2s2_R_50.yaml --format onnx \\
        --output exported/ MODEL.WEIGHTS model_final.pth
    python tools/export.py --config-file ... --format torchscript --output exported/ --run-eval \\
        MODEL.WEIGHTS model_final.pth
    python tools/export.py --config-file ... --format deploy --output exported/ \\
        MODEL.WEIGHTS model_final.pth

What is exported is the eval graph, traced with Detectron2's ``TracingAdapter``:
backbone, head (cls and box predictors), anchor decoding and NMS. DF2S2's segmentation
predictor is a training-only branch: the model is built with ``MODEL.DF2S2.SEG_HEAD
False``, so ``head.seg_pred`` is neither in the graph nor among the exported weights
(a checkpoint's ``head.seg_pred.*`` are reported as unused when it is loaded).

Interface of ``model.ts`` / ``model.onnx``:
  input   ``image``: float32 (3, H, W), channels in ``INPUT.FORMAT`` order, values 0-255,
          any H and W (padding to the backbone's size divisibility happens inside);
          resizing to the test size (``INPUT.MIN_SIZE_TEST``) is the caller's job,
          as for Detectron2 models;
  outputs ``boxes`` (N, 4) XYXY in input pixels, ``scores`` (N,), ``classes`` (N,) int64.

``--format deploy`` writes ``face_detector.onnx`` and ``face_detector.json`` for
``df2s2_deploy.OnnxFaceDetector`` and ``df2s2-detect``, which run without torch:
  input   ``image``: float32 (N, 3, H, W), normalised and padded to the size divisibility;
  outputs ``cls_logits_<level>`` (N, A*K, H_l, W_l) per level, then ``box_deltas_<level>``
          (N, A*4, H_l, W_l), the raw head outputs (no seg branch); N, H, W dynamic; a
          model with ``MODEL.DF2S2.LANDMARKS`` then has ``landmarks_<level>`` (N, A*10,
          H_l, W_l) (docs/deployment.md, "Landmarks");
  JSON    the pre-processing and the post-processing settings (df2s2_deploy/deploy_config.py);
          anchors, decoding, NMS and rescaling are done in numpy.
``--int8`` adds ``face_detector_int8.onnx`` and its JSON (``network.precision`` "int8"):
onnxruntime's static QDQ quantization, int8 per-channel weights (7 bits, so that CPUs
without VNNI do not saturate; ``--int8-full-range``: 8) and uint8 activations calibrated
on ``--calibration-images`` images of ``--calibration-dataset`` (default
``DATASETS.TRAIN[0]``) through the runtime's test-time pre-processing.

Tracing and Detectron2 0.6: the per-level cap ``TOPK_CANDIDATES_TEST`` is recorded as a
constant on the levels where the sample image had more candidates than the cap, and
not at all on the others (Detectron2's main branch records it as a traced value). An
image with more candidates on such a level than the cap sends them all to NMS, so its
detections can differ from the eager model's. Outputs match otherwise.
"""
import df2s2_d2  # noqa: F401  first: hides Detectron2's known import-time warnings
import argparse
import logging
import os
from collections import OrderedDict
from typing import Callable, Dict, List, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor, nn

from detectron2.data import build_detection_test_loader
from detectron2.data import transforms as T
from detectron2.data.detection_utils import read_image
from detectron2.evaluation import inference_on_dataset, print_csv_format
from detectron2.export import TracingAdapter
from detectron2.modeling import build_model
from detectron2.modeling.postprocessing import detector_postprocess
from detectron2.structures import Boxes, Instances
from detectron2.utils.logger import setup_logger

from df2s2_d2 import get_df2s2_cfg
from df2s2_d2.argument_parser import config_argument_parser
from df2s2_d2.checkpoint import load_weights
from df2s2_d2.evaluation import build_face_evaluator
from df2s2_d2.deploy_export import DEPLOY_MODEL, calibration_files, export_deploy, export_int8
from df2s2_deploy.output_paths import check_not_protected, check_output_dir, replace_file
from df2s2_deploy.quantization import EXCLUDE_GROUPS, METHODS, int8_paths

# int8 defaults: measured with dev/int8_study.py (docs/benchmarks.md)
CALIBRATION_IMAGES = 32
CALIBRATION_METHOD = "minmax"
INT8_EXCLUDE = []
FORMATS = {"torchscript": "model.ts", "onnx": "model.onnx", "deploy": DEPLOY_MODEL}
INPUT_NAMES = ["image"]
OUTPUT_NAMES = ["boxes", "scores", "classes"]
ONNX_OPSET = 17

logger = logging.getLogger("df2s2_d2.export")


def get_parser() -> argparse.ArgumentParser:
    parser = config_argument_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--format", choices=sorted(FORMATS), default="torchscript")
    parser.add_argument("--output", required=True, metavar="DIR", help="folder for the exported model")
    parser.add_argument(
        "--sample-image", metavar="FILE",
        help="image to trace with (default: a synthetic image); resized like a test image",
    )
    parser.add_argument(
        "--run-eval", action="store_true",
        help="evaluate the exported model on DATASETS.TEST (the evaluators of TEST.EVALUATORS); "
        "with --int8 the int8 model too (results <dataset>_int8)",
    )
    int8 = parser.add_argument_group("int8 (with --format deploy)")
    int8.add_argument("--int8", action="store_true", help="also write the calibrated int8 model")
    int8.add_argument(
        "--calibration-dataset", metavar="NAME",
        help="registered dataset whose images calibrate (default: DATASETS.TRAIN[0])",
    )
    int8.add_argument(
        "--calibration-images", type=int, default=CALIBRATION_IMAGES, metavar="N",
        help=f"images, spread evenly over the dataset (default {CALIBRATION_IMAGES})",
    )
    int8.add_argument("--calibration-method", choices=METHODS, default=CALIBRATION_METHOD)
    int8.add_argument(
        "--int8-full-range", action="store_true",
        help="8-bit weights instead of 7: garbled on x86 CPUs without VNNI (their int8 products "
        "saturate), and measured no more accurate with VNNI (docs/benchmarks.md)",
    )
    int8.add_argument(
        "--int8-exclude", type=node_groups, default=INT8_EXCLUDE, metavar="GROUP[,GROUP]",
        help="node groups kept in float32, comma-separated, or 'none': " + "; ".join(
            f"{k}: {v}" for k, v in EXCLUDE_GROUPS.items()) + f" (default: {','.join(INT8_EXCLUDE) or 'none'})",
    )
    return parser


def node_groups(text: str) -> list:
    """'stem,predictors' -> ["stem", "predictors"]; 'none' -> []."""
    groups = [] if text == "none" else [g for g in text.split(",") if g]
    unknown = [g for g in groups if g not in EXCLUDE_GROUPS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown node group(s) {', '.join(unknown)}; choose from {', '.join(EXCLUDE_GROUPS)} or none")
    return groups


def check_int8(cfg, args) -> list:
    """The calibration files of an --int8 export, checked before any work; [] without --int8."""
    if not args.int8:
        return []
    if args.format != "deploy":
        raise ValueError("--int8 needs --format deploy")
    dataset = args.calibration_dataset or (cfg.DATASETS.TRAIN[0] if cfg.DATASETS.TRAIN else None)
    if not dataset:
        raise ValueError("--int8: no dataset to calibrate on: the config has no DATASETS.TRAIN; "
                         "name one with --calibration-dataset")
    args.calibration_dataset = dataset
    return calibration_files(dataset, args.calibration_images)


def setup_cfg(args):
    cfg = get_df2s2_cfg(args.config_file, args.opts)
    cfg.freeze()
    return cfg


def build_export_model(cfg) -> nn.Module:
    """The eval model of ``cfg`` without training-only branches, weights loaded."""
    cfg = cfg.clone()
    cfg.defrost()
    cfg.MODEL.DF2S2.SEG_HEAD = False
    model = build_model(cfg)
    load_weights(model, cfg.MODEL.WEIGHTS)
    return model.eval()


def sample_inputs(cfg, image_path: str = None) -> List[Dict[str, Tensor]]:
    """One model input: ``image_path`` (or a seeded noise image), resized like a test image."""
    if image_path:
        if not os.path.isfile(image_path):
            raise FileNotFoundError(f"{image_path}: --sample-image is not a file")
        image = read_image(image_path, format=cfg.INPUT.FORMAT)
    else:
        image = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    resize = T.ResizeShortestEdge([cfg.INPUT.MIN_SIZE_TEST] * 2, cfg.INPUT.MAX_SIZE_TEST)
    image = resize.get_transform(image).apply_image(image)
    return [{"image": torch.as_tensor(image.astype("float32").transpose(2, 0, 1))}]


def _detections(model: nn.Module, inputs: List[Dict[str, Tensor]]) -> Tuple[Tensor, Tensor, Tensor]:
    instances = model(inputs)[0]["instances"]
    return instances.pred_boxes.tensor, instances.scores, instances.pred_classes


def export(model: nn.Module, inputs: List[Dict[str, Tensor]], fmt: str, output_dir: str) -> str:
    """Trace ``model`` on ``inputs`` (one image) and write it in ``fmt``; returns the file path."""
    if fmt not in ("torchscript", "onnx"):
        raise ValueError(f"format must be torchscript or onnx (deploy: export_deploy), got {fmt!r}")
    path = os.path.join(output_dir, FORMATS[fmt])
    # eval(): the ONNX exporter restores the wrapper's train/eval mode on the model afterwards.
    adapter = TracingAdapter(model, inputs, inference_func=_detections).eval()
    with torch.no_grad():
        if fmt == "torchscript":
            traced = torch.jit.trace(adapter, adapter.flattened_inputs)
            replace_file(path, lambda tmp: traced.save(tmp))
        else:
            replace_file(path, lambda tmp: torch.onnx.export(
                adapter, adapter.flattened_inputs, tmp, dynamo=False, opset_version=ONNX_OPSET,
                input_names=INPUT_NAMES, output_names=OUTPUT_NAMES,
                dynamic_axes={
                    "image": {1: "height", 2: "width"},
                    **{name: {0: "detections"} for name in OUTPUT_NAMES},
                },
            ))
    logger.info(f"Exported {fmt} model to {path}")
    return path


def load_exported(path: str, device: str = "cpu") -> Callable[[Tensor], Sequence[Tensor]]:
    """A function image (3, H, W) float32 -> (boxes, scores, classes) on the CPU, running ``path``."""
    if os.path.basename(path) in (FORMATS["deploy"], os.path.basename(int8_paths(FORMATS["deploy"])[0])):
        from df2s2_deploy import OnnxFaceDetector

        detector = OnnxFaceDetector(path)

        def run(image: Tensor):
            array = image.detach().cpu().numpy().transpose(1, 2, 0).round().astype(np.uint8)
            return tuple(torch.from_numpy(x) for x in detector.detect_resized(array))

        return run
    if path.endswith(".onnx"):
        import onnxruntime  # optional dependency (pip install -e ".[dev]"), needed only here

        session = onnxruntime.InferenceSession(path, providers=onnxruntime.get_available_providers())

        def run(image: Tensor):
            outputs = session.run(OUTPUT_NAMES, {"image": image.detach().cpu().numpy()})
            return tuple(torch.from_numpy(x) for x in outputs)

        return run
    if path.endswith(".ts"):
        module = torch.jit.load(path, map_location=device)

        @torch.no_grad()
        def run(image: Tensor):
            return tuple(x.cpu() for x in module(image.to(device)))

        return run
    raise ValueError(f"{path}: expected an exported model ending in .ts or .onnx")


class ExportedDetector(nn.Module):
    """An exported model behind Detectron2's model interface: batched input dicts in,
    ``[{"instances": ...}]`` out, rescaled to each input's ``height`` / ``width``."""

    def __init__(self, run: Callable[[Tensor], Sequence[Tensor]]):
        super().__init__()
        self.run = run

    def forward(self, batched_inputs: List[Dict]) -> List[Dict[str, Instances]]:
        results = []
        for x in batched_inputs:
            image = x["image"].float()
            boxes, scores, classes = self.run(image)
            height, width = image.shape[-2:]
            instances = Instances(
                (height, width), pred_boxes=Boxes(boxes), scores=scores, pred_classes=classes
            )
            out = detector_postprocess(instances, x.get("height", height), x.get("width", width))
            results.append({"instances": out})
        return results


def evaluate_exported(cfg, path: str, output_dir: str) -> "OrderedDict[str, dict]":
    """Results of the exported model at ``path`` on every dataset of ``DATASETS.TEST``."""
    model = ExportedDetector(load_exported(path, cfg.MODEL.DEVICE))
    results = OrderedDict()
    for name in cfg.DATASETS.TEST:
        evaluator = build_face_evaluator(cfg, name, os.path.join(output_dir, "inference", name))
        results[name] = inference_on_dataset(model, build_detection_test_loader(cfg, name), evaluator)
        print_csv_format(results[name])
    return results


def check_outputs(cfg, args) -> None:
    """Refuse, before any work, an --output that is not a folder or cannot be written, and
    exported files that would replace the config, the weights or the sample image."""
    protected = [args.config_file, cfg.MODEL.WEIGHTS, args.sample_image]
    check_output_dir(args.output, protected)
    name = FORMATS[args.format]
    names = [name, os.path.splitext(name)[0] + ".json"] if args.format == "deploy" else [name]
    if args.int8:
        names += list(int8_paths(name))
    for name in names:
        check_not_protected(os.path.join(args.output, name), protected)


def main(argv=None):
    args = get_parser().parse_args(argv)
    setup_logger()
    setup_logger(name="df2s2_d2")
    setup_logger(name="df2s2_deploy")
    logger.info(f"Arguments: {args}")
    cfg = setup_cfg(args)
    check_outputs(cfg, args)
    calibration = check_int8(cfg, args)
    model = build_export_model(cfg)
    inputs = sample_inputs(cfg, args.sample_image)
    if args.format == "deploy":
        path = export_deploy(cfg, model, inputs, args.output, ONNX_OPSET)
        if args.int8:
            int8 = export_int8(path, args.calibration_dataset, calibration, args.calibration_method,
                               args.int8_exclude, reduce_range=not args.int8_full_range)
    else:
        path = export(model, inputs, args.format, args.output)
    if args.run_eval:
        results = evaluate_exported(cfg, path, args.output)
        if args.int8:
            int8_results = evaluate_exported(cfg, int8, os.path.join(args.output, "int8"))
            results.update((f"{name}_int8", r) for name, r in int8_results.items())
        return results
    return None


if __name__ == "__main__":
    main()
