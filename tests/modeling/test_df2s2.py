import math

import pytest
import torch
from fvcore.nn import FlopCountAnalysis

from detectron2.export import TracingAdapter
from detectron2.layers import ShapeSpec
from detectron2.modeling import build_model
from detectron2.utils.events import EventStorage

from df2s2_d2.modeling import DF2S2, DF2S2Head
from df2s2_d2.modeling.seg_targets import build_box_mask_targets
from tests.common import face_instances, random_image, small_cfg

FACES = [[10, 12, 40, 48], [70, 20, 78, 30], [90, 60, 120, 100]]


def build(opts=(), seed=0):
    torch.manual_seed(seed)
    return build_model(small_cfg(opts))


def train_inputs(height=128, width=160, boxes=FACES, seed=0):
    return [{"image": random_image(height, width, seed), "instances": face_instances(boxes, (height, width))}]


def train_losses(model, inputs):
    model.train()
    with EventStorage():
        return model(inputs)


def test_builds_df2s2_with_shared_tower():
    model = build()
    assert isinstance(model, DF2S2)
    assert model.head.bbox_subnet is None and model.head.seg_pred is not None
    separate = build(["MODEL.DF2S2.SHARED_TOWER", False])
    assert separate.head.bbox_subnet is not None


def test_anchors_six_per_location_with_paper_sizes_and_ratios():
    model = build()
    gen = model.anchor_generator
    assert gen.num_cell_anchors == [6] * 6
    for level, base in enumerate([16, 32, 64, 128, 256, 512]):
        cells = list(gen.cell_anchors)[level]
        w, h = cells[:, 2] - cells[:, 0], cells[:, 3] - cells[:, 1]
        sizes = sorted({round(float(s), 2) for s in (w * h).sqrt()})
        expected = [round(base * 2 ** (k / 3), 2) for k in range(3)]
        assert sizes == pytest.approx(expected, rel=1e-3)
        assert sorted({round(float(r), 3) for r in h / w}) == [1.0, 1.5]


def test_loss_terms_exist_are_finite_and_lambda2_scales_seg():
    inputs = train_inputs()
    losses = train_losses(build(["MODEL.DF2S2.SEG_LOSS_WEIGHT", 0.05]), inputs)
    assert set(losses) == {"loss_cls", "loss_box_reg", "loss_seg"}
    assert all(torch.isfinite(v) and v > 0 for v in losses.values())
    doubled = train_losses(build(["MODEL.DF2S2.SEG_LOSS_WEIGHT", 0.1]), inputs)
    assert float(doubled["loss_seg"]) == pytest.approx(2 * float(losses["loss_seg"]), rel=1e-5)
    assert float(doubled["loss_cls"]) == pytest.approx(float(losses["loss_cls"]), rel=1e-5)
    no_seg = train_losses(build(["MODEL.DF2S2.SEG_HEAD", False]), inputs)
    assert set(no_seg) == {"loss_cls", "loss_box_reg"}


def test_baseline_variant_is_detectron2_retinanet_exactly():
    """Seg off, separate towers, RetinaNet's tower init: same parameters, init and losses."""
    from detectron2.modeling.meta_arch.retinanet import RetinaNet, RetinaNetHead

    opts = ["MODEL.BACKBONE.NAME", "build_resnet_fpn_p2p7_backbone", "MODEL.FPN.OUT_CHANNELS", 32,
            "MODEL.DF2S2.SEG_HEAD", False, "MODEL.DF2S2.SHARED_TOWER", False,
            "MODEL.DF2S2.TOWER_INIT", "normal"]
    ours = build(opts)
    theirs = build(opts + ["MODEL.META_ARCHITECTURE", "RetinaNet"])
    assert type(theirs) is RetinaNet and isinstance(ours, DF2S2)
    # Same parameters (strict load), hence the same module names and shapes ...
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict(), strict=True)
    # ... the same losses from the same weights ...
    inputs = train_inputs()
    la, lb = train_losses(ours, inputs), train_losses(theirs, inputs)
    assert la.keys() == lb.keys() and all(torch.equal(la[k], lb[k]) for k in la)
    # ... and, without a SEED (no per-module streams), the same init from the same random state.
    cfg, shapes = small_cfg(opts + ["SEED", -1]), [ShapeSpec(channels=32, stride=s) for s in (4, 8, 16, 32, 64, 128)]
    torch.manual_seed(3)
    a = DF2S2Head(cfg, shapes).state_dict()
    torch.manual_seed(3)
    b = RetinaNetHead(cfg, shapes).state_dict()
    assert list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("shared", [True, False])
def test_tower_init_is_xavier_fill_or_retinanet_normal_for_every_tower(shared):
    xavier = build(["MODEL.DF2S2.TOWER_INIT", "xavier", "MODEL.DF2S2.SHARED_TOWER", shared]).head
    normal = build(["MODEL.DF2S2.TOWER_INIT", "normal", "MODEL.DF2S2.SHARED_TOWER", shared]).head
    towers = [(xavier.cls_subnet, normal.cls_subnet)]
    if not shared:
        towers.append((xavier.bbox_subnet, normal.bbox_subnet))
    for xt, nt in towers:
        convs = [(x, n) for x, n in zip(xt, nt) if isinstance(x, torch.nn.Conv2d)]
        assert convs
        for x, n in convs:
            bound = math.sqrt(3 / (x.in_channels * 9))  # Detectron's XavierFill
            assert float(x.weight.abs().max()) <= bound
            assert float(x.weight.std()) == pytest.approx(bound / math.sqrt(3), rel=0.1)
            assert float(n.weight.std()) == pytest.approx(0.01, rel=0.1)
    # The predictors start as RetinaNet's in both cases.
    for head in (xavier, normal):
        assert float(head.cls_score.weight.std()) == pytest.approx(0.01, rel=0.1)
        assert float(head.cls_score.bias[0]) == pytest.approx(-math.log(99), rel=1e-6)


