"""Bad input to the deploy runtime: model files, settings JSON, `df2s2-detect` inputs and
outputs, and `OnnxFaceDetector` images. Every input file is byte-identical afterwards."""
import json
import logging
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from df2s2_d2.data.image_reading import read_image as training_read_image
from df2s2_deploy import OnnxFaceDetector
from df2s2_deploy.deploy_config import DeployConfig, DeployConfigError
from df2s2_deploy.detect import main
from tests.data.bad_input import (
    file_digests, write_bomb_png, write_jpeg, write_png16, write_truncated_jpeg,
)

from .test_onnx_detector import random_image


@pytest.fixture
def model(deploy_model, tmp_path):
    """A copy of the exported model and its JSON in the test's folder."""
    folder = tmp_path / "model"
    folder.mkdir()
    for path in deploy_model:
        shutil.copy(path, folder)
    return folder / "face_detector.onnx", folder / "face_detector.json"


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    for name, seed in (("a.png", 1), ("b.png", 2)):
        folder.mkdir(exist_ok=True)
        cv2.imwrite(str(folder / name), random_image(48, 64, seed))
    return folder


def edit_json(path: Path, edit) -> None:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def detect(tmp_path, *argv):
    """`df2s2-detect` exit status (0 when it returns); inputs hashed around the run."""
    before = file_digests(tmp_path)
    try:
        status = main([str(a) for a in argv])
    except SystemExit as e:
        status = e.code
    after = file_digests(tmp_path)
    assert {k: v for k, v in after.items() if k in before} == before, "an input file changed"
    return status


# --- model files -------------------------------------------------------------------


@pytest.mark.parametrize("cut, message", [(0, "empty file"), (0.5, "not an ONNX model")])
def test_an_empty_or_truncated_onnx_is_an_error_naming_it(model, tmp_path, capsys, cut, message):
    onnx_path, _ = model
    data = onnx_path.read_bytes()
    onnx_path.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(ValueError, match=rf"{onnx_path}: {message}"):
        OnnxFaceDetector(onnx_path)
    write_jpeg(tmp_path / "in" / "a.jpg")
    assert detect(tmp_path, tmp_path / "in", "--model", onnx_path,
                  "--output", tmp_path / "out.json") == 2
    err = capsys.readouterr().err
    assert f"{onnx_path}: {message}" in err and "Traceback" not in err
    assert not (tmp_path / "out.json").exists()


@pytest.mark.parametrize("section, key, value, expected", [
    ("inference", "topk_candidates", "1000", "expected int"),
    ("inference", "score_threshold", 1.5, r"expected a number <= 1"),
    ("inference", "nms_threshold", -0.1, r"expected a number in \[0, 1\]"),
    ("input", "pixel_std", [1.0, 0.0, 1.0], "expected 3 non-zero values"),
    ("anchors", "sizes", [[16]], "expected one entry per level"),
    ("anchors", "offset", None, "expected float"),
    ("input", "format", "BGRA", "expected 'BGR' or 'RGB'"),
])
def test_a_settings_json_with_a_wrong_type_or_range_is_refused_at_load_naming_the_field(
    model, section, key, value, expected
):
    json_path = model[1]
    edit_json(json_path, lambda data: data[section].update({key: value}))
    before = file_digests(json_path)
    with pytest.raises(DeployConfigError, match=rf"{json_path}: {section}\.{key}: {expected}"):
        OnnxFaceDetector(model[0])
    assert file_digests(json_path) == before


def test_anchors_per_cell_that_disagree_with_the_network_are_refused_naming_the_level(model):
    edit_json(model[1], lambda data: data["anchors"]["sizes"][2].append(30.0))
    with pytest.raises(DeployConfigError, match=r"anchors.sizes\[2\] / anchors.aspect_ratios\[2\]"
                       r".*8 anchors per cell.*cls_logits_p2.*\(.*6, "):
        OnnxFaceDetector(model[0])


