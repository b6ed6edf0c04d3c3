"""Each rule of the official WIDER FACE evaluation, pinned by a small hand-made case.

Boxes are x, y, w, h. Overlaps follow boxoverlap.m with int32 ground truth:
corners g = [x, y, x + w, y + h], prediction corners rounded half away from
zero, inter = (x2 - x1 + 1)(y2 - y1 + 1), union = round(garea + parea) - inter,
overlap = round(inter / union).
"""

import math
from fractions import Fraction

import numpy as np
import pytest

from df2s2_deploy.evaluation.wider_face_ground_truth import WiderFaceGroundTruth
from df2s2_deploy.evaluation.wider_face_protocol import (
    THRESHOLDS,
    evaluate_wider_face,
    matlab_int32,
    matlab_round,
    normalize_scores,
    official_overlaps,
    score_order,
    voc_ap,
)

INT32_MAX, INT32_MIN = 2**31 - 1, -(2**31)


def make_gt(boxes_per_image, subsets):
    """Ground truth of images ('e', 'i<k>'); subsets: name -> per image 1-based indices."""
    keys = [("e", f"i{k}") for k in range(len(boxes_per_image))]
    boxes = [np.array(b, dtype=np.int32).reshape(-1, 4) for b in boxes_per_image]
    indices = {
        s: [np.array(v, dtype=np.int64) - 1 for v in subsets[s]] for s in ("easy", "medium", "hard")
    }
    return WiderFaceGroundTruth(keys, boxes, indices)


def same_subsets(per_image):
    return {s: per_image for s in ("easy", "medium", "hard")}


def at(curve, thresh):
    """(proposals, true positives) of a curve at threshold `thresh` (a multiple of 0.001)."""
    t = int(round((1 - thresh) * 1000)) - 1
    assert math.isclose(THRESHOLDS[t], thresh, abs_tol=1e-12)
    return int(curve.proposals[t]), int(curve.true_positives[t])


FACE = [0, 0, 9, 9]  # corners [0, 0, 9, 9], area 100


# ---- rounding and overlap ----


def test_matlab_round_is_half_away_from_zero():
    values = [
        0.5,
        -0.5,
        1.5,
        2.5,
        -2.5,
        0.49999999999999994,
        -0.49999999999999994,
        2.4999999999999996,
    ]
    np.testing.assert_array_equal(matlab_round(values), [1, -1, 2, 3, -3, 0, 0, 2])


def test_matlab_int32_saturates_and_maps_nan_to_zero():
    np.testing.assert_array_equal(
        matlab_int32([np.nan, 1e12, -1e12, np.inf, -np.inf, 2.5]),
        [0, INT32_MAX, INT32_MIN, INT32_MAX, INT32_MIN, 3],
    )


@pytest.mark.parametrize(
    "gt, pred, expected",
    [
        # x2 = 4.5 -> 5: inter 6*10 = 60, union round(100 + 5.5*10) - 60 = 95, 60/95 = 0.63 -> 1.
        # (Rounding half to even, 4, would give 50/105 = 0.48 -> 0.)
        (FACE, [0, 0, 4.5, 9], 1),
        # x1 = 4.5 -> 5: inter 5*10 = 50, union 155 - 50 = 105, 50/105 = 0.48 -> 0.
        # (Half to even, 4, gives 60/95; the float IoU (5.5*10)/100 = 0.55 also matches.)
        (FACE, [4.5, 0, 4.5, 9], 0),
        # x2 = 3.5 -> 4: inter 5*10 = 50, union round(100 + 45) - 50 = 95, 50/95 = 0.53 -> 1.
        # (The float IoU with +1 areas is 45/100 = 0.45: no match.)
        (FACE, [0, 0, 3.5, 9], 1),
        # Negative half: gt corners [-10, 0, -1, 9]; x2 = -5.5 -> -6 (not -5):
        # inter 5*10 = 50, union round(100 + 55) - 50 = 105 -> 0. (-5 would give 60/95 -> 1.)
        ([-10, 0, 9, 9], [-10, 0, 4.5, 9], 0),
    ],
)
def test_overlap_rounds_prediction_corners_half_away_from_zero(gt, pred, expected):
    assert official_overlaps(np.array([pred], float), np.array([gt], np.int32))[0, 0] == expected


