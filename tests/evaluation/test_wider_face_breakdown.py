"""AP per face size and per attribute: the consistency identities, the ignore rule,
empty subsets, ground truth without attribute lists, and `wider-face-eval --breakdown`."""

import json
import math
import os

import numpy as np
import pytest

from df2s2_d2.data.wider_face_writer import write_wider_face_mat
from df2s2_deploy.evaluation.wider_face import main
from df2s2_deploy.evaluation.wider_face_breakdown import (
    ATTRIBUTE_VALUES,
    BASE_SUBSET,
    SIZE_BINS,
    breakdown_subsets,
    evaluate_breakdown,
    face_sizes,
    read_attribute_labels,
)
from df2s2_deploy.evaluation.wider_face_ground_truth import load_wider_face_ground_truth
from df2s2_deploy.evaluation.wider_face_protocol import evaluate_wider_face

# rows: x, y, w, h, blur, expression, illumination, invalid, occlusion, pose
IMAGES = [
    (
        "0--Parade",
        "0_Parade_a",
        [
            [0, 0, 10, 10, 2, 0, 0, 0, 1, 0],  # size 10, partly occluded, heavy blur
            [100, 100, 100, 100, 0, 0, 0, 0, 0, 0],  # size 100
            [300, 300, 40, 40, 0, 0, 0, 1, 0, 0],  # invalid: in no subset
        ],
    ),
    ("1--Handshaking", "1_Handshaking_b", [[10, 10, 20, 20, 1, 1, 1, 0, 0, 1]]),  # size 20
]
HARD = [[0, 1], [0]]  # the valid faces
EASY = [[1], []]


@pytest.fixture
def gt_dir(tmp_path):
    """Ground truth with the six label lists, as the official wider_face_val.mat has."""
    folder = tmp_path / "gt"
    folder.mkdir()
    write_wider_face_mat(str(folder / "wider_face_val.mat"), IMAGES)
    for subset, members in (("easy", EASY), ("medium", HARD), ("hard", HARD)):
        write_wider_face_mat(str(folder / f"wider_{subset}_val.mat"), IMAGES, members)
    return str(folder)


def perfect(extra=()):
    """A detection on every face (also the invalid one), scores 0.9 down, plus `extra` rows."""
    a = [[0, 0, 10, 10, 0.9], [100, 100, 100, 100, 0.8], [300, 300, 40, 40, 0.7], *extra]
    return {("0--Parade", "0_Parade_a"): np.array(a, float),
            ("1--Handshaking", "1_Handshaking_b"): np.array([[10, 10, 20, 20, 0.6]])}


def by_name(breakdown):
    return {e.name: e for e in breakdown.entries}


def test_one_bin_over_every_size_gives_the_hard_ap_exactly(gt_dir):
    gt = load_wider_face_ground_truth(gt_dir)
    predictions = perfect(extra=[[500, 500, 30, 30, 0.95]])  # a false positive first
    hard = evaluate_wider_face(gt, predictions)["hard"]
    one_bin = evaluate_breakdown(gt, predictions, gt_dir, size_bins=[(0, math.inf)])
    entry = by_name(one_bin)["size_0-inf"]
    assert entry.num_faces == hard.num_faces == 3
    assert entry.ap == hard.ap and hard.ap < 1


def test_a_detection_on_a_face_outside_the_bin_is_neither_hit_nor_false_positive(gt_dir):
    gt = load_wider_face_ground_truth(gt_dir)
    entries = by_name(evaluate_breakdown(gt, perfect(), gt_dir))
    # Each bin holds one face, found; the detections of the other faces are dropped, so
    # precision stays 1. Were they false positives, size_64-128 (third by score) would get 1/2.
    for name in ("size_0-16", "size_16-32", "size_64-128"):
        assert entries[name].num_faces == 1 and entries[name].ap == pytest.approx(1.0)
    fp = perfect(extra=[[500, 500, 30, 30, 0.95]])
    with_fp = by_name(evaluate_breakdown(gt, fp, gt_dir))
    assert with_fp["size_64-128"].ap == pytest.approx(0.5)  # a background detection counts


def test_bins_and_attribute_values_partition_the_hard_faces(gt_dir):
    gt = load_wider_face_ground_truth(gt_dir)
    labels, notes = read_attribute_labels(gt_dir, gt)
    assert notes == [] and set(labels) == set(ATTRIBUTE_VALUES)
    subsets = breakdown_subsets(gt, labels)
    hard = [sorted(idx.tolist()) for idx in gt.subset_indices[BASE_SUBSET]]
    groups = {"size": [f"size_{lo:g}-{hi:g}" for lo, hi in SIZE_BINS]}
    groups.update({a: [f"{a}_{v}" for v in values] for a, values in ATTRIBUTE_VALUES.items()})
    for group, names in groups.items():
        for image in range(len(gt.image_keys)):
            members = [i for name in names for i in subsets[name][image].tolist()]
            assert sorted(members) == hard[image], (group, image)  # disjoint, and cover hard
    assert subsets["occlusion_partial"][0].tolist() == [0]
    assert subsets["pose_atypical"][1].tolist() == [0]
    assert subsets["blur_heavy"][0].tolist() == [0] and subsets["blur_clear"][0].tolist() == [1]


