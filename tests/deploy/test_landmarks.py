"""The five landmarks through the deploy path: exported as per-level outputs of the ONNX
model, listed in its JSON, decoded by the torch-free runtime as the eager model decodes
them, written by `df2s2-detect`; a model without them exports as before."""
import json

import numpy as np
import onnx
import pytest
import torch

from detectron2.modeling import build_model

from df2s2_d2 import FaceDetector
from df2s2_deploy import OnnxFaceDetector
from df2s2_deploy.anchors import cell_anchors, grid_anchors
from df2s2_deploy.deploy_config import DeployConfig
from df2s2_deploy.detect import main as detect_main
from df2s2_deploy.preprocessing import model_input, resize
from df2s2_deploy.quantization import excluded_nodes, quantize_deploy_model
from df2s2_deploy.retinanet_decoding import (
    decode_detections, dense_to_anchor_major, postprocess, sigmoid,
)
from tests.common import get_config

from .conftest import CONFIG, OPTS, export_deploy_model, save_seeded_weights
from .test_onnx_detector import assert_same_detections, random_image

LANDMARK_OPTS = [*OPTS, "MODEL.DF2S2.LANDMARKS", "True"]
LEVELS = [f"p{level}" for level in range(6)]


@pytest.fixture(scope="module")
def landmark_cfg():
    return get_config(CONFIG, LANDMARK_OPTS)


@pytest.fixture(scope="module")
def landmark_weights(tmp_path_factory, landmark_cfg):
    """The seeded landmark model (conftest.py's ``save_seeded_weights``)."""
    return save_seeded_weights(landmark_cfg, tmp_path_factory.mktemp("landmark_weights"))


@pytest.fixture(scope="module")
def landmark_model(tmp_path_factory, landmark_weights):
    return export_deploy_model(tmp_path_factory.mktemp("landmark_deploy"), landmark_weights, LANDMARK_OPTS)


@pytest.fixture(scope="module")
def landmark_eager(landmark_cfg, landmark_weights):
    return FaceDetector(landmark_cfg, weights=landmark_weights)


def node_names(path):
    return [(n.name, n.op_type) for n in onnx.load(path).graph.node]


def test_landmark_outputs_follow_the_box_outputs_and_the_rest_of_the_graph_is_unchanged(
    landmark_model, deploy_model
):
    cls_logits = [f"cls_logits_{level}" for level in LEVELS]
    box_deltas = [f"box_deltas_{level}" for level in LEVELS]
    landmarks = [f"landmarks_{level}" for level in LEVELS]
    graph = onnx.load(landmark_model[0]).graph
    assert [o.name for o in graph.output] == cls_logits + box_deltas + landmarks
    assert DeployConfig.load(landmark_model[1]).outputs.landmarks == landmarks
    for value in graph.output[-6:]:
        dims = value.type.tensor_type.shape.dim
        assert dims[0].dim_param == "batch" and dims[1].dim_value == 6 * 10 and dims[2].dim_param
    # without landmarks: the outputs and JSON of a model without the option
    plain_graph = onnx.load(deploy_model[0]).graph
    assert [o.name for o in plain_graph.output] == cls_logits + box_deltas
    assert "landmarks" not in json.loads(open(deploy_model[1]).read())["outputs"]
    # the same nodes (names as the int8 node groups select them), plus one conv per level
    with_landmarks = node_names(landmark_model[0])
    added = [n for n in with_landmarks if "landmark_pred" in n[0]]
    assert added == [(f"/head/landmark_pred{f'_{k}' if k else ''}/Conv", "Conv") for k in range(6)]
    assert [n for n in with_landmarks if n not in added] == node_names(deploy_model[0])


@pytest.mark.parametrize("size", [(97, 131), (300, 500)])  # scaled up, scaled down
def test_onnx_landmarks_equal_the_eager_models_keypoints(landmark_eager, landmark_model, size):
    image = random_image(*size, seed=size[0])
    expected = landmark_eager.detect(image)
    resized = landmark_eager.resize.get_transform(image).apply_image(image)
    image_tensor = torch.as_tensor(resized.transpose(2, 0, 1).copy())
    with torch.no_grad():  # FaceDetector's landmarks are the model's pred_keypoints
        inputs = {"image": image_tensor, "height": size[0], "width": size[1]}
        instances = landmark_eager.model([inputs])[0]["instances"]
    np.testing.assert_array_equal(expected.landmarks, instances.pred_keypoints[:, :, :2].numpy())
    actual = OnnxFaceDetector(landmark_model[0]).detect(image)
    assert_same_detections(expected, actual)
    distance = np.abs(expected.boxes[:, None] - actual.boxes[None]).max(axis=-1)
    nearest = distance.argmin(axis=1)
    assert actual.landmarks.shape == (len(actual), 5, 2)
    np.testing.assert_allclose(actual.landmarks[nearest], expected.landmarks, atol=1e-3, rtol=0)


