"""The torch-free runtime reproduces the eager Detectron2 model's detections."""
import numpy as np
import pytest
import torch
from torchvision.ops import batched_nms as tv_batched_nms
from torchvision.ops import nms as tv_nms

from detectron2.data import transforms as T
from detectron2.modeling.postprocessing import detector_postprocess

from df2s2_d2 import FaceDetector
from df2s2_deploy import OnnxFaceDetector
from df2s2_deploy.anchors import cell_anchors, grid_anchors
from df2s2_deploy.deploy_config import DeployConfig
from df2s2_deploy.nms import batched_nms, nms
from df2s2_deploy.preprocessing import model_input, resize
from df2s2_deploy.retinanet_decoding import (
    decode_detections,
    dense_to_anchor_major,
    postprocess,
    sigmoid,
)

# (height, width) of the test images: landscape, portrait, odd sizes, an extreme ratio,
# and one larger than the test size (shrunk, so the boxes are scaled up).
SIZES = [(97, 131), (240, 180), (160, 256), (64, 400), (300, 500)]


def random_image(height, width, seed):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def assert_same_detections(expected, actual, box_atol=1e-3, score_atol=1e-4):
    """The same detections, paired one to one (nearly tied scores may swap places)."""
    assert len(actual) == len(expected) > 50
    distance = np.abs(expected.boxes[:, None] - actual.boxes[None]).max(axis=-1)
    nearest = distance.argmin(axis=1)
    assert sorted(nearest.tolist()) == list(range(len(actual)))
    assert distance.min(axis=1).max() <= box_atol
    np.testing.assert_allclose(actual.scores[nearest], expected.scores, atol=score_atol, rtol=0)


@pytest.fixture(scope="module")
def eager(deploy_cfg, seeded_weights):
    return FaceDetector(deploy_cfg, weights=seeded_weights)


@pytest.mark.parametrize("size", SIZES)
def test_onnx_runtime_detections_equal_the_eager_models(eager, deploy_model, size):
    image = random_image(*size, seed=size[0])
    onnx_detector = OnnxFaceDetector(deploy_model[0])
    assert_same_detections(eager.detect(image), onnx_detector.detect(image))


def test_numpy_postprocessing_equals_retinanet_inference_on_the_same_head_outputs(
    eager, deploy_model
):
    """Given the very same head outputs, numpy decoding, top-k, NMS and rescaling give
    Detectron2's detections to float32 rounding (top-k cuts the 24k anchors of P2)."""
    model, config = eager.model, DeployConfig.load(deploy_model[1])
    original = random_image(300, 500, seed=1)
    image = resize(original, 160, 256)
    batch = model_input(image, config.input.pixel_mean, config.input.pixel_std, 128)
    with torch.no_grad():
        images = model.preprocess_image([{"image": torch.from_numpy(image.transpose(2, 0, 1).astype("float32"))}])
        assert torch.equal(images.tensor, torch.from_numpy(batch))
        features = model.backbone(images.tensor)
        features = [features[f] for f in model.head_in_features]
        logits, deltas = model.head(features)
        expected = model.forward_inference(images, features, [logits, deltas])[0]
        expected = detector_postprocess(expected, *original.shape[:2])
    assert logits[0][0, :, :, :].numel() > config.inference.topk_candidates
    scores = [sigmoid(dense_to_anchor_major(x.numpy(), 1)[0]) for x in logits]
    box_deltas = [dense_to_anchor_major(x.numpy(), 4)[0] for x in deltas]
    cells = [cell_anchors(s, r) for s, r in zip(config.anchors.sizes, config.anchors.aspect_ratios)]
    anchors = grid_anchors(
        [x.shape[-2:] for x in logits], config.anchors.strides, cells, config.anchors.offset
    )
    boxes, scores, _ = decode_detections(scores, box_deltas, anchors, config)
    boxes, scores = postprocess(boxes, scores, image.shape[:2], original.shape[:2])
    assert len(boxes) == len(expected) > 50
    np.testing.assert_allclose(boxes, expected.pred_boxes.tensor.numpy(), atol=1e-4, rtol=0)
    np.testing.assert_allclose(scores, expected.scores.numpy(), atol=1e-7, rtol=0)


@pytest.mark.parametrize("size", SIZES + [(160, 160), (1000, 30)])
def test_resize_is_detectron2_resize_shortest_edge(size):
    image = random_image(*size, seed=3)
    expected = T.ResizeShortestEdge([160, 160], 256).get_transform(image).apply_image(image)
    np.testing.assert_array_equal(resize(image, 160, 256), expected)