def test_an_empty_subset_has_no_ap_not_zero(gt_dir):
    gt = load_wider_face_ground_truth(gt_dir)
    result = evaluate_breakdown(gt, perfect(), gt_dir)
    entries = by_name(result)
    assert entries["size_32-64"].num_faces == 0 and entries["size_32-64"].ap is None
    assert entries["occlusion_heavy"].ap is None
    assert result.to_dict()["subsets"]["size_32-64"] == {"faces": 0, "AP": None}
    assert "size_32-64" in result.table() and "empty" in result.table().split("size_32-64")[1]


def test_ground_truth_without_label_lists_keeps_the_size_bins_and_says_what_is_missing(
    tmp_path, ground_truth_writer
):
    images = [(e, n, [r[:4] for r in rows]) for e, n, rows in IMAGES]
    subsets = {"easy": [[2], []], "medium": [[1, 2], [1]], "hard": [[1, 2], [1]]}
    folder = ground_truth_writer(str(tmp_path / "plain"), images, subsets)
    gt = load_wider_face_ground_truth(folder)
    result = evaluate_breakdown(gt, perfect(), folder)
    names = [e.name for e in result.entries]
    assert names == [f"size_{lo:g}-{hi:g}" for lo, hi in SIZE_BINS]
    assert len(result.notes) == len(ATTRIBUTE_VALUES)
    assert all("wider_face_val.mat" in n and "_label_list" in n for n in result.notes)
    assert "no occlusion breakdown" in " ".join(result.notes)


def test_face_sizes_are_sqrt_wh_and_zero_for_degenerate_boxes():
    sizes = face_sizes(np.array([[0, 0, 4, 9], [0, 0, -2, 23], [5, 5, 0, 7]]))
    np.testing.assert_allclose(sizes, [6.0, 0.0, 0.0])


def test_cli_breakdown_keeps_easy_medium_hard_and_adds_the_subsets(gt_dir, tmp_path, capsys):
    pred = tmp_path / "pred"
    for (event, name), rows in perfect(extra=[[500, 500, 30, 30, 0.95]]).items():
        os.makedirs(pred / event)
        lines = "".join(f"{x} {y} {w} {h} {s}\n" for x, y, w, h, s in rows)
        (pred / event / f"{name}.txt").write_text(f"{name}\n{len(rows)}\n{lines}")
    assert main(["--pred", str(pred), "--gt", gt_dir, "--json"]) == 0
    plain = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert main(["--pred", str(pred), "--gt", gt_dir, "--json", "--breakdown"]) == 0
    out = capsys.readouterr().out
    result = json.loads(out.strip().splitlines()[-1])
    assert {k: result[k] for k in ("easy", "medium", "hard")} == plain
    subsets = result["breakdown"]["subsets"]
    assert subsets["size_64-128"] == {"faces": 1, "AP": pytest.approx(0.5)}
    assert subsets["size_32-64"] == {"faces": 0, "AP": None}
    assert sum(subsets[f"size_{lo:g}-{hi:g}"]["faces"] for lo, hi in SIZE_BINS) == 3
    assert "occlusion_partial" in out and "empty (no face)" in out


def test_on_the_official_ground_truth_bins_partition_hard_and_one_bin_is_hard(
    real_ground_truth_dir,
):
    gt = load_wider_face_ground_truth(real_ground_truth_dir)
    rng = np.random.default_rng(0)
    predictions = {}
    for key, boxes in zip(gt.image_keys, gt.boxes):
        found = boxes[rng.random(len(boxes)) < 0.6].astype(float)
        found += rng.normal(0, 0.1, found.shape) * np.maximum(found[:, 2:3], 1)
        noise = np.column_stack([rng.uniform(0, 900, (2, 2)), rng.uniform(5, 90, (2, 2))])
        rows = np.vstack([found, noise])
        predictions[key] = np.column_stack([rows, rng.random(len(rows))])
    hard = evaluate_wider_face(gt, predictions)["hard"]
    result = by_name(evaluate_breakdown(gt, predictions, real_ground_truth_dir))
    sizes = [result[f"size_{lo:g}-{hi:g}"] for lo, hi in SIZE_BINS]
    assert sum(e.num_faces for e in sizes) == hard.num_faces == 31958
    for attribute, values in ATTRIBUTE_VALUES.items():
        assert sum(result[f"{attribute}_{v}"].num_faces for v in values) == 31958, attribute
    one_bin = evaluate_breakdown(gt, predictions, None, size_bins=[(0, math.inf)])
    assert one_bin.entries[0].ap == hard.ap
