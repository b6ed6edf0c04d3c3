"""Real photos as a Detectron2 dataset: registration, FacePhotoEvaluator, the quick start's check."""
import json

import cv2
import numpy as np
import pytest
import torch
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import Boxes, Instances

from df2s2_d2.data import register_face_photos
from df2s2_d2.evaluation import FacePhotoEvaluator, build_face_evaluator
from df2s2_d2.evaluation.real_photo_check import check_real_photos
from df2s2_deploy.evaluation.box_ap import evaluate_box_ap, load_coco_face_boxes
from tests.common import small_cfg
from tests.evaluation.test_box_ap import write_coco


@pytest.fixture
def photo_set(tmp_path):
    """Two 64 x 48 photos, three faces, registered under a fresh name."""
    images = tmp_path / "images"
    images.mkdir()
    for name in ("p1.jpg", "p2.jpg"):
        cv2.imwrite(str(images / name), np.full((48, 64, 3), 128, np.uint8))
    json_file = write_coco(tmp_path / "faces.json", [("p1.jpg", 64, 48), ("p2.jpg", 64, 48)],
                           [(0, [4, 4, 20, 24]), (0, [34, 6, 20, 24]), (1, [10, 10, 30, 30])])
    name = f"test_photos_{tmp_path.name}"
    register_face_photos(name, json_file, str(images))
    yield name, json_file, images
    DatasetCatalog.remove(name)
    MetadataCatalog.remove(name)


def outputs(boxes, scores, size=(48, 64)):
    inst = Instances(size)
    inst.pred_boxes = Boxes(torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4))
    inst.scores = torch.tensor(scores, dtype=torch.float32)
    inst.pred_classes = torch.zeros(len(scores), dtype=torch.int64)
    return {"instances": inst}


def test_registered_as_coco_boxes(photo_set):
    name, _, images = photo_set
    records = DatasetCatalog.get(name)
    assert [r["file_name"] for r in records] == [str(images / "p1.jpg"), str(images / "p2.jpg")]
    assert [a["bbox"] for a in records[0]["annotations"]] == [[4, 4, 20, 24], [34, 6, 20, 24]]
    assert MetadataCatalog.get(name).evaluator_type == "face_photos"


def test_evaluator_scores_what_the_scorer_scores(photo_set, tmp_path):
    name, json_file, images = photo_set
    evaluator = FacePhotoEvaluator(name, output_dir=str(tmp_path / "out"))
    evaluator.reset()
    dets = {"p1.jpg": ([[4, 4, 24, 28], [0, 30, 10, 40]], [0.9, 0.8]), "p2.jpg": ([[12, 10, 40, 40]], [0.4])}
    for file, (boxes, scores) in dets.items():
        evaluator.process([{"file_name": str(images / file)}], [outputs(boxes, scores)])
    result = evaluator.evaluate()["face_photos"]
    expected = evaluate_box_ap(load_coco_face_boxes(json_file), dets).to_dict()
    assert result["AP50"] == pytest.approx(100 * expected["AP50"], abs=0.01)
    assert result["AP30"] == pytest.approx(100 * expected["AP30"], abs=0.01)
    assert result["recall50@0.5"] == pytest.approx(100 / 3, abs=0.01)  # p2's hit scores below 0.5
    assert json.loads((tmp_path / "out" / "face_photos.json").read_text())["faces"] == 3


def test_build_face_evaluator_picks_it_for_photo_sets(photo_set):
    evaluators = build_face_evaluator(small_cfg(), photo_set[0], None)
    assert [type(e) for e in evaluators._evaluators] == [FacePhotoEvaluator]


def test_check_real_photos_writes_scores_detections_and_pictures(photo_set, tmp_path):
    name, _, _ = photo_set
    cfg = small_cfg(["INPUT.MIN_SIZE_TEST", 64, "INPUT.MAX_SIZE_TEST", 96])
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.modeling import build_model

    torch.manual_seed(0)
    DetectionCheckpointer(build_model(cfg), save_dir=str(tmp_path)).save("init")
    out = tmp_path / "check"
    scores = check_real_photos(cfg, str(tmp_path / "init.pth"), name, str(out))
    assert scores["faces"] == 3 and 0 <= scores["AP30"] <= 100
    detections = json.loads((out / "detections.json").read_text())
    assert set(detections["detections"]) == {"p1.jpg", "p2.jpg"}
    assert detections["operating_threshold"] == 0.5
    assert cv2.imread(str(out / "p1.jpg")) is not None
    sheet = cv2.imread(str(tmp_path / "check.jpg"))  # both photos, 4 tiles of 300 x 200 a row
    assert sheet.shape == (200, 1200, 3)


def test_quick_start_says_why_it_skips_the_real_photos(tmp_path, monkeypatch, capsys):
    from df2s2_d2.data import face_photos
    from tools import quickstart

    monkeypatch.setattr(face_photos, "SHARED_REAL_PHOTOS", tmp_path / "none")
    monkeypatch.setenv("DETECTRON2_DATASETS", str(tmp_path))
    assert quickstart.real_photo_check(quickstart.CONFIG, tmp_path) is None
    assert "Real-photo check skipped: no real_photos_dev.json" in capsys.readouterr().out
