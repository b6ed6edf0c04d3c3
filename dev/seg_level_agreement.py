#!/usr/bin/env python
"""How often a face's seg-target level is the level of its best-IoU anchor.

    python dev/seg_level_agreement.py [--wider-txt .../wider_face_train_bbx_gt.txt]

1. Synthetic faces of 10-600 px (square and 1:1.5, uniform in log size, random
   positions), one per 640 x 640 image, through the training mapper (no crop): the
   level the targets mark, against the level of the best anchor over every anchor
   the model's anchor generator makes (Detectron2's ``pairwise_iou``).
2. The real WIDER FACE train boxes (valid faces; ``--every``-th image), resized by 640 / 1024 as the
   mapper's no-crop path resizes a WIDER image (1024 px wide) to 640: the level
   ``BoxMaskTargets`` assigns against the brute-force best-IoU level.
Both also report the earlier rule (nearest anchor base size in log scale).
"""
import df2s2_d2  # noqa: F401  first: hides Detectron2's known import-time warnings
import argparse
import math
import tempfile
from pathlib import Path

import cv2
import numpy as np
import torch
from detectron2.modeling import build_model
from detectron2.structures import Boxes, BoxMode, pairwise_iou

from df2s2_d2 import get_df2s2_cfg
from df2s2_d2.data import WiderFaceDatasetMapper
from df2s2_d2.data.wider_face import parse_wider_face_txt
from df2s2_d2.modeling.seg_targets import build_box_mask_targets

SIZE = 640


def best_levels(boxes: torch.Tensor, anchors) -> torch.Tensor:
    """Level of each box's best-IoU anchor over all anchors. boxes (N, 4)."""
    level_of = torch.cat([torch.full((len(a),), i) for i, a in enumerate(anchors)])
    return level_of[pairwise_iou(Boxes(boxes), Boxes.cat(anchors)).argmax(dim=1)]


def base_size_levels(boxes: torch.Tensor, base_sizes) -> torch.Tensor:
    """The earlier rule: the level whose base anchor size is nearest sqrt(w h) in log scale."""
    scale = 0.5 * torch.log((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))
    return (scale[:, None] - torch.log(torch.tensor(base_sizes))[None]).abs().argmin(dim=1)


def synthetic_faces(cfg, anchors, base_sizes, n: int, seed: int = 0):
    cfg = cfg.clone()
    cfg.merge_from_list(["INPUT.FACE_AUG.RANDOM_CROP", False, "INPUT.FACE_AUG.TRAIN_SIZE", SIZE,
                         "INPUT.RANDOM_FLIP", "none"])
    mapper = WiderFaceDatasetMapper(cfg, is_train=True)
    rng = np.random.default_rng(seed)
    agree = old = 0
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "blank.png")
        cv2.imwrite(path, np.zeros((SIZE, SIZE, 3), np.uint8))
        for _ in range(n):
            side, ratio = math.exp(rng.uniform(math.log(10), math.log(600))), rng.choice([1.0, 1.5])
            w, h = side / math.sqrt(ratio), min(side * math.sqrt(ratio), SIZE - 1)
            x, y = rng.uniform(0, SIZE - w), rng.uniform(0, SIZE - h)
            out = mapper({"file_name": path, "image_id": "x", "height": SIZE, "width": SIZE,
                          "annotations": [{"bbox": [x, y, x + w, y + h], "bbox_mode": BoxMode.XYXY_ABS,
                                           "category_id": 0, "iscrowd": 0}]})
            marked = [i for i, t in enumerate(out["seg_targets"]) if (t == 1).any()]
            box = out["instances"].gt_boxes.tensor
            best = int(best_levels(box, anchors)[0])
            agree += marked == [best]
            old += int(base_size_levels(box, base_sizes)[0]) == best
    return agree, old, n


def wider_faces(path: str, targets, anchors, base_sizes, every: int):
    agree = old = total = 0
    grid = targets.grid_sizes((SIZE, SIZE))
    for _, _, rows in parse_wider_face_txt(path)[::every]:
        rows = np.asarray([r for r in rows if r[2] > 0 and r[3] > 0 and not r[7]], np.float32)
        if not len(rows):
            continue
        boxes = torch.as_tensor(np.concatenate([rows[:, :2], rows[:, :2] + rows[:, 2:4]], 1)) * (SIZE / 1024)
        best = best_levels(boxes, anchors)
        agree += int((targets.assign_levels(boxes, grid) == best).sum())
        old += int((base_size_levels(boxes, base_sizes) == best).sum())
        total += len(boxes)
    return agree, old, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config-file", default="configs/WIDER-FACE/df2s2_R_50.yaml")
    parser.add_argument("--num-synthetic", type=int, default=2000)
    parser.add_argument("--wider-txt", default="", help="wider_face_train_bbx_gt.txt (optional)")
    parser.add_argument("--every", type=int, default=1, help="use every n-th WIDER image")
    args = parser.parse_args()
    cfg = get_df2s2_cfg(args.config_file, ["MODEL.WEIGHTS", "", "MODEL.DEVICE", "cpu"])
    targets = build_box_mask_targets(cfg)
    generator = build_model(cfg).anchor_generator
    anchors = generator([torch.zeros(1, 1, h, w) for h, w in targets.grid_sizes((SIZE, SIZE))])
    base_sizes = [float(s[0]) for s in cfg.MODEL.ANCHOR_GENERATOR.SIZES]
    rows = [("synthetic faces 10-600 px, through the mapper",
             synthetic_faces(cfg, anchors, base_sizes, args.num_synthetic))]
    if args.wider_txt:
        rows.append(("WIDER FACE train boxes, resized 640 / 1024", wider_faces(args.wider_txt, targets, anchors, base_sizes, args.every)))
    print("| faces | count | seg level = best-IoU anchor level | nearest base size (earlier rule) |")
    print("|---|--:|--:|--:|")
    for name, (agree, old, n) in rows:
        print(f"| {name} | {n} | {100 * agree / n:.2f} % | {100 * old / n:.2f} % |")


if __name__ == "__main__":
    main()
