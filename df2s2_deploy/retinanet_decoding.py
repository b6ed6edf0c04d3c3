"""RetinaNet's inference on raw head outputs, in numpy, as Detectron2 does it:
``RetinaNet.forward_inference`` (per level: sigmoid, score threshold, top-k, box
decoding; then class-wise NMS and the detection cap) and ``detector_postprocess``
(scale to the input image, clip, drop empty boxes). For a DF2S2 with landmarks, the
kept anchors' five points are decoded alongside, as its ``inference_with_landmarks``
does, and scaled with the boxes (Detectron2's ``pred_keypoints``)."""
from typing import List, Optional, Sequence, Tuple

import numpy as np

from .deploy_config import DeployConfig
from .face_landmarks import decode_landmarks
from .nms import batched_nms

__all__ = ["dense_to_anchor_major", "apply_deltas", "decode_detections", "postprocess"]


def dense_to_anchor_major(prediction: np.ndarray, per_anchor: int) -> np.ndarray:
    """(N, A * K, H, W) -> (N, H * W * A, K), Detectron2's ``permute_to_N_HWA_K``."""
    n, _, h, w = prediction.shape
    prediction = prediction.reshape(n, -1, per_anchor, h, w).transpose(0, 3, 4, 1, 2)
    return prediction.reshape(n, -1, per_anchor)


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """float32 sigmoid, computed in float64 and rounded once (exp overflow gives 0, exactly)."""
    with np.errstate(over="ignore"):
        return (1.0 / (1.0 + np.exp(-logits.astype(np.float64)))).astype(np.float32)


def apply_deltas(
    deltas: np.ndarray, anchors: np.ndarray, weights: Sequence[float], scale_clamp: float
) -> np.ndarray:
    """(R, 4) deltas on (R, 4) XYXY anchors -> (R, 4) float32 XYXY (``Box2BoxTransform``)."""
    deltas = deltas.astype(np.float32)
    widths = anchors[:, 2] - anchors[:, 0]
    heights = anchors[:, 3] - anchors[:, 1]
    ctr_x = anchors[:, 0] + np.float32(0.5) * widths
    ctr_y = anchors[:, 1] + np.float32(0.5) * heights
    wx, wy, ww, wh = (np.float32(w) for w in weights)
    dx, dy = deltas[:, 0] / wx, deltas[:, 1] / wy
    clamp = np.float32(scale_clamp)
    dw, dh = np.minimum(deltas[:, 2] / ww, clamp), np.minimum(deltas[:, 3] / wh, clamp)
    pred_ctr_x = dx * widths + ctr_x
    pred_ctr_y = dy * heights + ctr_y
    pred_w = np.exp(dw) * widths
    pred_h = np.exp(dh) * heights
    half = np.float32(0.5)
    return np.stack(
        [
            pred_ctr_x - half * pred_w,
            pred_ctr_y - half * pred_h,
            pred_ctr_x + half * pred_w,
            pred_ctr_y + half * pred_h,
        ],
        axis=1,
    )


def decode_detections(
    scores: List[np.ndarray],
    deltas: List[np.ndarray],
    anchors: List[np.ndarray],
    config: DeployConfig,
    score_threshold: Optional[float] = None,
    landmarks: Optional[List[np.ndarray]] = None,
) -> Tuple[np.ndarray, ...]:
    """Detections of one image in the resized image's pixels.

    scores: per level (R_l, K) sigmoid scores; deltas: per level (R_l, 4); anchors: per
    level (R_l, 4). Returns boxes (D, 4) float32, scores (D,) float32 and classes (D,)
    int64, by decreasing score, D <= max_detections. `score_threshold` overrides the config's.
    landmarks: per level (R_l, 10) landmark offsets; given, a fourth array follows: the
    detections' five points (D, 5, 2) float32, decoded on the anchors of their boxes.
    """
    inference = config.inference
    if score_threshold is None:
        score_threshold = inference.score_threshold
    level_boxes, level_scores, level_classes, level_points = [], [], [], []
    for level, (scores_l, deltas_l, anchors_l) in enumerate(zip(scores, deltas, anchors)):
        flat = scores_l.reshape(-1)
        candidates = np.flatnonzero(flat > np.float32(score_threshold))
        top = np.argsort(-flat[candidates], kind="stable")[: inference.topk_candidates]
        candidates = candidates[top]
        anchor_index, class_index = np.divmod(candidates, scores_l.shape[1])
        level_boxes.append(
            apply_deltas(
                deltas_l[anchor_index],
                anchors_l[anchor_index],
                config.box_transform.weights,
                config.box_transform.scale_clamp,
            )
        )
        level_scores.append(flat[candidates])
        level_classes.append(class_index)
        if landmarks is not None:
            offsets = landmarks[level][anchor_index].astype(np.float32)
            level_points.append(decode_landmarks(offsets, anchors_l[anchor_index]))
    boxes = np.concatenate(level_boxes)
    scores = np.concatenate(level_scores)
    classes = np.concatenate(level_classes)
    keep = batched_nms(boxes, scores, classes, inference.nms_threshold, inference.max_detections)
    if landmarks is None:
        return boxes[keep], scores[keep], classes[keep]
    return boxes[keep], scores[keep], classes[keep], np.concatenate(level_points)[keep]


def postprocess(
    boxes: np.ndarray,
    scores: np.ndarray,
    image_size: Tuple[int, int],
    output_size: Tuple[int, int],
    landmarks: Optional[np.ndarray] = None,
) -> Tuple[np.ndarray, ...]:
    """``detector_postprocess``: boxes of an (h, w) image scaled to (H, W), clipped to it,
    empty boxes dropped. Returns boxes (D', 4) and scores (D',), float32; given
    `landmarks` (D, 5, 2), also those of the boxes kept, scaled like them (not clipped)."""
    scale_x = np.float32(output_size[1] / image_size[1])
    scale_y = np.float32(output_size[0] / image_size[0])
    boxes = boxes * np.array([scale_x, scale_y, scale_x, scale_y], dtype=np.float32)
    height, width = output_size
    boxes = np.stack(
        [
            np.clip(boxes[:, 0], 0, width),
            np.clip(boxes[:, 1], 0, height),
            np.clip(boxes[:, 2], 0, width),
            np.clip(boxes[:, 3], 0, height),
        ],
        axis=1,
    ).astype(np.float32)
    nonempty = (boxes[:, 2] - boxes[:, 0] > 0) & (boxes[:, 3] - boxes[:, 1] > 0)
    if landmarks is None:
        return boxes[nonempty], scores[nonempty]
    points = landmarks[nonempty] * np.array([scale_x, scale_y], dtype=np.float32)
    return boxes[nonempty], scores[nonempty], points.astype(np.float32)
