"""Anchors of Detectron2's ``DefaultAnchorGenerator``, in numpy (same float32 values)."""
import math
from typing import List, Sequence, Tuple

import numpy as np

__all__ = ["cell_anchors", "grid_anchors"]


def cell_anchors(sizes: Sequence[float], aspect_ratios: Sequence[float]) -> np.ndarray:
    """(len(sizes) * len(aspect_ratios), 4) float32 XYXY anchors centred on (0, 0).

    Aspect ratio = height / width; computed in float64, then float32, as Detectron2 does.
    """
    anchors = []
    for size in sizes:
        area = size**2.0
        for aspect_ratio in aspect_ratios:
            w = math.sqrt(area / aspect_ratio)
            h = aspect_ratio * w
            anchors.append([-w / 2.0, -h / 2.0, w / 2.0, h / 2.0])
    return np.array(anchors, dtype=np.float32)


def grid_anchors(
    grid_sizes: Sequence[Tuple[int, int]],
    strides: Sequence[int],
    cells: Sequence[np.ndarray],
    offset: float,
) -> List[np.ndarray]:
    """Per level (H_l * W_l * A, 4) float32 anchors, ordered (y, x, anchor) as Detectron2's."""
    anchors = []
    for (height, width), stride, cell in zip(grid_sizes, strides, cells):
        # torch.arange(offset * stride, size * stride, stride): float64 values, then float32
        shifts_x = (offset * stride + np.arange(width) * float(stride)).astype(np.float32)
        shifts_y = (offset * stride + np.arange(height) * float(stride)).astype(np.float32)
        shift_y, shift_x = np.meshgrid(shifts_y, shifts_x, indexing="ij")
        shift_x, shift_y = shift_x.reshape(-1), shift_y.reshape(-1)
        shifts = np.stack((shift_x, shift_y, shift_x, shift_y), axis=1)
        anchors.append((shifts[:, None, :] + cell[None, :, :]).reshape(-1, 4))
    return anchors
