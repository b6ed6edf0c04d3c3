"""Variants built under one SEED start from the same weights in every module they share,
whatever else they build and whatever the global random state was."""
import torch
from detectron2.modeling import build_model

from tests.common import get_config

BASELINE = ["MODEL.BACKBONE.NAME", "build_resnet_fpn_p2p7_backbone", "MODEL.DF2S2.SHARED_TOWER", False,
            "MODEL.DF2S2.SEG_HEAD", False]
SEG = ["MODEL.BACKBONE.NAME", "build_resnet_fpn_p2p7_backbone", "MODEL.DF2S2.SHARED_TOWER", False]
FUS = ["MODEL.DF2S2.SHARED_TOWER", False, "MODEL.DF2S2.SEG_HEAD", False]
DF2S2 = []


def state(opts, seed=7, global_seed=0):
    torch.manual_seed(global_seed)
    cfg = get_config(opts=["SEED", seed, "MODEL.RETINANET.NUM_CONVS", 2, *opts])
    return build_model(cfg).state_dict()


def shared_equal(a, b, prefix):
    keys = [k for k in a if k.startswith(prefix) and k in b and a[k].shape == b[k].shape]
    assert keys, prefix
    return all(torch.equal(a[k], b[k]) for k in keys)


def test_variants_under_one_seed_share_the_weights_of_shared_modules():
    variants = {name: state(opts) for name, opts in
                [("baseline", BASELINE), ("seg", SEG), ("fus", FUS), ("df2s2", DF2S2)]}
    names = list(variants)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            for prefix in ("backbone.bottom_up.", "head.cls_subnet.", "head.cls_score.", "head.bbox_pred."):
                assert shared_equal(variants[a], variants[b], prefix), (a, b, prefix)
    assert shared_equal(variants["baseline"], variants["fus"], "head.bbox_subnet.")
    assert shared_equal(variants["seg"], variants["df2s2"], "head.seg_pred.")
    assert shared_equal(variants["fus"], variants["df2s2"], "backbone.fblocks.")
    assert shared_equal(variants["fus"], variants["df2s2"], "backbone.projections.")


def test_init_does_not_depend_on_the_global_random_state_but_on_seed():
    a, b = state(DF2S2, global_seed=1), state(DF2S2, global_seed=2)
    assert all(torch.equal(a[k], b[k]) for k in a)
    other = state(DF2S2, seed=8)
    assert not torch.equal(a["head.cls_subnet.0.weight"], other["head.cls_subnet.0.weight"])
    assert not torch.equal(a["backbone.bottom_up.stem.conv1.weight"], other["backbone.bottom_up.stem.conv1.weight"])
