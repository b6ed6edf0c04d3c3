"""Normalised mean error (NME) of five-landmark predictions, in numpy only.

Per image, predictions are matched to ground-truth faces greedily by descending
score: each prediction takes the unmatched face it overlaps most, if that IoU is
>= 0.5 (one-to-one). Every ground-truth face is a match target; only faces with at
least one visible point (v = 2) are landmark faces and enter the NME. Per matched
landmark face:

    NME_face = mean over its visible points of ||p_pred - p_gt|| / sqrt(w * h)

with (w, h) the ground-truth box's size (the "box size" normalisation, as for
WIDER FACE landmarks); hidden (v = 1) and unlabelled (v = 0) points are left out.
The data set's NME is the mean of NME_face over the matched landmark faces, a
fraction of the face size (0.05: 5 %); landmark faces without a match add nothing
to it and are counted apart.
"""

from dataclasses import dataclass
from typing import Mapping, Tuple

import numpy as np

from ..face_landmarks import NUM_LANDMARKS, VISIBLE

__all__ = ["LandmarkNME", "box_iou", "match_faces", "face_nme", "evaluate_landmark_nme"]

IOU_THRESHOLD = 0.5

# Ground truth of an image: boxes (n, 4) XYXY, points (n, 5, 3) x, y, v.
# Predictions of an image: boxes (m, 4) XYXY, scores (m,), points (m, 5, 2 or 3) x, y[, score].
GroundTruth = Tuple[np.ndarray, np.ndarray]
Predictions = Tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class LandmarkNME:
    """nme: mean NME over the matched landmark faces (NaN when none matched);
    faces_with_landmarks: ground-truth faces with at least one visible point;
    faces_matched: those a prediction matched; points: visible points evaluated."""

    nme: float
    faces_with_landmarks: int
    faces_matched: int
    points: int


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, m) IoU of (n, 4) and (m, 4) XYXY boxes (continuous coordinates: area = w * h)."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def match_faces(
    pred_boxes: np.ndarray,
    scores: np.ndarray,
    gt_boxes: np.ndarray,
    iou_threshold: float = IOU_THRESHOLD,
) -> np.ndarray:
    """(n_gt,) index of the prediction matched to each ground-truth face, -1 for none.

    Predictions in descending score order (stable) each take the unmatched face of
    highest IoU (the first on ties), if it is >= ``iou_threshold``.
    """
    iou = box_iou(pred_boxes, gt_boxes)
    matched = np.full(iou.shape[1], -1, dtype=np.int64)
    for p in np.argsort(-np.asarray(scores, np.float64), kind="stable"):
        candidates = np.where(matched < 0, iou[p], -1.0)
        if len(candidates) and candidates.max() >= iou_threshold:
            matched[int(np.argmax(candidates))] = p
    return matched


def face_nme(pred_points: np.ndarray, gt_points: np.ndarray, gt_box: np.ndarray) -> float:
    """NME of one face: mean over the visible points of ``gt_points`` (5, 3) of the
    distance to ``pred_points`` (5, >= 2), over sqrt(w * h) of ``gt_box`` (XYXY)."""
    visible = gt_points[:, 2] == VISIBLE
    errors = np.linalg.norm(pred_points[visible, :2] - gt_points[visible, :2], axis=1)
    w, h = gt_box[2] - gt_box[0], gt_box[3] - gt_box[1]
    return float(errors.mean() / np.sqrt(w * h))


def evaluate_landmark_nme(
    ground_truth: Mapping[object, GroundTruth],
    predictions: Mapping[object, Predictions],
    iou_threshold: float = IOU_THRESHOLD,
) -> LandmarkNME:
    """NME of ``predictions`` against ``ground_truth``, both keyed by image; an image
    without predictions has none (its landmark faces stay unmatched), predictions of
    images not in ``ground_truth`` are not used."""
    nmes, faces_with_landmarks, points = [], 0, 0
    for key, (gt_boxes, gt_points) in ground_truth.items():
        gt_boxes = np.asarray(gt_boxes, np.float64).reshape(-1, 4)
        gt_points = np.asarray(gt_points, np.float64).reshape(-1, NUM_LANDMARKS, 3)
        visible = gt_points[:, :, 2] == VISIBLE
        landmark_faces = visible.any(axis=1)
        faces_with_landmarks += int(landmark_faces.sum())
        if key not in predictions or not landmark_faces.any():
            continue
        pred_boxes, scores, pred_points = predictions[key]
        pred_points = np.asarray(pred_points, np.float64)
        matched = match_faces(pred_boxes, scores, gt_boxes, iou_threshold)
        for g in np.flatnonzero(landmark_faces & (matched >= 0)):
            nmes.append(face_nme(pred_points[matched[g]], gt_points[g], gt_boxes[g]))
            points += int(visible[g].sum())
    return LandmarkNME(
        nme=float(np.mean(nmes)) if nmes else float("nan"),
        faces_with_landmarks=faces_with_landmarks,
        faces_matched=len(nmes),
        points=points,
    )
