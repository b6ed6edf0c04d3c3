"""Backbones, meta-architecture, segmentation targets and TTA of DF2S2."""
from .backbone import FFP, build_resnet_ffp_backbone, build_resnet_fpn_p2p7_backbone
from .meta_arch import DF2S2, DF2S2Head
from .seg_targets import BoxMaskTargets, build_box_mask_targets

__all__ = [
    "DF2S2",
    "DF2S2Head",
    "FFP",
    "BoxMaskTargets",
    "build_box_mask_targets",
    "build_resnet_ffp_backbone",
    "build_resnet_fpn_p2p7_backbone",
]
