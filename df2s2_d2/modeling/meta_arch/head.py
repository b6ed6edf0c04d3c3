"""DF2S2 head: one conv tower shared by the cls, box and (training-only) seg predictors."""
import math
from typing import List, Tuple

from torch import Tensor, nn

from detectron2.config import configurable
from detectron2.layers import ShapeSpec, get_norm
from detectron2.modeling.anchor_generator import build_anchor_generator


def _conv_tower(channels: int, num_convs: int, norm: str) -> nn.Sequential:
    layers = []
    for _ in range(num_convs):
        layers.append(nn.Conv2d(channels, channels, 3, padding=1))
        if norm:
            layers.append(get_norm(norm, channels))
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class DF2S2Head(nn.Module):
    """Dense head of the paper (sections 3.1, 3.2), shared across all pyramid levels.

    ``shared_tower=True``: one tower of ``num_convs`` 3x3 convs feeds all three
    predictors (the paper). ``False``: RetinaNet's separate cls / box towers,
    the seg predictor on the cls tower (ablations). The seg predictor runs only
    in training mode, so the eval / export graph is a plain RetinaNet head.
    """

    @configurable
    def __init__(
        self,
        *,
        input_shape: List[ShapeSpec],
        num_classes: int,
        num_anchors: int,
        num_convs: int = 4,
        norm: str = "",
        prior_prob: float = 0.01,
        shared_tower: bool = True,
        seg_head: bool = True,
    ):
        super().__init__()
        channels = input_shape[0].channels
        if any(s.channels != channels for s in input_shape):
            raise ValueError(f"All head input levels need one width, got {input_shape}")
        self.shared_tower = shared_tower
        self.cls_tower = _conv_tower(channels, num_convs, norm)
        self.box_tower = None if shared_tower else _conv_tower(channels, num_convs, norm)
        self.cls_score = nn.Conv2d(channels, num_anchors * num_classes, 3, padding=1)
        self.bbox_pred = nn.Conv2d(channels, num_anchors * 4, 3, padding=1)
        self.seg_pred = nn.Conv2d(channels, num_classes, 3, padding=1) if seg_head else None

        # New layers: Xavier (paper, 3.4) for the tower. The predictors start as
        # RetinaNet's (normal, std 0.01) so that the cls bias prior holds at the
        # start: Xavier predictors give logits of the features' scale and an
        # initial focal loss ~50x larger, which diverged at lr 0.01 in our tests.
        for layer in self.modules():
            if isinstance(layer, nn.Conv2d):
                nn.init.xavier_uniform_(layer.weight)
                nn.init.zeros_(layer.bias)
        for predictor in (self.cls_score, self.bbox_pred, self.seg_pred):
            if predictor is not None:
                nn.init.normal_(predictor.weight, std=0.01)
        prior_bias = -math.log((1 - prior_prob) / prior_prob)
        nn.init.constant_(self.cls_score.bias, prior_bias)
        if self.seg_pred is not None:
            nn.init.constant_(self.seg_pred.bias, prior_bias)

    @classmethod
    def from_config(cls, cfg, input_shape: List[ShapeSpec]):
        num_anchors = build_anchor_generator(cfg, input_shape).num_cell_anchors
        if len(set(num_anchors)) != 1:
            raise ValueError(f"Every level needs the same number of anchors, got {num_anchors}")
        return {
            "input_shape": input_shape,
            "num_classes": cfg.MODEL.RETINANET.NUM_CLASSES,
            "num_anchors": num_anchors[0],
            "num_convs": cfg.MODEL.RETINANET.NUM_CONVS,
            "norm": cfg.MODEL.RETINANET.NORM,
            "prior_prob": cfg.MODEL.RETINANET.PRIOR_PROB,
            "shared_tower": cfg.MODEL.DF2S2.SHARED_TOWER,
            "seg_head": cfg.MODEL.DF2S2.SEG_HEAD,
        }

    def forward(self, features: List[Tensor]) -> Tuple[List[Tensor], ...]:
        """features: per level (N, C, H_l, W_l).

        Returns per-level lists: cls logits (N, A*K, H_l, W_l), box deltas
        (N, A*4, H_l, W_l) and, in training with the seg head, seg logits
        (N, K, H_l, W_l).
        """
        logits, deltas, seg_logits = [], [], []
        for feature in features:
            cls_feature = self.cls_tower(feature)
            box_feature = cls_feature if self.box_tower is None else self.box_tower(feature)
            logits.append(self.cls_score(cls_feature))
            deltas.append(self.bbox_pred(box_feature))
            if self.training and self.seg_pred is not None:
                seg_logits.append(self.seg_pred(cls_feature))
        if self.training and self.seg_pred is not None:
            return logits, deltas, seg_logits
        return logits, deltas
