"""Face-box AP on a COCO-format set of real photos (one category, no "ignore" regions),
in numpy only: the scorer of ``real_photos_dev`` and of any photos a user boxes.

PASCAL VOC's rule: detections of all images in descending score; each is a hit when its
highest-IoU ground-truth box in the same image reaches the IoU threshold and is not
taken yet, else a false positive; AP is the all-point interpolated area under the
precision-recall curve (VOC 2010 and later). Reported at IoU 0.5 and 0.3, since face-box
conventions differ (WIDER FACE's brow-to-chin box against a whole-head box), and the
recall at a score threshold, what a user of ``df2s2-detect`` at that threshold sees.
"""
import json
import os
from dataclasses import dataclass, field
from typing import Dict, List, Sequence

import numpy as np

__all__ = ["BoxAP", "PhotoBoxes", "load_coco_face_boxes", "evaluate_box_ap", "box_iou", "all_point_ap"]


@dataclass
class PhotoBoxes:
    """The ground truth of one photo: file name, size and (N, 4) x1, y1, x2, y2 boxes."""

    file_name: str
    width: int
    height: int
    boxes: np.ndarray


@dataclass
class BoxAP:
    """AP at each IoU threshold (fractions, 0..1), recall at ``score_threshold``, counts."""

    ap: Dict[float, float]
    recall_at_score: Dict[float, float]
    score_threshold: float
    num_faces: int
    num_images: int
    num_detections: int
    false_positives_at_score: Dict[float, int] = field(default_factory=dict)

    def to_dict(self, percent: bool = False) -> dict:
        """{"AP50", "AP30", "recall50@0.5", ..., "false_positives50@0.5", ..., "faces", ...};
        AP and recall as fractions rounded to 4 digits, or in percent to 2."""
        scale, digits = (100.0, 2) if percent else (1.0, 4)
        out = {f"AP{round(t * 100)}": round(scale * v, digits) for t, v in self.ap.items()}
        out.update({f"recall{round(t * 100)}@{self.score_threshold:g}": round(scale * v, digits)
                    for t, v in self.recall_at_score.items()})
        out.update({f"false_positives{round(t * 100)}@{self.score_threshold:g}": v
                    for t, v in self.false_positives_at_score.items()})
        out.update(faces=self.num_faces, images=self.num_images, detections=self.num_detections)
        return out


def load_coco_face_boxes(json_file: str) -> List[PhotoBoxes]:
    """The photos of a COCO-format file, in its image order, with their boxes (x1, y1, x2,
    y2). Raises ValueError naming the file and the entry for a box that is not 4 numbers
    with positive width and height, or that names an unknown image."""
    with open(json_file) as f:
        data = json.load(f)
    for key in ("images", "annotations"):
        if key not in data:
            raise ValueError(f"{json_file}: no '{key}' list (expected a COCO-format file)")
    photos = {im["id"]: PhotoBoxes(im["file_name"], int(im["width"]), int(im["height"]), [])
              for im in data["images"]}
    for k, ann in enumerate(data["annotations"]):
        box = ann.get("bbox")
        where = f"{json_file}: annotations[{k}] (id {ann.get('id')})"
        if ann.get("image_id") not in photos:
            raise ValueError(f"{where}: image_id {ann.get('image_id')} is not in 'images'")
        if (not isinstance(box, list) or len(box) != 4
                or not all(isinstance(v, (int, float)) for v in box)
                or not (box[2] > 0 and box[3] > 0)):
            raise ValueError(f"{where}: bbox {box!r}, expected [x, y, w, h] with w, h > 0")
        x, y, w, h = map(float, box)
        photos[ann["image_id"]].boxes.append([x, y, x + w, y + h])
    for photo in photos.values():
        photo.boxes = np.asarray(photo.boxes, np.float64).reshape(-1, 4)
    return list(photos.values())


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) IoU of x1, y1, x2, y2 boxes (N, 4) and (M, 4)."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-12)


def _hits(photos: Sequence[PhotoBoxes], detections: Dict[str, tuple], iou_threshold: float):
    """(scores, is_hit) over all detections in descending score."""
    no_detection = (np.zeros((0, 4)), np.zeros(0))
    image_boxes, rows = [], []
    for image_index, photo in enumerate(photos):
        boxes, scores = detections.get(photo.file_name, no_detection)
        image_boxes.append(np.asarray(boxes, np.float64).reshape(-1, 4))
        for k, score in enumerate(np.asarray(scores, np.float64).reshape(-1)):
            rows.append((-score, image_index, k))
    rows.sort()
    taken = [np.zeros(len(p.boxes), bool) for p in photos]
    scores, hits = np.zeros(len(rows)), np.zeros(len(rows), bool)
    for r, (neg_score, image_index, k) in enumerate(rows):
        photo = photos[image_index]
        scores[r] = -neg_score
        if len(photo.boxes) == 0:
            continue
        iou = box_iou(image_boxes[image_index][k : k + 1], photo.boxes)[0]
        best = int(np.argmax(iou))
        if iou[best] >= iou_threshold and not taken[image_index][best]:
            taken[image_index][best] = True
            hits[r] = True
    return scores, hits


def all_point_ap(hits: np.ndarray, num_faces: int) -> float:
    """PASCAL VOC's all-point interpolated AP of ``hits`` (bool, in descending score) with
    ``num_faces`` positives in all."""
    if num_faces == 0:
        return float("nan")
    tp = np.cumsum(hits)
    recall = tp / num_faces
    precision = tp / np.arange(1, len(hits) + 1)
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    step = np.nonzero(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[step + 1] - mrec[step]) * mpre[step + 1]))


def evaluate_box_ap(
    photos: Sequence[PhotoBoxes],
    detections: Dict[str, tuple],
    iou_thresholds: Sequence[float] = (0.5, 0.3),
    score_threshold: float = 0.5,
) -> BoxAP:
    """AP of ``detections`` ({file_name: (boxes (K, 4) x1 y1 x2 y2, scores (K,))}; a photo
    without an entry has no detection) against ``photos``. A detection for a file that is
    not in ``photos`` raises ValueError (a misnamed file would otherwise vanish)."""
    names = {p.file_name for p in photos}
    unknown = sorted(set(detections) - names)
    if unknown:
        raise ValueError(f"detections for images that are not in the ground truth: {unknown[:5]}")
    for name, (boxes, scores) in detections.items():
        if np.asarray(boxes).reshape(-1, 4).shape[0] != np.asarray(scores).reshape(-1).shape[0]:
            raise ValueError(f"{name}: {len(np.asarray(boxes).reshape(-1, 4))} boxes but "
                             f"{np.asarray(scores).size} scores")
    num_faces = int(sum(len(p.boxes) for p in photos))
    ap, recall, false_pos = {}, {}, {}
    num_detections = 0
    for t in iou_thresholds:
        scores, hits = _hits(photos, detections, t)
        num_detections = len(scores)
        ap[t] = all_point_ap(hits, num_faces)
        kept = scores >= score_threshold
        recall[t] = float(hits[kept].sum() / num_faces) if num_faces else float("nan")
        false_pos[t] = int((~hits[kept]).sum())
    return BoxAP(ap, recall, score_threshold, num_faces, len(photos), num_detections, false_pos)


def photo_paths(photos: Sequence[PhotoBoxes], image_dir: str) -> List[str]:
    """The image file of each photo under ``image_dir``."""
    return [os.path.join(image_dir, p.file_name) for p in photos]
