"""The official WIDER FACE evaluation (eval_tools/*.m), reproduced exactly in numpy.

Rules, as the MATLAB code applies them:

1. Predictions are sorted by score, descending, stable, NaN first (MATLAB
   `sort(..., 'descend')`), and scores are normalised once over all images:
   `(s - min) / (max - min)` in float32, max and min starting at FLT_MIN and
   FLT_MAX and ignoring NaN (`norm_score.m`).
2. Overlaps use the int32 ground truth, so MATLAB's integer arithmetic applies:
   prediction coordinates are rounded half away from zero, areas add up to an
   int32 and the overlap itself is rounded to 0 or 1 (`boxoverlap.m`).
3. Each prediction goes to the *first* gt with the maximal overlap. If that
   overlap is >= 0.5: a face outside the subset drops the prediction from all
   counts; a free face becomes matched (true positive); a matched face leaves
   the prediction a false positive (`evaluation.m`).
4. For t = 1..1000, `thresh = 1 - t/1000`, r = the last prediction with
   score >= thresh: proposals(t) += non-dropped predictions among 1..r,
   true_positives(t) += faces matched by 1..r. Images without gt boxes or
   without predictions add nothing; every image adds its subset faces to the
   recall denominator.
5. precision = TP / proposals, recall = TP / faces, AP = VOC all-points AP
   with NaN precisions ignored (`VOCap.m`).

The matching depends on the subset only through rule 3's outcome, so the
overlaps are computed once per image for the three subsets, and the
sequential walk reduces to "the first prediction that targets a face".
"""

from dataclasses import dataclass
from typing import Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

from .wider_face_ground_truth import ImageKey, WiderFaceGroundTruth

__all__ = [
    "NUM_THRESHOLDS",
    "THRESHOLDS",
    "WiderFacePRCurve",
    "matlab_round",
    "matlab_int32",
    "official_overlaps",
    "score_order",
    "normalize_scores",
    "voc_ap",
    "evaluate_wider_face",
]

NUM_THRESHOLDS = 1000
# thresh(t) = 1 - t/1000 for t = 1..1000, computed as the MATLAB code does. (1000,), descending.
THRESHOLDS = 1 - np.arange(1, NUM_THRESHOLDS + 1) / NUM_THRESHOLDS
_INT32_MIN, _INT32_MAX = np.iinfo(np.int32).min, np.iinfo(np.int32).max


@dataclass(frozen=True)
class WiderFacePRCurve:
    """One subset's result. Arrays are (1000,), indexed like THRESHOLDS.

    proposals: predictions counted at each threshold (dropped ones excluded).
    true_positives: faces matched at each threshold.
    precision: TP / proposals (NaN where there are no proposals).
    recall: TP / num_faces.
    """

    subset: str
    num_faces: int
    proposals: np.ndarray
    true_positives: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    ap: float


def matlab_round(values) -> np.ndarray:
    """Round half away from zero (MATLAB `round`), exactly: float64 array."""
    values = np.asarray(values, dtype=np.float64)
    whole = np.trunc(values)
    with np.errstate(invalid="ignore"):
        return whole + np.copysign(np.abs(values - whole) >= 0.5, values)


def matlab_int32(values) -> np.ndarray:
    """MATLAB `int32(values)`: round half away from zero, saturate, NaN -> 0. int64 array."""
    return np.nan_to_num(_saturate(matlab_round(values)), nan=0.0).astype(np.int64)


def _saturate(values: np.ndarray) -> np.ndarray:
    """Saturate to the int32 range, as MATLAB int32 results do (NaN stays NaN)."""
    return np.clip(values, _INT32_MIN, _INT32_MAX)


def _gt_corners(gt_xywh: np.ndarray) -> Tuple[np.ndarray, ...]:
    """x1, y1, x2, y2, area of (m, 4) int32 x, y, w, h with int32 arithmetic: five (m,) int64."""
    gt = np.asarray(gt_xywh).astype(np.int64).reshape(-1, 4)
    x1, y1 = gt[:, 0], gt[:, 1]
    x2, y2 = _saturate(x1 + gt[:, 2]), _saturate(y1 + gt[:, 3])
    return x1, y1, x2, y2, _saturate(_saturate(x2 - x1 + 1) * _saturate(y2 - y1 + 1))


