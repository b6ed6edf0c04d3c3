"""Config values checked when a config is loaded, so that a bad value fails at once with
its key and the allowed range, not later in training (a NaN, a ZeroDivisionError) or
not at all (a negative loss weight trains)."""
import math
from numbers import Real

__all__ = ["ConfigValueError", "check_config_values"]


class ConfigValueError(ValueError):
    """A config value out of its range; the message starts with the key."""

    def __init__(self, key: str, expected: str, value):
        super().__init__(f"{key}: expected {expected}, found {value!r}")
        self.key = key


def _number(v) -> bool:
    return isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(v)


def _at_least(low, integer=False):
    def test(v):
        return _number(v) and v >= low and (not integer or float(v).is_integer())
    return test


def _above(low, integer=False):
    def test(v):
        return _number(v) and v > low and (not integer or float(v).is_integer())
    return test


def _between(low, high, low_open=False, high_open=False):
    def test(v):
        return (_number(v) and (v > low if low_open else v >= low)
                and (v < high if high_open else v <= high))
    return test


def _each(test):
    return lambda v: len(v) > 0 and all(test(x) for x in v)


# key -> (test, allowed range)
RULES = {
    "MODEL.DF2S2.SEG_LOSS_WEIGHT": (_at_least(0), "a number >= 0"),
    "MODEL.DF2S2.BOX_LOSS_WEIGHT": (_at_least(0), "a number >= 0"),
    "MODEL.DF2S2.LANDMARK_LOSS_WEIGHT": (_at_least(0), "a number >= 0"),
    "MODEL.RETINANET.FOCAL_LOSS_ALPHA": (
        lambda v: _number(v) and v <= 1, "a number in [0, 1], or < 0 for no alpha weighting"
    ),
    "MODEL.RETINANET.FOCAL_LOSS_GAMMA": (_at_least(0), "a number >= 0"),
    "MODEL.RETINANET.SMOOTH_L1_LOSS_BETA": (_at_least(0), "a number >= 0"),
    "MODEL.RETINANET.PRIOR_PROB": (_between(0, 1, True, True), "a number in (0, 1)"),
    "MODEL.RETINANET.NUM_CLASSES": (_at_least(1, True), "an integer >= 1"),
    "MODEL.RETINANET.SCORE_THRESH_TEST": (
        lambda v: _number(v) and v <= 1, "a number <= 1 (< 0: every anchor a candidate)"
    ),
    "MODEL.RETINANET.NMS_THRESH_TEST": (_between(0, 1), "a number in [0, 1]"),
    "MODEL.RETINANET.TOPK_CANDIDATES_TEST": (_at_least(1, True), "an integer >= 1"),
    "MODEL.FFP.OUT_CHANNELS": (_at_least(1, True), "an integer >= 1"),
    "MODEL.PIXEL_STD": (_each(lambda x: _number(x) and x != 0), "non-zero numbers"),
    "INPUT.FACE_AUG.TRAIN_SIZE": (_at_least(1, True), "an integer >= 1"),
    "INPUT.FACE_AUG.CROP_SCALES": (_each(_between(0, 1, low_open=True)), "numbers in (0, 1]"),
    "INPUT.FACE_AUG.CROP_TRIES": (_at_least(0, True), "an integer >= 0"),
    "INPUT.FACE_AUG.MIN_FACE_SIZE": (_at_least(0), "a number >= 0"),
    "INPUT.MIN_SIZE_TRAIN": (_each(_at_least(1, True)), "integers >= 1"),
    "INPUT.MAX_SIZE_TRAIN": (_at_least(1, True), "an integer >= 1"),
    "INPUT.MIN_SIZE_TEST": (_at_least(0, True), "an integer >= 0 (0: no resize)"),
    "INPUT.MAX_SIZE_TEST": (_at_least(1, True), "an integer >= 1"),
    "INPUT.BAD_INPUT.MAX_CONSECUTIVE_SKIPS": (_at_least(1, True), "an integer >= 1"),
    "SOLVER.IMS_PER_BATCH": (_at_least(1, True), "an integer >= 1"),
    "SOLVER.MAX_ITER": (_at_least(1, True), "an integer >= 1"),
    "SOLVER.CHECKPOINT_PERIOD": (_at_least(1, True), "an integer >= 1"),
    "SOLVER.BASE_LR": (_at_least(0), "a number >= 0"),
    "TEST.EVAL_PERIOD": (_at_least(0, True), "an integer >= 0 (0: only at the end)"),
    "TEST.DETECTIONS_PER_IMAGE": (_at_least(1, True), "an integer >= 1"),
    "TEST.AUG.MIN_SIZES": (_each(_at_least(1, True)), "integers >= 1"),
    "TEST.AUG.MAX_SIZE": (_at_least(1, True), "an integer >= 1"),
    "TEST.AUG.MERGE_IOU": (_between(0, 1), "a number in [0, 1]"),
    "DATALOADER.NUM_WORKERS": (_at_least(0, True), "an integer >= 0"),
}


