"""Multi-scale and flip test-time augmentation for DF2S2 (paper, section 4.4).

Detectron2's `GeneralizedRCNNWithTTA` accepts only R-CNN models; `DF2S2WithTTA`
wraps any dense detector whose forward takes and returns Detectron2's batched format.
Detections with five landmarks (``pred_keypoints`` (N, 5, 3), ``MODEL.DF2S2.LANDMARKS``)
keep them through the flip and the merge.
"""

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torchvision.ops import box_iou, nms

from detectron2.data import transforms as T
from detectron2.structures import Boxes, Instances

from df2s2_deploy.face_landmarks import LANDMARK_FLIP_INDICES, NUM_LANDMARKS

__all__ = ["box_voting", "flip_detections", "merge_detections", "DF2S2WithTTA"]


def _vote(boxes, scores, iou_threshold, max_detections):
    """Greedy box voting's groups; see `box_voting`.

    Returns:
        list of K (M_k,) index tensors into the input, one per group, in descending order
        of the groups' scores; each group's highest-scoring box comes first.
    """
    order = torch.sort(scores, descending=True, stable=True).indices
    limit = len(order) if max_detections < 0 else min(len(order), max_detections)
    groups = []
    for _ in range(limit):
        if order.numel() == 0:
            break
        in_group = box_iou(boxes[order[0]][None], boxes[order])[0] >= iou_threshold
        in_group[0] = True  # a degenerate (zero-area) top box still votes for itself
        groups.append(order[in_group])
        order = order[~in_group]
    return groups


def _group_tops(groups, device):
    """(K,) index of each group's highest-scoring member."""
    if not groups:
        return torch.zeros(0, dtype=torch.long, device=device)
    return torch.stack([group[0] for group in groups])


def _weighted_means(values, scores, groups):
    """(K, ...) score-weighted mean of `values` (N, ...) over each group."""
    if not groups:
        return values.new_zeros((0, *values.shape[1:]))
    means = []
    for group in groups:
        weights = scores[group].reshape(-1, *[1] * (values.dim() - 1))
        means.append((values[group] * weights).sum(dim=0) / weights.sum())
    return torch.stack(means)


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
    groups = _vote(boxes, scores, iou_threshold, max_detections)
    return _weighted_means(boxes, scores, groups), scores[_group_tops(groups, boxes.device)]


def flip_detections(instances, width):
    """The detections of an image `width` pixels wide, mirrored horizontally: x -> width - x
    for the boxes and, when present, the landmarks (``pred_keypoints`` (N, 5, 3)), whose
    left and right points also swap (``LANDMARK_FLIP_INDICES``: the eye and mouth corner
    with the smaller x are listed first). Its own inverse, so it maps the detections of a
    flipped image back onto the image. Returns new `Instances` with the same fields.
    """
    result = Instances(instances.image_size, **instances.get_fields())
    b = instances.pred_boxes.tensor
    flipped = torch.stack([width - b[:, 2], b[:, 1], width - b[:, 0], b[:, 3]], dim=1)
    result.pred_boxes = Boxes(flipped)
    if instances.has("pred_keypoints"):
        points = instances.pred_keypoints
        if points.shape[1] != NUM_LANDMARKS:
            raise ValueError(
                f"pred_keypoints of {points.shape[1]} points: the flip knows the "
                f"{NUM_LANDMARKS} face landmarks only"
            )
        points = points[:, list(LANDMARK_FLIP_INDICES)].clone()
        points[:, :, 0] = width - points[:, :, 0]
        result.pred_keypoints = points
    return result


def merge_detections(instances, merge, iou_threshold, max_detections):
    """Class-agnostic merge of the detections of one image (`Instances` with `pred_boxes`,
    `scores`, `pred_classes` and optionally `pred_keypoints`).

    "nms": the kept detections, unchanged (their boxes, classes and landmarks).
    "voting": `box_voting`; each group keeps its top detection's score and class, and its
    landmarks, like its box, are the score-weighted mean of the group's, with the same
    weights (the x, y of each point; the third value stays the group's score, as the
    model gives it).

    Returns:
        `Instances` of the same image size, at most `max_detections` (negative: no
        limit), by descending score.
    """
    boxes, scores = instances.pred_boxes.tensor, instances.scores
    if merge == "voting":
        groups = _vote(boxes, scores, iou_threshold, max_detections)
        result = instances[_group_tops(groups, boxes.device)]
        result.pred_boxes = Boxes(_weighted_means(boxes, scores, groups))
        if instances.has("pred_keypoints"):
            points = _weighted_means(instances.pred_keypoints[:, :, :2], scores, groups)
            result.pred_keypoints = torch.cat([points, result.pred_keypoints[:, :, 2:]], dim=2)
        return result
    if merge == "nms":
        keep = nms(boxes, scores, iou_threshold)
        if max_detections >= 0:
            keep = keep[:max_detections]
        return instances[keep]
    raise ValueError(f"merge must be 'voting' or 'nms', got {merge!r}")


class DF2S2WithTTA(nn.Module):
    """A dense single-class detector with multi-scale and horizontal-flip testing.

    Each image is resized so its shorter side is each of `TEST.AUG.MIN_SIZES` (the
    longer side capped at `TEST.AUG.MAX_SIZE`, as `ResizeShortestEdge` does), and also
    flipped if `TEST.AUG.FLIP`. The detections of all versions, mapped back to the
    original image, are merged class-agnostically by box voting or NMS
    (`TEST.AUG.MERGE`, IoU `TEST.AUG.MERGE_IOU`; see `merge_detections`) and capped at
    `TEST.DETECTIONS_PER_IMAGE`. Same input and output format as the wrapped model;
    the landmarks of a landmark model (``pred_keypoints``) are mapped back like the
    boxes (`flip_detections`) and merged with them.
    """

    def __init__(self, cfg, model, batch_size=3):
        """
        Args:
            cfg (CfgNode): a config with the keys of `add_df2s2_config`.
            model (nn.Module): takes ``[{"image": (C, H, W) tensor, "height": H0,
                "width": W0}]`` and returns ``[{"instances": Instances}]`` with
                `pred_boxes`, `scores`, `pred_classes` and optionally `pred_keypoints`
                (N, 5, 3) in (H0, W0) coordinates.
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

        # only the fields the merge knows, the landmarks when every pass has them
        fields = ["pred_boxes", "scores", "pred_classes"]
        if all(inst.has("pred_keypoints") for inst in outputs):
            fields.append("pred_keypoints")
        detections = []
        for inst, is_flipped in zip(outputs, flipped):
            # already in (height, width) coordinates
            inst = Instances((height, width), **{name: inst.get(name) for name in fields})
            detections.append(flip_detections(inst, width) if is_flipped else inst)
        return merge_detections(
            Instances.cat(detections), self.merge, self.merge_iou, self.max_detections
        )