def _pred_corners(pred_xywh: np.ndarray) -> Tuple[np.ndarray, ...]:
    """Rounded x1, y1, x2, y2 (int64), float64 area and finiteness of (n, 4) x, y, w, h.

    max/min of an int32 and a double give an int32, so the overlap sees the
    prediction's corners rounded; its area stays double.
    """
    pred = np.asarray(pred_xywh, dtype=np.float64).reshape(-1, 4)
    x1, y1 = pred[:, 0], pred[:, 1]
    x2, y2 = x1 + pred[:, 2], y1 + pred[:, 3]
    with np.errstate(invalid="ignore", over="ignore"):
        area = (x2 - x1 + 1) * (y2 - y1 + 1)
    # A row with a non-finite corner or area matches no face in MATLAB either: its
    # corners saturate or its union is saturated or negative. Such rows get overlap 0.
    finite = np.isfinite(np.column_stack([x1, y1, x2, y2, area])).all(axis=1)
    return matlab_int32(x1), matlab_int32(y1), matlab_int32(x2), matlab_int32(y2), area, finite


def _overlap_block(pred: Tuple[np.ndarray, ...], gt: Tuple[np.ndarray, ...]) -> np.ndarray:
    """(n, m) float64 `boxoverlap.m` values (whole numbers).

    `pred` and `gt` are the outputs of `_pred_corners` (n rows) and `_gt_corners` (m rows).
    """
    return _overlaps(tuple(a[:, None] for a in pred), tuple(a[None, :] for a in gt))


def _overlaps(pred: Tuple[np.ndarray, ...], gt: Tuple[np.ndarray, ...]) -> np.ndarray:
    """`boxoverlap.m` values of prediction and gt corners that broadcast together, float64."""
    px1, py1, px2, py2, pred_area, finite = pred
    gx1, gy1, gx2, gy2, gt_area = gt
    w = np.minimum(gx2, px2) - np.maximum(gx1, px1) + 1
    h = np.minimum(gy2, py2) - np.maximum(gy1, py1) + 1
    # Only entries with w, h > 0 are kept; there w and h are bounded by the gt box.
    inter = _saturate(w * h)
    with np.errstate(invalid="ignore", over="ignore"):
        union = _saturate(_saturate(matlab_round(gt_area + pred_area)) - inter)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = inter / union
    # inter / union is a ratio of int32s, never within 2**-32 of a half: floor(|r| + 0.5) is exact.
    overlaps = np.minimum(np.copysign(np.floor(np.abs(ratio) + 0.5), ratio), _INT32_MAX)
    overlaps[(w <= 0) | (h <= 0) | ~finite] = 0  # also clears 0/0 = NaN
    return overlaps


def official_overlaps(pred_xywh: np.ndarray, gt_xywh: np.ndarray) -> np.ndarray:
    """`boxoverlap.m` of every prediction with every int32 gt box.

    Args:
        pred_xywh: (n, 4) float64 x, y, w, h.
        gt_xywh: (m, 4) int32 x, y, w, h.
    Returns:
        (n, m) int64 overlaps: int32 values, 1 where IoU >= 0.5 after MATLAB's
        rounding, 0 (or an odd value for degenerate boxes) elsewhere. Rows with
        a non-finite corner are 0: MATLAB never matches them either.
    """
    return _overlap_block(_pred_corners(pred_xywh), _gt_corners(gt_xywh)).astype(np.int64)


def score_order(scores: np.ndarray) -> np.ndarray:
    """Indices of MATLAB `sort(scores, 'descend')`: stable, NaN first. (n,) -> (n,)."""
    scores = np.asarray(scores, dtype=np.float64)
    return np.lexsort((-scores, ~np.isnan(scores)))


def normalize_scores(score_arrays: Sequence[np.ndarray]) -> list:
    """`norm_score.m` over all images at once: float32 arithmetic, results as float64.

    Max and min start at FLT_MIN and FLT_MAX (MATLAB `realmin`/`realmax('single')`)
    and ignore NaN. Returns one (n_i,) float64 array per input array.
    """
    with np.errstate(over="ignore"):
        scores32 = [np.asarray(s, dtype=np.float64).astype(np.float32) for s in score_arrays]
    high, low = np.float32(np.finfo(np.float32).tiny), np.float32(np.finfo(np.float32).max)
    present = np.concatenate([s[~np.isnan(s)] for s in scores32]) if scores32 else np.zeros(0)
    if present.size:
        high, low = max(high, present.max()), min(low, present.min())
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return [((s - low) / (high - low)).astype(np.float64) for s in scores32]


