"""The deploy export: an ONNX model of a RetinaNet-style detector's raw head outputs and
the JSON of its pre- and post-processing, for the torch-free ``df2s2_deploy`` runtime."""
import logging
import os
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor, nn

from df2s2_deploy.anchors import cell_anchors
from df2s2_deploy.deploy_config import (
    AnchorConfig,
    BoxTransformConfig,
    DeployConfig,
    InferenceConfig,
    InputConfig,
    OutputConfig,
)
from df2s2_deploy.output_paths import replace_file

__all__ = [
    "DEPLOY_MODEL", "HeadOutputs", "deploy_config", "export_deploy", "calibration_files", "export_int8",
]

DEPLOY_MODEL = "face_detector.onnx"

logger = logging.getLogger(__name__)


class HeadOutputs(nn.Module):
    """Backbone and head of a RetinaNet-style model: (N, 3, H, W) normalised, padded images
    -> per-level cls logits (N, A*K, H_l, W_l), then per-level box deltas (N, A*4, H_l, W_l),
    then, for a DF2S2 with landmarks, per-level landmark offsets (N, A*10, H_l, W_l)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.backbone = model.backbone
        self.head = model.head
        self.in_features = list(model.head_in_features)
        self.with_landmarks = _has_landmarks(model)

    def forward(self, images: Tensor) -> Tuple[Tensor, ...]:
        features = self.backbone(images)
        features = [features[f] for f in self.in_features]
        if not self.with_landmarks:
            logits, deltas = self.head(features)[:2]
            return (*logits, *deltas)
        # head(features) runs the landmark predictor on every level but returns RetinaNet's
        # pair; a hook collects the landmark outputs. Calling the head (not head.predict)
        # keeps the traced node names /head/... that the int8 node groups select.
        landmarks: List[Tensor] = []
        hook = self.head.landmark_pred.register_forward_hook(lambda _, __, out: landmarks.append(out))
        try:
            logits, deltas = self.head(features)[:2]
        finally:
            hook.remove()
        if len(landmarks) != len(logits):
            raise RuntimeError(f"the head ran its landmark predictor {len(landmarks)} times "
                               f"for {len(logits)} levels")
        return (*logits, *deltas, *landmarks)


def _has_landmarks(model: nn.Module) -> bool:
    """A DF2S2 with the landmark predictor (any other RetinaNet has none)."""
    return bool(getattr(model, "has_landmarks", False))


def _per_level(params: Sequence, num_levels: int) -> List[List[float]]:
    """ANCHOR_GENERATOR.SIZES / ASPECT_RATIOS as one list per level (Detectron2's broadcast)."""
    if not isinstance(params[0], (list, tuple)):
        return [list(params)] * num_levels
    if len(params) == 1:
        return [list(params[0])] * num_levels
    return [list(p) for p in params]


def _size_divisibility(backbone: nn.Module) -> int:
    constraints = getattr(backbone, "padding_constraints", None) or {}
    if constraints.get("square_size", 0):
        raise ValueError("the deploy runtime does not pad to squares (padding_constraints)")
    return int(constraints.get("size_divisibility", backbone.size_divisibility))


def deploy_config(cfg, model: nn.Module) -> DeployConfig:
    """The pre- and post-processing of an eval-mode RetinaNet-style ``model`` built from ``cfg``."""
    generator = model.anchor_generator
    num_levels = len(model.head_in_features)
    sizes = _per_level(cfg.MODEL.ANCHOR_GENERATOR.SIZES, num_levels)
    ratios = _per_level(cfg.MODEL.ANCHOR_GENERATOR.ASPECT_RATIOS, num_levels)
    for level, (s, r, expected) in enumerate(zip(sizes, ratios, generator.cell_anchors)):
        if not np.array_equal(cell_anchors(s, r), expected.cpu().numpy()):
            raise ValueError(f"level {level}: the model's anchors are not DefaultAnchorGenerator's")
    names = [f"p{level}" for level in range(num_levels)]
    return DeployConfig(
        input=InputConfig(
            format=model.input_format,
            pixel_mean=model.pixel_mean.flatten().tolist(),
            pixel_std=model.pixel_std.flatten().tolist(),
            size_divisibility=_size_divisibility(model.backbone),
            min_size_test=cfg.INPUT.MIN_SIZE_TEST,
            max_size_test=cfg.INPUT.MAX_SIZE_TEST,
        ),
        anchors=AnchorConfig(
            strides=[int(s) for s in generator.strides],
            sizes=sizes,
            aspect_ratios=ratios,
            offset=float(generator.offset),
        ),
        box_transform=BoxTransformConfig(
            weights=[float(w) for w in model.box2box_transform.weights],
            scale_clamp=float(model.box2box_transform.scale_clamp),
        ),
        inference=InferenceConfig(
            num_classes=model.num_classes,
            score_threshold=float(model.test_score_thresh),
            topk_candidates=int(model.test_topk_candidates),
            nms_threshold=float(model.test_nms_thresh),
            max_detections=int(model.max_detections_per_image),
        ),
        outputs=OutputConfig(
            cls_logits=[f"cls_logits_{name}" for name in names],
            box_deltas=[f"box_deltas_{name}" for name in names],
            landmarks=[f"landmarks_{name}" for name in names] if _has_landmarks(model) else [],
        ),
    )


def export_deploy(
    cfg, model: nn.Module, inputs: List[Dict[str, Tensor]], output_dir: str, opset: int = 17
) -> str:
    """Write ``face_detector.onnx`` (raw head outputs, dynamic N / H / W; the landmark
    outputs last, for a model with them) and its JSON, tracing the eval-mode ``model`` on
    ``inputs`` (one model input dict); returns the path."""
    path = os.path.join(output_dir, DEPLOY_MODEL)
    config = deploy_config(cfg, model)
    outputs = config.outputs.cls_logits + config.outputs.box_deltas + config.outputs.landmarks
    with torch.no_grad():
        images = model.preprocess_image(inputs).tensor
        replace_file(path, lambda tmp: torch.onnx.export(
            HeadOutputs(model).eval(), (images,), tmp, dynamo=False, opset_version=opset,
            input_names=["image"], output_names=outputs,
            dynamic_axes={
                "image": {0: "batch", 2: "height", 3: "width"},
                **{name: {0: "batch", 2: f"{name}_height", 3: f"{name}_width"} for name in outputs},
            },
        ))
    replace_file(os.path.splitext(path)[0] + ".json", config.save)
    logger.info(f"Exported the deploy model to {path} and its settings beside it")
    return path


def calibration_files(dataset: str, count: int) -> List[str]:
    """`count` image files of the registered Detectron2 `dataset`, evenly spread over it
    (every len/count-th in its order). Refused before any work, naming the dataset: one
    that is not registered or has no images, and files that cannot be read as images."""
    from detectron2.data import DatasetCatalog

    from df2s2_deploy.preprocessing import DECODE_ERRORS

    if count < 1:
        raise ValueError(f"the number of calibration images must be at least 1, got {count}")
    if dataset not in DatasetCatalog.list():
        raise ValueError(f"calibration dataset {dataset!r} is not registered (known: "
                         f"{', '.join(sorted(DatasetCatalog.list()))})")
    try:
        dicts = DatasetCatalog.get(dataset)
    except Exception as e:  # a registered loader whose files are missing, ...
        raise ValueError(f"calibration dataset {dataset!r} cannot be loaded: {e}") from None
    if not dicts:
        raise ValueError(f"calibration dataset {dataset!r} has no images")
    step = len(dicts) / min(count, len(dicts))
    files = [dicts[int(i * step)]["file_name"] for i in range(min(count, len(dicts)))]
    from PIL import Image

    for path in files:
        try:
            with Image.open(path) as image:
                image.verify()
        except DECODE_ERRORS as e:
            raise ValueError(
                f"calibration dataset {dataset!r}: {path} cannot be read as an image ({e})"
            ) from None
    return files


def export_int8(
    path: str, dataset: str, files: Sequence[str], method: str, exclude: Sequence[str],
    per_channel: bool = True, reduce_range: bool = True,
) -> str:
    """The int8 model and its JSON beside the float32 deploy model at `path`, calibrated on
    `files` of `dataset` read and resized as the runtime does; returns its path.
    reduce_range: 7-bit weights (`quantize_deploy_model`)."""
    from df2s2_deploy.deploy_config import DeployConfig
    from df2s2_deploy.preprocessing import read_image
    from df2s2_deploy.quantization import quantize_deploy_model

    config = DeployConfig.load(os.path.splitext(path)[0] + ".json")
    images = [read_image(f, config.input.format) for f in files]
    excluded = f", {'/'.join(exclude)} in float32" if exclude else ""
    out = quantize_deploy_model(
        path, config, images, method=method, per_channel=per_channel, reduce_range=reduce_range,
        exclude=exclude,
        calibration=f"{method} on {len(files)} images of {dataset}{excluded}",
    )
    logger.info(f"Wrote the int8 model {out} ({method} on {len(files)} images of {dataset})")
    return out
