"""The JSON beside an exported model: its pre-processing and RetinaNet post-processing.

Written by ``tools/export.py --format deploy`` from the Detectron2 config and model;
read by `OnnxFaceDetector`. Keys:

    input:   format ("BGR" / "RGB"), pixel_mean, pixel_std (3 each, in that channel
             order), size_divisibility, min_size_test, max_size_test
    anchors: strides, sizes and aspect_ratios (one list per level), offset
             (Detectron2's DefaultAnchorGenerator)
    box_transform: weights (wx, wy, ww, wh), scale_clamp (Box2BoxTransform)
    inference: num_classes, score_threshold, topk_candidates, nms_threshold,
             max_detections (RetinaNet's test settings)
    outputs: cls_logits and box_deltas, the model's output names per level
"""
import json
from dataclasses import asdict, dataclass, fields
from typing import List

__all__ = ["DeployConfig", "FORMAT_VERSION"]

FORMAT_VERSION = 1


@dataclass(frozen=True)
class InputConfig:
    format: str
    pixel_mean: List[float]
    pixel_std: List[float]
    size_divisibility: int
    min_size_test: int
    max_size_test: int


@dataclass(frozen=True)
class AnchorConfig:
    strides: List[int]
    sizes: List[List[float]]
    aspect_ratios: List[List[float]]
    offset: float


@dataclass(frozen=True)
class BoxTransformConfig:
    weights: List[float]
    scale_clamp: float


@dataclass(frozen=True)
class InferenceConfig:
    num_classes: int
    score_threshold: float
    topk_candidates: int
    nms_threshold: float
    max_detections: int


@dataclass(frozen=True)
class OutputConfig:
    cls_logits: List[str]
    box_deltas: List[str]


_SECTIONS = {
    "input": InputConfig,
    "anchors": AnchorConfig,
    "box_transform": BoxTransformConfig,
    "inference": InferenceConfig,
    "outputs": OutputConfig,
}


@dataclass(frozen=True)
class DeployConfig:
    input: InputConfig
    anchors: AnchorConfig
    box_transform: BoxTransformConfig
    inference: InferenceConfig
    outputs: OutputConfig

    def save(self, path: str) -> None:
        with open(path, "w") as f:
            json.dump({"format_version": FORMAT_VERSION, **asdict(self)}, f, indent=2)
            f.write("\n")

    @classmethod
    def load(cls, path: str) -> "DeployConfig":
        """Read and check a deploy JSON; errors name the file and the missing key."""
        try:
            with open(path) as f:
                data = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None
        if data.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"{path}: expected format_version {FORMAT_VERSION}, "
                f"found {data.get('format_version')!r}"
            )
        sections = {}
        for name, section in _SECTIONS.items():
            values = data.get(name)
            if not isinstance(values, dict):
                raise ValueError(f"{path}: expected a '{name}' object")
            missing = [f.name for f in fields(section) if f.name not in values]
            if missing:
                raise ValueError(f"{path}: '{name}' lacks {', '.join(missing)}")
            sections[name] = section(**{f.name: values[f.name] for f in fields(section)})
        config = cls(**sections)
        config.check(path)
        return config

    def check(self, where: str = "deploy config") -> None:
        levels = len(self.anchors.strides)
        for name in ("sizes", "aspect_ratios"):
            if len(getattr(self.anchors, name)) != levels:
                raise ValueError(f"{where}: anchors.{name} needs one list per level ({levels})")
        for name in ("cls_logits", "box_deltas"):
            if len(getattr(self.outputs, name)) != levels:
                raise ValueError(f"{where}: outputs.{name} needs one name per level ({levels})")
        if self.input.format not in ("BGR", "RGB"):
            raise ValueError(f"{where}: input.format must be BGR or RGB, got {self.input.format!r}")
