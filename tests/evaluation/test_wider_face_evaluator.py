"""`WiderFaceEvaluator` on a tiny registered dataset: APs, prediction files, PR curves."""

import json
import os
import uuid

import numpy as np
import pytest
import torch
from detectron2.data import MetadataCatalog
from detectron2.structures import Boxes, Instances

from df2s2_d2.evaluation import WiderFaceEvaluator
from df2s2_deploy.evaluation.wider_face_predictions import read_prediction_dir

IMAGES = [
    ("0--Parade", "0_Parade_a", [[0, 0, 9, 9], [100, 100, 9, 9]]),
    ("1--Handshaking", "1_Handshaking_b", [[10, 10, 20, 20]]),
]
SUBSETS = {"easy": [[1], []], "medium": [[1], [1]], "hard": [[1, 2], [1]]}


@pytest.fixture
def dataset(tmp_path, ground_truth_writer):
    name = f"wider_face_evaluator_test_{uuid.uuid4().hex}"
    gt_dir = ground_truth_writer(str(tmp_path / "gt"), IMAGES, SUBSETS)
    MetadataCatalog.get(name).set(thing_classes=["face"], wider_face_gt_dir=gt_dir)
    yield name
    MetadataCatalog.remove(name)


def instances(xyxy, scores):
    result = Instances((200, 200))
    result.pred_boxes = Boxes(torch.tensor(xyxy, dtype=torch.float32).reshape(-1, 4))
    result.scores = torch.tensor(scores, dtype=torch.float32)
    return result


def run(evaluator):
    evaluator.reset()
    root = "/data/WIDER_val/images"
    evaluator.process(
        [
            {"file_name": f"{root}/0--Parade/0_Parade_a.jpg"},
            {"file_name": f"{root}/1--Handshaking/1_Handshaking_b.jpg"},
        ],
        [
            # XYXY; face 1 at score 1, face 2 at score 0 (normalised: 1 and 0)
            {"instances": instances([[0.3, 0, 9.3, 9], [100, 100, 109, 109]], [1.0, 0.0])},
            {"instances": instances([], [])},
        ],
    )
    evaluator.process(
        [{"file_name": f"{root}/9--Other/9_Other_x.jpg"}],
        [{"instances": instances([[0, 0, 5, 5]], [0.5])}],
    )
    return evaluator.evaluate()


def test_ap_in_percent_and_written_files(dataset, tmp_path):
    out = tmp_path / "out"
    results = run(WiderFaceEvaluator(dataset, output_dir=str(out)))
    # easy: face 1 found, the face-2 detection dropped (face 2 is not in easy): AP 1.
    # medium: 1 of 2 faces, precision 1: AP 0.5. hard: 1/3, then 2/3 at threshold 0: AP 2/3.
    assert results["wider_face"] == pytest.approx(
        {"AP_easy": 100.0, "AP_medium": 50.0, "AP_hard": 200 / 3}, abs=1e-9
    )

    keys = [
        ("0--Parade", "0_Parade_a"),
        ("1--Handshaking", "1_Handshaking_b"),
        ("9--Other", "9_Other_x"),
    ]
    predictions, report = read_prediction_dir(str(out / "wider_face_predictions"), keys)
    x0 = float(np.float32(0.3))
    np.testing.assert_array_equal(
        predictions[("0--Parade", "0_Parade_a")],
        [[x0, 0, float(np.float32(9.3)) - x0, 9, 1.0], [100, 100, 9, 9, 0.0]],
    )
    assert ("1--Handshaking", "1_Handshaking_b") not in predictions  # written with count 0
    assert report.counts() == {"missing": 0, "unreadable": 0, "unexpected": 0, "warnings": 0}

    assert os.path.getsize(out / "wider_face_pr_curves.png") > 0
    with open(out / "wider_face_pr_curves.json") as f:
        curves = json.load(f)
    assert curves["medium"]["ap"] == pytest.approx(0.5) and curves["medium"]["num_faces"] == 2
    assert len(curves["thresholds"]) == len(curves["hard"]["precision"]) == 1000


def test_breakdown_results_and_json_per_face_size(dataset, tmp_path):
    out = tmp_path / "out"
    results = run(WiderFaceEvaluator(dataset, output_dir=str(out)))
    # size bins: faces 1 and 2 (9 x 9, size 9) in 0-16; image b's face (size 20) in 16-32.
    # 0-16: both found (score 1, then 0): AP 1. 16-32: its face is never found: AP 0.
    assert results["wider_face_breakdown"] == pytest.approx(
        {"AP_size_0-16": 100.0, "AP_size_16-32": 0.0}
    )  # empty bins (32-64 ...) are left out; no label lists here, so no attribute subsets
    with open(out / "wider_face_breakdown.json") as f:
        breakdown = json.load(f)
    assert breakdown["subsets"]["size_0-16"] == {"faces": 2, "AP": 1.0}
    assert breakdown["subsets"]["size_32-64"] == {"faces": 0, "AP": None}
    assert any("occlusion_label_list" in note for note in breakdown["notes"])


def test_same_results_without_output_dir_or_distribution(dataset):
    results = run(WiderFaceEvaluator(dataset, distributed=False))
    assert results["wider_face"]["AP_medium"] == pytest.approx(50.0)


def test_unknown_image_is_reported(dataset, caplog):
    run(WiderFaceEvaluator(dataset))
    assert any("9--Other/9_Other_x" in r.getMessage() for r in caplog.records)


def test_dataset_without_ground_truth_folder_is_an_error():
    name = f"wider_face_evaluator_test_{uuid.uuid4().hex}"
    MetadataCatalog.get(name).set(thing_classes=["face"])
    try:
        with pytest.raises(ValueError, match="wider_face_gt_dir"):
            WiderFaceEvaluator(name)
    finally:
        MetadataCatalog.remove(name)


def test_final_wider_face_ap_reads_the_last_evaluation_row(tmp_path):
    import json

    from df2s2_d2.evaluation import final_wider_face_ap

    metrics = tmp_path / "metrics.json"
    rows = [{"iteration": 0, "total_loss": 1.0},
            {"iteration": 1, "wider_face/AP_easy": 1.0, "wider_face/AP_medium": 2.0, "wider_face/AP_hard": 3.0},
            {"iteration": 2, "total_loss": 0.5},
            {"iteration": 3, "wider_face/AP_easy": 4.0, "wider_face/AP_medium": 5.0, "wider_face/AP_hard": 6.0}]
    metrics.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert final_wider_face_ap(str(metrics)) == {"easy": 4.0, "medium": 5.0, "hard": 6.0}
    metrics.write_text(json.dumps(rows[0]) + "\n")
    with pytest.raises(ValueError, match="metrics.json: holds no WIDER FACE evaluation"):
        final_wider_face_ap(str(metrics))
