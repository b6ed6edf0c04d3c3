"""`FaceDetector`: one call from images to boxes, scores (and landmarks), outside
Detectron2's API."""
import numpy as np
import pytest
import torch

from detectron2.data import transforms as T
from detectron2.modeling import build_model

from df2s2_d2 import FaceDetector
from df2s2_d2.checkpoint import CheckpointFileError
from df2s2_d2.modeling.test_time_augmentation import DF2S2WithTTA
from df2s2_deploy.detections import Detections
from tests.common import CONFIGS, get_config
from tests.data.bad_input import file_digests, write_bomb_png, write_png16, write_truncated_jpeg

CONFIG = "Synth/df2s2_R_18_quick.yaml"
OPTS = [
    "MODEL.FFP.OUT_CHANNELS", "32", "MODEL.RETINANET.NUM_CONVS", "1",
    "MODEL.RETINANET.PRIOR_PROB", "0.3", "MODEL.RETINANET.SCORE_THRESH_TEST", "0.2",
    "TEST.DETECTIONS_PER_IMAGE", "50", "INPUT.MIN_SIZE_TEST", "96", "INPUT.MAX_SIZE_TEST", "160",
    "TEST.AUG.MIN_SIZES", "(64, 96)", "TEST.AUG.MAX_SIZE", "160",
]


def synthetic_image(height=90, width=120, seed=0):
    """A grey scene with two bright face-like ellipses, (H, W, 3) uint8 BGR."""
    rng = np.random.default_rng(seed)
    image = rng.integers(60, 90, (height, width, 3), dtype=np.uint8)
    yy, xx = np.mgrid[:height, :width]
    for cy, cx, r in ((30, 40, 14), (60, 90, 10)):
        image[((yy - cy) / (1.2 * r)) ** 2 + ((xx - cx) / r) ** 2 <= 1] = (140, 170, 210)
    return image


def seeded_model_and_weights(folder, opts):
    """The model of ``opts`` seeded 0 (eval mode) and its checkpoint in ``folder``."""
    torch.manual_seed(0)
    model = build_model(get_config(CONFIG, opts))
    path = folder / "model.pth"
    torch.save({"model": model.state_dict()}, path)
    return model.eval(), str(path)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return seeded_model_and_weights(tmp_path_factory.mktemp("weights"), OPTS)


@pytest.fixture(scope="module")
def detector(weights):
    return FaceDetector(get_config(CONFIG, OPTS), weights=weights[1])


def test_detect_returns_float32_boxes_in_input_pixels_and_scores(detector, weights):
    image = synthetic_image()
    detections = detector.detect(image)
    assert detections.boxes.dtype == np.float32 and detections.boxes.shape == (len(detections), 4)
    assert detections.scores.dtype == np.float32 and 0 < len(detections) <= 50
    assert (detections.boxes >= 0).all()
    assert (detections.boxes[:, [0, 2]] <= 120).all() and (detections.boxes[:, [1, 3]] <= 90).all()
    assert (detections.scores > 0.2).all()
    # the loaded weights are the checkpoint's: the same as Detectron2's model run by hand
    model = weights[0]
    resized = T.ResizeShortestEdge([96, 96], 160).get_transform(image).apply_image(image)
    inputs = [{"image": torch.as_tensor(resized.transpose(2, 0, 1).astype("float32")),
               "height": 90, "width": 120}]
    with torch.no_grad():
        expected = model(inputs)[0]["instances"]
    np.testing.assert_array_equal(detections.boxes, expected.pred_boxes.tensor.numpy())
    np.testing.assert_array_equal(detections.scores, expected.scores.numpy())


def test_paths_rgb_arrays_and_lists_give_the_same_detections(detector, weights, tmp_path):
    import cv2

    image = synthetic_image(seed=1)
    cv2.imwrite(str(tmp_path / "scene.png"), image)
    expected = detector.detect(image)
    rgb_detector = FaceDetector(get_config(CONFIG, OPTS), weights=weights[1], input_format="RGB")
    for actual in (
        detector.detect(str(tmp_path / "scene.png")),
        rgb_detector.detect(image[:, :, ::-1].copy()),
        detector.detect([image])[0],
    ):
        np.testing.assert_array_equal(actual.boxes, expected.boxes)
        np.testing.assert_array_equal(actual.scores, expected.scores)


