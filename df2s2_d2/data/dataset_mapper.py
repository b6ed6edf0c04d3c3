"""Dataset mapper for face detection: read, augment, build ``Instances`` and the
per-level box-mask targets of the segmentation branch.

Training: random square face crop (``INPUT.FACE_AUG.RANDOM_CROP``, the paper's "Aug.";
without it, pad to a square) -> resize to TRAIN_SIZE x TRAIN_SIZE -> flip
(``INPUT.RANDOM_FLIP``) -> photometric distortion (``FACE_AUG.PHOTOMETRIC``: not in the
paper, this project's addition, off by default). Padding (to square, never a stretch)
uses the mean of ``MODEL.PIXEL_MEAN``.

After augmentation a face is kept when its box centre lies inside the image, and its
box is clipped to the image; ignored faces (``iscrowd``: WIDER FACE's invalid faces)
and faces smaller than ``FACE_AUG.MIN_FACE_SIZE`` are left out of ``instances`` and go
to the segmentation targets only, as ignore regions. Every dropped or ignored face is
counted in ``counts`` and the totals are logged every ``log_period`` images.

Landmarks: faces whose annotations carry ``keypoints`` (five ``x, y, v`` points, see
:mod:`df2s2_deploy.face_landmarks`) keep them through crop, resize and flip (a flip swaps
the two eyes and the two mouth corners); a point that leaves the image becomes not
labelled (0, 0, 0) and is counted. ``instances.gt_keypoints`` is then (N, 5, 3), zeros
for a face without landmarks; a data set without any keypoints gets none.

Testing: ``ResizeShortestEdge(MIN_SIZE_TEST, MAX_SIZE_TEST)``; annotations are dropped.

Bad input: every box goes through :func:`validate_annotations` first (degenerate,
non-finite and outside boxes are dropped and counted), and a face whose box has no area
after augmentation never reaches ``gt_boxes``. An image that cannot be used (unreadable,
truncated, empty, size different from the dict's, too thin to resize) is named in a
warning, counted, and skipped: training gets ``None`` (Detectron2's ``MapDataset`` then
maps another image), testing a dict with ``skipped`` (the reason) and no ``image``, which
:class:`~df2s2_d2.data.test_loader.SkipBadImages` keeps away from the model. With ``fail_fast``
(``INPUT.BAD_INPUT.FAIL_FAST``) the first such image raises :class:`BadImageError`.
"""

import collections
import copy
import logging
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from detectron2.config import configurable
from detectron2.data import transforms as T
from detectron2.modeling import META_ARCH_REGISTRY
from detectron2.structures import Boxes, BoxMode, Instances, Keypoints

from df2s2_deploy.face_landmarks import LANDMARK_FLIP_INDICES, NUM_LANDMARKS

from ..modeling.meta_arch import DF2S2
from ..modeling.seg_targets import BoxMaskTargets, build_box_mask_targets
from .box_validation import DROP_REASONS, positive_size, validate_annotations
from .image_reading import BadImageError, check_image_size, read_image
from .transforms import (
    CheckedResizeShortestEdge,
    DegenerateImageError,
    FitToSquare,
    RandomPhotometricDistortion,
    RandomSquareFaceCrop,
    centres_inside,
)

logger = logging.getLogger(__name__)

__all__ = ["WiderFaceDatasetMapper", "build_face_augmentation"]


def _flip(cfg) -> List[T.Augmentation]:
    if cfg.INPUT.RANDOM_FLIP == "none":
        return []
    return [
        T.RandomFlip(
            horizontal=cfg.INPUT.RANDOM_FLIP == "horizontal",
            vertical=cfg.INPUT.RANDOM_FLIP == "vertical",
        )
    ]


