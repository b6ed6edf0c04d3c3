"""The RetinaNet baseline's backbone: Detectron2's FPN on res2..res5 with max-pooled P6, P7."""
from typing import Dict

from detectron2.layers import ShapeSpec
from detectron2.modeling import BACKBONE_REGISTRY
from detectron2.modeling.backbone.fpn import FPN
from detectron2.modeling.backbone.resnet import build_resnet_backbone

from ..seeded_init import module_rng
from .top_levels import MaxPoolTopLevels


class FPNP2P7(FPN):
    """Detectron2's FPN whose P6, P7 come from P5 exactly as the FFP's do.

    Detectron2's FPN pads to its largest *input* stride (32); this one pads to its
    coarsest output level (128), as the FFP does, so that every level is exactly half
    the one below. With the same ResNet, width, top levels and head, the baseline and
    DF2S2 differ only in the top-down fusion (the paper's Table 2 comparison).
    """

    def __init__(self, **kwargs):
        super().__init__(top_block=MaxPoolTopLevels(2, in_feature="p5"), **kwargs)
        self._coarsest_stride = max(self._out_feature_strides.values())

    @property
    def size_divisibility(self) -> int:
        return self._coarsest_stride

    @property
    def padding_constraints(self) -> Dict[str, int]:
        return {"size_divisibility": self._coarsest_stride, "square_size": 0}


@BACKBONE_REGISTRY.register()
def build_resnet_fpn_p2p7_backbone(cfg, input_shape: ShapeSpec) -> FPNP2P7:
    """ResNet (``MODEL.RESNETS``) + FPN P2-P7 (``MODEL.FPN``: in features, width, norm,
    fuse). The ResNet draws its init from the same stream as the FFP's ResNet
    (:func:`module_rng`), so the baseline and DF2S2 start from one backbone."""
    with module_rng(cfg.SEED, "backbone.bottom_up"):
        bottom_up = build_resnet_backbone(cfg, input_shape)
    with module_rng(cfg.SEED, "backbone.fpn"):
        return FPNP2P7(
            bottom_up=bottom_up,
            in_features=cfg.MODEL.FPN.IN_FEATURES,
            out_channels=cfg.MODEL.FPN.OUT_CHANNELS,
            norm=cfg.MODEL.FPN.NORM,
            fuse_type=cfg.MODEL.FPN.FUSE_TYPE,
        )
