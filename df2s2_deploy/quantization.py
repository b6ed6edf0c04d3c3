"""Static int8 quantization of a deploy model with onnxruntime's ``quantize_static``.

QDQ format: int8 weights (per output channel by default; 7 bits unless ``reduce_range``
is False), uint8 activations whose ranges are calibrated on images run through the
runtime's own pre-processing (`read_image`'s channel order, ``ResizeShortestEdge``,
normalisation, padding). Groups of sensitive nodes can stay in float32
(`EXCLUDE_GROUPS`). Imports neither torch nor Detectron2; onnx and
onnxruntime.quantization are imported when called.
"""
import os
import re
import tempfile
from dataclasses import replace
from typing import Iterable, List, Sequence

import numpy as np

from .deploy_config import DeployConfig, NetworkConfig
from .output_paths import replace_file
from .preprocessing import model_input, resize

__all__ = [
    "METHODS", "EXCLUDE_GROUPS", "int8_paths", "excluded_nodes", "calibration_batches",
    "quantize_deploy_model",
]

METHODS = ("minmax", "percentile", "entropy")
# group -> what it keeps in float32
EXCLUDE_GROUPS = {
    "stem": "the backbone's first conv (the image itself)",
    "predictors": "the cls and box (and landmark) predictor convs of every level",
    "stride4": "the head on the first (finest, stride-4) level",
}
# a predictor conv's traced name: /head/cls_score/Conv (level 0), /head/bbox_pred_3/Conv, ...
_PREDICTOR_NODE = re.compile(r"/head/(cls_score|bbox_pred|landmark_pred)(_\d+)?/")


def int8_paths(model_path: str):
    """(int8 model, its JSON) beside the float32 `model_path`: ``<name>_int8.onnx / .json``."""
    stem = os.path.splitext(os.fspath(model_path))[0] + "_int8"
    return stem + ".onnx", stem + ".json"


def _head_level(name: str) -> int:
    """Level of a head node from its traced name: ``/head/cls_score/Conv`` is level 0,
    ``/head/cls_score_2/Conv`` level 2 (the tracer numbers the head's later calls)."""
    module = name.split("/")[-2] if name.count("/") >= 2 else ""
    match = re.search(r"_(\d+)$", module)
    return int(match.group(1)) if match else 0


def excluded_nodes(node_names: Sequence[str], groups: Iterable[str]) -> List[str]:
    """Names of the nodes of `groups` (keys of `EXCLUDE_GROUPS`) among `node_names`."""
    groups = set(groups)
    unknown = groups - set(EXCLUDE_GROUPS)
    if unknown:
        raise ValueError(f"unknown node groups {sorted(unknown)}; choose from {list(EXCLUDE_GROUPS)}")
    tests = {
        "stem": lambda n: "/stem/" in n,
        "predictors": lambda n: _PREDICTOR_NODE.match(n) is not None,
        "stride4": lambda n: n.startswith("/head/") and _head_level(n) == 0,
    }
    return [n for n in node_names if any(tests[g](n) for g in groups)]


def calibration_batches(
    images: Sequence[np.ndarray], config: DeployConfig, one_shape: bool = False
) -> List[np.ndarray]:
    """(H, W, 3) uint8 model-format images -> (1, 3, H', W') float32 network inputs at the
    test size, as `OnnxFaceDetector` makes them; with `one_shape` all padded to the largest
    (onnxruntime's histogram calibrators need one shape)."""
    inputs = config.input
    resized = [resize(image, inputs.min_size_test, inputs.max_size_test) for image in images]
    batches = [
        model_input(image, inputs.pixel_mean, inputs.pixel_std, inputs.size_divisibility)
        for image in resized
    ]
    if not one_shape:
        return batches
    height = max(b.shape[2] for b in batches)
    width = max(b.shape[3] for b in batches)
    return [_pad(b, height, width) for b in batches]


def _pad(batch: np.ndarray, height: int, width: int) -> np.ndarray:
    """(1, 3, h, w) -> (1, 3, height, width), zero-padded at the bottom and right (ImageList)."""
    out = np.zeros((1, 3, height, width), np.float32)
    out[:, :, : batch.shape[2], : batch.shape[3]] = batch
    return out


class _Reader:
    """onnxruntime's CalibrationDataReader over prepared batches."""

    def __init__(self, input_name: str, batches: Sequence[np.ndarray]):
        self.feeds = iter([{input_name: b} for b in batches])

    def get_next(self):
        return next(self.feeds, None)

    def rewind(self):  # not needed by quantize_static; the interface names it
        raise NotImplementedError


def quantize_deploy_model(
    model_path: str,
    config: DeployConfig,
    images: Sequence[np.ndarray],
    *,
    method: str = "minmax",
    per_channel: bool = True,
    reduce_range: bool = True,
    exclude: Iterable[str] = (),
    calibration: str = "",
    output_path: str = None,
) -> str:
    """Write the int8 model of the float32 deploy model `model_path` and its JSON (the
    float32 one's, with ``network.precision`` "int8"); returns the int8 model's path.

    images: (H, W, 3) uint8 calibration images in the model's channel order, any size.
    method: activation-range calibration, one of `METHODS`; exclude: `EXCLUDE_GROUPS`
    kept in float32; calibration: how the images were chosen, recorded in the JSON.
    reduce_range: weights in 7 bits. On x86 CPUs without VNNI (AVX2, AVX-512 without
    VNNI) onnxruntime multiplies uint8 activations by int8 weights in pairs summed into
    int16, which saturates with 8-bit weights (255 * 127 * 2 > 32767) and garbles the
    outputs; with 7 bits it cannot (255 * 64 * 2 < 32768). The model then runs alike on
    every CPU; False keeps the 8th bit for CPUs with VNNI only.
    """
    import onnx
    from onnxruntime.quantization import (
        CalibrationMethod, QuantFormat, QuantType, quant_pre_process, quantize_static,
    )

    if method not in METHODS:
        raise ValueError(f"calibration method must be one of {METHODS}, got {method!r}")
    if not images:
        raise ValueError("no calibration images")
    output_path = output_path or int8_paths(model_path)[0]
    # MinMax sees each image at its own size, as the runtime runs it
    batches = calibration_batches(images, config, one_shape=method != "minmax")
    with tempfile.TemporaryDirectory() as tmp:
        prepared = os.path.join(tmp, "prepared.onnx")
        quant_pre_process(model_path, prepared, skip_symbolic_shape=True)
        graph = onnx.load(prepared).graph
        excluded = excluded_nodes([n.name for n in graph.node], exclude)
        options = {"ActivationSymmetric": False, "WeightSymmetric": True}
        if method == "percentile":
            options["CalibPercentile"] = 99.999
        replace_file(output_path, lambda out: quantize_static(
            prepared, out, _Reader(graph.input[0].name, batches),
            quant_format=QuantFormat.QDQ, per_channel=per_channel,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            nodes_to_exclude=excluded, reduce_range=reduce_range,
            calibrate_method={
                "minmax": CalibrationMethod.MinMax,
                "percentile": CalibrationMethod.Percentile,
                "entropy": CalibrationMethod.Entropy,
            }[method],
            extra_options=options,
        ))
    network = NetworkConfig(
        precision="int8",
        calibration=calibration or f"{method} on {len(images)} images",
        per_channel=per_channel,
        excluded_nodes=excluded,
        reduce_range=reduce_range,
    )
    int8_config = replace(config, network=network)
    replace_file(os.path.splitext(output_path)[0] + ".json", int8_config.save)
    return output_path