def voc_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """`VOCap.m`: all-points AP; the backward max ignores NaN like MATLAB `max`."""
    mrec = np.concatenate(([0.0], recall, [1.0]))
    mpre = np.concatenate(([0.0], precision, [0.0]))
    mpre = np.fmax.accumulate(mpre[::-1])[::-1]
    changes = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1
    return float(np.sum((mrec[changes] - mrec[changes - 1]) * mpre[changes]))


def evaluate_wider_face(
    gt: WiderFaceGroundTruth,
    predictions: Mapping[ImageKey, Optional[np.ndarray]],
    subsets: Optional[Mapping[str, Sequence[np.ndarray]]] = None,
) -> Dict[str, WiderFacePRCurve]:
    """Evaluate predictions of the images of `gt` by the official protocol.

    Args:
        gt: the evaluation ground truth.
        predictions: (event, name) -> (n, 5) float64 rows x, y, w, h, raw score,
            in any order (they are sorted here as the official reader sorts
            them). Images absent or with no rows have no detections; keys that
            are not in `gt` are ignored (report them before calling).
        subsets: name -> per image, (k_i,) 0-based indices of the faces that count;
            default `gt.subset_indices` ('easy', 'medium', 'hard'). Any other face
            is treated as the official code treats a face outside a subset: a
            detection on it is dropped, neither a hit nor a false positive.
    Returns:
        subset name -> its PR curve and AP (NaN for a subset without faces).
    """
    subsets = gt.subset_indices if subsets is None else subsets
    rows = [_sorted_rows(predictions.get(key), key) for key in gt.image_keys]
    with_rows = [i for i, r in enumerate(rows) if len(r)]
    for i, scores in zip(with_rows, normalize_scores([rows[i][:, 4] for i in with_rows])):
        rows[i] = np.column_stack([rows[i][:, :4], scores])

    gt_offsets = np.concatenate(([0], np.cumsum([len(b) for b in gt.boxes])))
    evaluated = [i for i in with_rows if len(gt.boxes[i])]
    pred_counts = np.array([len(rows[i]) for i in evaluated], dtype=np.int64)
    pred_offsets = np.concatenate(([0], np.cumsum(pred_counts)))
    targets = _first_match_targets(rows, gt.boxes, evaluated, gt_offsets, pred_offsets)
    scores = np.concatenate([rows[i][:, 4] for i in evaluated]) if evaluated else np.zeros(0)
    image_of_pred = np.repeat(np.arange(len(evaluated)), pred_counts)
    cutoffs = _threshold_cutoffs(scores, image_of_pred)

    curves = {}
    for subset, per_image in subsets.items():
        if len(per_image) != len(gt.image_keys):
            raise ValueError(
                f"subset '{subset}': face indices of {len(per_image)} images, "
                f"the ground truth has {len(gt.image_keys)}"
            )
        in_subset = np.zeros(gt_offsets[-1], dtype=bool)
        for i, indices in enumerate(per_image):
            in_subset[gt_offsets[i] + np.asarray(indices, dtype=np.int64)] = True
        num_faces = int(sum(len(indices) for indices in per_image))
        curves[subset] = _pr_curve(subset, num_faces, targets, in_subset, pred_offsets, cutoffs)
    return curves


def _sorted_rows(rows: Optional[np.ndarray], key: ImageKey) -> np.ndarray:
    rows = np.zeros((0, 5)) if rows is None else np.asarray(rows, dtype=np.float64)
    if rows.size == 0:
        return np.zeros((0, 5))
    if rows.ndim != 2 or rows.shape[1] != 5:
        raise ValueError(
            f"predictions of {key[0]}/{key[1]}: expected (n, 5) rows x, y, w, h, score, "
            f"got shape {rows.shape}"
        )
    return rows[score_order(rows[:, 4])]


def _first_match_targets(rows, boxes, evaluated, gt_offsets, pred_offsets) -> np.ndarray:
    """(P,) global index of the gt each prediction matches (first maximal overlap >= 0.5), or -1."""
    targets = np.full(pred_offsets[-1], -1, dtype=np.int64)
    if not evaluated:
        return targets
    pred = _pred_corners(np.concatenate([rows[i][:, :4] for i in evaluated]))
    gt = _gt_corners(np.concatenate(boxes))
    pair_pred, pair_gt = _intersecting_pairs(pred, gt, evaluated, gt_offsets, pred_offsets)
    # Boxes that do not intersect have overlap 0 and match nothing: only these pairs count.
    overlaps = _overlaps(tuple(a[pair_pred] for a in pred), tuple(a[pair_gt] for a in gt))
    hit = np.flatnonzero(overlaps >= 1)  # int32 overlap >= 0.5
    # Per prediction, the first gt with the maximal overlap (MATLAB max): sort by
    # prediction, overlap descending, gt, and take each prediction's first hit.
    order = hit[np.lexsort((pair_gt[hit], -overlaps[hit], pair_pred[hit]))]
    matched, first = np.unique(pair_pred[order], return_index=True)
    targets[matched] = pair_gt[order[first]]
    return targets


