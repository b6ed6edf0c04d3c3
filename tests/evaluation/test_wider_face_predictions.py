"""Reading prediction files as the official read_pred.m does, and reporting what it rejects."""

import os

import numpy as np
import pytest

from df2s2_deploy.evaluation.wider_face_predictions import (
    PredictionReport,
    read_prediction_dir,
    read_prediction_file,
    write_prediction_dir,
)


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return str(path)


def read(tmp_path, text):
    report = PredictionReport()
    rows = read_prediction_file(write(tmp_path / "e" / "img.txt", text), report)
    return rows, report


def test_reads_rows_in_file_order_with_trailing_spaces_and_crlf(tmp_path):
    rows, report = read(tmp_path, "img\r\n2\r\n1 2 3 4 0.25 \r\n5 6 7 8 0.75\r\n")
    np.testing.assert_array_equal(rows, [[1, 2, 3, 4, 0.25], [5, 6, 7, 8, 0.75]])
    assert report.counts() == {"missing": 0, "unreadable": 0, "unexpected": 0, "warnings": 0}


def test_fewer_rows_than_the_count_rejects_the_file(tmp_path):
    rows, report = read(tmp_path, "img\n3\n1 2 3 4 0.5\n1 2 3 4 0.6\n")
    assert rows.shape == (0, 5)
    (issue,) = report.unreadable
    assert (
        issue.line == 2 and "says 3 detections" in issue.message and "has 2 row(s)" in issue.message
    )
    assert str(issue).startswith(str(tmp_path / "e" / "img.txt") + ":2:")


def test_rows_beyond_the_count_are_ignored_and_reported(tmp_path):
    rows, report = read(tmp_path, "img\n1\n1 2 3 4 0.5\n9 9 9 9 0.9\n")
    np.testing.assert_array_equal(rows, [[1, 2, 3, 4, 0.5]])
    (issue,) = report.warnings
    assert issue.line == 4 and "1 row(s) after the 1" in issue.message


@pytest.mark.parametrize(
    "text, line, expected",
    [
        ("img\nthree\n1 2 3 4 0.5\n", 2, "expected the number of detections"),
        ("img\n1.5\n1 2 3 4 0.5\n", 2, "expected the number of detections"),
        ("img\n", None, "found 1 line(s)"),
        ("img\n2\n1 2 3 4 0.5\n1 2 3 4\n", 4, "expected 5 numbers"),
        ("img\n1\n1 2 3 4 high\n", 3, "expected numbers"),
        ("img\n1\n\n", 3, "expected 5 numbers"),
    ],
)
def test_unparsable_file_gives_no_detections_and_names_the_line(tmp_path, text, line, expected):
    rows, report = read(tmp_path, text)
    assert rows.shape == (0, 5)
    (issue,) = report.unreadable
    assert issue.line == line and expected in issue.message


def test_zero_count_is_no_detections_without_complaint(tmp_path):
    rows, report = read(tmp_path, "img\n0\n")
    assert rows.shape == (0, 5) and not report.unreadable and not report.warnings


def test_extra_numbers_use_the_first_five(tmp_path):
    rows, report = read(tmp_path, "img\n1\n1,2,3,4,0.5,7\n")
    np.testing.assert_array_equal(rows, [[1, 2, 3, 4, 0.5]])
    assert report.warnings[0].line == 3 and "first 5" in report.warnings[0].message


def test_nan_and_inf_scores_and_negative_sizes_are_kept_and_reported(tmp_path):
    rows, report = read(tmp_path, "img\n3\n1 2 3 4 NaN\n1 2 3 4 inf\n1 2 -3 4 0.5\n")
    assert rows.shape == (3, 5) and np.isnan(rows[0, 4]) and np.isinf(rows[1, 4])
    assert [(w.line, w.message.split(" (")[0]) for w in report.warnings] == [
        (3, "score is NaN or inf"),
        (4, "score is NaN or inf"),
        (5, "negative width or height"),
    ]


def test_directory_reports_missing_and_unexpected_files(tmp_path):
    write(tmp_path / "0--Parade" / "a.txt", "a\n1\n1 2 3 4 0.5\n")
    write(tmp_path / "0--Parade" / "stray.txt", "stray\n0\n")
    write(tmp_path / "9--Other" / "c.txt", "c\n0\n")
    predictions, report = read_prediction_dir(
        str(tmp_path), [("0--Parade", "a"), ("0--Parade", "b")]
    )
    assert list(predictions) == [("0--Parade", "a")]
    assert [str(i.where) for i in report.missing] == [str(tmp_path / "0--Parade" / "b.txt")]
    assert sorted(os.path.basename(i.where) for i in report.unexpected) == ["c.txt", "stray.txt"]


def test_a_folder_in_place_of_a_prediction_file_is_reported_by_name(tmp_path):
    write(tmp_path / "0--Parade" / "a.txt", "a\n1\n1 2 3 4 0.5\n")
    os.makedirs(tmp_path / "0--Parade" / "b.txt")  # where image b's file belongs
    os.makedirs(tmp_path / "0--Parade" / "other.txt")  # no image of that name
    predictions, report = read_prediction_dir(
        str(tmp_path), [("0--Parade", "a"), ("0--Parade", "b")]
    )
    assert list(predictions) == [("0--Parade", "a")]
    assert report.missing == []
    [unreadable] = report.unreadable
    assert unreadable.where == str(tmp_path / "0--Parade" / "b.txt")
    assert "a folder, not a prediction file" in str(unreadable)
    [unexpected] = report.unexpected
    assert unexpected.where == str(tmp_path / "0--Parade" / "other.txt")
    assert "a folder" in unexpected.message
    assert report.counts() == {"missing": 0, "unreadable": 1, "unexpected": 1, "warnings": 0}


def test_missing_folder_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        read_prediction_dir(str(tmp_path / "nowhere"), [])


def test_written_files_read_back_to_the_same_float64_rows(tmp_path):
    rows = np.array([[0.1, 1 / 3, 2.5, 1e-7, 0.123456789012345], [10, 20, 30, 40, 0.5]])
    write_prediction_dir(
        str(tmp_path), {("0--Parade", "a"): rows, ("0--Parade", "b"): np.zeros((0, 5))}
    )
    with open(tmp_path / "0--Parade" / "b.txt") as f:
        assert f.read() == "b\n0\n"
    predictions, report = read_prediction_dir(
        str(tmp_path), [("0--Parade", "a"), ("0--Parade", "b")]
    )
    np.testing.assert_array_equal(predictions[("0--Parade", "a")], rows)
    assert report.counts() == {"missing": 0, "unreadable": 0, "unexpected": 0, "warnings": 0}
