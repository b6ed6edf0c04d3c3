"""Broken ground-truth .mat files, odd prediction files, and an unreadable image during
evaluation: errors name the file and what was expected; a skipped image counts as an
image without detections and is named."""

import logging
import os
import uuid

import numpy as np
import pytest
import scipy.io
import torch
from detectron2.data import MetadataCatalog
from detectron2.structures import Boxes, Instances

from df2s2_d2.data import SkipBadImages, WiderFaceDatasetMapper
from df2s2_d2.evaluation import WiderFaceEvaluator
from df2s2_d2.evaluation.wider_face import main as evaluate_cli
from df2s2_deploy.evaluation.wider_face_ground_truth import load_wider_face_ground_truth
from df2s2_deploy.evaluation.wider_face_predictions import PredictionReport, read_prediction_file
from tests.common import get_config
from tests.data.bad_input import digests, write_jpeg, write_truncated_jpeg

IMAGES = [("0--Parade", "0_Parade_a", [[1, 1, 9, 9]]), ("0--Parade", "0_Parade_b", [[2, 2, 8, 8]])]
SUBSETS = {"easy": [[1], [1]], "medium": [[1], [1]], "hard": [[1], [1]]}
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def v73_header() -> bytes:
    text = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 ."
    return text.ljust(512, b" ") + HDF5_SIGNATURE + bytes(64)