def _intersecting_pairs(pred, gt, evaluated, gt_offsets, pred_offsets):
    """(global prediction, global gt) index pairs of the same image whose boxes intersect
    (rounded corners, inclusive pixels), by prediction then gt."""
    px1, py1, px2, py2 = pred[:4]
    gx1, gy1, gx2, gy2 = gt[:4]
    pair_pred, pair_gt = [], []
    for k, i in enumerate(evaluated):
        p, g = slice(pred_offsets[k], pred_offsets[k + 1]), slice(gt_offsets[i], gt_offsets[i + 1])
        intersect = (np.minimum(gx2[g], px2[p, None]) >= np.maximum(gx1[g], px1[p, None])) & (
            np.minimum(gy2[g], py2[p, None]) >= np.maximum(gy1[g], py1[p, None])
        )
        local_pred, local_gt = np.nonzero(intersect)
        pair_pred.append(local_pred + p.start)
        pair_gt.append(local_gt + g.start)
    return np.concatenate(pair_pred), np.concatenate(pair_gt)


@dataclass(frozen=True)
class _Cutoffs:
    """Where each image's cut-off r(t) changes, as events sorted by (image, t).

    image: (E,) evaluated-image index; threshold: (E,) 0-based t from which the
    event holds; last: (E,) global index of the image's last prediction with
    score >= thresh from that t on.
    """

    image: np.ndarray
    threshold: np.ndarray
    last: np.ndarray


def _threshold_cutoffs(scores: np.ndarray, image_of_pred: np.ndarray) -> _Cutoffs:
    """Cut-off events of (P,) normalised scores in walk order, (P,) image of each.

    A prediction passes thresh(t) for every t from its first passing t on
    (thresholds descend); NaN passes none.
    """
    passed = np.searchsorted(THRESHOLDS[::-1], scores, side="right")
    passed[np.isnan(scores)] = 0
    valid = np.flatnonzero(passed > 0)
    first_t = NUM_THRESHOLDS - passed[valid]
    order = np.lexsort((first_t, image_of_pred[valid]))
    # Global indices grow with the image, so a running max is each image's last passing index.
    last = np.maximum.accumulate(valid[order]) if len(valid) else valid
    return _Cutoffs(image_of_pred[valid][order], first_t[order], last)


def _pr_curve(subset, num_faces, targets, in_subset, pred_offsets, cutoffs) -> WiderFacePRCurve:
    hit = targets >= 0
    target_in_subset = np.zeros_like(hit)
    target_in_subset[hit] = in_subset[targets[hit]]
    dropped = hit & ~target_in_subset
    first = np.zeros_like(hit)
    _, first_index = np.unique(targets[target_in_subset], return_index=True)
    first[np.flatnonzero(target_in_subset)[first_index]] = True

    proposals = _accumulate(~dropped, pred_offsets, cutoffs)
    true_positives = _accumulate(first, pred_offsets, cutoffs)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = true_positives / proposals
        recall = true_positives / num_faces
    return WiderFacePRCurve(
        subset, num_faces, proposals, true_positives, precision, recall, voc_ap(recall, precision)
    )


def _accumulate(flags: np.ndarray, pred_offsets: np.ndarray, cutoffs: _Cutoffs) -> np.ndarray:
    """(1000,) int64: sum over images of flags[start .. r(t)], r(t) the image's cut-off."""
    cumulative = np.concatenate(([0], np.cumsum(flags, dtype=np.int64)))
    counts = cumulative[cutoffs.last + 1] - cumulative[pred_offsets[cutoffs.image]]
    previous = np.zeros_like(counts)  # the image's count before this event; 0 at its first event
    same_image = cutoffs.image[1:] == cutoffs.image[:-1]
    previous[1:][same_image] = counts[:-1][same_image]
    per_threshold = np.bincount(
        cutoffs.threshold, weights=counts - previous, minlength=NUM_THRESHOLDS
    )
    return np.rint(np.cumsum(per_threshold)).astype(np.int64)
