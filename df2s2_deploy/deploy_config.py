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
    outputs: cls_logits and box_deltas, the model's output names per level;
             (optional, default none) landmarks, per level the five-landmark offsets
             (N, A * 10, H, W) of a model trained with MODEL.DF2S2.LANDMARKS, in
             RetinaFace's encoding (df2s2_deploy/face_landmarks.py)
    network: (optional, default float32) precision ("fp32" / "int8"); for int8 also
             calibration (how the activation ranges were found), per_channel and
             excluded_nodes (the nodes kept in float32)
"""
import json
import math
import os
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Dict, List, Sequence

from .face_landmarks import NUM_LANDMARKS

__all__ = ["DeployConfig", "DeployConfigError", "NetworkConfig", "FORMAT_VERSION"]

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
    # empty: a model without landmarks (the JSON then has no "landmarks" key)
    landmarks: List[str] = field(default_factory=list)


@dataclass(frozen=True)
class NetworkConfig:
    precision: str = "fp32"
    calibration: str = ""
    per_channel: bool = False
    excluded_nodes: List[str] = field(default_factory=list)
    # int8 weights in 7 bits (onnxruntime's reduce_range), so that the uint8 x int8
    # products of CPUs without VNNI (AVX2's vpmaddubsw) cannot saturate
    reduce_range: bool = False


_SECTIONS = {
    "input": InputConfig,
    "anchors": AnchorConfig,
    "box_transform": BoxTransformConfig,
    "inference": InferenceConfig,
    "outputs": OutputConfig,
}
# sections that a JSON may leave out (written by later versions of the exporter)
_OPTIONAL = {"network": NetworkConfig}


@dataclass(frozen=True)
class DeployConfig:
    input: InputConfig
    anchors: AnchorConfig
    box_transform: BoxTransformConfig
    inference: InferenceConfig
    outputs: OutputConfig
    network: NetworkConfig = NetworkConfig()

    def save(self, path: str) -> None:
        data = asdict(self)
        if not self.outputs.landmarks:  # no key: runtimes without landmarks read the JSON
            del data["outputs"]["landmarks"]
        with open(path, "w") as f:
            json.dump({"format_version": FORMAT_VERSION, **data}, f, indent=2)
            f.write("\n")

    @classmethod
    def load(cls, path) -> "DeployConfig":
        """Read a deploy JSON and check it against the schema (types, ranges, one entry
        per level); errors name the file and the field."""
        path = os.fspath(path)
        try:
            with open(path) as f:
                data = json.load(f)
        except json.JSONDecodeError as e:
            raise DeployConfigError(path, f"line {e.lineno}: not valid JSON ({e.msg})") from None
        except UnicodeDecodeError as e:
            raise DeployConfigError(path, f"expected UTF-8 JSON text ({e})") from None
        if not isinstance(data, dict):
            raise DeployConfigError(path, f"expected a JSON object, found {type(data).__name__}")
        if data.get("format_version") != FORMAT_VERSION:
            raise DeployConfigError(
                path, f"format_version: expected {FORMAT_VERSION}, found {data.get('format_version')!r}"
            )
        sections = {}
        for name, section in {**_SECTIONS, **_OPTIONAL}.items():
            values = data.get(name)
            if name in _OPTIONAL and values is None:
                continue
            if not isinstance(values, dict):
                raise DeployConfigError(path, f"{name}: expected a '{name}' object")
            missing = [
                f.name for f in fields(section)
                if f.name not in values and name not in _OPTIONAL and _required(f)
            ]
            if missing:
                raise DeployConfigError(path, f"'{name}' lacks {', '.join(missing)}")
            present = [f for f in fields(section) if f.name in values]
            for f in present:
                _check_field(path, f"{name}.{f.name}", values[f.name], f.type)
            sections[name] = section(**{f.name: values[f.name] for f in present})
        config = cls(**sections)
        config.check(path)
        return config

    def check(self, where: str = "deploy config") -> None:
        """Value ranges and one entry per level; errors name `where` and the field."""
        for key, (valid, expected) in _RANGES.items():
            section, name = key.split(".")
            value = getattr(getattr(self, section), name)
            if not valid(value):
                raise DeployConfigError(where, f"{key}: expected {expected}, found {value!r}")
        levels = len(self.anchors.strides)
        keys = ["anchors.sizes", "anchors.aspect_ratios", "outputs.cls_logits", "outputs.box_deltas"]
        if self.outputs.landmarks:
            keys.append("outputs.landmarks")
        for key in keys:
            section, name = key.split(".")
            found = len(getattr(getattr(self, section), name))
            if found != levels:
                raise DeployConfigError(
                    where, f"{key}: expected one entry per level of anchors.strides ({levels}), found {found}"
                )

    def anchors_per_cell(self, level: int) -> int:
        return len(self.anchors.sizes[level]) * len(self.anchors.aspect_ratios[level])

    @property
    def has_landmarks(self) -> bool:
        """Whether the network has landmark outputs (``outputs.landmarks``)."""
        return bool(self.outputs.landmarks)

    def check_network(self, where: str, model: str, outputs: Dict[str, Sequence]) -> None:
        """The network's outputs (name -> shape, as onnxruntime gives them) are the JSON's:
        every output named once, per level A * num_classes, A * 4 and (landmarks, when
        listed) A * 10 channels (A: anchors per cell of that level). Errors name `where`
        (the JSON) and the field."""
        names = self.outputs.cls_logits + self.outputs.box_deltas + self.outputs.landmarks
        for key, listed in (("outputs.cls_logits", self.outputs.cls_logits),
                            ("outputs.box_deltas", self.outputs.box_deltas),
                            ("outputs.landmarks", self.outputs.landmarks)):
            for level, name in enumerate(listed):
                if name not in outputs:
                    raise DeployConfigError(
                        where, f"{key}[{level}]: {name!r} is not an output of {model} "
                        f"(its outputs: {', '.join(outputs)})"
                    )
        unused = [name for name in outputs if name not in names]
        if unused:
            raise DeployConfigError(
                where, f"outputs: {model} has outputs that no level names: {', '.join(unused)} "
                f"(expected one level per cls_logits / box_deltas pair, with its landmarks "
                f"output when outputs.landmarks lists them)"
            )
        num_classes = self.inference.num_classes
        for level in range(len(self.anchors.strides)):
            per_cell = self.anchors_per_cell(level)
            checked = [
                ("outputs.cls_logits", self.outputs.cls_logits[level], num_classes),
                ("outputs.box_deltas", self.outputs.box_deltas[level], 4),
            ]
            if self.outputs.landmarks:
                landmarks = self.outputs.landmarks[level]
                checked.append(("outputs.landmarks", landmarks, 2 * NUM_LANDMARKS))
            for key, name, per_anchor in checked:
                shape = outputs[name]
                channels = shape[1] if len(shape) == 4 else None
                if len(shape) != 4 or (isinstance(channels, int) and channels != per_cell * per_anchor):
                    raise DeployConfigError(
                        where, f"anchors.sizes[{level}] / anchors.aspect_ratios[{level}]"
                        f"{' / inference.num_classes' if key == 'outputs.cls_logits' else ''}: "
                        f"{per_cell} anchors per cell x {per_anchor} give (N, "
                        f"{per_cell * per_anchor}, H, W) for {key}[{level}] {name!r}, but "
                        f"{model} gives {tuple(shape)}"
                    )


class DeployConfigError(ValueError):
    """A deploy JSON that does not fit the schema or the network; names file and field."""

    def __init__(self, path: str, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = path


def _required(f) -> bool:
    """A field without a default: a JSON must give it."""
    return f.default is MISSING and f.default_factory is MISSING


def _check_field(path: str, key: str, value, annotation) -> None:
    if not _has_type(value, annotation):
        expected = str(annotation).replace("typing.", "").replace("List", "list")
        if isinstance(annotation, type):
            expected = annotation.__name__
        raise DeployConfigError(path, f"{key}: expected {expected}, found {value!r:.80}")


def _has_type(value, annotation) -> bool:
    """JSON `value` is of the dataclass field type: str, int, float (or int), List[...]."""
    if getattr(annotation, "__origin__", None) is list:
        (item,) = annotation.__args__
        return isinstance(value, list) and all(_has_type(v, item) for v in value)
    if annotation is bool or isinstance(value, bool):
        return annotation is bool and isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and math.isfinite(value)
    return isinstance(value, annotation)


def _all(values, test) -> bool:
    return len(values) > 0 and all(test(v) for v in values)


# field -> (test, what it expects), checked after the types
_RANGES = {
    "input.format": (lambda v: v in ("BGR", "RGB"), "'BGR' or 'RGB'"),
    "input.pixel_mean": (lambda v: len(v) == 3, "3 values"),
    "input.pixel_std": (lambda v: len(v) == 3 and all(x != 0 for x in v), "3 non-zero values"),
    "input.size_divisibility": (lambda v: v >= 0, "an integer >= 0"),
    "input.min_size_test": (lambda v: v >= 0, "an integer >= 0 (0: no resize)"),
    "input.max_size_test": (lambda v: v > 0, "an integer > 0"),
    "anchors.strides": (lambda v: _all(v, lambda x: x > 0), "a non-empty list of integers > 0"),
    "anchors.sizes": (
        lambda v: _all(v, lambda level: _all(level, lambda x: x > 0)),
        "one non-empty list of sizes > 0 per level",
    ),
    "anchors.aspect_ratios": (
        lambda v: _all(v, lambda level: _all(level, lambda x: x > 0)),
        "one non-empty list of ratios > 0 per level",
    ),
    "anchors.offset": (lambda v: 0 <= v < 1, "a number in [0, 1)"),
    "box_transform.weights": (lambda v: len(v) == 4 and all(x > 0 for x in v), "4 values > 0"),
    "box_transform.scale_clamp": (lambda v: v > 0, "a number > 0"),
    "inference.num_classes": (lambda v: v >= 1, "an integer >= 1"),
    "inference.score_threshold": (lambda v: v <= 1, "a number <= 1 (< 0: every anchor)"),
    "inference.topk_candidates": (lambda v: v >= 1, "an integer >= 1"),
    "inference.nms_threshold": (lambda v: 0 <= v <= 1, "a number in [0, 1]"),
    "inference.max_detections": (lambda v: v >= 1, "an integer >= 1"),
    "outputs.cls_logits": (lambda v: len(v) > 0, "a non-empty list of output names"),
    "outputs.box_deltas": (lambda v: len(v) > 0, "a non-empty list of output names"),
    "network.precision": (lambda v: v in ("fp32", "int8"), "'fp32' or 'int8'"),
}