BROKEN = {
    "zero_bytes": (lambda data: b"", "the file is empty \\(0 bytes\\)"),
    "truncated": (
        lambda data: data[: len(data) // 3],
        "cannot be read as a .mat file|is missing|expected",
    ),
    "v7.3_hdf5": (lambda data: v73_header(), "MATLAB v7.3 \\(HDF5\\)"),
    "bare_hdf5": (lambda data: HDF5_SIGNATURE + bytes(600), "MATLAB v7.3 \\(HDF5\\)"),
    "random_bytes": (
        lambda data: np.random.default_rng(0).bytes(2000),
        "cannot be read as a .mat file",
    ),
    "text_file": (lambda data: b"event_list = {'0--Parade'}\n", "cannot be read as a .mat file"),
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
@pytest.mark.parametrize("file", ["wider_face_val.mat", "wider_hard_val.mat"])
def test_broken_mat_file_is_named_with_what_was_expected(tmp_path, ground_truth_writer, kind, file):
    gt_dir = ground_truth_writer(str(tmp_path / "gt"), IMAGES, SUBSETS)
    path = os.path.join(gt_dir, file)
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(BROKEN[kind][0](data))
    before = digests(tmp_path)
    with pytest.raises(ValueError) as info:
        load_wider_face_ground_truth(gt_dir)
    message = str(info.value)
    assert message.startswith(path + ":") or path in message
    assert __import__("re").search(BROKEN[kind][1], message), message
    assert digests(tmp_path) == before


def _cells(items):
    cells = np.empty((len(items), 1), dtype=object)
    for k, item in enumerate(items):
        cells[k, 0] = item
    return cells


@pytest.mark.parametrize(
    "variables, expected",
    [
        ({"something_else": np.zeros(3)}, "variable 'event_list' is missing"),
        (
            {
                "event_list": np.zeros((1, 1)),
                "file_list": np.zeros((1, 1)),
                "face_bbx_list": np.zeros((1, 1)),
            },
            "'event_list' should be an \\(E, 1\\) cell array",
        ),
        (
            {
                "event_list": _cells([5.0]),
                "file_list": _cells([_cells(["a"])]),
                "face_bbx_list": _cells([_cells([np.zeros((1, 4), np.int32)])]),
            },
            "event_list\\{1\\}: expected a character array",
        ),
        (
            {
                "event_list": _cells(["0--Parade"]),
                "file_list": _cells([_cells(["a"])]),
                "face_bbx_list": _cells([_cells([np.array([["1", "2", "3", "4"]])])]),
            },
            "face_bbx_list\\{1\\}\\{1\\}: expected integer boxes",
        ),
    ],
    ids=["missing_variable", "not_cells", "numeric_event", "string_boxes"],
)
def test_wrong_structure_is_named(tmp_path, ground_truth_writer, variables, expected):
    gt_dir = ground_truth_writer(str(tmp_path / "gt"), IMAGES, SUBSETS)
    path = os.path.join(gt_dir, "wider_face_val.mat")
    scipy.io.savemat(path, variables)
    with pytest.raises(ValueError, match=f"{path}.*{expected}"):
        load_wider_face_ground_truth(gt_dir)


def test_cli_reports_a_broken_mat_file_without_a_traceback(tmp_path, ground_truth_writer, capsys):
    gt_dir = ground_truth_writer(str(tmp_path / "gt"), IMAGES, SUBSETS)
    open(os.path.join(gt_dir, "wider_easy_val.mat"), "wb").close()
    (tmp_path / "pred").mkdir()
    with pytest.raises(SystemExit) as info:
        evaluate_cli(["--pred", str(tmp_path / "pred"), "--gt", gt_dir])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "wider_easy_val.mat: the file is empty" in err and "Traceback" not in err


# --- prediction files ------------------------------------------------------------------


def read(tmp_path, data: bytes):
    path = tmp_path / "p.txt"
    path.write_bytes(data)
    report = PredictionReport()
    return read_prediction_file(str(path), report), report


@pytest.mark.parametrize(
    "digit", ["\u0662", "\uff12", "\u00b2"], ids=["arabic", "fullwidth", "superscript"]
)
def test_prediction_count_with_non_ascii_digit_is_rejected_with_its_line(tmp_path, digit):
    rows, report = read(tmp_path, f"name\n{digit}\n1 2 3 4 0.9\n5 6 7 8 0.5\n".encode())
    assert rows.shape == (0, 5)
    assert [(i.line, "ASCII digits" in i.message) for i in report.unreadable] == [(2, True)]


def test_prediction_row_with_non_ascii_digit_is_rejected_with_its_line(tmp_path):
    rows, report = read(tmp_path, "name\n1\n1 2 \uff13 4 0.9\n".encode())
    assert rows.shape == (0, 5) and report.unreadable[0].line == 3


def test_prediction_file_with_byte_order_mark_reads(tmp_path):
    rows, report = read(tmp_path, b"\xef\xbb\xbfname\r\n1\r\n1 2 3 4 0.9\r\n")
    assert rows.tolist() == [[1, 2, 3, 4, 0.9]] and not report.unreadable


def test_unreadable_prediction_path_is_rejected_not_raised(tmp_path):
    (tmp_path / "p.txt").mkdir()
    report = PredictionReport()
    assert read_prediction_file(str(tmp_path / "p.txt"), report).shape == (0, 5)
    assert len(report.unreadable) == 1 and "cannot be read" in report.unreadable[0].message


# --- an unreadable image during evaluation -----------------------------------------------


def test_unreadable_image_counts_as_no_detections_and_is_named(
    tmp_path, ground_truth_writer, caplog
):
    name = f"bad_eval_{uuid.uuid4().hex}"
    gt_dir = ground_truth_writer(str(tmp_path / "gt"), IMAGES, SUBSETS)
    MetadataCatalog.get(name).set(thing_classes=["face"], wider_face_gt_dir=gt_dir)
    root = tmp_path / "images" / "0--Parade"
    good = write_jpeg(root / "0_Parade_a.jpg", h=20, w=20)
    bad = write_truncated_jpeg(root / "0_Parade_b.jpg", h=20, w=20)
    dicts = [{"file_name": str(p), "image_id": p.stem, "annotations": []} for p in (good, bad)]
    before = digests(tmp_path / "images")
    mapper = WiderFaceDatasetMapper(get_config(), is_train=False)
    loader = SkipBadImages([[mapper(d)] for d in dicts])
    evaluator = WiderFaceEvaluator(name, distributed=False)
    evaluator.reset()
    try:
        with caplog.at_level(logging.WARNING):
            for inputs in loader:
                result = Instances((20, 20))
                # the face of image a, and a low-scoring miss (scores are min-max normalised)
                result.pred_boxes = Boxes(torch.tensor([[1.0, 1, 10, 10], [15, 15, 19, 19]]))
                result.scores = torch.tensor([0.9, 0.1])
                evaluator.process(inputs, [{"instances": result}])
            results = evaluator.evaluate()
    finally:
        MetadataCatalog.remove(name)
    assert loader.skipped[0][0] == str(bad)
    assert "1 of 2 ground-truth images were not evaluated" in caplog.text
    assert "without detections: 0--Parade/0_Parade_b" in caplog.text
    assert "0_Parade_b.jpg" in caplog.text  # the mapper's warning names the file
    # one of two faces found, at precision 1: image b counted with no detections
    assert results["wider_face"]["AP_easy"] == pytest.approx(50.0, abs=0.5)
    assert digests(tmp_path / "images") == before
