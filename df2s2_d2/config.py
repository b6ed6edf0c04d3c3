"""The project's config keys. `add_df2s2_config` is the only place that adds any."""
import io
import os
from typing import Optional, Sequence

import yaml
from detectron2.config import CfgNode as CN
from detectron2.config import get_cfg

from .config_checks import check_config_values

BASE_KEY = "_BASE_"


class ConfigFileError(ValueError):
    """A config file that cannot be used; the message names the file and what was expected."""

    def __init__(self, path: str, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = path


def add_df2s2_config(cfg):
    """Add the keys of the FFP backbone, the DF2S2 model, the face data and TTA to `cfg`."""
    cfg.MODEL.FFP = CN()
    # ResNet outputs fused by the feature fusion pyramid, shallow to deep.
    cfg.MODEL.FFP.IN_FEATURES = ["res2", "res3", "res4", "res5"]
    # Width of every output level (the shared head needs one width; paper: 256).
    cfg.MODEL.FFP.OUT_CHANNELS = 256
    # Normalisation of the per-level projection convs ("" = none, "GN", "BN", ...).
    cfg.MODEL.FFP.NORM = ""
    # Extra levels max-pooled from the top one: 0 = none, 1 = P6 (Faster / Mask R-CNN),
    # 2 = P6 and P7 (RetinaNet, DF2S2).
    cfg.MODEL.FFP.NUM_TOP_LEVELS = 2
    # Kernel of the F-block transposed conv Psi (stride 2): 2 (default, exact 2x, fewest
    # parameters) or 4 (padding 1, overlapping windows).
    cfg.MODEL.FFP.DECONV_KERNEL = 2
    # Init of Psi, the F-blocks' transposed convs: "zero" (every F-block starts as the
    # identity, phi' = phi, and learns its fusion) or "xavier" (the paper, 3.4, as
    # Detectron applies it: each F-block starts as a random gate (1 + Psi) that flips
    # the sign of 14-23 % of the shallow activations). The default is the one the
    # controlled ablation measured better (results/README.md).
    cfg.MODEL.FFP.PSI_INIT = "zero"

    cfg.MODEL.DF2S2 = CN()
    # One conv tower shared by cls, box and seg predictors (paper); False gives
    # RetinaNet's separate cls / box towers (the seg predictor then uses the cls tower).
    cfg.MODEL.DF2S2.SHARED_TOWER = True
    # Train with the segmentation branch (False: "Fus only" ablation).
    cfg.MODEL.DF2S2.SEG_HEAD = True
    # lambda2 of Eq. 2: weight of the summed per-level segmentation BCE.
    cfg.MODEL.DF2S2.SEG_LOSS_WEIGHT = 0.05
    # How Eq. 2's seg term is normalised (the paper gives no normaliser; docs/paper.md):
    # "level_mean": the sum over levels of each level's mean BCE (a P7 cell then weighs
    # as much as ~1000 P2 cells); "cell_mean": the mean over every valid cell of every
    # level; "foreground": the summed BCE over the foreground cell count, as the focal
    # term is divided by the foreground anchors. Measured: not yet.
    cfg.MODEL.DF2S2.SEG_LOSS_NORM = "level_mean"
    # lambda1 of Eq. 2: weight of the smooth L1 box loss.
    cfg.MODEL.DF2S2.BOX_LOSS_WEIGHT = 1.0
    # Init of the head's tower convs, for every variant alike (the RetinaNet baseline
    # too): "xavier" (paper, 3.4: Detectron's XavierFill) or "normal" (RetinaNet's
    # std 0.01). The predictors always start as RetinaNet's. Measured in dev/ablation.py.
    cfg.MODEL.DF2S2.TOWER_INIT = "xavier"
    # Five facial landmarks per face (RetinaFace's points and encoding): a predictor on
    # the box tower, trained on faces whose annotations have "keypoints"; detections
    # then carry pred_keypoints (N, 5, 3). Off: the model is exactly the one without it.
    cfg.MODEL.DF2S2.LANDMARKS = False
    # Weight of the landmark smooth L1. RetinaFace weighs boxes 2 : landmarks 1 with box
    # offsets in units 10x Detectron2's (its variance 0.1), so 1 / (2 * 10) keeps that
    # ratio against this model's box loss.
    cfg.MODEL.DF2S2.LANDMARK_LOSS_WEIGHT = 0.05

    # Face-aware training augmentation (data/dataset_mapper.py).
    cfg.INPUT.FACE_AUG = CN()
    # Random square face crop: the paper's "Aug." (section 3.4). False: pad to a square.
    cfg.INPUT.FACE_AUG.RANDOM_CROP = True
    # Crop side as a fraction of the image's short side, one drawn per image.
    cfg.INPUT.FACE_AUG.CROP_SCALES = [0.3, 0.45, 0.6, 0.8, 1.0]
    # Crops tried before falling back to the uncropped image.
    cfg.INPUT.FACE_AUG.CROP_TRIES = 50
    # Brightness / contrast / saturation / hue jitter. Not in the paper: this
    # project's addition, off by default; measured in dev/ablation.py.
    cfg.INPUT.FACE_AUG.PHOTOMETRIC = False
    # Side of the square training image after the crop.
    cfg.INPUT.FACE_AUG.TRAIN_SIZE = 640
    # Faces smaller than this (sqrt(w*h), pixels, after resize) become ignored regions.
    cfg.INPUT.FACE_AUG.MIN_FACE_SIZE = 0.0

    # Bad input (data/dataset_mapper.py): an image that cannot be used (unreadable,
    # truncated, size unlike its dict's, too thin to resize) is skipped, named in a
    # warning and counted, in training and in evaluation.
    cfg.INPUT.BAD_INPUT = CN()
    # True: stop at the first such image with an error naming it, instead of skipping it.
    cfg.INPUT.BAD_INPUT.FAIL_FAST = False
    # Stop anyway after this many unusable images in a row (a wrong image folder).
    cfg.INPUT.BAD_INPUT.MAX_CONSECUTIVE_SKIPS = 50

    # Evaluators train_net.py builds for a test set: "wider_face" (official protocol,
    # for datasets whose metadata has evaluator_type "wider_face"), "coco" and / or
    # "landmarks" (five-landmark NME, for datasets with keypoint_names, of a model
    # with MODEL.DF2S2.LANDMARKS).
    cfg.TEST.EVALUATORS = ["wider_face"]

    # Test-time augmentation (modeling/test_time_augmentation.py); extends TEST.AUG.
    # Merge of the augmented detections: "voting" (box voting) or "nms".
    cfg.TEST.AUG.MERGE = "voting"
    # IoU at which boxes vote for / are suppressed by a kept box.
    cfg.TEST.AUG.MERGE_IOU = 0.4
    return cfg


def get_df2s2_cfg(config_file: Optional[str] = None, opts: Sequence = ()) -> CN:
    """Detectron2's defaults plus this project's keys, merged with ``config_file``
    and ``KEY VALUE`` overrides (not frozen)."""
    cfg = add_df2s2_config(get_cfg())
    if config_file:
        config_file = os.fspath(config_file)
        _check_config_file(config_file)
        try:
            cfg.merge_from_file(config_file)
        except (KeyError, ValueError, TypeError, AssertionError) as e:
            raise ConfigFileError(config_file, f"{type(e).__name__}: {e}") from e
    cfg.merge_from_list(list(opts))
    check_config_values(cfg)
    return cfg



def _check_config_file(path: str, children: Sequence[str] = ()) -> None:
    """Raise a clear error unless ``path`` (and every ``_BASE_`` it names) is a YAML
    mapping of config keys; Detectron2 would raise a bare TypeError for an empty file.
    ``children``: the files whose ``_BASE_`` chain leads here, nearest last."""
    of = f" (the {BASE_KEY} of {children[-1]})" if children else ""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: config file not found{of}; expected a YAML file")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        stream = io.StringIO(text)
        stream.name = path  # named in YAML's own messages
        try:
            data = yaml.safe_load(stream)
        except yaml.constructor.ConstructorError:  # python tags, as Detectron2 allows
            stream.seek(0)
            data = yaml.unsafe_load(stream)
    except UnicodeDecodeError as e:
        raise ConfigFileError(path, f"expected UTF-8 YAML text{of} ({e})") from e
    except yaml.YAMLError as e:
        raise ConfigFileError(path, f"not valid YAML{of}: {e}") from e
    expected = "a YAML mapping of config keys (e.g. 'MODEL:' followed by indented keys)"
    if data is None:
        raise ConfigFileError(path, f"the config file is empty{of}; expected {expected}")
    if not isinstance(data, dict):
        raise ConfigFileError(path, f"expected {expected}{of}, found {type(data).__name__} {data!r:.60}")
    base = data.get(BASE_KEY)
    if base is None:
        return
    if not isinstance(base, str):
        raise ConfigFileError(path, f"{BASE_KEY} must be a file path, found {base!r}")
    base = os.path.expanduser(base)
    if not (base.startswith("/") or "://" in base):
        base = os.path.join(os.path.dirname(path), base)
    if "://" not in base:
        chain = list(children) + [path]
        if os.path.abspath(base) in map(os.path.abspath, chain):
            raise ConfigFileError(path, f"{BASE_KEY} {base} is already in the chain {chain}")
        _check_config_file(base, chain)
