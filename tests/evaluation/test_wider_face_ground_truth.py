"""Reading the evaluation ground truth (.mat), on hand-made files and on the real ones."""

import os

import numpy as np
import pytest
import scipy.io

from df2s2_deploy.evaluation.wider_face_ground_truth import load_wider_face_ground_truth
from df2s2_deploy.evaluation.wider_face_protocol import evaluate_wider_face

IMAGES = [
    ("0--Parade", "0_Parade_a", [[1, 2, 3, 4], [5, 6, 7, 8]]),
    ("0--Parade", "0_Parade_b", [[0, 0, 0, 0]]),
    ("1--Handshaking", "1_Handshaking_c", [[10, 10, 20, 20]]),
]
SUBSETS = {"easy": [[2], [], [1]], "medium": [[1, 2], [], [1]], "hard": [[1, 2], [], [1]]}


def cell_structure(mat):
    """Classes and shapes the way MATLAB sees them: one entry per variable and level."""
    return {
        "event_list": (
            mat["event_list"].dtype,
            mat["event_list"].shape[1],
            mat["event_list"][0][0].dtype.kind,
        ),
        "file_list": (
            mat["file_list"][0][0].dtype,
            mat["file_list"][0][0].shape[1],
            mat["file_list"][0][0][0][0].dtype.kind,
        ),
        "face_bbx_list": (
            mat["face_bbx_list"][0][0][0][0].dtype,
            mat["face_bbx_list"][0][0][0][0].shape[1],
        ),
        "gt_list": (mat["gt_list"][0][0][0][0].dtype, mat["gt_list"][0][0][0][0].shape[1]),
    }


def test_hand_made_files_have_the_official_structure(tmp_path, ground_truth_writer):
    ground_truth_writer(str(tmp_path), IMAGES, SUBSETS)
    mat = scipy.io.loadmat(str(tmp_path / "wider_easy_val.mat"))
    assert cell_structure(mat) == {
        "event_list": (np.dtype(object), 1, "U"),
        "file_list": (np.dtype(object), 1, "U"),
        "face_bbx_list": (np.dtype(np.int32), 4),
        "gt_list": (np.dtype(np.uint8), 1),
    }
    assert mat["gt_list"][0][0][1][0].shape == (0, 1)  # an empty subset cell


def test_real_files_have_the_structure_of_the_hand_made_ones(
    real_ground_truth_dir, tmp_path, ground_truth_writer
):
    ground_truth_writer(str(tmp_path), IMAGES, SUBSETS)
    for name in ("wider_easy_val.mat", "wider_medium_val.mat", "wider_hard_val.mat"):
        real = scipy.io.loadmat(os.path.join(real_ground_truth_dir, name))
        assert cell_structure(real) == cell_structure(scipy.io.loadmat(str(tmp_path / name)))


def test_loads_images_in_mat_order_with_zero_based_subsets(tmp_path, ground_truth_writer):
    gt = load_wider_face_ground_truth(ground_truth_writer(str(tmp_path), IMAGES, SUBSETS))
    assert gt.image_keys == [(e, n) for e, n, _ in IMAGES]
    assert [b.tolist() for b in gt.boxes] == [b for _, _, b in IMAGES]
    assert all(b.dtype == np.int32 for b in gt.boxes)
    assert [i.tolist() for i in gt.subset_indices["easy"]] == [[1], [], [0]]
    assert (gt.num_faces("easy"), gt.num_faces("medium"), gt.num_faces("hard")) == (2, 3, 3)


def test_missing_file_is_named(tmp_path, ground_truth_writer):
    ground_truth_writer(str(tmp_path), IMAGES, SUBSETS)
    os.remove(tmp_path / "wider_medium_val.mat")
    with pytest.raises(FileNotFoundError, match="wider_medium_val.mat: not found"):
        load_wider_face_ground_truth(str(tmp_path))


def test_subset_index_out_of_range_names_the_cell(tmp_path, ground_truth_writer):
    ground_truth_writer(str(tmp_path), IMAGES, dict(SUBSETS, hard=[[1, 3], [], [1]]))
    with pytest.raises(
        ValueError, match=r"wider_hard_val.mat: gt_list\{1\}\{1\}: face indices must lie in 1..2"
    ):
        load_wider_face_ground_truth(str(tmp_path))


def test_real_ground_truth_counts(real_ground_truth_dir):
    gt = load_wider_face_ground_truth(real_ground_truth_dir)
    assert len(gt.image_keys) == 3226 and sum(len(b) for b in gt.boxes) == 39708
    assert (gt.num_faces("easy"), gt.num_faces("medium"), gt.num_faces("hard")) == (
        7211,
        13319,
        31958,
    )
    image = gt.image_keys.index(("39--Ice_Skating", "39_Ice_Skating_iceskiing_39_583"))
    assert gt.boxes[image][7].tolist() == [1026, 474, -2, 23]  # the .mat value, not the txt's 0


def _self_match(a, b):
    """Whether box b's detection reaches face a (int32 boxes: no rounding, exact integer test)."""
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]) + 1
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]) + 1
    if w <= 0 or h <= 0:
        return False
    inter = w * h
    union = (a[2] + 1) * (a[3] + 1) + (b[2] + 1) * (b[3] + 1) - inter
    return union <= 0 or 2 * inter >= union


def test_ground_truth_boxes_as_predictions(real_ground_truth_dir):
    """AP just below 1: some subset faces cannot be reached by their own box.

    A face is unreachable when its box is degenerate (it overlaps nothing, not
    even itself) or when an earlier face of the image overlaps it at >= 0.5:
    the first-match rule then sends its detection to that earlier face.
    """
    gt = load_wider_face_ground_truth(real_ground_truth_dir)
    scores = np.random.default_rng(0).permutation(sum(len(b) for b in gt.boxes)) + 1.0
    offsets = np.cumsum([0] + [len(b) for b in gt.boxes])
    predictions = {
        key: np.column_stack([boxes.astype(np.float64), scores[offsets[k] : offsets[k + 1]]])
        for k, (key, boxes) in enumerate(zip(gt.image_keys, gt.boxes))
    }
    curves = evaluate_wider_face(gt, predictions)
    for subset, curve in curves.items():
        unreachable = 0
        for boxes, indices in zip(gt.boxes, gt.subset_indices[subset]):
            boxes = boxes.tolist()
            for j in indices:
                own = boxes[j]
                unreachable += not _self_match(own, own) or any(
                    _self_match(boxes[i], own) for i in range(j)
                )
        assert unreachable > 0, subset
        assert curve.true_positives.max() == curve.num_faces - unreachable, subset
        assert 0.999 < curve.ap < 1.0, subset
