from .ffp import FFP, FBlock, build_resnet_ffp_backbone
from .fpn_p2p7 import FPNP2P7, build_resnet_fpn_p2p7_backbone
from .top_levels import MaxPoolTopLevels

__all__ = [
    "FFP",
    "FBlock",
    "FPNP2P7",
    "MaxPoolTopLevels",
    "build_resnet_ffp_backbone",
    "build_resnet_fpn_p2p7_backbone",
]
