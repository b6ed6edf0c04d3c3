"""DF2S2 meta-architecture: RetinaNet + shared head + training-only segmentation loss."""
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from fvcore.nn import sigmoid_focal_loss_jit, smooth_l1_loss
from torch import Tensor

from detectron2.config import configurable
from detectron2.modeling import META_ARCH_REGISTRY
from detectron2.modeling.meta_arch.retinanet import RetinaNet
from detectron2.structures import Instances

from ..seg_targets import box_mask_targets, seg_target_params
from .head import DF2S2Head

LOSS_NORMS = ("all_levels", "per_level")


@META_ARCH_REGISTRY.register()
class DF2S2(RetinaNet):
    """Detection with Feature Fusion and Segmentation Supervision (Eq. 2).

    Keeps every ``MODEL.RETINANET`` key: anchors, matching, focal loss and
    inference are RetinaNet's. Adds ``MODEL.DF2S2``: the shared head with its
    segmentation branch, lambda1 / lambda2, and the loss normalisation.
    Training inputs may carry ``"seg_targets"`` (list of per-level int8
    (h_l, w_l) box masks, from the WIDER FACE mapper); otherwise they are made
    from ``instances.gt_boxes`` by the same function.
    """

    @configurable
    def __init__(
        self,
        *,
        seg_loss_weight: float = 0.05,
        box_loss_weight: float = 1.0,
        loss_norm: str = "all_levels",
        seg_strides: Sequence[int],
        seg_anchor_sizes: Sequence[float],
        **kwargs,
    ):
        super().__init__(**kwargs)
        if loss_norm not in LOSS_NORMS:
            raise ValueError(f"MODEL.DF2S2.LOSS_NORM must be one of {LOSS_NORMS}, got {loss_norm!r}")
        if loss_norm == "per_level" and self.box_reg_loss_type != "smooth_l1":
            raise ValueError("LOSS_NORM 'per_level' (Eq. 2) uses the smooth L1 box loss")
        self.seg_loss_weight = seg_loss_weight
        self.box_loss_weight = box_loss_weight
        self.loss_norm = loss_norm
        self.seg_strides = list(seg_strides)
        self.seg_anchor_sizes = list(seg_anchor_sizes)

    @classmethod
    def from_config(cls, cfg):
        ret = super().from_config(cfg)
        shapes = ret["backbone"].output_shape()
        feature_shapes = [shapes[f] for f in cfg.MODEL.RETINANET.IN_FEATURES]
        if cfg.MODEL.DF2S2.SEG_HEAD and cfg.MODEL.RETINANET.NUM_CLASSES != 1:
            raise ValueError("The box-mask seg targets are class-agnostic: SEG_HEAD needs NUM_CLASSES 1")
        _, anchor_sizes = seg_target_params(cfg)
        ret.update(
            head=DF2S2Head(cfg, feature_shapes),
            seg_loss_weight=cfg.MODEL.DF2S2.SEG_LOSS_WEIGHT,
            box_loss_weight=cfg.MODEL.DF2S2.BOX_LOSS_WEIGHT,
            loss_norm=cfg.MODEL.DF2S2.LOSS_NORM,
            seg_strides=[s.stride for s in feature_shapes],
            seg_anchor_sizes=anchor_sizes,
        )
        return ret

    def forward(self, batched_inputs: List[Dict]):
        """Eval: RetinaNet's inference (the seg predictor never runs). Train: the loss dict."""
        if not self.training:
            return super().forward(batched_inputs)
        images = self.preprocess_image(batched_inputs)
        features = self.backbone(images.tensor)
        features = [features[f] for f in self.head_in_features]
        predictions = self.head(features)
        gt_instances = [x["instances"].to(self.device) for x in batched_inputs]
        losses = self.forward_training(images, features, predictions[:2], gt_instances)
        if len(predictions) == 3:
            targets = self.seg_targets(batched_inputs, gt_instances, predictions[2])
            losses["loss_seg"] = self.seg_loss_weight * self.seg_loss(predictions[2], targets)
        return losses

    def losses(self, anchors, pred_logits, gt_labels, pred_anchor_deltas, gt_boxes):
        """Focal + lambda1 * smooth L1, normalised as ``loss_norm`` says (shapes as RetinaNet's)."""
        if self.loss_norm == "all_levels":
            losses = super().losses(anchors, pred_logits, gt_labels, pred_anchor_deltas, gt_boxes)
        else:
            losses = self.per_level_losses(
                anchors, pred_logits, gt_labels, pred_anchor_deltas, gt_boxes
            )
        losses["loss_box_reg"] = self.box_loss_weight * losses["loss_box_reg"]
        return losses

    def per_level_losses(self, anchors, pred_logits, gt_labels, pred_anchor_deltas, gt_boxes):
        """Eq. 2: per level k, cls loss / N^c_k (anchors counted in the cls loss) and
        box loss / N^r_k (positive anchors), summed over levels.

        gt_labels: N x (R,), gt_boxes: N x (R, 4); pred_*: per level (N, R_l, K or 4).
        """
        labels = torch.stack(gt_labels)  # (N, R)
        boxes = torch.stack(gt_boxes)  # (N, R, 4)
        level_sizes = [len(a) for a in anchors]
        loss_cls = loss_box = pred_logits[0].sum() * 0
        for anchors_l, logits_l, deltas_l, labels_l, boxes_l in zip(
            anchors, pred_logits, pred_anchor_deltas,
            labels.split(level_sizes, dim=1), boxes.split(level_sizes, dim=1),
        ):
            valid = labels_l >= 0
            positive = valid & (labels_l != self.num_classes)
            target = F.one_hot(labels_l[valid], self.num_classes + 1)[:, :-1].to(logits_l.dtype)
            focal = sigmoid_focal_loss_jit(
                logits_l[valid], target, alpha=self.focal_loss_alpha,
                gamma=self.focal_loss_gamma, reduction="sum",
            )
            loss_cls = loss_cls + focal / max(int(valid.sum()), 1)
            num_pos = int(positive.sum())
            if num_pos:
                target_deltas = self.box2box_transform.get_deltas(
                    anchors_l.tensor.expand(len(boxes_l), -1, -1)[positive], boxes_l[positive]
                )
                box = smooth_l1_loss(
                    deltas_l[positive], target_deltas, beta=self.smooth_l1_beta, reduction="sum"
                )
                loss_box = loss_box + box / num_pos
        return {"loss_cls": loss_cls, "loss_box_reg": loss_box}

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
                targets = box_mask_targets(
                    boxes, torch.zeros(len(boxes), dtype=torch.bool), grid_sizes,
                    self.seg_strides, self.seg_anchor_sizes,
                )
            per_image.append(
                [_pad_to(t, hw) for t, hw in zip(targets, grid_sizes)]
            )
        return [torch.stack(level).to(self.device) for level in zip(*per_image)]

    @staticmethod
    def seg_loss(seg_logits: List[Tensor], targets: List[Tensor]) -> Tensor:
        """Sum over levels of the mean pixel-wise sigmoid cross entropy (ignored cells excluded).

        seg_logits: per level (N, 1, H_l, W_l); targets: per level (N, H_l, W_l) in {-1, 0, 1}.
        """
        loss = seg_logits[0].sum() * 0
        for logits, target in zip(seg_logits, targets):
            valid = target >= 0
            if valid.any():
                loss = loss + F.binary_cross_entropy_with_logits(
                    logits[:, 0][valid], target[valid].to(logits.dtype), reduction="mean"
                )
        return loss


def _pad_to(target: Tensor, size) -> Tensor:
    """Pad an (h, w) target with background (0) at the bottom / right to ``size``."""
    h, w = target.shape
    if (h, w) == tuple(size):
        return target
    if h > size[0] or w > size[1]:
        raise ValueError(f"seg target of size {(h, w)} is larger than its feature map {size}")
    return F.pad(target, (0, size[1] - w, 0, size[0] - h), value=0)
