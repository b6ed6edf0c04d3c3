"""`df2s2-detect`: images, folders and videos in; JSON or WIDER FACE prediction files out."""
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from df2s2_deploy import OnnxFaceDetector
from df2s2_deploy.detect import main
from df2s2_deploy.evaluation.wider_face_predictions import read_prediction_dir

from .test_onnx_detector import random_image


@pytest.fixture
def inputs(tmp_path):
    """Two images in WIDER FACE event folders, a 3-frame video and a file that is no image."""
    folder = tmp_path / "images"
    for event, name, size in (("0--Parade", "a", (97, 131)), ("1--Handshaking", "b", (64, 90))):
        os.makedirs(folder / event)
        cv2.imwrite(str(folder / event / f"{name}.png"), random_image(*size, seed=size[0]))
    video = str(tmp_path / "clip.avi")
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*"MJPG"), 5, (80, 64))
    for k in range(3):
        writer.write(random_image(64, 80, seed=10 + k))
    writer.release()
    broken = tmp_path / "broken.jpg"
    broken.write_text("not an image")
    return folder, video, str(broken)


def test_writes_json_for_images_and_video_frames_and_names_what_it_skipped(
    deploy_model, inputs, tmp_path, caplog
):
    folder, video, broken = inputs
    out = tmp_path / "detections.json"
    with caplog.at_level(logging.WARNING):
        assert main([str(folder), video, broken, "--model", deploy_model[0], "--output", str(out)]) == 0
    records = json.loads(out.read_text())
    assert [(Path(r["file"]).name, r.get("frame")) for r in records] == [
        ("a.png", None), ("b.png", None), ("clip.avi", 0), ("clip.avi", 1), ("clip.avi", 2)
    ]
    detector = OnnxFaceDetector(deploy_model[0])
    expected = detector.detect(cv2.imread(str(folder / "0--Parade" / "a.png")))
    assert records[0]["height"] == 97 and records[0]["width"] == 131
    np.testing.assert_array_equal(np.array(records[0]["boxes"], np.float32), expected.boxes)
    np.testing.assert_array_equal(np.array(records[0]["scores"], np.float32), expected.scores)
    capture = cv2.VideoCapture(video)
    capture.read()
    _, second_frame = capture.read()
    np.testing.assert_array_equal(
        np.array(records[3]["scores"], np.float32), detector.detect(second_frame).scores
    )
    assert any("1 input(s) skipped" in r.getMessage() and broken in r.getMessage()
               for r in caplog.records)


def test_writes_wider_face_prediction_files_that_read_back_as_the_detections(
    deploy_model, inputs, tmp_path
):
    folder, _, _ = inputs
    out = tmp_path / "predictions"
    assert main([str(folder), "--model", deploy_model[0], "--output", str(out), "--wider-face"]) == 0
    keys = [("0--Parade", "a"), ("1--Handshaking", "b")]
    predictions, report = read_prediction_dir(str(out), keys)
    assert not report.missing and not report.unreadable
    detections = OnnxFaceDetector(deploy_model[0]).detect(
        cv2.imread(str(folder / "1--Handshaking" / "b.png"))
    )
    np.testing.assert_array_equal(predictions[keys[1]], detections.to_wider_face_rows())


def test_refuses_to_write_over_an_input(deploy_model, inputs, capsys):
    folder, video, _ = inputs
    image = str(folder / "0--Parade" / "a.png")
    before = Path(image).read_bytes()
    with pytest.raises(SystemExit):
        main([image, "--model", deploy_model[0], "--output", image])
    assert "would be overwritten" in capsys.readouterr().err
    assert Path(image).read_bytes() == before


def test_the_console_script_runs_without_importing_torch(deploy_model, inputs, tmp_path):
    folder, _, _ = inputs
    script = Path(sys.executable).parent / "df2s2-detect"
    assert script.is_file(), f"{script} missing: pip install -e . installs the console scripts"
    out = tmp_path / "d.json"
    run = subprocess.run(
        [sys.executable, "-X", "importtime", str(script), str(folder),
         "--model", deploy_model[0], "--output", str(out)],
        capture_output=True, text=True, check=True,
    )
    imported = {line.split("|")[-1].strip().split(".")[0]
                for line in run.stderr.splitlines() if line.startswith("import time:")}
    assert "onnxruntime" in imported
    assert not {"torch", "detectron2", "df2s2_d2"} & imported
    assert len(json.loads(out.read_text())) == 2


def test_batch_size_feeds_the_readable_images_in_batches(deploy_model, inputs, tmp_path):
    """--batch-size 2 with an unreadable image in between: the two readable images go in
    one call, as detect([a, b], batch_size=2) gives them; the broken one is skipped."""
    folder, _, broken = inputs
    a, b = folder / "0--Parade" / "a.png", folder / "1--Handshaking" / "b.png"
    out = tmp_path / "detections.json"
    assert main([str(a), broken, str(b), "--model", deploy_model[0], "--output", str(out),
                 "--batch-size", "2"]) == 0
    records = json.loads(out.read_text())
    assert [Path(r["file"]).name for r in records] == ["a.png", "b.png"]
    expected = OnnxFaceDetector(deploy_model[0]).detect(
        [cv2.imread(str(a)), cv2.imread(str(b))], batch_size=2)
    for record, detections in zip(records, expected):
        np.testing.assert_array_equal(np.array(record["scores"], np.float32), detections.scores)
