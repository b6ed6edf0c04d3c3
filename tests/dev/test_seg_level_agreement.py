"""dev/seg_level_agreement.py: through the mapper, every face's seg level is its best-IoU level."""
import torch
from detectron2.modeling import build_model

from df2s2_d2.modeling.seg_targets import build_box_mask_targets
from tests.common import get_config
from dev import seg_level_agreement as tool


def test_synthetic_faces_all_agree_and_the_earlier_rule_does_not():
    cfg = get_config("WIDER-FACE/df2s2_R_50.yaml", ["MODEL.RESNETS.DEPTH", 18,
                                                    "MODEL.RESNETS.RES2_OUT_CHANNELS", 64])
    targets = build_box_mask_targets(cfg)
    generator = build_model(cfg).anchor_generator
    anchors = generator([torch.zeros(1, 1, h, w) for h, w in targets.grid_sizes((tool.SIZE, tool.SIZE))])
    base_sizes = [float(s[0]) for s in cfg.MODEL.ANCHOR_GENERATOR.SIZES]
    agree, old, n = tool.synthetic_faces(cfg, anchors, base_sizes, n=60)
    assert n == 60 and agree == 60
    assert old < 60  # the nearest-base-size rule puts part of every octave one level up