def test_a_number_of_classes_unlike_the_networks_is_refused(model):
    edit_json(model[1], lambda data: data["inference"].update(num_classes=2))
    with pytest.raises(DeployConfigError, match=r"inference.num_classes.*cls_logits\[0\]"):
        OnnxFaceDetector(model[0])


def test_a_json_that_leaves_out_a_level_of_the_network_is_refused(model):
    def drop_last_level(data):
        for section, key in (("anchors", "strides"), ("anchors", "sizes"),
                             ("anchors", "aspect_ratios"), ("outputs", "cls_logits"),
                             ("outputs", "box_deltas")):
            data[section][key].pop()
    edit_json(model[1], drop_last_level)
    with pytest.raises(DeployConfigError, match=r"outputs: .* no level names: cls_logits_p5, box_deltas_p5"):
        OnnxFaceDetector(model[0])


def test_an_output_name_the_network_lacks_is_refused_naming_the_field(model):
    edit_json(model[1], lambda data: data["outputs"]["box_deltas"].__setitem__(1, "deltas"))
    with pytest.raises(DeployConfigError, match=r"outputs.box_deltas\[1\]: 'deltas' is not an output"):
        OnnxFaceDetector(model[0])


def test_the_exported_json_passes_the_schema(deploy_model):
    DeployConfig.load(deploy_model[1])  # the checks accept what tools/export.py writes


LANDMARKS = [f"landmarks_p{level}" for level in range(6)]


@pytest.mark.parametrize("landmarks, expected", [
    (LANDMARKS, r"outputs.landmarks\[0\]: 'landmarks_p0' is not an output of .*face_detector.onnx"),
    (LANDMARKS[:2], r"outputs.landmarks: expected one entry per level of anchors.strides \(6\), found 2"),
    ("landmarks_p0", r"outputs.landmarks: expected list\[str\]"),
    ([f"box_deltas_p{level}" for level in range(6)],
     r"6 anchors per cell x 10 give \(N, 60, H, W\) for outputs.landmarks\[0\] 'box_deltas_p0'"),
], ids=["not-outputs", "not-one-per-level", "not-a-list", "box-deltas-channels"])
def test_landmark_outputs_the_network_does_not_have_are_refused_naming_the_file_and_key(
    model, landmarks, expected
):
    edit_json(model[1], lambda data: data["outputs"].update(landmarks=landmarks))
    with pytest.raises(DeployConfigError, match=rf"^{model[1]}: .*{expected}"):
        OnnxFaceDetector(model[0])


def test_asking_a_model_without_landmarks_for_them_is_an_error_naming_it(model, photos, tmp_path, capsys):
    edit_json(model[1], lambda data: data["outputs"].update(landmarks=[]))  # as no key: none
    detector = OnnxFaceDetector(model[0])
    assert not detector.has_landmarks and detector.detect(random_image(48, 64, 0)).landmarks is None
    message = f"{model[0]}: this model has no landmark outputs"
    with pytest.raises(ValueError, match=rf"^{message} .*MODEL.DF2S2.LANDMARKS True"):
        detector.detect_resized(random_image(48, 64, 0), landmarks=True)
    out = tmp_path / "out.json"
    assert detect(tmp_path, photos, "--model", model[0], "--output", out, "--landmarks") == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


# --- inputs of df2s2-detect ---------------------------------------------------------