def test_overlap_of_exactly_half_rounds_up_to_a_match():
    # pred corners [0, 0, 9, 4]: inter 10*5 = 50, union round(100 + 50) - 50 = 100, 0.5 -> 1.
    assert official_overlaps(np.array([[0, 0, 9, 4.0]]), np.array([FACE], np.int32))[0, 0] == 1
    # one pixel less: inter 40, union 90, 0.44 -> 0.
    assert official_overlaps(np.array([[0, 0, 9, 3.0]]), np.array([FACE], np.int32))[0, 0] == 0


def test_overlap_is_zero_for_non_finite_coordinates():
    overlaps = official_overlaps(
        np.array([[np.nan, 0, 9, 9], [0, 0, np.inf, 9]]), np.array([FACE], np.int32)
    )
    np.testing.assert_array_equal(overlaps, [[0], [0]])


# ---- sorting and normalisation ----


def test_score_order_is_descending_stable_with_nan_first():
    np.testing.assert_array_equal(
        score_order(np.array([0.5, 0.9, 0.5, np.nan, 0.9])), [3, 1, 4, 0, 2]
    )


def test_normalisation_starts_from_float32_realmax_and_realmin():
    # All scores negative: max stays FLT_MIN (~1e-38), so -0.5 -> 0.5 / (FLT_MIN + 1) = 0.5, not 1.
    (normalized,) = normalize_scores([np.array([-1.0, -0.5])])
    np.testing.assert_array_equal(normalized, [0.0, 0.5])


def test_normalisation_in_float32_moves_a_score_across_a_threshold():
    s = 0.798999999  # below thresh(201) = 1 - 0.201 in float64, above it once in float32
    assert np.float64(np.float32(s)) >= THRESHOLDS[200] > s
    gt = make_gt([[[100, 100, 5, 5]]], same_subsets([[1]]))
    far = [[0, 0, 5, 5, 1.0], [20, 0, 5, 5, s], [40, 0, 5, 5, 0.0]]  # min 0, max 1
    curve = evaluate_wider_face(gt, {("e", "i0"): np.array(far)})["hard"]
    assert at(curve, 0.799) == (2, 0)  # float64 arithmetic would count 1
    assert at(curve, 0.8) == (1, 0)


def test_nan_score_sorts_first_takes_the_face_and_passes_no_threshold_alone():
    gt = make_gt([[FACE]], same_subsets([[1]]))
    rows = np.array([[0, 0, 9, 9, 1.0], [0, 0, 9, 9, np.nan], [50, 50, 5, 5, 0.0]])
    curve = evaluate_wider_face(gt, {("e", "i0"): rows})["easy"]
    # order: NaN row (matches the face), 1.0 row (duplicate: false positive), 0.0 row.
    assert at(curve, 0.5) == (2, 1)
    assert at(curve, 0.0) == (3, 1)
    only_nan = evaluate_wider_face(gt, {("e", "i0"): np.array([[0, 0, 9, 9, np.nan]])})["easy"]
    assert only_nan.proposals.max() == 0 and only_nan.true_positives.max() == 0


# ---- matching ----


def test_first_maximal_gt_is_matched_not_the_best():
    # Face A = corners [0, 0, 9, 9], face B = [2, 0, 9, 9]. Both predictions overlap both at
    # >= 0.5, so both go to A, the first: the second is a false positive although B is free.
    gt = make_gt([[FACE, [2, 0, 7, 9]]], same_subsets([[1, 2]]))
    rows = np.array([[2, 0, 7, 9, 1.0], [0, 0, 9, 9, 0.0]])  # the first is B's exact box
    curve = evaluate_wider_face(gt, {("e", "i0"): rows})["medium"]
    assert at(curve, 0.5) == (1, 1)
    assert at(curve, 0.0) == (2, 1)  # best-IoU matching would give (2, 2)
    # recall 0.5 throughout; precision 1 then 0.5 at the last threshold: AP = 0.5 * 1 + 0.5 * 0
    assert curve.ap == pytest.approx(0.5, abs=1e-12)