def test_head_builds_on_retinanet_head_with_per_level_batch_norm():
    from detectron2.modeling.meta_arch.retinanet import RetinaNetHead
    from detectron2.layers import CycleBatchNormList

    head = build(["MODEL.RETINANET.NORM", "BN"]).head
    assert isinstance(head, RetinaNetHead)
    assert any(isinstance(m, CycleBatchNormList) for m in head.cls_subnet)


def test_head_scripts_and_matches_eager():
    head = build(["MODEL.DF2S2.SHARED_TOWER", True]).head.eval()
    features = [torch.randn(1, 32, 16 // 2**i + 1, 12 // 2**i + 1) for i in range(6)]
    scripted = torch.jit.script(head)
    with torch.no_grad():
        for eager, script in zip(head(features), scripted(features)):
            for e, s in zip(eager, script):
                assert torch.allclose(e, s, atol=1e-6)


def test_mapper_attached_and_model_computed_targets_are_identical():
    model = build()
    inputs = train_inputs(height=100, width=150)
    boxes = inputs[0]["instances"].gt_boxes.tensor
    mapper_targets = build_box_mask_targets(small_cfg())
    attached = mapper_targets(
        boxes, torch.zeros(len(boxes), dtype=torch.bool), mapper_targets.grid_sizes((100, 150))
    )
    model.train()
    with torch.no_grad():
        images = model.preprocess_image(inputs)
        feats = model.backbone(images.tensor)
        seg_logits = model.head.forward_with_seg([feats[f] for f in model.head_in_features])[2]
    computed = model.seg_targets(inputs, [inputs[0]["instances"]], seg_logits)
    given = model.seg_targets([dict(inputs[0], seg_targets=attached)], [inputs[0]["instances"]], seg_logits)
    assert any(int(t.sum()) > 0 for t in computed)
    for a, b in zip(computed, given):
        assert torch.equal(a, b)
    # Padded to the 128-divisible batch: the targets cover the logits exactly.
    assert [tuple(t.shape[-2:]) for t in computed] == [tuple(x.shape[-2:]) for x in seg_logits]


def test_eval_flops_equal_with_and_without_seg_head_and_seg_never_runs():
    image = [{"image": random_image(128, 128).float()}]
    flops = []
    for seg in (True, False):
        model = build(["MODEL.DF2S2.SEG_HEAD", seg]).eval()
        calls = []
        if model.head.seg_pred is not None:
            model.head.seg_pred.register_forward_hook(lambda *a: calls.append(1))
        adapter = TracingAdapter(model, image)
        with torch.no_grad():
            flops.append(FlopCountAnalysis(adapter, adapter.flattened_inputs).unsupported_ops_warnings(False).total())
            model(image)
        assert calls == []
    assert flops[0] == flops[1] > 0


def test_training_steps_reduce_the_loss_without_nan():
    model = build()
    inputs = train_inputs() + train_inputs(seed=1, boxes=[[20, 20, 60, 60]])
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    totals = []
    for _ in range(8):
        losses = train_losses(model, inputs)
        total = sum(losses.values())
        assert torch.isfinite(total)
        totals.append(float(total))
        opt.zero_grad()
        total.backward()
        opt.step()
    assert totals[-1] < totals[0]


def test_empty_images_train_and_infer():
    model = build()
    losses = train_losses(model, train_inputs(boxes=[]))
    assert all(torch.isfinite(v) for v in losses.values())
    assert float(losses["loss_box_reg"]) == 0.0
    sum(losses.values()).backward()
    model.eval()
    with torch.no_grad():
        out = model([{"image": random_image(64, 96)}])[0]["instances"]
    assert out.image_size == (64, 96)
    assert set(out.get_fields()) == {"pred_boxes", "scores", "pred_classes"}


def test_inference_rescales_to_requested_size():
    model = build().eval()
    with torch.no_grad():
        out = model([{"image": random_image(128, 160), "height": 256, "width": 320}])[0]["instances"]
    assert out.image_size == (256, 320)
    if len(out):
        assert float(out.pred_boxes.tensor[:, 2].max()) <= 320


def test_torchscript_trace_reproduces_eager_outputs(tmp_path):
    model = build().eval()
    model.test_score_thresh = 0.0  # keep detections from random weights
    inputs = [{"image": random_image(128, 128).float()}]
    adapter = TracingAdapter(model, inputs)
    with torch.no_grad():
        traced = torch.jit.trace(adapter, adapter.flattened_inputs)
        traced.save(str(tmp_path / "model.ts"))
        loaded = torch.jit.load(str(tmp_path / "model.ts"))
        eager = model(inputs)[0]["instances"]
        outputs = adapter.outputs_schema(loaded(*adapter.flattened_inputs))[0]["instances"]
    assert len(eager) > 0
    assert torch.allclose(eager.pred_boxes.tensor, outputs.pred_boxes.tensor, atol=1e-4)
    assert torch.allclose(eager.scores, outputs.scores, atol=1e-5)