def test_batches_of_same_size_images_give_the_single_image_detections(weights):
    images = [synthetic_image(seed=s) for s in range(3)]
    single = FaceDetector(get_config(CONFIG, OPTS), weights=weights[1])
    batched = FaceDetector(get_config(CONFIG, OPTS), weights=weights[1], batch_size=2)
    results = batched.detect(images)
    assert len(results) == 3
    for image, actual in zip(images, results):
        expected = single.detect(image)
        np.testing.assert_allclose(actual.boxes, expected.boxes, rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(actual.scores, expected.scores, atol=1e-6)


def test_options_set_the_threshold_and_test_size(weights):
    detector = FaceDetector(
        str(CONFIGS / CONFIG), weights=weights[1], score_threshold=0.3, min_size=64, max_size=100
    )
    assert detector.model.test_score_thresh == 0.3
    assert (detector.cfg.INPUT.MIN_SIZE_TEST, detector.cfg.INPUT.MAX_SIZE_TEST) == (64, 100)
    assert (detector.detect(synthetic_image()).scores > 0.3).all()


def test_tta_merges_the_augmented_detections_of_the_original_image(weights):
    cfg = get_config(CONFIG, OPTS)
    detector = FaceDetector(cfg, weights=weights[1], tta=True)
    image = synthetic_image()
    detections = detector.detect(image)
    tta = DF2S2WithTTA(detector.cfg, detector.model, batch_size=1)
    inputs = [{"image": torch.as_tensor(image.transpose(2, 0, 1).copy()), "height": 90, "width": 120}]
    expected = tta(inputs)[0]["instances"]
    assert len(detections) > 0
    np.testing.assert_array_equal(detections.boxes, expected.pred_boxes.tensor.numpy())
    np.testing.assert_array_equal(detections.scores, expected.scores.numpy())


LANDMARK_OPTS = [*OPTS, "MODEL.DF2S2.LANDMARKS", "True"]


@pytest.fixture(scope="module")
def landmark_weights(tmp_path_factory):
    return seeded_model_and_weights(tmp_path_factory.mktemp("landmark_weights"), LANDMARK_OPTS)


def test_landmarks_are_the_model_s_own_points_in_input_pixels(detector, landmark_weights):
    assert detector.detect(synthetic_image()).landmarks is None  # a model without them
    landmark_detector = FaceDetector(get_config(CONFIG, LANDMARK_OPTS), weights=landmark_weights[1])
    image = synthetic_image()
    detections = landmark_detector.detect(image)
    assert len(detections) > 0
    assert detections.landmarks.dtype == np.float32
    assert detections.landmarks.shape == (len(detections), 5, 2)
    resized = T.ResizeShortestEdge([96, 96], 160).get_transform(image).apply_image(image)
    inputs = [{"image": torch.as_tensor(resized.transpose(2, 0, 1).copy()),
               "height": 90, "width": 120}]
    with torch.no_grad():
        expected = landmark_weights[0](inputs)[0]["instances"]
    np.testing.assert_array_equal(detections.boxes, expected.pred_boxes.tensor.numpy())
    np.testing.assert_array_equal(detections.landmarks, expected.pred_keypoints[..., :2].numpy())


def test_landmarks_in_batches_and_with_tta(landmark_weights):
    images = [synthetic_image(seed=s) for s in range(2)]
    cfg, path = get_config(CONFIG, LANDMARK_OPTS), landmark_weights[1]
    single, batched = FaceDetector(cfg, weights=path), FaceDetector(cfg, weights=path, batch_size=2)
    for image, actual in zip(images, batched.detect(images)):
        expected = single.detect(image)
        np.testing.assert_allclose(actual.landmarks, expected.landmarks, rtol=1e-5, atol=1e-4)

    detector = FaceDetector(cfg, weights=path, tta=True)
    detections = detector.detect(images[0])
    tta = DF2S2WithTTA(detector.cfg, detector.model, batch_size=1)
    inputs = [{"image": torch.as_tensor(images[0].transpose(2, 0, 1).copy()),
               "height": 90, "width": 120}]
    expected = tta(inputs)[0]["instances"]
    assert len(detections) > 0
    np.testing.assert_array_equal(detections.landmarks, expected.pred_keypoints[..., :2].numpy())


def test_detections_carry_landmarks_only_when_given():
    boxes, scores = [[0, 0, 10, 10], [5, 5, 20, 20]], [0.75, 0.5]
    assert Detections(boxes, scores).to_dict() == {"boxes": boxes, "scores": scores}
    points = np.arange(20).reshape(2, 10)
    with_points = Detections(boxes, scores, points)
    assert with_points.landmarks.dtype == np.float32 and with_points.landmarks.shape == (2, 5, 2)
    assert with_points.to_dict()["landmarks"][1] == [[10, 11], [12, 13], [14, 15], [16, 17], [18, 19]]
    with pytest.raises(ValueError, match="1 landmark sets but 2 scores"):
        Detections(boxes, scores, points[:1])


def test_a_missing_config_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.yaml"):
        FaceDetector(str(tmp_path / "nothing.yaml"))


def test_pathlib_paths_are_accepted_for_the_config_weights_and_images(detector, weights, tmp_path):
    import cv2
    from pathlib import Path

    image = synthetic_image(seed=2)
    path = tmp_path / "scene.png"
    cv2.imwrite(str(path), image)
    config = tmp_path / "config.yaml"
    config.write_text(get_config(CONFIG, OPTS).dump())
    before = file_digests(path, config, weights[1])
    by_path = FaceDetector(config, weights=Path(weights[1])).detect(path)
    expected = detector.detect(image)
    np.testing.assert_array_equal(by_path.boxes, expected.boxes)
    np.testing.assert_array_equal(by_path.scores, expected.scores)
    assert file_digests(path, config, weights[1]) == before


def test_a_zero_size_array_is_an_error_naming_its_index_and_shape(detector):
    with pytest.raises(ValueError, match=r"image 1: .*got shape \(0, 7, 3\)"):
        detector.detect([synthetic_image(), np.zeros((0, 7, 3), np.uint8)])
    with pytest.raises(ValueError, match=r"image 0: .*got shape \(4, 0, 3\)"):
        detector.detect(np.zeros((4, 0, 3), np.uint8))


def test_a_16_bit_png_is_read_as_the_training_pipeline_reads_it(detector, tmp_path):
    from df2s2_d2.data.image_reading import read_image

    path = write_png16(tmp_path / "deep.png", 60, 80)
    before = file_digests(path)
    image = read_image(str(path), "BGR")
    assert image.max() > 200 and image.min() < 50  # scaled to 8 bits, not saturated
    actual, expected = detector.detect(str(path)), detector.detect(image)
    np.testing.assert_array_equal(actual.boxes, expected.boxes)
    np.testing.assert_array_equal(actual.scores, expected.scores)
    assert file_digests(path) == before


@pytest.mark.parametrize("write, reason", [
    (write_bomb_png, "DecompressionBombError"),
    (write_truncated_jpeg, "could not be read as an image"),
])
def test_a_read_error_names_the_file(detector, tmp_path, write, reason):
    path = write(tmp_path / "bad.png")
    before = file_digests(path)
    with pytest.raises(ValueError, match=rf"{path}: .*{reason}"):
        detector.detect([synthetic_image(), str(path)])
    assert file_digests(path) == before


@pytest.mark.parametrize("content, message", [
    (b"", "empty file"), (b"<html>not found</html>", "not a checkpoint"), (None, "truncated"),
])
def test_unloadable_weights_are_an_error_naming_the_file(weights, tmp_path, content, message):
    path = tmp_path / "model.pth"
    path.write_bytes(open(weights[1], "rb").read()[:1000] if content is None else content)
    before = file_digests(path)
    with pytest.raises(CheckpointFileError, match=rf"^{path}: {message}"):
        FaceDetector(get_config(CONFIG, OPTS), weights=str(path))
    assert file_digests(path) == before