def test_duplicate_on_a_matched_face_is_a_false_positive():
    gt = make_gt([[FACE]], same_subsets([[1]]))
    rows = np.array([[0, 0, 9, 9, 1.0], [0.4, 0, 9, 9, 1.0], [50, 50, 5, 5, 0.0]])
    curve = evaluate_wider_face(gt, {("e", "i0"): rows})["hard"]
    assert at(curve, 0.5) == (2, 1)
    assert curve.precision[499] == 0.5 and curve.recall[499] == 1.0


def test_detection_on_a_face_outside_the_subset_is_dropped():
    # Face A (index 1) only in hard; face B (index 2) in every subset.
    gt = make_gt([[FACE, [100, 100, 9, 9]]], {"easy": [[2]], "medium": [[2]], "hard": [[1, 2]]})
    rows = np.array([[0, 0, 9, 9, 1.0], [0.2, 0, 9, 9, 1.0], [300, 300, 5, 5, 0.0]])
    curves = evaluate_wider_face(gt, {("e", "i0"): rows})
    assert at(curves["easy"], 0.5) == (0, 0)  # both on A: neither TP nor FP
    assert at(curves["easy"], 0.0) == (1, 0)  # only the far one counts
    assert at(curves["hard"], 0.5) == (2, 1)  # A in the subset: one TP, one duplicate
    assert curves["easy"].num_faces == 1 and curves["hard"].num_faces == 2


def test_unsorted_rows_are_walked_in_score_order():
    gt = make_gt([[FACE]], same_subsets([[1]]))
    rows = np.array([[0, 0, 9, 9, 0.0], [0, 0, 9, 9, 1.0]])  # low score first in the file
    curve = evaluate_wider_face(gt, {("e", "i0"): rows})["easy"]
    # sorted: the 1.0 row takes the face; walking file order would give (2, 1) at 0.5
    assert at(curve, 0.5) == (1, 1)
    assert at(curve, 0.0) == (2, 1)


# ---- images ----


def test_image_without_predictions_still_counts_its_faces():
    gt = make_gt([[FACE], [FACE, [50, 50, 9, 9]]], same_subsets([[1], [1, 2]]))
    rows = np.array([[0, 0, 9, 9, 1.0], [90, 90, 9, 9, 0.0]])
    curve = evaluate_wider_face(gt, {("e", "i0"): rows})["easy"]
    assert curve.num_faces == 3
    assert curve.recall[0] == pytest.approx(1 / 3)


def test_all_scores_equal_normalise_to_nan_and_count_nowhere():
    # (s - min) / (max - min) = 0 / 0: no detection passes any threshold.
    gt = make_gt([[FACE]], same_subsets([[1]]))
    curve = evaluate_wider_face(
        gt, {("e", "i0"): np.array([[0, 0, 9, 9, 0.7], [50, 50, 9, 9, 0.7]])}
    )["easy"]
    assert curve.proposals.max() == 0 and curve.ap == 0.0


def test_zero_face_image():
    # Official zero-face images hold one [0 0 0 0] box that belongs to no subset.
    gt = make_gt([[FACE], [[0, 0, 0, 0]]], same_subsets([[1], []]))
    far = {("e", "i0"): np.array([[0, 0, 9, 9, 1.0]]), ("e", "i1"): np.array([[40, 40, 9, 9, 0.0]])}
    curve = evaluate_wider_face(gt, far)["easy"]
    assert curve.num_faces == 1
    assert at(curve, 0.0) == (2, 1)  # the zero-face image's detection is a false positive
    # A detection on the placeholder itself (inter 1, union round(1 + 1) - 1 = 1) is dropped.
    on_placeholder = {**far, ("e", "i1"): np.array([[0, 0, 0, 0, 0.0]])}
    assert at(evaluate_wider_face(gt, on_placeholder)["easy"], 0.0) == (1, 1)


def test_image_with_an_empty_box_cell_ignores_its_predictions():
    gt = make_gt([[FACE], []], same_subsets([[1], []]))
    preds = {
        ("e", "i0"): np.array([[0, 0, 9, 9, 1.0]]),
        ("e", "i1"): np.array([[40, 40, 9, 9, 0.0]]),
    }
    assert at(evaluate_wider_face(gt, preds)["easy"], 0.0) == (1, 1)