def test_a_folder_without_images_exits_non_zero_saying_so(model, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    out = tmp_path / "out.json"
    assert detect(tmp_path, tmp_path / "empty", "--model", model[0], "--output", out) == 1
    assert "no image or video in" in capsys.readouterr().err
    assert not out.exists()


def test_a_single_unreadable_image_exits_non_zero_and_writes_nothing(
    model, tmp_path, capsys, caplog
):
    broken = write_truncated_jpeg(tmp_path / "broken.jpg")
    out = tmp_path / "out.json"
    with caplog.at_level(logging.WARNING):
        assert detect(tmp_path, broken, "--model", model[0], "--output", out) == 1
    assert "none of the 1 input(s) gave an image" in capsys.readouterr().err
    assert any(f"{broken}: could not be read" in r.getMessage() for r in caplog.records)
    assert not out.exists()


def test_a_video_without_frames_is_named_and_counted_as_skipped(model, photos, tmp_path, caplog):
    video = tmp_path / "empty.avi"
    cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 5, (64, 48)).release()
    out = tmp_path / "out.json"
    with caplog.at_level(logging.WARNING):
        assert detect(tmp_path, photos, video, "--model", model[0], "--output", out) == 0
    assert [Path(r["file"]).name for r in json.loads(out.read_text())] == ["a.png", "b.png"]
    assert any("1 input(s) skipped" in r.getMessage() and f"{video}: no frame" in r.getMessage()
               for r in caplog.records)


def test_a_decompression_bomb_among_good_images_is_skipped_and_counted(
    model, photos, tmp_path, caplog
):
    bomb = write_bomb_png(photos / "bomb.png")
    out = tmp_path / "out.json"
    with caplog.at_level(logging.WARNING):
        assert detect(tmp_path, photos, "--model", model[0], "--output", out) == 0
    assert [Path(r["file"]).name for r in json.loads(out.read_text())] == ["a.png", "b.png"]
    assert any("1 input(s) skipped" in r.getMessage() and f"{bomb}:" in r.getMessage()
               and "DecompressionBombError" in r.getMessage() for r in caplog.records)


def test_the_pixel_limit_is_a_flag(model, photos, tmp_path, caplog):
    big = photos / "c.png"
    cv2.imwrite(str(big), random_image(60, 80, 3))  # 4800 pixels, the others 3072
    out = tmp_path / "out.json"
    with caplog.at_level(logging.WARNING):
        assert detect(tmp_path, photos, "--model", model[0], "--output", out,
                      "--max-pixels", "4000") == 0
    assert [Path(r["file"]).name for r in json.loads(out.read_text())] == ["a.png", "b.png"]
    assert any(f"{big}:" in r.getMessage() and "more than the limit of 4000" in r.getMessage()
               for r in caplog.records)


def test_an_unwritable_output_is_refused_before_the_model_is_loaded(model, photos, tmp_path, capsys):
    model[0].write_bytes(b"")  # loading it would fail: the output error must come first
    not_a_folder = tmp_path / "file.txt"
    not_a_folder.write_text("a file")
    assert detect(tmp_path, photos, "--model", model[0],
                  "--output", not_a_folder / "out.json") == 2
    err = capsys.readouterr().err
    assert "cannot be created" in err and f"{not_a_folder} is not a folder" in err


# --- outputs that would replace inputs or models -------------------------------------


def test_an_output_linked_to_an_input_photo_is_refused(model, photos, tmp_path, capsys):
    link = tmp_path / "out.json"
    link.symlink_to(photos / "a.png")
    assert detect(tmp_path, photos, "--model", model[0], "--output", link) == 2
    assert "would be overwritten" in capsys.readouterr().err


@pytest.mark.parametrize("which", [0, 1])
def test_an_output_naming_the_model_or_its_json_is_refused(model, photos, tmp_path, capsys, which):
    assert detect(tmp_path, photos, "--model", model[0], "--output", model[which]) == 2
    assert f"resolves to {model[which]}" in capsys.readouterr().err


def test_an_output_linked_to_another_file_replaces_the_link_not_the_file(model, photos, tmp_path):
    other = tmp_path / "keep.txt"
    other.write_text("not ours")
    link = tmp_path / "out.json"
    link.symlink_to(other)
    assert detect(tmp_path, photos, "--model", model[0], "--output", link) == 0
    assert not link.is_symlink() and len(json.loads(link.read_text())) == 2
    assert other.read_text() == "not ours"


