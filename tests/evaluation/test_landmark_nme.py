"""The landmark NME (torch-free): matching, normalisation, hidden points, the counts."""

import math

import numpy as np
import pytest

from df2s2_deploy.evaluation.landmark_nme import (
    LandmarkNME,
    box_iou,
    evaluate_landmark_nme,
    match_faces,
)
from tests.deploy.test_torch_free import HEAVY, imported_modules

# Two faces of one image: 40 x 40 and 20 x 80 (sqrt(w * h) = 40 in both).
GT_BOXES = np.array([[10, 10, 50, 50], [100, 20, 120, 100]], np.float64)


def points_in(box, v=2):
    """Five (x, y, v) points spread inside an XYXY box."""
    x0, y0, x1, y1 = box
    xs = x0 + (x1 - x0) * np.array([0.3, 0.7, 0.5, 0.35, 0.65])
    ys = y0 + (y1 - y0) * np.array([0.4, 0.4, 0.55, 0.75, 0.75])
    return np.stack([xs, ys, np.full(5, float(v))], axis=1)


def ground_truth(boxes=GT_BOXES, points=None):
    points = np.stack([points_in(b) for b in boxes]) if points is None else points
    return {"img": (boxes, points)}


def predictions(boxes, points, scores=None):
    scores = np.linspace(0.9, 0.5, len(boxes)) if scores is None else np.asarray(scores)
    return {"img": (np.asarray(boxes, np.float64), scores, np.asarray(points, np.float64))}


def test_ground_truth_as_predictions_has_zero_nme():
    gt = ground_truth()
    _, points = gt["img"]
    result = evaluate_landmark_nme(gt, predictions(GT_BOXES, points[:, :, :2]))
    assert result == LandmarkNME(nme=0.0, faces_with_landmarks=2, faces_matched=2, points=10)


def test_shifted_points_give_the_shift_over_the_box_size():
    gt = ground_truth(boxes=np.array([[10, 10, 50, 50], [100, 20, 110, 110]], np.float64))
    boxes, points = gt["img"]
    shifted = points[:, :, :2] + (3.0, 4.0)  # 5 px from every point
    result = evaluate_landmark_nme(gt, predictions(boxes, shifted))
    # sqrt(w * h): 40 and 30
    assert result.nme == pytest.approx((5 / 40 + 5 / 30) / 2)
    assert (result.faces_matched, result.points) == (2, 10)


def test_points_carry_scores_as_a_third_value():
    gt = ground_truth()
    _, points = gt["img"]
    with_scores = np.concatenate([points[:, :, :2] + (0.0, 2.0), np.ones((2, 5, 1))], axis=2)
    assert evaluate_landmark_nme(gt, predictions(GT_BOXES, with_scores)).nme == pytest.approx(
        2 / 40
    )


def test_hidden_and_unlabelled_points_are_left_out():
    gt = ground_truth()
    _, points = gt["img"]
    points = points.copy()
    points[0, 0, 2] = 1  # hidden
    points[0, 1] = (0, 0, 0)  # not labelled
    predicted = points[:, :, :2].copy()
    predicted[0, 0] += 500.0
    predicted[0, 1] += 500.0
    predicted[0, 2] += (0.0, 4.0)  # a visible point 4 px off
    result = evaluate_landmark_nme(ground_truth(points=points), predictions(GT_BOXES, predicted))
    assert result.nme == pytest.approx((4 / 40 / 3 + 0) / 2)  # face 1: 3 visible points
    assert result.points == 3 + 5


def test_faces_without_visible_points_are_not_landmark_faces():
    points = np.stack([points_in(GT_BOXES[0]), points_in(GT_BOXES[1], v=1)])
    gt = ground_truth(points=points)
    result = evaluate_landmark_nme(gt, predictions(GT_BOXES, points[:, :, :2] + 100))
    assert (result.faces_with_landmarks, result.faces_matched, result.points) == (1, 1, 5)


def test_overlap_below_half_is_no_match():
    box = np.array([[10, 10, 50, 50]], np.float64)
    gt = ground_truth(boxes=box)
    _, points = gt["img"]
    # IoU of the box shifted right by 14: 26 / 54; its top half: exactly 0.5
    below = box + [14, 0, 14, 0]
    at = np.array([[10, 10, 50, 30]], np.float64)
    assert box_iou(below, box)[0, 0] < 0.5 and box_iou(at, box)[0, 0] == 0.5
    result = evaluate_landmark_nme(gt, predictions(below, points[:, :, :2]))
    assert result.faces_matched == 0 and result.faces_with_landmarks == 1
    assert math.isnan(result.nme)
    assert evaluate_landmark_nme(gt, predictions(at, points[:, :, :2])).faces_matched == 1


def test_each_face_is_matched_once_by_the_best_scored_prediction():
    box = np.array([[10, 10, 50, 50]], np.float64)
    gt = ground_truth(boxes=box)
    _, points = gt["img"]
    good, bad = points[0, :, :2] + (0.0, 1.0), points[0, :, :2] + (0.0, 30.0)
    # the worse prediction listed first but scored lower
    result = evaluate_landmark_nme(gt, predictions(np.vstack([box, box]), [bad, good], [0.2, 0.9]))
    assert result.faces_matched == 1 and result.nme == pytest.approx(1 / 40)
    result = evaluate_landmark_nme(gt, predictions(np.vstack([box, box]), [bad, good], [0.9, 0.2]))
    assert result.nme == pytest.approx(30 / 40)


def test_a_prediction_goes_to_the_face_it_overlaps_most_even_without_landmarks():
    boxes = np.array([[0, 0, 40, 40], [8, 0, 48, 40]], np.float64)
    points = np.stack([points_in(boxes[0]), points_in(boxes[1], v=0)])
    # prediction 1 (first by score) overlaps face 2 most: face 1 stays for prediction 2
    pred_boxes = np.array([[7, 0, 47, 40], [1, 0, 41, 40]], np.float64)
    pred_points = np.stack([points[0, :, :2] + 20, points[0, :, :2] + (2.0, 0.0)])
    assert match_faces(pred_boxes, [0.9, 0.8], boxes).tolist() == [1, 0]
    result = evaluate_landmark_nme(
        ground_truth(boxes, points), predictions(pred_boxes, pred_points, [0.9, 0.8])
    )
    assert result.faces_matched == 1 and result.nme == pytest.approx(2 / 40)


def test_images_without_predictions_leave_their_faces_unmatched():
    gt = {**ground_truth(), "other": (GT_BOXES[:1], points_in(GT_BOXES[0])[None])}
    _, points = gt["img"]
    result = evaluate_landmark_nme(
        gt,
        {
            **predictions(GT_BOXES, points[:, :, :2]),
            "unknown": predictions(GT_BOXES, points)["img"],
        },
    )
    assert (result.faces_with_landmarks, result.faces_matched, result.nme) == (3, 2, 0.0)
    empty = predictions(np.zeros((0, 4)), np.zeros((0, 5, 3)))
    assert evaluate_landmark_nme(ground_truth(), empty).faces_matched == 0


def test_the_nme_imports_neither_torch_nor_detectron2():
    modules = imported_modules("import df2s2_deploy.evaluation.landmark_nme")
    assert "numpy" in modules
    assert not set(HEAVY) & set(modules)
