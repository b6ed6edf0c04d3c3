import pytest
import torch

from detectron2.layers import ShapeSpec
from detectron2.modeling import build_backbone

from df2s2_d2.modeling.backbone import FBlock
from tests.common import get_config


def test_fblock_equals_formula_with_known_weights():
    block = FBlock(deep_channels=2, shallow_channels=1, kernel_size=2)
    with torch.no_grad():
        block.psi.weight.fill_(0.5)  # (in 2, out 1, 2, 2)
        block.psi.bias.fill_(1.0)
    shallow = torch.arange(16, dtype=torch.float32).reshape(1, 1, 4, 4)
    deep = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[1.0, 0.0], [0.0, 1.0]]]])
    # Kernel 2 / stride 2: every output pixel of a 2x2 block sees one deep pixel:
    # Psi = 0.5 * (deep_c0 + deep_c1) + 1, repeated over its 2x2 block.
    psi = 0.5 * deep.sum(1, keepdim=True) + 1.0
    psi = psi.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
    expected = shallow * psi + shallow
    assert torch.allclose(block(shallow, deep), expected)


def test_fblock_crops_to_odd_shallow_size():
    block = FBlock(4, 2)
    out = block(torch.ones(1, 2, 5, 7), torch.ones(1, 4, 3, 4))
    assert out.shape == (1, 2, 5, 7)


@pytest.mark.parametrize("depth", [18, 34, 50, 101])
def test_ffp_levels_strides_and_shapes(depth):
    opts = ["MODEL.RESNETS.DEPTH", depth, "MODEL.FFP.OUT_CHANNELS", 16, "MODEL.FFP.NORM", ""]
    if depth >= 50:
        opts += ["MODEL.RESNETS.RES2_OUT_CHANNELS", 256, "MODEL.RESNETS.NORM", "FrozenBN"]
    backbone = build_backbone(get_config(opts=opts), ShapeSpec(channels=3))
    shapes = backbone.output_shape()
    assert list(shapes) == ["p2", "p3", "p4", "p5", "p6", "p7"]
    assert [s.stride for s in shapes.values()] == [4, 8, 16, 32, 64, 128]
    assert all(s.channels == 16 for s in shapes.values())
    assert backbone.size_divisibility == 128
    backbone.eval()
    with torch.no_grad():
        out = backbone(torch.zeros(1, 3, 256, 384))
    for name, spec in shapes.items():
        assert out[name].shape == (1, 16, 256 // spec.stride, 384 // spec.stride)


def test_ffp_odd_input_sizes_halve_with_ceil():
    backbone = build_backbone(get_config(opts=["MODEL.FFP.OUT_CHANNELS", 8, "MODEL.FFP.NORM", ""]), ShapeSpec(channels=3))
    backbone.eval()
    with torch.no_grad():
        out = backbone(torch.zeros(1, 3, 97, 131))
    sizes = [tuple(out[f].shape[-2:]) for f in ["p2", "p3", "p4", "p5", "p6", "p7"]]
    for (h, w), (h2, w2) in zip(sizes, sizes[1:]):
        assert (h2, w2) == ((h + 1) // 2, (w + 1) // 2)


@pytest.mark.parametrize("top_levels,names,div", [
    (0, ["p2", "p3", "p4", "p5"], 32),
    (1, ["p2", "p3", "p4", "p5", "p6"], 64),
    (2, ["p2", "p3", "p4", "p5", "p6", "p7"], 128),
])
def test_ffp_top_levels_configurable(top_levels, names, div):
    cfg = get_config(opts=["MODEL.FFP.NUM_TOP_LEVELS", top_levels, "MODEL.FFP.OUT_CHANNELS", 8, "MODEL.FFP.NORM", ""])
    backbone = build_backbone(cfg, ShapeSpec(channels=3))
    assert list(backbone.output_shape()) == names
    assert backbone.size_divisibility == div
    assert backbone.padding_constraints["size_divisibility"] == div


def test_fpn_p2p7_baseline_matches_ffp_levels():
    cfg = get_config(
        "WIDER-FACE/retinanet_R_50_FPN_P2P7.yaml",
        ["MODEL.RESNETS.DEPTH", 18, "MODEL.RESNETS.RES2_OUT_CHANNELS", 64, "MODEL.FPN.OUT_CHANNELS", 8],
    )
    backbone = build_backbone(cfg, ShapeSpec(channels=3))
    shapes = backbone.output_shape()
    assert [s.stride for s in shapes.values()] == [4, 8, 16, 32, 64, 128]
    assert backbone.size_divisibility == 128
    backbone.eval()
    with torch.no_grad():
        out = backbone(torch.zeros(1, 3, 256, 256))
    # P6, P7 are max-pools of P5, exactly as in the FFP.
    p6 = torch.nn.functional.max_pool2d(out["p5"], 2, 2, ceil_mode=True)
    assert torch.equal(out["p6"], p6)
    assert torch.equal(out["p7"], torch.nn.functional.max_pool2d(p6, 2, 2, ceil_mode=True))


@pytest.mark.parametrize("name", ["build_resnet_ffp_backbone", "build_resnet_fpn_p2p7_backbone"])
def test_backbone_scripts_and_matches_eager(name):
    import detectron2.export.torchscript  # noqa: F401  Detectron2's patch that makes ResNet scriptable

    opts = ["MODEL.BACKBONE.NAME", name, "MODEL.FFP.OUT_CHANNELS", 16, "MODEL.FPN.OUT_CHANNELS", 16,
            "MODEL.FFP.NORM", "", "MODEL.FPN.NORM", ""]
    backbone = build_backbone(get_config(opts=opts), ShapeSpec(channels=3)).eval()
    scripted = torch.jit.script(backbone)
    x = torch.randn(1, 3, 128, 256)  # padded, as the model feeds it (FPN needs that)
    with torch.no_grad():
        eager, script = backbone(x), scripted(x)
    assert list(eager) == list(script)
    for key in eager:
        assert torch.allclose(eager[key], script[key], atol=1e-5), key
