from .ffp import FFP, FBlock, build_resnet_ffp_backbone
from .fpn_p2p7 import build_resnet_fpn_p2p7_backbone
from .top_levels import MaxPoolTopLevels

__all__ = [
    "FFP",
    "FBlock",
    "MaxPoolTopLevels",
    "build_resnet_ffp_backbone",
    "build_resnet_fpn_p2p7_backbone",
]