def test_numpy_decoding_of_the_same_head_outputs_keeps_the_models_anchors(landmark_cfg, landmark_model):
    """Given the very same head outputs, the numpy top-k, NMS and rescaling keep the torch
    model's anchors: the same boxes and points in the same order, to float32 rounding."""
    torch.manual_seed(0)
    model = build_model(landmark_cfg).eval()
    config = DeployConfig.load(landmark_model[1])
    original = random_image(300, 500, seed=1)
    image = resize(original, 160, 256)
    batch = torch.from_numpy(model_input(image, config.input.pixel_mean, config.input.pixel_std, 128))
    inputs = [{"image": torch.from_numpy(image.transpose(2, 0, 1).astype("float32")),
               "height": original.shape[0], "width": original.shape[1]}]
    with torch.no_grad():
        images = model.preprocess_image(inputs)
        assert torch.equal(images.tensor, batch)
        features = model.backbone(images.tensor)
        features = [features[f] for f in model.head_in_features]
        logits, deltas, _, points = model.head.predict(features, with_seg=False)
        anchors = model.anchor_generator(features)
        expected = model.inference_with_landmarks(inputs, images, features, logits, deltas, points)
        expected = expected[0]["instances"]
    assert len(expected) > 50
    cells = [cell_anchors(s, r) for s, r in zip(config.anchors.sizes, config.anchors.aspect_ratios)]
    grid = grid_anchors([x.shape[-2:] for x in logits], config.anchors.strides, cells, config.anchors.offset)
    assert all(np.array_equal(a.tensor.numpy(), b) for a, b in zip(anchors, grid))
    found = decode_detections(
        [sigmoid(dense_to_anchor_major(x.numpy(), 1)[0]) for x in logits],
        [dense_to_anchor_major(x.numpy(), 4)[0] for x in deltas],
        grid, config, landmarks=[dense_to_anchor_major(x.numpy(), 10)[0] for x in points],
    )
    boxes, scores, found_points = postprocess(
        found[0], found[1], image.shape[:2], original.shape[:2], landmarks=found[3]
    )
    np.testing.assert_allclose(boxes, expected.pred_boxes.tensor.numpy(), atol=1e-4, rtol=0)
    np.testing.assert_allclose(scores, expected.scores.numpy(), atol=1e-7, rtol=0)
    np.testing.assert_allclose(found_points, expected.pred_keypoints[:, :, :2].numpy(), atol=1e-4, rtol=0)


def test_a_json_that_leaves_out_the_landmark_outputs_is_refused_naming_them(
    landmark_model, tmp_path
):
    import shutil

    shutil.copy(landmark_model[0], tmp_path)
    data = json.loads(open(landmark_model[1]).read())
    del data["outputs"]["landmarks"]
    (tmp_path / "face_detector.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"face_detector.json: outputs: .* no level names: landmarks_p0, "):
        OnnxFaceDetector(tmp_path / "face_detector.onnx")


def test_detect_cli_writes_each_detections_landmarks(landmark_model, tmp_path):
    import cv2

    cv2.imwrite(str(tmp_path / "a.png"), random_image(97, 131, seed=3))
    out = tmp_path / "d.json"
    assert detect_main([str(tmp_path / "a.png"), "--model", landmark_model[0], "--output", str(out),
                        "--landmarks"]) == 0
    (record,) = json.loads(out.read_text())
    expected = OnnxFaceDetector(landmark_model[0]).detect(cv2.imread(str(tmp_path / "a.png")))
    assert len(record["landmarks"]) == len(record["boxes"]) == len(expected) > 0
    np.testing.assert_array_equal(np.array(record["landmarks"], np.float32), expected.landmarks)


def test_the_int8_model_keeps_its_landmark_outputs(landmark_model, tmp_path):
    config = DeployConfig.load(landmark_model[1])
    images = [random_image(120, 160, 0), random_image(160, 120, 1)]
    path = quantize_deploy_model(landmark_model[0], config, images, exclude=["predictors"],
                                 output_path=str(tmp_path / "face_detector_int8.onnx"))
    int8 = OnnxFaceDetector(path)
    assert int8.config.outputs.landmarks == config.outputs.landmarks
    excluded = int8.config.network.excluded_nodes
    assert sum("landmark_pred" in n for n in excluded) == 6 and len(excluded) == 3 * 6
    image = random_image(160, 200, 7)
    detections = int8.detect(image)
    assert len(detections) > 0 and detections.landmarks.shape == (len(detections), 5, 2)
    # its landmarks are the numpy decoding of its own network outputs (at the test size)
    boxes, scores, _, points = int8.detect_resized(image, landmarks=True)
    _, _, points = postprocess(boxes, scores, image.shape[:2], image.shape[:2], points)
    np.testing.assert_array_equal(detections.landmarks, points)


def test_excluded_predictors_include_the_landmark_predictor():
    names = ["/head/cls_score/Conv", "/head/landmark_pred_3/Conv", "/head/cls_subnet/cls_subnet.0/Conv"]
    assert excluded_nodes(names, ["predictors"]) == names[:2]
