"""`FaceLandmarkEvaluator` on a tiny registered dataset, and "landmarks" in TEST.EVALUATORS."""

import json
import math
import uuid

import pytest
import torch
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import Boxes, BoxMode, Instances

from df2s2_d2.data import register_retinaface_layout
from df2s2_d2.evaluation import FaceLandmarkEvaluator, build_face_evaluator
from df2s2_deploy.face_landmarks import LANDMARK_NAMES
from tests.common import small_cfg

# One face 40 x 40 with five visible points, one 20 x 20 without landmarks.
KEYPOINTS = [22, 26, 2, 38, 26, 2, 30, 32, 2, 24, 40, 2, 36, 40, 1]
DICTS = [
    {
        "file_name": "/data/images/0--Parade/a.jpg",
        "image_id": "0--Parade/a",
        "height": 100,
        "width": 100,
        "annotations": [
            {
                "bbox": [10, 10, 40, 40],
                "bbox_mode": BoxMode.XYWH_ABS,
                "category_id": 0,
                "iscrowd": 0,
                "keypoints": KEYPOINTS,
            },
            {
                "bbox": [60, 60, 20, 20],
                "bbox_mode": BoxMode.XYWH_ABS,
                "category_id": 0,
                "iscrowd": 0,
                "keypoints": [0] * 15,
            },
        ],
    },
    {
        "file_name": "/data/images/0--Parade/b.jpg",
        "image_id": "0--Parade/b",
        "height": 50,
        "width": 50,
        "annotations": [],
    },
]


@pytest.fixture
def dataset():
    name = f"landmark_evaluator_test_{uuid.uuid4().hex}"
    DatasetCatalog.register(name, lambda: DICTS)
    MetadataCatalog.get(name).set(thing_classes=["face"], keypoint_names=LANDMARK_NAMES)
    yield name
    DatasetCatalog.remove(name)
    MetadataCatalog.remove(name)


def instances(xyxy, scores, points=None):
    result = Instances((100, 100))
    result.pred_boxes = Boxes(torch.tensor(xyxy, dtype=torch.float32).reshape(-1, 4))
    result.scores = torch.tensor(scores, dtype=torch.float32)
    if points is not None:
        result.pred_keypoints = torch.tensor(points, dtype=torch.float32).reshape(-1, 5, 3)
    return result


def predicted_points(dy):
    """The ground-truth points moved down by ``dy``, with a score of 1."""
    return [[KEYPOINTS[3 * k], KEYPOINTS[3 * k + 1] + dy, 1.0] for k in range(5)]


def run(evaluator, dy=2.0):
    evaluator.reset()
    evaluator.process(
        [{"file_name": d["file_name"]} for d in DICTS],
        [
            {
                "instances": instances(
                    [[10, 10, 50, 50], [60, 60, 80, 80]],
                    [0.9, 0.8],
                    [predicted_points(dy), predicted_points(50)],
                )
            },
            {"instances": instances([], [], [])},
        ],
    )
    return evaluator.evaluate()


def test_nme_over_visible_points_and_written_json(dataset, tmp_path):
    results = run(FaceLandmarkEvaluator(dataset, output_dir=str(tmp_path)))
    # four visible points 2 px off; the hidden fifth and the face without landmarks left out
    assert list(results) == ["landmarks"]
    assert results["landmarks"] == {
        "NME": pytest.approx(2 / 40),
        "faces_matched": 1,
        "faces_with_landmarks": 1,
    }
    written = json.loads((tmp_path / "landmark_nme.json").read_text())
    assert written == {
        "dataset": dataset,
        "NME": pytest.approx(2 / 40),
        "faces_matched": 1,
        "faces_with_landmarks": 1,
        "points": 4,
    }


def test_same_results_without_distribution(dataset):
    results = run(FaceLandmarkEvaluator(dataset, distributed=False), dy=4.0)
    assert results["landmarks"]["NME"] == pytest.approx(4 / 40)


def test_no_detection_gives_nan_and_null_in_the_json(dataset, tmp_path):
    evaluator = FaceLandmarkEvaluator(dataset, output_dir=str(tmp_path))
    evaluator.process([{"file_name": DICTS[0]["file_name"]}], [{"instances": instances([], [])}])
    results = evaluator.evaluate()["landmarks"]
    assert math.isnan(results["NME"]) and results["faces_matched"] == 0
    assert json.loads((tmp_path / "landmark_nme.json").read_text())["NME"] is None