# key -> the names it may take
CHOICES = {
    "MODEL.FFP.PSI_INIT": ("zero", "xavier"),
    "MODEL.DF2S2.TOWER_INIT": ("xavier", "normal"),
    "MODEL.DF2S2.SEG_LOSS_NORM": ("level_mean", "cell_mean", "foreground"),
}


def _get(cfg, key):
    for name in key.split("."):
        cfg = cfg[name]
    return cfg


def check_config_values(cfg) -> None:
    """Raise :class:`ConfigValueError` (key, allowed range, value) for the first value out
    of range: loss weights, sizes, periods, PIXEL_STD, IoU thresholds, anchors per level."""
    for key, allowed in CHOICES.items():
        if _get(cfg, key) not in allowed:
            raise ConfigValueError(key, "one of " + ", ".join(map(repr, allowed)), _get(cfg, key))
    for key, (test, expected) in RULES.items():
        value = _get(cfg, key)
        if not (isinstance(value, (list, tuple)) or _number(value)) or not test(value):
            raise ConfigValueError(key, expected, value)
    if len(cfg.MODEL.PIXEL_STD) != len(cfg.MODEL.PIXEL_MEAN):
        raise ConfigValueError(
            "MODEL.PIXEL_STD", f"one value per MODEL.PIXEL_MEAN value ({len(cfg.MODEL.PIXEL_MEAN)})",
            cfg.MODEL.PIXEL_STD,
        )
    for head in ("MODEL.RETINANET", "MODEL.RPN", "MODEL.ROI_HEADS"):
        _check_iou_thresholds(head, _get(cfg, head))
    _check_anchor_levels(cfg)


def _check_iou_thresholds(head: str, node) -> None:
    thresholds, labels = list(node.IOU_THRESHOLDS), list(node.IOU_LABELS)
    if not all(_between(0, 1)(t) for t in thresholds) or thresholds != sorted(thresholds):
        raise ConfigValueError(f"{head}.IOU_THRESHOLDS", "increasing numbers in [0, 1]", thresholds)
    if len(labels) != len(thresholds) + 1 or not set(labels) <= {-1, 0, 1}:
        raise ConfigValueError(
            f"{head}.IOU_LABELS",
            f"{len(thresholds) + 1} labels (one more than {head}.IOU_THRESHOLDS), each -1, 0 or 1",
            labels,
        )


def _anchor_head(meta_architecture: str):
    """"RETINANET" or "RPN": the node whose IN_FEATURES are the anchor levels of the
    meta-architecture (RetinaNet and its subclasses such as DF2S2, or the R-CNNs); None
    for one that is not registered (yet) or is neither."""
    from detectron2.modeling import META_ARCH_REGISTRY, GeneralizedRCNN, ProposalNetwork, RetinaNet

    try:
        arch = META_ARCH_REGISTRY.get(meta_architecture)
    except KeyError:
        return None
    if isinstance(arch, type) and issubclass(arch, RetinaNet):
        return "RETINANET"
    if isinstance(arch, type) and issubclass(arch, (GeneralizedRCNN, ProposalNetwork)):
        return "RPN"
    return None


def _check_anchor_levels(cfg) -> None:
    """MODEL.ANCHOR_GENERATOR.SIZES / ASPECT_RATIOS: one entry, or one per level."""
    head = _anchor_head(cfg.MODEL.META_ARCHITECTURE)
    if head is None:
        return
    levels = len(cfg.MODEL[head].IN_FEATURES)
    for name in ("SIZES", "ASPECT_RATIOS"):
        key = f"MODEL.ANCHOR_GENERATOR.{name}"
        value = _get(cfg, key)
        if len(value) not in (1, levels):
            raise ConfigValueError(
                key, f"1 list, or one per level of MODEL.{head}.IN_FEATURES ({levels})", value
            )
        if not all(isinstance(v, (list, tuple)) and _each(_above(0))(v) for v in value):
            raise ConfigValueError(key, "lists of numbers > 0", value)
