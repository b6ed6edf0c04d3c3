"""`tools/export.py --format deploy --int8`: the calibrated int8 model beside the float32
one, run by `OnnxFaceDetector` with the same post-processing; bad input refused first."""
import json
import os

import numpy as np
import onnx
import onnx.numpy_helper
import pytest
from PIL import Image

from detectron2.data import DatasetCatalog

from df2s2_deploy import OnnxFaceDetector
from df2s2_deploy.deploy_config import DeployConfig, DeployConfigError
from df2s2_deploy.quantization import excluded_nodes
from tests.common import CONFIGS
from tools import export

from .conftest import CONFIG, OPTS
from .test_onnx_detector import random_image

CALIBRATION = "int8_test_calibration"


def register(name, files):
    if name in DatasetCatalog.list():
        DatasetCatalog.remove(name)
    DatasetCatalog.register(name, lambda: [{"file_name": f, "image_id": i} for i, f in enumerate(files)])


@pytest.fixture(scope="module")
def calibration_dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("calibration")
    files = []
    for i in range(4):
        files.append(str(folder / f"{i}.jpg"))
        Image.fromarray(random_image(120 + 10 * i, 160, i)).save(files[-1])
    register(CALIBRATION, files)
    return CALIBRATION


def run_export(out, weights, *flags, opts=()):
    export.main([
        "--config-file", str(CONFIGS / CONFIG), "--format", "deploy", "--output", str(out),
        *flags, "MODEL.WEIGHTS", weights, *OPTS, *opts,
    ])


@pytest.fixture(scope="module")
def int8_export(tmp_path_factory, seeded_weights, calibration_dataset):
    out = tmp_path_factory.mktemp("int8")
    run_export(out, seeded_weights, "--int8", "--calibration-dataset", calibration_dataset,
               "--calibration-images", "3", "--int8-exclude", "predictors")
    return out


def test_int8_writes_a_quantized_model_and_a_json_saying_so_beside_the_fp32_one(int8_export):
    fp32 = DeployConfig.load(int8_export / "face_detector.json")
    int8 = DeployConfig.load(int8_export / "face_detector_int8.json")
    assert fp32.network.precision == "fp32" and int8.network.precision == "int8"
    assert int8.network.per_channel
    assert f"3 images of {CALIBRATION}" in int8.network.calibration
    # the same pre- and post-processing
    assert (int8.input, int8.anchors, int8.inference, int8.outputs) == (
        fp32.input, fp32.anchors, fp32.inference, fp32.outputs)
    model = onnx.load(str(int8_export / "face_detector_int8.onnx"))
    ops = {n.op_type for n in model.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    int8_weights = [t for t in model.graph.initializer if t.data_type == onnx.TensorProto.INT8]
    assert len(int8_weights) > 10


def int8_weight_range(folder, name):
    model = onnx.load(str(folder / name))
    weights = [onnx.numpy_helper.to_array(t) for t in model.graph.initializer
               if t.data_type == onnx.TensorProto.INT8]
    return min(int(w.min()) for w in weights), max(int(w.max()) for w in weights)


def test_int8_weights_take_7_bits_unless_the_full_range_is_asked_for(
        int8_export, tmp_path, seeded_weights, calibration_dataset):
    """7 bits by default, so that CPUs without VNNI cannot saturate; the JSON says which."""
    low, high = int8_weight_range(int8_export, "face_detector_int8.onnx")
    assert -64 <= low and high <= 64 and max(-low, high) >= 60
    assert DeployConfig.load(int8_export / "face_detector_int8.json").network.reduce_range
    run_export(tmp_path, seeded_weights, "--int8", "--int8-full-range", "--calibration-dataset",
               calibration_dataset, "--calibration-images", "1")
    low, high = int8_weight_range(tmp_path, "face_detector_int8.onnx")
    assert max(-low, high) > 100
    assert not DeployConfig.load(tmp_path / "face_detector_int8.json").network.reduce_range


def test_excluded_groups_keep_float32_weights(int8_export):
    """--int8-exclude predictors: the cls / box predictor convs take float weights, the
    others dequantized int8 ones; the JSON lists the excluded nodes."""
    model = onnx.load(str(int8_export / "face_detector_int8.onnx"))
    initializers = {t.name: t for t in model.graph.initializer}
    producers = {o: n for n in model.graph.node for o in n.output}
    excluded = DeployConfig.load(int8_export / "face_detector_int8.json").network.excluded_nodes
    assert len(excluded) == 2 * 6 and all("cls_score" in n or "bbox_pred" in n for n in excluded)
    for node in model.graph.node:
        if node.op_type != "Conv":
            continue
        weight = node.input[1]
        quantized = weight in producers and producers[weight].op_type == "DequantizeLinear"
        assert quantized == (node.name not in excluded), node.name
        if not quantized:
            assert initializers[weight].data_type == onnx.TensorProto.FLOAT


def test_the_int8_model_runs_with_the_same_post_processing_close_to_fp32(int8_export):
    fp32 = OnnxFaceDetector(int8_export / "face_detector.onnx")
    int8 = OnnxFaceDetector(int8_export / "face_detector_int8.onnx")
    image = random_image(160, 200, 7)  # at the test size (shorter side 160)
    for expected, actual in zip(*(d.head_outputs(image)[0] for d in (fp32, int8))):
        assert actual.shape == expected.shape
        assert np.corrcoef(actual.ravel(), expected.ravel())[0, 1] > 0.95
    detections = int8.detect(image)
    # its detections are the numpy post-processing of its own network outputs
    _, scores, _ = int8.detect_resized(image)
    assert len(detections) > 50 and np.allclose(np.sort(detections.scores), np.sort(scores))


def test_node_groups_are_found_by_their_traced_names():
    names = [
        "/backbone/bottom_up/stem/conv1/Conv", "/backbone/bottom_up/res2/res2.0/conv1/Conv",
        "/head/cls_subnet/cls_subnet.0/Conv", "/head/cls_subnet/cls_subnet.0_1/Conv",
        "/head/cls_score/Conv", "/head/bbox_pred_2/Conv", "/head/cls_subnet/cls_subnet.1/Relu",
    ]
    assert excluded_nodes(names, ["stem"]) == names[:1]
    assert excluded_nodes(names, ["predictors"]) == ["/head/cls_score/Conv", "/head/bbox_pred_2/Conv"]
    assert excluded_nodes(names, ["stride4"]) == [
        "/head/cls_subnet/cls_subnet.0/Conv", "/head/cls_score/Conv", "/head/cls_subnet/cls_subnet.1/Relu"]
    with pytest.raises(ValueError, match="unknown node groups"):
        excluded_nodes(names, ["res2"])


def test_int8_without_a_dataset_to_calibrate_on_is_refused_before_any_work(tmp_path, seeded_weights):
    with pytest.raises(ValueError, match="no dataset to calibrate on.*--calibration-dataset"):
        run_export(tmp_path, seeded_weights, "--int8", opts=["DATASETS.TRAIN", "()"])
    with pytest.raises(ValueError, match="'no_such_faces' is not registered"):
        run_export(tmp_path, seeded_weights, "--int8", "--calibration-dataset", "no_such_faces")
    assert os.listdir(tmp_path) == []


def test_a_calibration_image_that_cannot_be_read_is_refused_naming_it(tmp_path, seeded_weights):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    register("int8_test_broken", [str(broken)])
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=f"'int8_test_broken': {broken} cannot be read"):
        run_export(out, seeded_weights, "--int8", "--calibration-dataset", "int8_test_broken")
    assert not out.exists() or os.listdir(out) == []


