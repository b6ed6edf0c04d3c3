"""`OnnxFaceDetector.detect(images, batch_size=N)`: N images per network call."""
import onnx
import pytest

from df2s2_d2 import FaceDetector
from df2s2_deploy import OnnxFaceDetector

from .test_onnx_detector import assert_same_detections, random_image


def test_the_exported_network_declares_a_dynamic_batch_axis(deploy_model):
    graph = onnx.load(deploy_model[0]).graph
    for value in [*graph.input, *graph.output]:
        assert value.type.tensor_type.shape.dim[0].dim_param == "batch", value.name


def test_a_batch_of_same_size_images_gives_the_one_at_a_time_detections(deploy_model):
    detector = OnnxFaceDetector(deploy_model[0])
    images = [random_image(120, 200, seed) for seed in range(5)]
    one_at_a_time = detector.detect(images)
    batched = detector.detect(images, batch_size=4)  # a batch of 4, then one of 1
    assert len(batched) == len(images)
    for expected, actual in zip(one_at_a_time, batched):
        assert_same_detections(expected, actual)


def test_images_of_different_sizes_are_padded_as_detectron2_batches_them(
    deploy_cfg, seeded_weights, deploy_model
):
    """Padded to the batch's largest size, each image's detections in its own pixels: the
    eager model's batched detections (Detectron2's ImageList padding)."""
    images = [random_image(97, 131, 1), random_image(240, 180, 2), random_image(64, 400, 3)]
    eager = FaceDetector(deploy_cfg, weights=seeded_weights, batch_size=3)
    batched = OnnxFaceDetector(deploy_model[0]).detect(images, batch_size=3)
    for image, expected, actual in zip(images, eager.detect(images), batched):
        assert_same_detections(expected, actual)
        assert actual.boxes[:, 2].max() <= image.shape[1] and actual.boxes[:, 3].max() <= image.shape[0]


def test_a_batch_size_below_one_is_refused(deploy_model):
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        OnnxFaceDetector(deploy_model[0]).detect([random_image(50, 50, 0)], batch_size=0)