def build_face_augmentation(cfg, is_train: bool) -> List[T.Augmentation]:
    """The augmentations of :class:`WiderFaceDatasetMapper` for ``cfg``."""
    if not is_train:
        return [
            CheckedResizeShortestEdge(cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TEST, "choice")
        ]
    aug = cfg.INPUT.FACE_AUG
    pad_value = float(np.mean(cfg.MODEL.PIXEL_MEAN))
    size = aug.TRAIN_SIZE
    if aug.RANDOM_CROP:
        augs = [
            RandomSquareFaceCrop(aug.CROP_SCALES, aug.CROP_TRIES, pad_value, out_size=size),
            T.Resize((size, size)),
        ]
    else:
        augs = [FitToSquare(size, pad_value)]
    augs += _flip(cfg)
    if aug.PHOTOMETRIC:
        augs.append(RandomPhotometricDistortion(image_format=cfg.INPUT.FORMAT))
    return augs


def _boxes_xyxy(annotations: Sequence[Dict]) -> np.ndarray:
    """(N, 4) float64 XYXY boxes of Detectron2 annotation dicts."""
    boxes = [BoxMode.convert(a["bbox"], a["bbox_mode"], BoxMode.XYXY_ABS) for a in annotations]
    return np.asarray(boxes, dtype=np.float64).reshape(-1, 4)


def _keypoints(annotations: Sequence[Dict]) -> np.ndarray:
    """(N, 5, 3) float64 x, y, v of annotation dicts; zeros where a face has none."""
    points = np.zeros((len(annotations), NUM_LANDMARKS, 3))
    for i, a in enumerate(annotations):
        if a.get("keypoints") is not None:
            points[i] = np.asarray(a["keypoints"], dtype=np.float64).reshape(NUM_LANDMARKS, 3)
    return points


def _transform_keypoints(points: np.ndarray, transforms, height: int, width: int):
    """Points (N, 5, 3) through ``transforms``; returns them and how many labelled points
    left the (height, width) image and became not labelled."""
    points = points.copy()
    if not len(points):
        return points, 0
    points[..., :2] = transforms.apply_coords(points[..., :2].reshape(-1, 2)).reshape(-1, NUM_LANDMARKS, 2)
    flips = sum(isinstance(t, T.HFlipTransform) for t in transforms.transforms)
    if flips % 2:
        points = points[:, LANDMARK_FLIP_INDICES]
    x, y = points[..., 0], points[..., 1]
    labelled = points[..., 2] > 0
    outside = labelled & ((x < 0) | (x > width) | (y < 0) | (y > height))
    points[outside | ~labelled] = 0
    return points, int(outside.sum())


def _clip(boxes: np.ndarray, height: int, width: int) -> np.ndarray:
    boxes = boxes.copy()
    boxes[:, 0::2] = boxes[:, 0::2].clip(0, width)
    boxes[:, 1::2] = boxes[:, 1::2].clip(0, height)
    return boxes


