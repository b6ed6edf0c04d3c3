"""Degenerate boxes of any dataset dict are dropped and counted before the mapper uses them."""

import math

import numpy as np
import pytest
import torch
from detectron2.structures import BoxMode

from df2s2_d2.data import WiderFaceDatasetMapper
from df2s2_d2.data.box_validation import box_problem, positive_size, validate_annotations
from tests.common import get_config
from tests.data.bad_input import write_jpeg


def ann(bbox, mode=BoxMode.XYWH_ABS, **extra):
    return {"bbox": bbox, "bbox_mode": mode, "category_id": 0, **extra}


@pytest.mark.parametrize(
    "annotation, reason",
    [
        (ann([5, 5, 10, 10]), None),
        (ann([5, 5, 15, 15], BoxMode.XYXY_ABS), None),
        (ann([-5, -5, 10, 10]), None),  # partly outside: kept, clipped later
        (ann([5, 5, 0, 10]), "empty"),
        (ann([5, 5, 10, 0]), "empty"),
        (ann([5, 5, -3, 10]), "empty"),
        (ann([15, 5, 5, 15], BoxMode.XYXY_ABS), "empty"),
        (ann([5, 5, math.nan, 10]), "not_finite"),
        (ann([5, math.inf, 10, 10]), "not_finite"),
        (ann([50, 5, 10, 10]), "outside_image"),
        (ann([-20, 5, 10, 10]), "outside_image"),
        (ann([5, 40, 10, 10]), "outside_image"),
        (ann([5, 5, 10]), "malformed"),
        (ann(None), "malformed"),
        (ann("1234"), "malformed"),
        (ann([5, "a", 10, 10]), "malformed"),
        ({"bbox": [5, 5, 10, 10], "category_id": 0}, "malformed"),
        (ann([0.1, 0.1, 0.2, 0.2], BoxMode.XYWH_REL), "unsupported_mode"),
    ],
)
def test_box_problem_names_the_reason(annotation, reason):
    assert box_problem(annotation, height=32, width=40) == reason


def test_validate_annotations_keeps_order_and_counts_each_reason():
    anns = [ann([1, 1, 5, 5]), ann([1, 1, 0, 5]), ann([2, 2, 5, 5]), ann([1, 1, -1, 5])]
    anns.append(ann([1, 1, math.nan, 5]))
    kept, dropped = validate_annotations(anns, 32, 40)
    assert kept == [anns[0], anns[2]]
    assert dropped == {"empty": 2, "not_finite": 1}


def test_positive_size_is_decided_in_float32():
    boxes = np.array([[600.0, 1, 600.00001, 5], [1, 1, 2, 2], [3, 3, 3, 9]])
    assert positive_size(boxes).tolist() == [False, True, False]


@pytest.fixture
def image_file(tmp_path):
    return str(write_jpeg(tmp_path / "e" / "img.jpg", h=64, w=80))


@pytest.mark.parametrize("augment", [True, False])
def test_no_degenerate_box_reaches_gt_boxes_and_each_is_counted(image_file, augment):
    cfg = get_config(
        opts=[
            "INPUT.FACE_AUG.RANDOM_CROP", augment, "INPUT.FACE_AUG.TRAIN_SIZE", 64,
            "INPUT.FACE_AUG.CROP_SCALES", [1.0], "INPUT.RANDOM_FLIP", "none",
        ]
    )
    mapper = WiderFaceDatasetMapper(cfg, is_train=True)
    good = ann([10, 10, 20, 20])
    bad = [
        ann([30, 30, 0, 10]),  # zero width
        ann([50, 10, -20, 20]),  # negative width: would flip into a real box
        ann([5, 5, math.nan, 10]),
        ann([5, 5, math.inf, 10]),
        ann([500, 500, 10, 10]),  # entirely outside
        ann([10, 10, 0, 0], iscrowd=1),  # degenerate ignored region
    ]
    record = {"file_name": image_file, "image_id": "e/img", "annotations": [good] + bad}
    np.random.seed(0)
    out = mapper(record)
    boxes = out["instances"].gt_boxes.tensor
    assert len(boxes) == 1
    assert torch.all(boxes[:, 2] > boxes[:, 0]) and torch.all(boxes[:, 3] > boxes[:, 1])
    assert torch.isfinite(boxes).all()
    c = mapper.counts
    assert (c["boxes_dropped_empty"], c["boxes_dropped_not_finite"]) == (3, 2)
    assert c["boxes_dropped_outside_image"] == 1
    assert c["crowd_faces_ignored"] == 0 and c["faces_kept"] == 1


def test_image_with_only_degenerate_boxes_maps_to_no_face(image_file):
    mapper = WiderFaceDatasetMapper(get_config(), is_train=True)
    record = {"file_name": image_file, "annotations": [ann([3, 3, 0, 0]), ann([3, 3, -5, 4])]}
    out = mapper(record)
    assert len(out["instances"]) == 0 and mapper.counts["boxes_dropped_empty"] == 2
