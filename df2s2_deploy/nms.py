"""Non-maximum suppression with torchvision's semantics, in numpy.

``torchvision.ops.nms`` on the CPU: candidates in stable descending score order;
IoU in the boxes' float32 arithmetic, ``inter / (area_i + area_j - inter)``; a box
is suppressed when that IoU, compared in float64, is > the threshold.
``batched_nms`` keeps torchvision's two ways of separating the classes (one NMS per
class above 1000 boxes, otherwise boxes shifted apart by class), so that the float32
IoUs, and therefore the kept boxes, are the same.
"""
import numpy as np

__all__ = ["nms", "batched_nms"]


def nms(
    boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, max_keep: int = -1
) -> np.ndarray:
    """Indices (int64) of the kept boxes of (N, 4) XYXY `boxes`, by decreasing score.

    `max_keep` >= 0 stops after that many: the first kept boxes do not depend on later ones.
    """
    boxes = np.asarray(boxes, dtype=np.float32)
    x1, y1, x2, y2 = boxes.T
    areas = (x2 - x1) * (y2 - y1)
    order = np.argsort(-np.asarray(scores), kind="stable")
    suppressed = np.zeros(len(boxes), dtype=bool)
    keep = []
    with np.errstate(divide="ignore", invalid="ignore"):
        for position, i in enumerate(order):
            if suppressed[i]:
                continue
            if len(keep) == max_keep:
                break
            keep.append(i)
            rest = order[position + 1 :]
            rest = rest[~suppressed[rest]]
            w = np.maximum(np.float32(0), np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
            h = np.maximum(np.float32(0), np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
            inter = w * h
            iou = inter / (areas[i] + areas[rest] - inter)
            suppressed[rest[iou.astype(np.float64) > iou_threshold]] = True
    return np.array(keep, dtype=np.int64)


def batched_nms(
    boxes: np.ndarray,
    scores: np.ndarray,
    classes: np.ndarray,
    iou_threshold: float,
    max_keep: int = -1,
) -> np.ndarray:
    """Class-wise NMS: indices of the kept boxes, by decreasing score (stable); the first
    `max_keep` of them when it is >= 0."""
    boxes = np.asarray(boxes, dtype=np.float32)
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    if boxes.size > 4000:
        keep = np.zeros(len(boxes), dtype=bool)
        for c in np.unique(classes):
            members = np.flatnonzero(classes == c)
            kept = nms(boxes[members], scores[members], iou_threshold, max_keep)
            keep[members[kept]] = True
        kept = np.flatnonzero(keep)
        kept = kept[np.argsort(-scores[kept], kind="stable")]
        return kept if max_keep < 0 else kept[:max_keep]
    offsets = classes.astype(np.float32) * (boxes.max() + np.float32(1))
    return nms(boxes + offsets[:, None], scores, iou_threshold, max_keep)