def test_predictions_of_unknown_images_are_ignored():
    gt = make_gt([[FACE]], same_subsets([[1]]))
    preds = {("e", "i0"): np.array([[0, 0, 9, 9, 0.5]]), ("x", "y"): np.array([[0, 0, 9, 9, 1.0]])}
    # the unknown image's 1.0 takes no part in the normalisation: 0.5 is alone -> 0/0 = NaN
    assert evaluate_wider_face(gt, preds)["easy"].proposals.max() == 0


# ---- AP ----


def test_voc_ap_ignores_nan_precision():
    recall = np.array([0.0, 0.5, 0.5, 1.0])
    precision = np.array([np.nan, 1.0, np.nan, 0.5])
    # mrec = [0, 0, .5, .5, 1, 1]; mpre after the backward max: [1, 1, 1, .5, .5, 0];
    # recall steps of 0.5 at indices 2 and 4.
    assert voc_ap(recall, precision) == pytest.approx(0.5 * 1 + 0.5 * 0.5)


# ---- against a line-by-line transliteration of the MATLAB code ----


def _int32(x: float) -> int:
    """MATLAB int32() of a double, with exact rational rounding."""
    if math.isnan(x):
        return 0
    if math.isinf(x):
        return INT32_MAX if x > 0 else INT32_MIN
    magnitude = math.floor(abs(Fraction(x)) + Fraction(1, 2))
    return max(INT32_MIN, min(INT32_MAX, magnitude if x >= 0 else -magnitude))


def _sat(v: int) -> int:
    return max(INT32_MIN, min(INT32_MAX, v))


def _imax(g: int, b: float) -> int:
    return g if math.isnan(b) else max(g, _int32(b))


def _imin(g: int, b: float) -> int:
    return g if math.isnan(b) else min(g, _int32(b))


def _boxoverlap(gt_corners, b):
    out = []
    for gx1, gy1, gx2, gy2 in gt_corners:
        w = _sat(_imin(gx2, b[2]) - _imax(gx1, b[0]) + 1)
        h = _sat(_imin(gy2, b[3]) - _imax(gy1, b[1]) + 1)
        inter = _sat(w * h)
        garea = _sat(_sat(gx2 - gx1 + 1) * _sat(gy2 - gy1 + 1))
        parea = (b[2] - b[0] + 1) * (b[3] - b[1] + 1)
        union = _sat(_int32(garea + parea) - inter)
        ratio = (
            inter / union
            if union
            else (math.inf if inter > 0 else -math.inf if inter < 0 else math.nan)
        )
        out.append(0 if w <= 0 or h <= 0 else _int32(ratio))
    return out


def _mmax(a, b):
    return b if math.isnan(a) else a if math.isnan(b) else max(a, b)