def test_a_wider_face_output_that_is_a_file_is_refused(model, photos, tmp_path, capsys):
    out = tmp_path / "predictions"
    out.write_text("a file")
    assert detect(tmp_path, photos, "--model", model[0], "--output", out, "--wider-face") == 2
    assert "exists and is not a folder" in capsys.readouterr().err
    assert out.read_text() == "a file"


# --- OnnxFaceDetector's images -------------------------------------------------------


def test_a_zero_size_array_is_an_error_naming_its_index_and_shape(deploy_model):
    detector = OnnxFaceDetector(deploy_model[0])
    good = random_image(32, 40, 0)
    with pytest.raises(ValueError, match=r"image 1: .*got shape \(0, 40, 3\)"):
        detector.detect([good, np.zeros((0, 40, 3), np.uint8)])
    with pytest.raises(ValueError, match=r"image 0: .*got shape \(5, 0, 3\)"):
        detector.detect(np.zeros((5, 0, 3), np.uint8))
    assert len(detector.detect(random_image(1, 1, 0)).scores) >= 0  # 1 x 1 is an image


def test_pathlib_paths_are_accepted(deploy_model, photos):
    detector = OnnxFaceDetector(Path(deploy_model[0]), Path(deploy_model[1]))
    path = photos / "a.png"
    before = file_digests(path)
    by_path = detector.detect(path)
    np.testing.assert_array_equal(by_path.boxes, detector.detect(str(path)).boxes)
    np.testing.assert_array_equal(by_path.scores, detector.detect([path])[0].scores)
    assert file_digests(path) == before


def test_a_16_bit_png_is_scaled_as_the_training_pipeline_reads_it(deploy_model, tmp_path):
    path = write_png16(tmp_path / "deep.png", 48, 64)
    before = file_digests(path)
    detector = OnnxFaceDetector(deploy_model[0])
    image = training_read_image(str(path), "BGR")
    assert image.max() > 200 and image.min() < 50  # scaled, not saturated at 255
    expected = detector.detect(image)
    actual = detector.detect(path)
    np.testing.assert_array_equal(actual.boxes, expected.boxes)
    np.testing.assert_array_equal(actual.scores, expected.scores)
    assert file_digests(path) == before


@pytest.mark.parametrize("write, reason", [
    (write_bomb_png, "DecompressionBombError"),
    (write_truncated_jpeg, "could not be read as an image"),
    (lambda p: p.write_bytes(b"") and p, "empty file"),
])
def test_a_read_error_names_the_file(deploy_model, tmp_path, write, reason):
    path = tmp_path / "bad.png"
    write(path)
    before = file_digests(path)
    with pytest.raises(ValueError, match=rf"{path}: .*{reason}"):
        OnnxFaceDetector(deploy_model[0]).detect([os.fspath(path)])
    assert file_digests(path) == before


def test_a_wider_face_prediction_file_linked_to_an_input_is_refused(model, photos, tmp_path, capsys):
    out = tmp_path / "predictions"
    (out / "photos").mkdir(parents=True)
    (out / "photos" / "a.txt").symlink_to(photos / "a.png")
    assert detect(tmp_path, photos, "--model", model[0], "--output", out, "--wider-face") == 2
    assert f"resolves to {photos / 'a.png'}" in capsys.readouterr().err


def test_a_wider_face_prediction_file_linked_elsewhere_is_replaced_not_written_through(
    model, photos, tmp_path
):
    other = tmp_path / "keep.txt"
    other.write_text("not ours")
    out = tmp_path / "predictions"
    (out / "photos").mkdir(parents=True)
    (out / "photos" / "b.txt").symlink_to(other)
    assert detect(tmp_path, photos, "--model", model[0], "--output", out, "--wider-face") == 0
    assert not (out / "photos" / "b.txt").is_symlink()
    assert (out / "photos" / "b.txt").read_text().startswith("b\n")
    assert other.read_text() == "not ours"
