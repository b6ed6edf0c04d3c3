"""The baseline of Tables 1-2: retinanet_R_50_FPN_P2P7.yaml as a LazyConfig.

Detectron2's RetinaNet on an FPN with the same six levels (P6, P7 max-pooled from
P5), anchors and matching as DF2S2.
"""
from detectron2.config import LazyCall as L
from detectron2.modeling import RetinaNet
from detectron2.modeling.meta_arch.retinanet import RetinaNetHead

from df2s2_d2.modeling.backbone import FPNP2P7

from ..common.data.wider_face import dataloader
from ..common.models.df2s2 import model
from ..common.schedule import lr_multiplier, optimizer, train

model._target_ = RetinaNet
model.backbone = L(FPNP2P7)(
    bottom_up=model.backbone.bottom_up,
    in_features=["res2", "res3", "res4", "res5"],
    out_channels=256,
    norm="",
    fuse_type="sum",
)
model.head = L(RetinaNetHead)(
    input_shape=model.head.input_shape,
    num_classes="${..num_classes}",
    num_anchors=6,
    conv_dims=[256, 256, 256, 256],
    norm="",
    prior_prob=0.01,
)
for key in ("seg_loss_weight", "box_loss_weight"):
    del model[key]
dataloader.train.mapper.box_mask_targets = None
train.output_dir = "./output/retinanet_R_50_FPN_P2P7"
