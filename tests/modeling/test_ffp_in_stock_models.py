"""The FFP backbone inside Detectron2's own meta-architectures, no DF2S2 code involved."""
import torch

from detectron2.modeling import GeneralizedRCNN, RetinaNet, build_model
from detectron2.utils.events import EventStorage

from tests.common import face_instances, get_config, random_image

SMALL_RESNET = ["MODEL.RESNETS.DEPTH", 18, "MODEL.RESNETS.RES2_OUT_CHANNELS", 64,
                "MODEL.RESNETS.NORM", "GN", "MODEL.FFP.OUT_CHANNELS", 32]


def build(path, opts=()):
    torch.manual_seed(0)
    return build_model(get_config(path, [*SMALL_RESNET, *opts]))


def record_inputs(module, store):
    """Keep the feature list a head receives (its first positional argument)."""
    module.register_forward_hook(lambda m, args, out: store.append(args[0]))


def train_and_infer(model, height=128, width=192):
    inputs = [{"image": random_image(height, width), "instances": face_instances(
        [[10, 10, 60, 70], [100, 40, 150, 110]], (height, width))}]
    model.train()
    with EventStorage():
        losses = model(inputs)
    total = sum(losses.values())
    assert torch.isfinite(total)
    total.backward()
    model.eval()
    with torch.no_grad():
        out = model([{"image": random_image(height, width)}])[0]["instances"]
    assert out.image_size == (height, width)
    return losses


def test_stock_retinanet_runs_on_ffp_p3_p7():
    model = build("COCO-Detection/retinanet_R_50_FFP_1x.yaml")
    assert type(model) is RetinaNet
    shapes = model.backbone.output_shape()
    assert model.head_in_features == ["p3", "p4", "p5", "p6", "p7"]
    assert [shapes[f].stride for f in model.head_in_features] == [8, 16, 32, 64, 128]
    assert model.backbone.size_divisibility == 128
    received = []
    record_inputs(model.head, received)
    losses = train_and_infer(model)
    assert set(losses) == {"loss_cls", "loss_box_reg"}
    # 128 x 192 is padded to 128 x 256 (divisible by P7's stride): (128/s, 256/s).
    for features in received:
        assert [tuple(f.shape[-2:]) for f in features] == [(16, 32), (8, 16), (4, 8), (2, 4), (1, 2)]


def test_stock_faster_rcnn_runs_rpn_on_p2_p6_and_roi_heads_on_p2_p5():
    model = build("COCO-Detection/faster_rcnn_R_50_FFP_1x.yaml")
    assert type(model) is GeneralizedRCNN
    shapes = model.backbone.output_shape()
    assert list(shapes) == ["p2", "p3", "p4", "p5", "p6"]
    assert model.backbone.size_divisibility == 64
    assert model.proposal_generator.in_features == ["p2", "p3", "p4", "p5", "p6"]
    assert model.roi_heads.box_in_features == ["p2", "p3", "p4", "p5"]
    scales = [1.0 / shapes[f].stride for f in model.roi_heads.box_in_features]
    assert [lvl.spatial_scale for lvl in model.roi_heads.box_pooler.level_poolers] == scales
    received = []
    record_inputs(model.proposal_generator.rpn_head, received)
    losses = train_and_infer(model)
    assert {"loss_rpn_cls", "loss_rpn_loc", "loss_cls", "loss_box_reg"} <= set(losses)
    # 128 x 192 is divisible by P6's stride 64: no padding, (128/s, 192/s).
    for features in received:
        assert [tuple(f.shape[-2:]) for f in features] == [(32, 48), (16, 24), (8, 12), (4, 6), (2, 3)]
