"""Hierarchical box-mask targets of the segmentation branch (paper, section 3.2).

The paper associates each face with the pyramid level that matches it "in the
detection branch", so that both branches see "the same range of face scales".
Here a face goes to the level that holds its best-IoU anchor, computed with the
model's own anchor generator (strides, cell anchors, offset): one source for the
level geometry. Taking the level whose *base* anchor size is nearest to
sqrt(w * h) is not the same rule: a level's anchors span base x {2^0, 2^(1/3),
2^(2/3)}, so about a third of every octave would land one level too high.

On its level a face marks 1 in every cell whose anchor centre lies inside the box,
and always the cell of its best anchor, so a tiny face is never lost. Ignored faces
(``iscrowd``) mark their cells -1 (left out of the loss) where no face marks 1.
"""
import math
from typing import List, Sequence, Tuple

import torch
from torch import nn

IGNORE = -1


class BoxMaskTargets:
    """Per-level box masks on the anchor grid of a ``DefaultAnchorGenerator``.

    Args:
        anchor_generator: the detector's anchor generator (``strides``, ``offset``,
            ``cell_anchors``: per level (A, 4) XYXY anchors centred on 0).
        size_divisibility: the backbone's padding; the grid of an (H, W) image is
            that of its padded size, as the model sees it.
    """

    def __init__(self, anchor_generator: nn.Module, size_divisibility: int = 1):
        self.strides = [int(s) for s in anchor_generator.strides]
        self.offset = float(anchor_generator.offset)
        self.cell_anchors = [a.detach().float().cpu() for a in anchor_generator.cell_anchors]
        self.size_divisibility = max(int(size_divisibility), 1)

    def grid_sizes(self, image_size: Tuple[int, int]) -> List[Tuple[int, int]]:
        """(H_l, W_l) of each level for an unpadded (H, W) image."""
        d = self.size_divisibility
        h, w = (math.ceil(x / d) * d for x in image_size)
        return [(math.ceil(h / s), math.ceil(w / s)) for s in self.strides]

    def nearest_cells(self, centres: torch.Tensor, level: int, grid_size) -> torch.Tensor:
        """Cell (x, y) of the anchor position nearest to each centre. centres: (N, 2)."""
        s = self.strides[level]
        cells = torch.round(centres / s - self.offset)
        upper = torch.tensor([grid_size[1] - 1, grid_size[0] - 1], dtype=cells.dtype)
        return torch.minimum(cells.clamp(min=0), upper).long()

    def best_anchor_ious(self, boxes: torch.Tensor, grid_sizes) -> torch.Tensor:
        """IoU of each box with its best anchor on each level. boxes: (N, 4) -> (N, L).

        The overlap of two intervals only shrinks as their centres move apart, so on
        each level the best anchor of every shape sits at the grid position nearest to
        the box centre: L x A IoUs per box give the exact maximum over all anchors.
        """
        centres = (boxes[:, :2] + boxes[:, 2:]) / 2
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        best = []
        for level, cell_anchors in enumerate(self.cell_anchors):
            s = self.strides[level]
            shift = (self.nearest_cells(centres, level, grid_sizes[level]) + self.offset) * s
            anchors = cell_anchors[None, :, :] + shift.repeat(1, 2)[:, None, :]  # (N, A, 4)
            lt = torch.maximum(anchors[..., :2], boxes[:, None, :2])
            rb = torch.minimum(anchors[..., 2:], boxes[:, None, 2:])
            inter = (rb - lt).clamp(min=0).prod(dim=-1)
            anchor_area = (anchors[..., 2:] - anchors[..., :2]).prod(dim=-1)
            best.append((inter / (anchor_area + area[:, None] - inter)).max(dim=1).values)
        return torch.stack(best, dim=1)

    def assign_levels(self, boxes: torch.Tensor, grid_sizes) -> torch.Tensor:
        """Level of each box's best-IoU anchor (the lower level on a tie). (N, 4) -> (N,)."""
        return self.best_anchor_ious(boxes, grid_sizes).argmax(dim=1)

    def __call__(
        self, boxes: torch.Tensor, ignore: torch.Tensor, grid_sizes: Sequence[Tuple[int, int]]
    ) -> List[torch.Tensor]:
        """Per-level box masks of one image.

        Args:
            boxes: (N, 4) XYXY absolute boxes.
            ignore: (N,) bool, True for faces that must be neither face nor background.
            grid_sizes: (H_l, W_l) of each level (``grid_sizes(image_size)``, or the
                feature maps' sizes).
        Returns:
            one int8 tensor (H_l, W_l) per level: 1 face, 0 background, -1 ignored.
        """
        targets = [torch.zeros(tuple(hw), dtype=torch.int8) for hw in grid_sizes]
        if len(boxes) == 0:
            return targets
        boxes = boxes.detach().float().cpu()
        ignore = ignore.detach().bool().cpu()
        levels = self.assign_levels(boxes, grid_sizes).tolist()
        centres = (boxes[:, :2] + boxes[:, 2:]) / 2
        # Ignored faces first, so that a face overlapping them overwrites with 1.
        for i in sorted(range(len(boxes)), key=lambda i: not bool(ignore[i])):
            lvl = levels[i]
            (h, w), s = grid_sizes[lvl], self.strides[lvl]
            cx, cy = self.nearest_cells(centres[i : i + 1], lvl, (h, w))[0].tolist()
            x1, y1, x2, y2 = boxes[i].tolist()
            xa, xb = self._cell_range(x1, x2, cx, s, w)
            ya, yb = self._cell_range(y1, y2, cy, s, h)
            if ignore[i]:
                region = targets[lvl][ya:yb, xa:xb]
                region[region == 0] = IGNORE
            else:
                targets[lvl][ya:yb, xa:xb] = 1
        return targets

    def _cell_range(self, lo: float, hi: float, best: int, stride: int, size: int) -> Tuple[int, int]:
        """Cells [a, b) whose anchor centres (j + offset) * stride lie in [lo, hi), plus ``best``."""
        a = math.ceil(lo / stride - self.offset)
        b = math.ceil(hi / stride - self.offset)
        return max(min(a, best), 0), min(max(b, best + 1), size)


def build_box_mask_targets(cfg) -> BoxMaskTargets:
    """The targets of the model that ``cfg`` builds, without building its weights.

    The backbone is built on the meta device (no memory, no init cost) for its
    output shapes and padding; the anchor generator is built from them exactly as
    ``RetinaNet.from_config`` builds the model's.
    """
    from detectron2.modeling import build_anchor_generator, build_backbone

    with torch.device("meta"):
        backbone = build_backbone(cfg)
    shapes = backbone.output_shape()
    anchor_generator = build_anchor_generator(
        cfg, [shapes[f] for f in cfg.MODEL.RETINANET.IN_FEATURES]
    )
    return BoxMaskTargets(anchor_generator, backbone.size_divisibility)
