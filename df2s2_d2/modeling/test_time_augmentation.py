"""Multi-scale and flip test-time augmentation for DF2S2 (paper, section 4.4).

Detectron2's `GeneralizedRCNNWithTTA` accepts only R-CNN models; `DF2S2WithTTA`
wraps any dense detector whose forward takes and returns Detectron2's batched format.
"""

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torchvision.ops import box_iou, nms

from detectron2.data import transforms as T
from detectron2.structures import Boxes, Instances

__all__ = ["box_voting", "DF2S2WithTTA"]


def _vote(boxes, scores, iou_threshold, max_detections):
    """Greedy box voting; see `box_voting`.

    Returns:
        merged boxes (K, 4) and `keep` (K,), the index in the input of each group's
        highest-scoring box, in descending score order.
    """
    order = torch.sort(scores, descending=True, stable=True).indices
    limit = len(order) if max_detections < 0 else min(len(order), max_detections)
    merged, keep = [], []
    for _ in range(limit):
        if order.numel() == 0:
            break
        top = order[0]
        in_group = box_iou(boxes[top][None], boxes[order])[0] >= iou_threshold
        in_group[0] = True  # a degenerate (zero-area) top box still votes for itself
        group = order[in_group]
        weights = scores[group][:, None]
        merged.append((boxes[group] * weights).sum(dim=0) / weights.sum())
        keep.append(top)
        order = order[~in_group]
    if not keep:
        return boxes.new_zeros((0, 4)), torch.zeros(0, dtype=torch.long, device=boxes.device)
    return torch.stack(merged), torch.stack(keep)


def box_voting(boxes, scores, iou_threshold, max_detections):
    """Merge overlapping detections by score-weighted box voting.

    Greedy like NMS: the highest-scoring remaining box and every remaining box whose
    IoU with it is >= `iou_threshold` form a group and leave the pool. The group's
    box is the score-weighted mean of its members' coordinates; its score is the
    group's highest (the top box's), so the scores and their ranking are those NMS
    would keep (NMS suppresses IoU > threshold, voting groups IoU >= threshold).

    Args:
        boxes: (N, 4) XYXY.
        scores: (N,) positive confidences.
        iou_threshold: IoU at which a box joins the group of a higher-scoring one.
        max_detections: at most this many groups are formed (negative: no limit).

    Returns:
        boxes (K, 4) and scores (K,), K <= max_detections, by descending score.
    """
    merged, keep = _vote(boxes, scores, iou_threshold, max_detections)
    return merged, scores[keep]


class DF2S2WithTTA(nn.Module):
    """A dense single-class detector with multi-scale and horizontal-flip testing.

    Each image is resized so its shorter side is each of `TEST.AUG.MIN_SIZES` (the
    longer side capped at `TEST.AUG.MAX_SIZE`, as `ResizeShortestEdge` does), and also
    flipped if `TEST.AUG.FLIP`. The detections of all versions, mapped back to the
    original image, are merged class-agnostically by box voting or NMS
    (`TEST.AUG.MERGE`, IoU `TEST.AUG.MERGE_IOU`) and capped at
    `TEST.DETECTIONS_PER_IMAGE`. Same input and output format as the wrapped model.
    """

    def __init__(self, cfg, model, batch_size=3):
        """
        Args:
            cfg (CfgNode): a config with the keys of `add_df2s2_config`.
            model (nn.Module): takes ``[{"image": (C, H, W) tensor, "height": H0,
                "width": W0}]`` and returns ``[{"instances": Instances}]`` with
                `pred_boxes`, `scores` and `pred_classes` in (H0, W0) coordinates.
            batch_size (int): augmented images per forward pass of `model`.
        """
        super().__init__()
        if isinstance(model, DistributedDataParallel):
            model = model.module
        self.model = model
        self.batch_size = batch_size
        self.min_sizes = list(cfg.TEST.AUG.MIN_SIZES)
        self.max_size = cfg.TEST.AUG.MAX_SIZE
        self.flip = cfg.TEST.AUG.FLIP
        self.merge = cfg.TEST.AUG.MERGE
        if self.merge not in ("voting", "nms"):
            raise ValueError(f"TEST.AUG.MERGE must be 'voting' or 'nms', got {self.merge!r}")
        self.merge_iou = cfg.TEST.AUG.MERGE_IOU
        self.max_detections = cfg.TEST.DETECTIONS_PER_IMAGE

    def forward(self, batched_inputs):
        """
        Args:
            batched_inputs (list[dict]): "image" (C, H, W) tensor, optional "height"
                and "width" of the original image (default: H and W).

        Returns:
            list[dict]: {"instances": Instances} per image, in (height, width) coordinates.
        """
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                return [{"instances": self._inference_one(x)} for x in batched_inputs]
        finally:
            self.model.train(was_training)

    def _augment(self, image, height, width):
        """Augmented inputs of one (C, H, W) image; returns (list[dict], flipped flags)."""
        array = np.ascontiguousarray(image.permute(1, 2, 0).cpu().numpy())  # (H, W, C)
        inputs, flipped = [], []
        for min_size in self.min_sizes:
            resize = T.ResizeShortestEdge(min_size, self.max_size).get_transform(array)
            resized = resize.apply_image(array)
            versions = [(resized, False)]
            if self.flip:
                versions.append((T.HFlipTransform(resized.shape[1]).apply_image(resized), True))
            for aug_image, is_flipped in versions:
                aug_image = torch.from_numpy(np.ascontiguousarray(aug_image.transpose(2, 0, 1)))
                inputs.append({"image": aug_image, "height": height, "width": width})
                flipped.append(is_flipped)
        return inputs, flipped

    def _inference_one(self, input):
        """Merged `Instances` of one input dict, image size (height, width)."""
        height = input.get("height", input["image"].shape[1])
        width = input.get("width", input["image"].shape[2])
        aug_inputs, flipped = self._augment(input["image"], height, width)

        outputs = []
        for start in range(0, len(aug_inputs), self.batch_size):
            batch = aug_inputs[start : start + self.batch_size]
            outputs.extend(out["instances"] for out in self.model(batch))

        boxes, scores, classes = [], [], []
        for inst, is_flipped in zip(outputs, flipped):
            b = inst.pred_boxes.tensor  # already in (height, width) coordinates
            if is_flipped:
                b = torch.stack([width - b[:, 2], b[:, 1], width - b[:, 0], b[:, 3]], dim=1)
            boxes.append(b)
            scores.append(inst.scores)
            classes.append(inst.pred_classes)
        boxes, scores, classes = torch.cat(boxes), torch.cat(scores), torch.cat(classes)

        if self.merge == "voting":
            boxes, keep = _vote(boxes, scores, self.merge_iou, self.max_detections)
        else:
            keep = nms(boxes, scores, self.merge_iou)
            if self.max_detections >= 0:
                keep = keep[: self.max_detections]
            boxes = boxes[keep]
        result = Instances((height, width))
        result.pred_boxes = Boxes(boxes)
        result.scores = scores[keep]
        result.pred_classes = classes[keep]
        return result
