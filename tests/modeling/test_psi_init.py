"""MODEL.FFP.PSI_INIT: F-blocks that start as the identity ("zero") or as the paper's
Xavier-initialised gates ("xavier")."""
import pytest
import torch
from detectron2.layers import ShapeSpec
from detectron2.modeling import build_backbone

from df2s2_d2 import get_df2s2_cfg
from df2s2_d2.modeling.backbone.ffp import FBlock
from tests.common import get_config


def backbone(psi_init, seed=0):
    cfg = get_config(opts=["MODEL.FFP.PSI_INIT", psi_init, "SEED", seed])
    return build_backbone(cfg, ShapeSpec(channels=3)).eval()


def gate_fractions(model, image):
    """{F-block index: fraction of positions where 1 + Psi < 0} on ``image``."""
    fractions = {}
    hooks = [fb.register_forward_hook(
        lambda m, inputs, out, i=i: fractions.__setitem__(i, float(((1 + m.psi(inputs[1])[..., :inputs[0].shape[-2], :inputs[0].shape[-1]]) < 0).float().mean())))
        for i, fb in enumerate(m for m in model.modules() if isinstance(m, FBlock))]
    with torch.no_grad():
        model(image)
    for h in hooks:
        h.remove()
    return fractions


def test_zero_psi_makes_every_fblock_the_identity():
    model = backbone("zero")
    image = torch.randn(1, 3, 128, 128) * 50
    for fblock in model.fblocks:
        assert not fblock.psi.weight.any() and not fblock.psi.bias.any()
    with torch.no_grad():
        out = model(image)
        bottom_up = model.bottom_up(image)
        # The pyramid is the projected backbone features: the F-blocks pass them unchanged.
        for i, name in enumerate(model.in_features):
            assert torch.equal(out[f"p{i + 2}"], model.projections[i](bottom_up[name]))
    assert set(gate_fractions(model, image).values()) == {0.0}


def test_xavier_psi_starts_as_a_sign_flipping_gate_and_zero_does_not():
    image = torch.randn(1, 3, 128, 128) * 50
    xavier = gate_fractions(backbone("xavier"), image)
    assert len(xavier) == 3 and all(f > 0.02 for f in xavier.values())
    assert max(gate_fractions(backbone("zero"), image).values()) == 0.0


def test_zero_psi_still_learns_its_fusion():
    model = backbone("zero").train()
    out = model(torch.randn(2, 3, 128, 128) * 50)
    sum(v.square().mean() for v in out.values()).backward()
    assert all(fb.psi.weight.grad.abs().sum() > 0 for fb in model.fblocks)


def test_unknown_psi_init_is_an_error_naming_the_key_at_config_load():
    with pytest.raises(ValueError, match=r"^MODEL\.FFP\.PSI_INIT: expected one of 'zero', 'xavier', found 'kaiming'$"):
        get_df2s2_cfg(None, ["MODEL.FFP.PSI_INIT", "kaiming"])
