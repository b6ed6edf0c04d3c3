"""The RetinaNet baseline's backbone: Detectron2's FPN on res2..res5 with max-pooled P6, P7."""
from detectron2.layers import ShapeSpec
from detectron2.modeling import BACKBONE_REGISTRY
from detectron2.modeling.backbone.fpn import FPN
from detectron2.modeling.backbone.resnet import build_resnet_backbone

from .top_levels import MaxPoolTopLevels


@BACKBONE_REGISTRY.register()
def build_resnet_fpn_p2p7_backbone(cfg, input_shape: ShapeSpec) -> FPN:
    """FPN P2-P7 whose P6, P7 come from P5 exactly as the FFP's do.

    With the same ResNet, projection width, top levels and head, the baseline and
    DF2S2 differ only in the top-down fusion (the paper's Table 2 comparison).
    Uses ``MODEL.FPN`` for the FPN itself and ``MODEL.FFP.NUM_TOP_LEVELS``.
    """
    backbone = FPN(
        bottom_up=build_resnet_backbone(cfg, input_shape),
        in_features=cfg.MODEL.FPN.IN_FEATURES,
        out_channels=cfg.MODEL.FPN.OUT_CHANNELS,
        norm=cfg.MODEL.FPN.NORM,
        top_block=MaxPoolTopLevels(cfg.MODEL.FFP.NUM_TOP_LEVELS, in_feature="p5"),
        fuse_type=cfg.MODEL.FPN.FUSE_TYPE,
    )
    # Detectron2's FPN pads to its largest *input* stride (32); pad to the coarsest
    # output level instead so that every level is exactly half the one below.
    backbone._size_divisibility = max(s.stride for s in backbone.output_shape().values())
    return backbone
