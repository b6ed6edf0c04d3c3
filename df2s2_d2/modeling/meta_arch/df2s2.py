"""DF2S2 meta-architecture: RetinaNet + shared head + training-only segmentation loss."""
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from detectron2.config import configurable
from detectron2.modeling import META_ARCH_REGISTRY
from detectron2.modeling.meta_arch.retinanet import RetinaNet, permute_to_N_HWA_K
from detectron2.modeling.postprocessing import detector_postprocess
from detectron2.structures import Instances

from df2s2_deploy.face_landmarks import NUM_LANDMARKS

from ..seg_targets import BoxMaskTargets
from .head import DF2S2Head
from .landmarks import inference_with_landmarks, landmark_loss

SEG_LOSS_NORMS = ("level_mean", "cell_mean", "foreground")


@META_ARCH_REGISTRY.register()
class DF2S2(RetinaNet):
    """Detection with Feature Fusion and Segmentation Supervision (Eq. 2).

    Keeps every ``MODEL.RETINANET`` key: anchors, matching, focal loss, its
    normalisation and inference are RetinaNet's. Eq. 2 writes per-level
    normalisers; the paper's implementation is Detectron's RetinaNet, which divides
    every level's focal and box loss by one foreground count, and so does this
    (Detectron2 smooths that count over iterations). Adds ``MODEL.DF2S2``: the
    shared head with its segmentation branch and lambda1 / lambda2.

    Training inputs may carry ``"seg_targets"`` (per-level int8 (h_l, w_l) box
    masks, from the WIDER FACE mapper); otherwise they are made from
    ``instances.gt_boxes`` by the same :class:`BoxMaskTargets`, on this model's
    own anchor grid.

    With ``MODEL.DF2S2.LANDMARKS`` the head also regresses five landmarks per anchor
    (:mod:`.landmarks`): training adds ``loss_landmark`` for inputs whose instances
    carry ``gt_keypoints`` (N, 5, 3), and the detections carry ``pred_keypoints``.
    """

    @configurable
    def __init__(
        self,
        *,
        seg_loss_weight: float = 0.05,
        seg_loss_norm: str = "level_mean",
        box_loss_weight: float = 1.0,
        landmark_loss_weight: float = 0.05,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.seg_loss_weight = seg_loss_weight
        if seg_loss_norm not in SEG_LOSS_NORMS:
            raise ValueError(f"seg_loss_norm must be one of {SEG_LOSS_NORMS}, got {seg_loss_norm!r}")
        self.seg_loss_norm = seg_loss_norm
        self.box_loss_weight = box_loss_weight
        self.landmark_loss_weight = landmark_loss_weight
        self.box_mask_targets = BoxMaskTargets(self.anchor_generator, self.backbone.size_divisibility)

    @classmethod
    def from_config(cls, cfg):
        ret = super().from_config(cfg)
        shapes = ret["backbone"].output_shape()
        feature_shapes = [shapes[f] for f in cfg.MODEL.RETINANET.IN_FEATURES]
        if cfg.MODEL.DF2S2.SEG_HEAD and cfg.MODEL.RETINANET.NUM_CLASSES != 1:
            raise ValueError("The box-mask seg targets are class-agnostic: SEG_HEAD needs NUM_CLASSES 1")
        ret.update(
            head=DF2S2Head(cfg, feature_shapes),
            seg_loss_weight=cfg.MODEL.DF2S2.SEG_LOSS_WEIGHT,
            seg_loss_norm=cfg.MODEL.DF2S2.SEG_LOSS_NORM,
            box_loss_weight=cfg.MODEL.DF2S2.BOX_LOSS_WEIGHT,
            landmark_loss_weight=cfg.MODEL.DF2S2.LANDMARK_LOSS_WEIGHT,
        )
        return ret

    @property
    def has_landmarks(self) -> bool:
        """Whether the head has the landmark predictor (``MODEL.DF2S2.LANDMARKS``)."""
        return self.head.landmark_pred is not None

    def forward(self, batched_inputs: List[Dict]):
        """Eval: RetinaNet's inference (the seg predictor never runs), with landmarks when
        the model has them. Train: the loss dict."""
        if not self.training and not self.has_landmarks:
            return super().forward(batched_inputs)
        images = self.preprocess_image(batched_inputs)
        features = self.backbone(images.tensor)
        features = [features[f] for f in self.head_in_features]
        logits, deltas, seg_logits, landmarks = self.head.predict(features, with_seg=self.training)
        if not self.training:
            return self.inference_with_landmarks(batched_inputs, images, features, logits, deltas, landmarks)
        gt_instances = [x["instances"].to(self.device) for x in batched_inputs]
        losses = self.forward_training(images, features, [logits, deltas], gt_instances)
        if seg_logits:
            targets = self.seg_targets(batched_inputs, gt_instances, seg_logits)
            losses["loss_seg"] = self.seg_loss_weight * self.seg_loss(seg_logits, targets)
        if landmarks:
            anchors = self.anchor_generator(features)
            losses["loss_landmark"] = self.landmark_loss_weight * landmark_loss(
                self.anchor_matcher, anchors, landmarks, gt_instances
            )
        return losses

    def inference_with_landmarks(self, batched_inputs, images, features, logits, deltas, landmarks):
        """RetinaNet's inference and post-processing, the detections with ``pred_keypoints``."""
        anchors = self.anchor_generator(features)
        per_level = [
            [permute_to_N_HWA_K(x, k) for x in outputs]
            for outputs, k in ((logits, self.num_classes), (deltas, 4), (landmarks, 2 * NUM_LANDMARKS))
        ]
        processed = []
        for i, (inputs, image_size) in enumerate(zip(batched_inputs, images.image_sizes)):
            logits_i, deltas_i, landmarks_i = ([x[i] for x in outputs] for outputs in per_level)
            result = inference_with_landmarks(self, anchors, logits_i, deltas_i, landmarks_i, image_size)
            height, width = inputs.get("height", image_size[0]), inputs.get("width", image_size[1])
            processed.append({"instances": detector_postprocess(result, height, width)})
        return processed

    def losses(self, anchors, pred_logits, gt_labels, pred_anchor_deltas, gt_boxes):
        """RetinaNet's focal + smooth L1 (one foreground normaliser), box term x lambda1."""
        losses = super().losses(anchors, pred_logits, gt_labels, pred_anchor_deltas, gt_boxes)
        losses["loss_box_reg"] = self.box_loss_weight * losses["loss_box_reg"]
        return losses

    def seg_targets(
        self, batched_inputs: List[Dict], gt_instances: List[Instances], seg_logits: List[Tensor]
    ) -> List[Tensor]:
        """Per level (N, H_l, W_l) int8 targets, padded with background to the logits' size."""
        grid_sizes = [tuple(x.shape[-2:]) for x in seg_logits]
        per_image = []
        for inputs, instances in zip(batched_inputs, gt_instances):
            targets: Optional[List[Tensor]] = inputs.get("seg_targets")
            if targets is None:
                boxes = instances.gt_boxes.tensor
                no_ignore = torch.zeros(len(boxes), dtype=torch.bool)
                targets = self.box_mask_targets(boxes, no_ignore, grid_sizes)
            per_image.append([_pad_to(t, hw) for t, hw in zip(targets, grid_sizes)])
        return [torch.stack(level).to(self.device) for level in zip(*per_image)]

    def seg_loss(self, seg_logits: List[Tensor], targets: List[Tensor]) -> Tensor:
        """Pixel-wise sigmoid cross entropy of the seg maps (ignored cells excluded), normalised
        as ``seg_loss_norm`` reads Eq. 2: "level_mean", the sum over levels of each level's
        mean; "cell_mean", the mean over the valid cells of all levels; "foreground", the sum
        over the foreground cell count (at least 1).

        seg_logits: per level (N, 1, H_l, W_l); targets: per level (N, H_l, W_l) in {-1, 0, 1}.
        """
        total = seg_logits[0].sum() * 0
        cells, foreground = 0, 0
        for logits, target in zip(seg_logits, targets):
            valid = target >= 0
            if not valid.any():
                continue
            reduction = "mean" if self.seg_loss_norm == "level_mean" else "sum"
            total = total + F.binary_cross_entropy_with_logits(
                logits[:, 0][valid], target[valid].to(logits.dtype), reduction=reduction
            )
            cells, foreground = cells + int(valid.sum()), foreground + int((target > 0).sum())
        if self.seg_loss_norm == "cell_mean":
            return total / max(cells, 1)
        if self.seg_loss_norm == "foreground":
            return total / max(foreground, 1)
        return total

def _pad_to(target: Tensor, size) -> Tensor:
    """Pad an (h, w) target with background (0) at the bottom / right to ``size``."""
    h, w = target.shape
    if (h, w) == tuple(size):
        return target
    if h > size[0] or w > size[1]:
        raise ValueError(f"seg target of size {(h, w)} is larger than its feature map {size}")
    return F.pad(target, (0, size[1] - w, 0, size[0] - h), value=0)
