"""Hierarchical box-mask targets of the segmentation branch (paper, section 3.2).

Each face is assigned to the one pyramid level whose anchor base size is nearest
to its scale sqrt(w * h) in log space (clamped to the first / last level). On
that level's grid a cell is 1 when its centre lies inside the box; the cell
holding the box centre is always marked, so a tiny face is never lost.
Ignored faces (``iscrowd``) mark their cells -1 (excluded from the loss) where
no face marks 1, so they never count as background.
"""
import math
from typing import List, Sequence, Tuple

import torch

IGNORE = -1


def assign_levels(boxes: torch.Tensor, anchor_sizes: Sequence[float]) -> torch.Tensor:
    """Level index of each box. boxes: (N, 4) XYXY; returns (N,) int64."""
    wh = (boxes[:, 2:] - boxes[:, :2]).clamp(min=1e-6)
    log_scale = 0.5 * torch.log(wh[:, 0] * wh[:, 1])
    log_sizes = torch.tensor([math.log(s) for s in anchor_sizes], dtype=log_scale.dtype)
    return (log_scale[:, None] - log_sizes[None, :]).abs().argmin(dim=1)


def _cell_range(lo: float, hi: float, centre: float, stride: int, size: int) -> Tuple[int, int]:
    """Cells [a, b) whose centres (j + 0.5) * stride lie in [lo, hi), plus the centre cell."""
    a = math.ceil(lo / stride - 0.5)
    b = math.ceil(hi / stride - 0.5)
    c = min(max(int(math.floor(centre / stride)), 0), size - 1)
    return max(min(a, c), 0), min(max(b, c + 1), size)


def box_mask_targets(
    boxes: torch.Tensor,
    ignore: torch.Tensor,
    grid_sizes: Sequence[Tuple[int, int]],
    strides: Sequence[int],
    anchor_sizes: Sequence[float],
) -> List[torch.Tensor]:
    """Per-level box masks.

    Args:
        boxes: (N, 4) XYXY absolute boxes of one image.
        ignore: (N,) bool, True for faces that must be neither face nor background.
        grid_sizes: (H_l, W_l) of each level's map.
        strides: stride of each level; anchor_sizes: base anchor size of each level.
    Returns:
        one int8 tensor (H_l, W_l) per level: 1 face, 0 background, -1 ignored.
    """
    targets = [torch.zeros(hw, dtype=torch.int8) for hw in grid_sizes]
    if len(boxes) == 0:
        return targets
    boxes = boxes.detach().float().cpu()
    ignore = ignore.detach().bool().cpu()
    levels = assign_levels(boxes, anchor_sizes).tolist()
    # Ignored faces first, so that a face overlapping them overwrites with 1.
    order = sorted(range(len(boxes)), key=lambda i: not bool(ignore[i]))
    for i in order:
        lvl = levels[i]
        (h, w), s = grid_sizes[lvl], strides[lvl]
        x1, y1, x2, y2 = boxes[i].tolist()
        xa, xb = _cell_range(x1, x2, (x1 + x2) / 2, s, w)
        ya, yb = _cell_range(y1, y2, (y1 + y2) / 2, s, h)
        if ignore[i]:
            region = targets[lvl][ya:yb, xa:xb]
            region[region == 0] = IGNORE
        else:
            targets[lvl][ya:yb, xa:xb] = 1
    return targets


def image_grid_sizes(image_size: Tuple[int, int], strides: Sequence[int]) -> List[Tuple[int, int]]:
    """Grid of each level for an unpadded (H, W) image: ceil(H / s), ceil(W / s)."""
    h, w = image_size
    return [(math.ceil(h / s), math.ceil(w / s)) for s in strides]


def seg_target_params(cfg) -> Tuple[List[int], List[float]]:
    """(strides, base anchor sizes) of the DF2S2 levels from a config."""
    strides = [2 ** int(f[1:]) for f in cfg.MODEL.RETINANET.IN_FEATURES]
    sizes = [float(s[0]) for s in cfg.MODEL.ANCHOR_GENERATOR.SIZES]
    if len(sizes) == 1:
        sizes = sizes * len(strides)
    return strides, sizes