def test_a_model_without_landmarks_is_named(dataset):
    evaluator = FaceLandmarkEvaluator(dataset)
    with pytest.raises(ValueError, match=r"no landmark predictor \(MODEL\.DF2S2\.LANDMARKS\)"):
        evaluator.process(
            [{"file_name": DICTS[0]["file_name"]}],
            [{"instances": instances([[10, 10, 50, 50]], [0.9])}],
        )


def test_a_dataset_without_keypoints_is_named(tmp_path):
    name = f"landmark_evaluator_test_{uuid.uuid4().hex}"
    dicts = [
        {
            **DICTS[0],
            "annotations": [
                {k: v for k, v in a.items() if k != "keypoints"} for a in DICTS[0]["annotations"]
            ],
        }
    ]
    DatasetCatalog.register(name, lambda: dicts)
    try:
        evaluator = FaceLandmarkEvaluator(name)
        evaluator.process(
            [{"file_name": DICTS[0]["file_name"]}], [{"instances": instances([], [], [])}]
        )
        with pytest.raises(
            ValueError, match=f"Dataset '{name}' has annotations without " "'keypoints'"
        ):
            evaluator.evaluate()
    finally:
        DatasetCatalog.remove(name)


def test_evaluators_of_the_config(tmp_path):
    name = f"landmark_evaluator_test_{uuid.uuid4().hex}"
    register_retinaface_layout(name, str(tmp_path / "label.txt"), str(tmp_path), gt_dir="gt")
    plain = f"landmark_evaluator_test_{uuid.uuid4().hex}"
    MetadataCatalog.get(plain).set(
        thing_classes=["face"], evaluator_type="wider_face", wider_face_gt_dir="gt"
    )
    try:
        cfg = small_cfg(["TEST.EVALUATORS", ["wider_face", "landmarks"]])
        kinds = [
            type(e).__name__ for e in build_face_evaluator(cfg, name, str(tmp_path))._evaluators
        ]
        assert kinds == ["WiderFaceEvaluator", "FaceLandmarkEvaluator"]
        cfg = small_cfg(["TEST.EVALUATORS", ["landmarks"]])
        with pytest.raises(ValueError, match=f"{plain} has no landmarks"):
            build_face_evaluator(cfg, plain, str(tmp_path))
    finally:
        DatasetCatalog.remove(name)
        for n in (name, plain):
            MetadataCatalog.remove(n)


def test_one_evaluation_gives_wider_face_ap_and_nme_on_synthetic_landmarks(tmp_path):
    """The ground truth of a synthetic val set as predictions: NME 0 and WIDER FACE AP."""
    from detectron2.evaluation import DatasetEvaluators

    from df2s2_d2.data import generate_synthetic_dataset
    from df2s2_d2.evaluation import WiderFaceEvaluator

    generate_synthetic_dataset(str(tmp_path), 1, 3, seed=3, image_size=128)
    name = f"landmark_evaluator_test_{uuid.uuid4().hex}"
    register_retinaface_layout(
        name,
        str(tmp_path / "retinaface_gt" / "val" / "label.txt"),
        str(tmp_path / "WIDER_val" / "images"),
        gt_dir=str(tmp_path / "eval_tools" / "ground_truth"),
    )
    try:
        evaluator = DatasetEvaluators(
            [WiderFaceEvaluator(name, distributed=False), FaceLandmarkEvaluator(name)]
        )
        evaluator.reset()
        for d in DatasetCatalog.get(name):
            boxes = [
                BoxMode.convert(a["bbox"], a["bbox_mode"], BoxMode.XYXY_ABS)
                for a in d["annotations"]
            ]
            points = [a["keypoints"] for a in d["annotations"]]
            scores = [1.0 - 0.01 * k for k in range(len(boxes))]  # WIDER needs distinct scores
            evaluator.process([d], [{"instances": instances(boxes, scores, points)}])
        results = evaluator.evaluate()
    finally:
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)
    assert results["landmarks"]["NME"] == pytest.approx(0.0, abs=1e-6)  # float32 points
    assert results["landmarks"]["faces_matched"] == results["landmarks"]["faces_with_landmarks"] > 0
    assert results["wider_face"]["AP_hard"] > 90