def literal_matlab_evaluation(gt, predictions):
    """read_pred sort + norm_score + evaluation.m + VOCap.m, loop for loop."""
    preds = []
    for key in gt.image_keys:
        rows = [list(map(float, r)) for r in predictions.get(key, [])]
        preds.append(
            sorted(rows, key=lambda r: (not math.isnan(r[4]), -r[4] if not math.isnan(r[4]) else 0))
        )
    high, low = np.float32(np.finfo(np.float32).tiny), np.float32(np.finfo(np.float32).max)
    for rows in preds:
        for r in rows:
            if not math.isnan(r[4]):
                high, low = np.float32(_mmax(float(high), r[4])), np.float32(min(float(low), r[4]))
    for rows in preds:
        for r in rows:
            r[4] = float((np.float32(r[4]) - low) / (high - low))
    result = {}
    for subset in ("easy", "medium", "hard"):
        curve = [[0, 0] for _ in range(1000)]
        count_face = 0
        for boxes, keep, rows in zip(gt.boxes, gt.subset_indices[subset], preds):
            count_face += len(keep)
            if len(boxes) == 0 or len(rows) == 0:
                continue
            corners = [
                (int(x), int(y), _sat(int(x) + int(w)), _sat(int(y) + int(h)))
                for x, y, w, h in boxes
            ]
            ignore = [0] * len(boxes)
            for k in keep:
                ignore[k] = 1
            recall_list, proposal_list, pred_recall = [0] * len(boxes), [1] * len(rows), []
            for h, r in enumerate(rows):
                o = _boxoverlap(corners, [r[0], r[1], r[0] + r[2], r[1] + r[3]])
                idx = o.index(max(o))
                if o[idx] >= 0.5:
                    if ignore[idx] == 0:
                        recall_list[idx], proposal_list[h] = -1, -1
                    elif recall_list[idx] == 0:
                        recall_list[idx] = 1
                pred_recall.append(recall_list.count(1))
            for t in range(1, 1001):
                thresh = 1 - t / 1000
                passing = [i for i, r in enumerate(rows) if r[4] >= thresh]
                if passing:
                    curve[t - 1][0] += proposal_list[: passing[-1] + 1].count(1)
                    curve[t - 1][1] += pred_recall[passing[-1]]
        precision = [tp / p if p else math.nan for p, tp in curve]
        recall = [tp / count_face for _, tp in curve]
        mrec, mpre = [0.0] + recall + [1.0], [0.0] + precision + [0.0]
        for i in range(len(mpre) - 2, -1, -1):
            mpre[i] = _mmax(mpre[i], mpre[i + 1])
        ap = sum(
            (mrec[i] - mrec[i - 1]) * mpre[i] for i in range(1, len(mrec)) if mrec[i] != mrec[i - 1]
        )
        result[subset] = (np.array(curve), ap)
    return result


def random_case(rng):
    """Small images with ties, .5 coordinates, degenerate boxes, NaN scores, missing predictions."""
    boxes, subsets, predictions = [], {"easy": [], "medium": [], "hard": []}, {}
    for k in range(8):
        n = int(rng.integers(0, 6))
        b = np.column_stack([rng.integers(-5, 40, (n, 2)), rng.integers(3, 16, (n, 2))])
        b[:, 2:][rng.random((n, 2)) < 0.08] = -1  # degenerate faces
        if n and rng.random() < 0.3:
            b = np.concatenate([b, b[:1]])  # an exact duplicate face
        boxes.append(b)
        hard = (
            sorted(rng.choice(len(b), int(rng.integers(0, len(b) + 1)), replace=False) + 1)
            if len(b)
            else []
        )
        medium = [i for i in hard if rng.random() < 0.7]
        subsets["hard"].append(hard)
        subsets["medium"].append(medium)
        subsets["easy"].append([i for i in medium if rng.random() < 0.6])
        if rng.random() < 0.15:
            continue  # no predictions for this image
        near = (
            b[rng.integers(0, len(b), int(rng.integers(0, 2 * len(b) + 1)))]
            if len(b)
            else np.zeros((0, 4))
        )
        near = near + rng.integers(-2, 3, near.shape) / 2  # .5 coordinates: rounding ties
        num_far = int(rng.integers(0, 4))
        far = np.column_stack([rng.uniform(-5, 45, (num_far, 2)), rng.uniform(0, 12, (num_far, 2))])
        xywh = np.concatenate([near, far])
        scores = rng.choice([0.1, 0.35, 0.5, 0.77, 0.9], len(xywh)) + rng.choice(
            [0, 1e-9], len(xywh)
        )
        scores[rng.random(len(xywh)) < 0.05] = np.nan
        predictions[("e", f"i{k}")] = np.column_stack([xywh, scores])
    return make_gt(boxes, subsets), predictions


@pytest.mark.parametrize("seed", range(6))
def test_matches_a_literal_transliteration_of_the_matlab_code(seed):
    gt, predictions = random_case(np.random.default_rng(seed))
    expected = literal_matlab_evaluation(gt, predictions)
    curves = evaluate_wider_face(gt, predictions)
    for subset, (curve, ap) in expected.items():
        np.testing.assert_array_equal(curves[subset].proposals, curve[:, 0], err_msg=subset)
        np.testing.assert_array_equal(curves[subset].true_positives, curve[:, 1], err_msg=subset)
        assert curves[subset].ap == pytest.approx(ap, abs=1e-12)
