"""DF2S2 R50 on WIDER FACE, as a LazyConfig: the model of configs/Base-DF2S2.yaml.

ResNet-50 -> feature fusion pyramid P2-P7 -> one shared head (cls, box, seg);
anchors 4 x stride x 2^(0, 1/3, 2/3), aspect ratios 1 and 1.5; IoU 0.5 / 0.4.
The segmentation targets come from ``model.anchor_generator`` (the model's own, and
the training mapper's in configs/common/data/wider_face.py).
"""
from detectron2.config import LazyCall as L
from detectron2.layers import ShapeSpec
from detectron2.modeling.anchor_generator import DefaultAnchorGenerator
from detectron2.modeling.backbone import BasicStem, ResNet
from detectron2.modeling.box_regression import Box2BoxTransform
from detectron2.modeling.matcher import Matcher

from df2s2_d2.modeling import DF2S2, DF2S2Head, FFP

STRIDES = [4, 8, 16, 32, 64, 128]
# Base size 4 x stride (16 ... 512), octave scales 2^0, 2^(1/3), 2^(2/3): the yaml's numbers.
ANCHOR_SIZES = [[16, 20.159, 25.398], [32, 40.317, 50.797], [64, 80.635, 101.594],
                [128, 161.270, 203.187], [256, 322.540, 406.375], [512, 645.080, 812.749]]

model = L(DF2S2)(
    backbone=L(FFP)(
        bottom_up=L(ResNet)(
            stem=L(BasicStem)(in_channels=3, out_channels=64, norm="FrozenBN"),
            stages=L(ResNet.make_default_stages)(depth=50, stride_in_1x1=True, norm="FrozenBN"),
            out_features=["res2", "res3", "res4", "res5"],
            freeze_at=2,
        ),
        in_features=["res2", "res3", "res4", "res5"],
        out_channels=256,
        norm="",
        num_top_levels=2,
        deconv_kernel=2,
        # F-blocks start as the identity (yaml: MODEL.FFP.PSI_INIT; "xavier" is the paper's).
        psi_init="zero",
    ),
    head=L(DF2S2Head)(
        input_shape=[L(ShapeSpec)(channels=256, stride=s) for s in STRIDES],
        num_classes="${..num_classes}",
        num_anchors=6,
        conv_dims=[256, 256, 256, 256],
        norm="",
        prior_prob=0.01,
        shared_tower=True,
        seg_head=True,
        tower_init="xavier",
    ),
    head_in_features=["p2", "p3", "p4", "p5", "p6", "p7"],
    anchor_generator=L(DefaultAnchorGenerator)(
        sizes=ANCHOR_SIZES,
        # Detectron2's aspect ratio is height / width: square and 1:1.5 profile faces.
        aspect_ratios=[1.0, 1.5],
        strides=STRIDES,
        offset=0.0,
    ),
    box2box_transform=L(Box2BoxTransform)(weights=[1.0, 1.0, 1.0, 1.0]),
    anchor_matcher=L(Matcher)(thresholds=[0.4, 0.5], labels=[0, -1, 1],
                              allow_low_quality_matches=True),
    num_classes=1,
    focal_loss_alpha=0.25,
    focal_loss_gamma=2.0,
    smooth_l1_beta=0.1,
    box_reg_loss_type="smooth_l1",
    # WIDER FACE evaluation keeps low-score detections (the PR curve needs them).
    test_score_thresh=0.01,
    test_topk_candidates=1000,
    test_nms_thresh=0.4,
    max_detections_per_image=750,
    pixel_mean=[103.530, 116.280, 123.675],
    pixel_std=[1.0, 1.0, 1.0],
    input_format="BGR",
    seg_loss_weight=0.05,
    box_loss_weight=1.0,
)
