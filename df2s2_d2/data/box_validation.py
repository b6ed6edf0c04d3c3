"""Validation of the boxes of a dataset dict: the one place that decides which
annotations can reach the model.

A box is dropped (never an ignored region: it has no usable area) when:

- ``malformed``: ``bbox`` is not 4 numbers, or ``bbox_mode`` is missing;
- ``unsupported_mode``: ``bbox_mode`` cannot be converted to absolute XYXY
  (relative modes);
- ``not_finite``: a coordinate is NaN or inf;
- ``empty``: width or height <= 0 (a zero-width box matches no anchor, so the
  matcher's low-quality rule would make every anchor of the image positive; a
  negative width would be flipped into a real box by the transforms);
- ``outside_image``: the box does not overlap the image at all.

Faces and ignored regions (``iscrowd``) are validated alike.
"""

import collections
import math
from typing import Dict, List, Sequence, Tuple

import numpy as np
from detectron2.structures import BoxMode

__all__ = ["DROP_REASONS", "box_problem", "validate_annotations", "positive_size"]

DROP_REASONS = {
    "malformed": "bbox is not 4 numbers, or bbox_mode is missing",
    "unsupported_mode": "bbox_mode is not an absolute mode",
    "not_finite": "a coordinate is NaN or inf",
    "empty": "width or height <= 0",
    "outside_image": "entirely outside the image",
}


def box_problem(annotation: Dict, height: int, width: int):
    """The reason (a key of ``DROP_REASONS``) why ``annotation``'s box cannot be used
    in an image of ``height`` x ``width``, or None when it can."""
    bbox = annotation.get("bbox")
    if "bbox_mode" not in annotation or bbox is None or isinstance(bbox, (str, bytes)):
        return "malformed"
    try:
        values = [float(v) for v in bbox]
    except (TypeError, ValueError, OverflowError):
        return "malformed"
    if len(values) != 4:
        return "malformed"
    if not all(math.isfinite(v) for v in values):
        return "not_finite"
    mode = annotation["bbox_mode"]
    if mode == BoxMode.XYWH_ABS:
        x0, y0, x1, y1 = values[0], values[1], values[0] + values[2], values[1] + values[3]
    elif mode == BoxMode.XYXY_ABS:
        x0, y0, x1, y1 = values
    else:
        try:
            x0, y0, x1, y1 = BoxMode.convert(values, mode, BoxMode.XYXY_ABS)
        except Exception:  # Detectron2 raises AssertionError / ValueError / KeyError
            return "unsupported_mode"
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        return "not_finite"
    if not (x1 > x0 and y1 > y0):
        return "empty"
    if x1 <= 0 or y1 <= 0 or x0 >= width or y0 >= height:
        return "outside_image"
    return None


def validate_annotations(
    annotations: Sequence[Dict], height: int, width: int
) -> Tuple[List[Dict], collections.Counter]:
    """The annotations whose box is usable, in order, and the count of the dropped
    ones by reason (keys of ``DROP_REASONS``)."""
    kept, dropped = [], collections.Counter()
    for annotation in annotations:
        problem = box_problem(annotation, height, width)
        if problem is None:
            kept.append(annotation)
        else:
            dropped[problem] += 1
    return kept, dropped


def positive_size(boxes: np.ndarray) -> np.ndarray:
    """(N,) bool: width and height > 0 in float32 (what ``gt_boxes`` will hold).
    boxes: (N, 4) XYXY."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    return (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