def test_an_int8_model_that_onnxruntime_cannot_run_is_an_error_naming_the_file(
    int8_export, monkeypatch
):
    import onnxruntime

    def refuse(*args, **kwargs):
        raise onnxruntime.capi.onnxruntime_pybind11_state.NotImplemented(
            "Could not find an implementation for ConvInteger(10) node")

    monkeypatch.setattr(onnxruntime, "InferenceSession", refuse)
    path = str(int8_export / "face_detector_int8.onnx")
    with pytest.raises(ValueError, match=f"{path}: an int8 model .* cannot load: .*ConvInteger"):
        OnnxFaceDetector(path)


def test_a_deploy_json_without_network_is_float32_and_a_bad_precision_is_refused(int8_export, tmp_path):
    data = json.loads((int8_export / "face_detector.json").read_text())
    del data["network"]
    (tmp_path / "old.json").write_text(json.dumps(data))
    assert DeployConfig.load(tmp_path / "old.json").network.precision == "fp32"
    data["network"] = {"precision": "int4"}
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(DeployConfigError, match="network.precision: expected 'fp32' or 'int8'"):
        DeployConfig.load(tmp_path / "bad.json")


@pytest.mark.parametrize("method", ["percentile", "entropy"])
def test_histogram_calibration_takes_images_of_different_sizes(deploy_model, method, tmp_path):
    """Percentile and entropy calibration (one histogram over every input) work on
    calibration images of several sizes: they are padded to one."""
    from df2s2_deploy.quantization import quantize_deploy_model

    config = DeployConfig.load(deploy_model[1])
    images = [random_image(120, 160, 0), random_image(200, 100, 1)]
    out = quantize_deploy_model(deploy_model[0], config, images, method=method,
                                output_path=str(tmp_path / "m_int8.onnx"))
    assert DeployConfig.load(tmp_path / "m_int8.json").network.calibration == f"{method} on 2 images"
    assert len(OnnxFaceDetector(out).detect(random_image(100, 140, 2))) > 0


def test_int8_needs_the_deploy_format(tmp_path, seeded_weights):
    with pytest.raises(ValueError, match="--int8 needs --format deploy"):
        export.main(["--config-file", str(CONFIGS / CONFIG), "--format", "onnx", "--int8",
                     "--output", str(tmp_path), "MODEL.WEIGHTS", seeded_weights, *OPTS])
    assert os.listdir(tmp_path) == []