class WiderFaceDatasetMapper:
    """Map a face dataset dict to the model's input.

    Output (training): ``image`` (C, H, W) uint8 tensor, ``instances`` with ``gt_boxes``
    (XYXY, clipped) and ``gt_classes`` (all 0), and, with ``box_mask_targets``,
    ``seg_targets``: one int8 (H_l, W_l) map per level (1 face, 0 background,
    -1 ignored) on the model's anchor grid of the (padded) image.
    """

    @configurable
    def __init__(
        self,
        is_train: bool,
        *,
        augmentations: List[T.Augmentation],
        image_format: str,
        box_mask_targets: Optional[BoxMaskTargets] = None,
        min_face_size: float = 0.0,
        log_period: int = 1000,
        fail_fast: bool = False,
        max_consecutive_skips: int = 50,
    ):
        """
        Args:
            is_train: keep annotations and build instances / targets.
            augmentations: applied in order to the image and the face boxes.
            image_format: for ``read_image`` ("BGR", "RGB", ...).
            box_mask_targets: the seg targets of the model (``build_box_mask_targets``,
                or ``BoxMaskTargets`` of its anchor generator); None: no ``seg_targets``.
            min_face_size: faces with sqrt(w * h) below it, after augmentation, are
                ignored regions instead of faces.
            log_period: log the face counts every this many images.
            fail_fast: raise :class:`BadImageError` for an unusable image instead of
                skipping it.
            max_consecutive_skips: raise anyway after this many unusable images in a
                row (a wrong image folder, not a few bad files).
        """
        self.is_train = is_train
        self.augmentations = T.AugmentationList(augmentations)
        self.image_format = image_format
        self.box_mask_targets = box_mask_targets
        self.min_face_size = min_face_size
        self.log_period = log_period
        self.counts = collections.Counter()
        self._crop = next((a for a in augmentations if isinstance(a, RandomSquareFaceCrop)), None)
        self.fail_fast = fail_fast
        self.max_consecutive_skips = max_consecutive_skips
        self._consecutive_skips = 0

    @classmethod
    def from_config(cls, cfg, is_train: bool = True):
        meta_arch = META_ARCH_REGISTRY.get(cfg.MODEL.META_ARCHITECTURE)
        with_seg = is_train and issubclass(meta_arch, DF2S2) and cfg.MODEL.DF2S2.SEG_HEAD
        return {
            "is_train": is_train,
            "augmentations": build_face_augmentation(cfg, is_train),
            "image_format": cfg.INPUT.FORMAT,
            "box_mask_targets": build_box_mask_targets(cfg) if with_seg else None,
            "min_face_size": cfg.INPUT.FACE_AUG.MIN_FACE_SIZE,
            "fail_fast": cfg.INPUT.BAD_INPUT.FAIL_FAST,
            "max_consecutive_skips": cfg.INPUT.BAD_INPUT.MAX_CONSECUTIVE_SKIPS,
        }

    def __call__(self, dataset_dict: Dict) -> Optional[Dict]:
        """The mapped dict; for an unusable image None (training) or a ``skipped`` dict
        (testing), or :class:`BadImageError` with ``fail_fast``."""
        try:
            mapped = self._map(dataset_dict)
        except BadImageError as e:
            return self._skip(dataset_dict, e)
        self._consecutive_skips = 0
        return mapped

    def _map(self, dataset_dict: Dict) -> Dict:
        dataset_dict = copy.deepcopy(dataset_dict)
        file_name = dataset_dict["file_name"]
        image = read_image(file_name, format=self.image_format)
        check_image_size(dataset_dict, image)
        annotations = self._valid_annotations(dataset_dict.pop("annotations", []), image.shape)
        if not self.is_train:
            annotations = []
        face_annotations = [a for a in annotations if not a.get("iscrowd", 0)]
        faces = _boxes_xyxy(face_annotations)
        with_keypoints = any("keypoints" in a for a in face_annotations)
        keypoints = _keypoints(face_annotations)
        ignored = _boxes_xyxy([a for a in annotations if a.get("iscrowd", 0)])
        num_crowd = len(ignored)

        aug_input = T.AugInput(image, boxes=faces)
        try:
            transforms = self.augmentations(aug_input)
        except DegenerateImageError as e:
            raise BadImageError(file_name, str(e)) from e
        image = aug_input.image
        h, w = image.shape[:2]
        dataset_dict["image"] = torch.as_tensor(np.ascontiguousarray(image.transpose(2, 0, 1)))
        if not self.is_train:
            return dataset_dict

        inside = centres_inside(aug_input.boxes, w, h)
        faces = _clip(aug_input.boxes[inside], h, w)
        keypoints = keypoints[inside]
        with_area = self._with_area(faces)
        faces, keypoints = faces[with_area], keypoints[with_area]
        ignored = _clip(transforms.apply_box(ignored), h, w) if len(ignored) else ignored
        ignored = ignored[(ignored[:, 2] > ignored[:, 0]) & (ignored[:, 3] > ignored[:, 1])]
        small = (
            np.sqrt((faces[:, 2] - faces[:, 0]) * (faces[:, 3] - faces[:, 1])) < self.min_face_size
        )
        ignored = np.concatenate([ignored, faces[small]])
        faces, keypoints = faces[~small], keypoints[~small]
        self._count(
            outside=int((~inside).sum()), small=int(small.sum()), kept=len(faces), crowd=num_crowd
        )

        instances = Instances((h, w))
        instances.gt_boxes = Boxes(torch.as_tensor(faces, dtype=torch.float32))
        instances.gt_classes = torch.zeros(len(faces), dtype=torch.int64)
        if with_keypoints:
            keypoints, outside = _transform_keypoints(keypoints, transforms, h, w)
            self.counts["landmarks_outside_crop"] += outside
            instances.gt_keypoints = Keypoints(torch.as_tensor(keypoints, dtype=torch.float32))
        dataset_dict["instances"] = instances
        if self.box_mask_targets is not None:
            boxes = torch.as_tensor(np.concatenate([faces, ignored]), dtype=torch.float32)
            is_ignored = torch.arange(len(boxes)) >= len(faces)
            grid_sizes = self.box_mask_targets.grid_sizes((h, w))
            dataset_dict["seg_targets"] = self.box_mask_targets(boxes, is_ignored, grid_sizes)
        return dataset_dict

    def _valid_annotations(self, annotations: List[Dict], shape) -> List[Dict]:
        """The annotations whose box is usable; the others counted by reason."""
        kept, dropped = validate_annotations(annotations, shape[0], shape[1])
        for reason, n in dropped.items():
            self.counts[f"boxes_dropped_{reason}"] += n
        return kept

    def _with_area(self, faces: np.ndarray) -> np.ndarray:
        """(N,) bool: faces (N, 4) XYXY with width and height > 0 in float32; the others counted."""
        keep = positive_size(faces)
        self.counts["boxes_dropped_no_area_after_augmentation"] += int((~keep).sum())
        return keep

    def _skip(self, dataset_dict: Dict, error: BadImageError) -> Optional[Dict]:
        self.counts["images_skipped"] += 1
        self._consecutive_skips += 1
        if self.fail_fast:
            raise error
        if self._consecutive_skips >= self.max_consecutive_skips:
            raise BadImageError(
                error.file_name,
                f"{error.reason}; the last {self._consecutive_skips} images in a row could "
                "not be used either: check the image folder "
                "(INPUT.BAD_INPUT.MAX_CONSECUTIVE_SKIPS)",
            ) from error
        logger.warning(
            f"Skipped {error} ({self.counts['images_skipped']} images skipped so far; "
            "INPUT.BAD_INPUT.FAIL_FAST True stops at the first one)"
        )
        if self.is_train:
            return None
        marker = {k: dataset_dict[k] for k in ("file_name", "image_id") if k in dataset_dict}
        marker["skipped"] = str(error)
        return marker

    def _count(self, *, outside: int, small: int, kept: int, crowd: int) -> None:
        c = self.counts
        c["images"] += 1
        c["faces_kept"] += kept
        c["faces_outside_crop"] += outside
        c["small_faces_ignored"] += small
        c["crowd_faces_ignored"] += crowd
        if c["images"] % self.log_period == 0:
            fallbacks = (
                ""
                if self._crop is None
                else (
                    f", {self._crop.num_fallbacks} of {self._crop.num_images} images uncropped "
                    f"(no crop kept a face)"
                )
            )
            logger.info(
                f"{c['images']} images mapped: {c['faces_kept']} faces kept, "
                f"{c['faces_outside_crop']} dropped (centre outside the crop), "
                f"{c['small_faces_ignored']} ignored (smaller than {self.min_face_size} px), "
                f"{c['crowd_faces_ignored']} ignored (iscrowd){fallbacks}; "
                f"{c['images_skipped']} images skipped (unusable); boxes dropped: "
                + ", ".join(f"{c[f'boxes_dropped_{r}']} {DROP_REASONS[r]}" for r in DROP_REASONS)
                + f", {c['boxes_dropped_no_area_after_augmentation']} without area after "
                f"augmentation; {c['landmarks_outside_crop']} landmarks left the crop"
            )