def test_anchors_are_the_models(eager):
    model = eager.model
    config = model.anchor_generator
    shapes = [(20, 32), (10, 16), (5, 8), (3, 4), (2, 2), (1, 1)]
    features = [torch.zeros(1, 1, h, w) for h, w in shapes]
    expected = [b.tensor.numpy() for b in model.anchor_generator(features)]
    cells = [c.numpy() for c in config.cell_anchors]
    sizes = eager.cfg.MODEL.ANCHOR_GENERATOR.SIZES
    ratios = eager.cfg.MODEL.ANCHOR_GENERATOR.ASPECT_RATIOS[0]
    for level_cells, level_sizes in zip(cells, sizes):
        np.testing.assert_array_equal(cell_anchors(level_sizes, ratios), level_cells)
    for actual, want in zip(grid_anchors(shapes, config.strides, cells, config.offset), expected):
        np.testing.assert_array_equal(actual, want)


@pytest.mark.parametrize("num_boxes", [300, 1500])  # torchvision's two batched-NMS paths
def test_nms_keeps_torchvisions_boxes_in_its_order_with_tied_scores(num_boxes):
    rng = np.random.default_rng(num_boxes)
    xy = rng.uniform(0, 200, (num_boxes, 2)).astype(np.float32)
    boxes = np.concatenate([xy, xy + rng.uniform(5, 60, (num_boxes, 2))], axis=1).astype(np.float32)
    boxes[1::7] = boxes[::7][: len(boxes[1::7])]  # identical boxes
    scores = rng.choice(np.linspace(0.1, 0.9, 20), num_boxes).astype(np.float32)  # many ties
    classes = rng.integers(0, 3, num_boxes)
    for threshold in (0.3, 0.5):
        expected = tv_nms(torch.from_numpy(boxes), torch.from_numpy(scores), threshold)
        np.testing.assert_array_equal(nms(boxes, scores, threshold), expected.numpy())
        expected = tv_batched_nms(
            torch.from_numpy(boxes), torch.from_numpy(scores), torch.from_numpy(classes), threshold
        )
        actual = batched_nms(boxes, scores, classes, threshold)
        # the same boxes; the order may differ only among equal scores
        assert sorted(actual.tolist()) == sorted(expected.tolist())
        np.testing.assert_array_equal(scores[actual], scores[expected.numpy()])
        # stopping early keeps the first ones
        np.testing.assert_array_equal(batched_nms(boxes, scores, classes, threshold, 40), actual[:40])


def test_paths_and_rgb_arrays_give_the_detections_of_bgr_arrays(deploy_model, tmp_path):
    from PIL import Image

    rgb = random_image(120, 90, seed=7)
    Image.fromarray(rgb).save(tmp_path / "image.png")
    bgr_detector = OnnxFaceDetector(deploy_model[0])
    expected = bgr_detector.detect(rgb[:, :, ::-1])
    for actual in (
        bgr_detector.detect(str(tmp_path / "image.png")),
        OnnxFaceDetector(deploy_model[0], input_format="RGB").detect(rgb),
        bgr_detector.detect([rgb[:, :, ::-1]])[0],
    ):
        np.testing.assert_array_equal(actual.boxes, expected.boxes)
        np.testing.assert_array_equal(actual.scores, expected.scores)


def test_a_higher_score_threshold_keeps_the_same_detections_above_it(deploy_model):
    image = random_image(97, 131, seed=2)
    all_detections = OnnxFaceDetector(deploy_model[0]).detect(image)
    threshold = float(np.median(all_detections.scores))
    high = OnnxFaceDetector(deploy_model[0], score_threshold=threshold).detect(image)
    above = all_detections.scores > threshold
    assert 0 < len(high) == above.sum() < len(all_detections)
    np.testing.assert_array_equal(high.boxes, all_detections.boxes[above])
    np.testing.assert_array_equal(high.scores, all_detections.scores[above])


def test_a_deploy_json_without_a_setting_is_rejected_naming_the_file_and_key(
    deploy_model, tmp_path
):
    import json

    data = json.loads(open(deploy_model[1]).read())
    del data["anchors"]["offset"]
    bad = tmp_path / "face_detector.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"face_detector.json: 'anchors' lacks offset"):
        DeployConfig.load(str(bad))
    with pytest.raises(FileNotFoundError, match="missing.json: no deploy JSON beside"):
        OnnxFaceDetector(deploy_model[0], config_path=str(tmp_path / "missing.json"))
