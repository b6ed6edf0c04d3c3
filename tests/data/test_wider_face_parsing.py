"""The WIDER FACE txt parser: the real files, each quirk of the format, each malformed input."""

import logging

import numpy as np
import pytest
import scipy.io
from detectron2.structures import BoxMode
from PIL import Image

from df2s2_d2.data import (
    FaceCounts,
    WiderFaceFormatError,
    load_wider_face_filelist,
    load_wider_face_txt,
    parse_wider_face_txt,
)
from df2s2_d2.data.wider_face import ATTRIBUTES

# Numbers documented in the annotation folder's README.md / EVAL_PROTOCOL.md.
VAL_IMAGES, VAL_BOXES, VAL_INVALID = 3226, 39708, 585
TRAIN_IMAGES, TRAIN_BOXES = 12880, 159420
TEST_IMAGES = 16097
VAL_ZERO_FACE = [
    "0--Parade/0_Parade_Parade_0_275.jpg",
    "37--Soccer/37_Soccer_soccer_ball_37_281.jpg",
    "50--Celebration_Or_Party/50_Celebration_Or_Party_houseparty_50_715.jpg",
    "7--Cheering/7_Cheering_Cheering_7_426.jpg",
]
KNOWN_MISMATCH = ("39--Ice_Skating/39_Ice_Skating_iceskiing_39_583.jpg", 8)  # 1-based face
MISMATCH_TXT, MISMATCH_MAT = [1026, 474, 0, 23], [1026, 474, -2, 23]


def write(tmp_path, text: str, name="gt.txt", newline="\n"):
    path = tmp_path / name
    path.write_bytes(text.replace("\n", newline).encode())
    return path


def boxes_of(record):
    return [a["bbox"] for a in record["annotations"]]


# --- the real files ---------------------------------------------------------------


def read_mat(path):
    """{"<event>/<name>.jpg": (boxes (n, 4) int32, invalid (n,))} of a ground-truth .mat."""
    m = scipy.io.loadmat(str(path))
    out = {}
    for i in range(len(m["event_list"])):
        event = m["event_list"][i][0][0]
        for j, f in enumerate(m["file_list"][i][0]):
            out[f"{event}/{f[0][0]}.jpg"] = (
                m["face_bbx_list"][i][0][j][0],
                m["invalid_label_list"][i][0][j][0].ravel(),
            )
    return out


@pytest.fixture(scope="module")
def real_val(wider_face_annotations):
    txt = wider_face_annotations / "wider_face_split" / "wider_face_val_bbx_gt.txt"
    mat = wider_face_annotations / "eval_tools" / "ground_truth" / "wider_face_val.mat"
    return txt, read_mat(mat)


def test_real_val_has_all_images_and_boxes(real_val):
    txt, _ = real_val
    counts = FaceCounts()
    dicts = load_wider_face_txt(txt, "images", counts=counts)
    assert len(dicts) == counts.images == VAL_IMAGES
    assert counts.total == VAL_BOXES
    assert counts.ignored == VAL_INVALID
    assert sum(len(d["annotations"]) for d in dicts) == counts.kept + counts.ignored
    assert sum(a["iscrowd"] for d in dicts for a in d["annotations"]) == VAL_INVALID
    by_path = {d["image_id"] + ".jpg": d for d in dicts}
    for name in VAL_ZERO_FACE:
        assert by_path[name]["annotations"] == []


def test_real_val_txt_agrees_with_mat_box_for_box_but_one(real_val):
    txt, mat = real_val
    entries = parse_wider_face_txt(txt)
    assert {rel for rel, _, _ in entries} == set(mat)
    mismatches = []
    for rel, _, rows in entries:
        boxes, invalid = mat[rel]
        rows = np.asarray(rows).reshape(-1, 10)
        assert len(rows) == len(boxes), rel
        assert (rows[:, 7] == invalid).all(), rel
        for k in np.flatnonzero((rows[:, :4] != boxes).any(axis=1)):
            mismatches.append((rel, int(k) + 1, rows[k, :4].tolist(), boxes[k].tolist()))
    assert mismatches == [(*KNOWN_MISMATCH, MISMATCH_TXT, MISMATCH_MAT)]


def test_real_val_loaded_faces_equal_mat_faces(real_val):
    """The mismatching box is degenerate in both files, so the loaded faces agree fully."""
    txt, mat = real_val
    for d in load_wider_face_txt(txt, "images"):
        boxes, _ = mat[d["image_id"] + ".jpg"]
        faces = boxes[(boxes[:, 2] > 0) & (boxes[:, 3] > 0)]
        assert boxes_of(d) == faces.astype(float).tolist(), d["image_id"]


def test_real_train_parses(wider_face_annotations):
    txt = wider_face_annotations / "wider_face_split" / "wider_face_train_bbx_gt.from_mat.txt"
    counts = FaceCounts()
    dicts = load_wider_face_txt(txt, "images", counts=counts)
    assert len(dicts) == TRAIN_IMAGES
    assert counts.total == TRAIN_BOXES


def test_real_test_filelist_parses(wider_face_annotations):
    txt = wider_face_annotations / "wider_face_split" / "wider_face_test_filelist.txt"
    dicts = load_wider_face_filelist(txt, "WIDER_test/images")
    assert len(dicts) == TEST_IMAGES
    assert all("annotations" not in d for d in dicts)
    assert dicts[0]["file_name"].startswith("WIDER_test/images/") and dicts[0][
        "file_name"
    ].endswith(".jpg")


# --- the format and its quirks -----------------------------------------------------

TWO_IMAGES = (
    "0--Parade/a.jpg\n"
    "2\n"
    "10 20 30 40 0 1 0 0 2 1 \n"
    "5 6 7 8 2 0 1 1 0 0 \n"
    "1--Handshaking/b.jpg\n"
    "1\n"
    "1 2 3 4 1 0 0 0 1 0 \n"
)


def test_record_fields(tmp_path):
    d = load_wider_face_txt(write(tmp_path, TWO_IMAGES), "root")
    assert [r["file_name"] for r in d] == ["root/0--Parade/a.jpg", "root/1--Handshaking/b.jpg"]
    assert [r["image_id"] for r in d] == ["0--Parade/a", "1--Handshaking/b"]
    assert "height" not in d[0] and "width" not in d[0]  # images are not opened
    a = d[0]["annotations"][0]
    assert a["bbox"] == [10, 20, 30, 40] and a["bbox_mode"] == BoxMode.XYWH_ABS
    assert a["category_id"] == 0 and a["iscrowd"] == 0
    assert {k: a[k] for k in ATTRIBUTES} == dict(
        blur=0, expression=1, illumination=0, invalid=0, occlusion=2, pose=1
    )
    invalid = d[0]["annotations"][1]
    assert invalid["invalid"] == 1 and invalid["iscrowd"] == 1


def test_trailing_spaces_optional_and_crlf(tmp_path):
    expected = load_wider_face_txt(write(tmp_path, TWO_IMAGES, "lf.txt"), "r")
    no_spaces = TWO_IMAGES.replace(" \n", "\n")
    assert load_wider_face_txt(write(tmp_path, no_spaces, "nospace.txt"), "r") == expected
    assert load_wider_face_txt(write(tmp_path, TWO_IMAGES, "crlf.txt", "\r\n"), "r") == expected
    assert (
        load_wider_face_txt(write(tmp_path, TWO_IMAGES.rstrip("\n"), "noeol.txt"), "r") == expected
    )


@pytest.mark.parametrize(
    "form",
    ["0\n0 0 0 0 0 0 0 0 0 0 \n", "1\n0 0 0 0 0 0 0 0 0 0 \n"],
    ids=["train_form", "val_form"],
)
def test_zero_face_image_forms(tmp_path, form):
    text = "0--Parade/empty.jpg\n" + form + TWO_IMAGES
    counts = FaceCounts()
    d = load_wider_face_txt(write(tmp_path, text), "r", counts=counts)
    assert [r["image_id"] for r in d] == ["0--Parade/empty", "0--Parade/a", "1--Handshaking/b"]
    assert d[0]["annotations"] == []
    assert boxes_of(d[1]) == [[10, 20, 30, 40], [5, 6, 7, 8]]
    assert counts.empty_images == 1
    assert counts.degenerate == (1 if form.startswith("1") else 0)


def test_counts_add_up_and_are_logged(tmp_path, caplog):
    text = (
        "e/a.jpg\n5\n"
        "1 1 4 4 0 0 0 0 0 0 \n"  # kept
        "1 1 0 4 0 0 0 0 0 0 \n"  # degenerate (w = 0)
        "1 1 4 4 0 0 0 1 0 0 \n"  # invalid: ignored
        "1 1 4 -1 0 0 0 1 0 0 \n"  # degenerate (h < 0) even though invalid
        "2 2 5 5 0 0 0 0 0 0 \n"  # kept
        "e/b.jpg\n1\n0 0 0 0 0 0 0 0 0 0 \n"  # val form of a zero-face image: degenerate
    )
    counts = FaceCounts()
    path = write(tmp_path, text)
    with caplog.at_level(logging.INFO, logger="df2s2_d2.data.wider_face"):
        d = load_wider_face_txt(path, "r", counts=counts)
    assert (counts.kept, counts.ignored, counts.degenerate) == (2, 1, 3)
    assert counts.total == 6 and counts.images == 2 and counts.empty_images == 1
    assert [a["iscrowd"] for a in d[0]["annotations"]] == [0, 1, 0]
    message = caplog.text
    assert str(path) in message
    for phrase in ("6 boxes", "2 faces kept", "1 invalid faces ignored", "3 degenerate"):
        assert phrase in message


def test_check_images_reads_sizes(tmp_path):
    (tmp_path / "images" / "0--Parade").mkdir(parents=True)
    Image.new("RGB", (24, 16)).save(tmp_path / "images" / "0--Parade" / "a.jpg")
    text = "0--Parade/a.jpg\n1\n1 2 3 4 0 0 0 0 0 0 \n"
    d = load_wider_face_txt(write(tmp_path, text), str(tmp_path / "images"), check_images=True)
    assert (d[0]["height"], d[0]["width"]) == (16, 24)


# --- malformed input: the error names the file, the line and what was expected --------


def assert_error(tmp_path, text, line, expected, **kwargs):
    path = write(tmp_path, text)
    with pytest.raises(WiderFaceFormatError) as info:
        load_wider_face_txt(path, str(tmp_path / "images"), **kwargs)
    message = str(info.value)
    assert str(path) in message
    assert f"line {line}:" in message
    assert expected in message
    assert info.value.line == line


def test_count_larger_than_boxes(tmp_path):
    text = (
        "e/a.jpg\n3\n1 1 4 4 0 0 0 0 0 0 \n1 1 4 4 0 0 0 0 0 0 \ne/b.jpg\n1\n1 1 4 4 0 0 0 0 0 0 \n"
    )
    assert_error(tmp_path, text, 5, "box 3 of 3 of 'e/a.jpg' (the count on line 2 does not match")


def test_count_smaller_than_boxes(tmp_path):
    text = (
        "e/a.jpg\n1\n1 1 4 4 0 0 0 0 0 0 \n1 1 4 4 0 0 0 0 0 0 \ne/b.jpg\n1\n1 1 4 4 0 0 0 0 0 0 \n"
    )
    assert_error(tmp_path, text, 4, "an image path")


def test_non_numeric_box_field(tmp_path):
    text = "e/a.jpg\n2\n1 1 4 4 0 0 0 0 0 0 \n1 1 x4 4 0 0 0 0 0 0 \n"
    assert_error(tmp_path, text, 4, "an integer for 'w'")


def test_non_numeric_count(tmp_path):
    assert_error(tmp_path, "e/a.jpg\n2.0\n", 2, "the number of faces of 'e/a.jpg'")


def test_wrong_number_of_fields(tmp_path):
    assert_error(tmp_path, "e/a.jpg\n1\n1 1 4 4 0 0 0 0 0\n", 3, "10 integers")


def test_attribute_out_of_range(tmp_path):
    assert_error(tmp_path, "e/a.jpg\n1\n1 1 4 4 3 0 0 0 0 0 \n", 3, "'blur' in 0..2")


@pytest.mark.parametrize(
    "text, line, expected",
    [
        ("e/a.jpg\n2\n1 1 4 4 0 0 0 0 0 0 \n", 4, "box 2 of 2 of 'e/a.jpg'"),
        ("e/a.jpg\n", 2, "the number of faces of 'e/a.jpg'"),
        ("e/a.jpg\n0\n", 3, "the line of ten zeros"),
    ],
    ids=["inside_boxes", "before_count", "before_zero_line"],
)
def test_truncated_file(tmp_path, text, line, expected):
    assert_error(tmp_path, text, line, expected)


def test_duplicate_image(tmp_path):
    text = "e/a.jpg\n1\n1 1 4 4 0 0 0 0 0 0 \ne/a.jpg\n1\n1 1 4 4 0 0 0 0 0 0 \n"
    assert_error(tmp_path, text, 4, "already on line 1")


def test_missing_image_when_images_are_required(tmp_path):
    (tmp_path / "images" / "e").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(tmp_path / "images" / "e" / "a.jpg")
    text = "e/a.jpg\n1\n1 1 4 4 0 0 0 0 0 0 \ne/b.jpg\n1\n1 1 4 4 0 0 0 0 0 0 \n"
    assert_error(
        tmp_path,
        text,
        4,
        f"an existing image file {tmp_path / 'images' / 'e' / 'b.jpg'}",
        check_images=True,
    )
    assert len(load_wider_face_txt(write(tmp_path, text), "unused")) == 2  # not required: fine


def test_filelist_errors_name_file_and_line(tmp_path):
    path = write(tmp_path, "e/a.jpg\ne/b.jpg\n3\n")
    with pytest.raises(WiderFaceFormatError, match=r"line 3: expected an image path"):
        load_wider_face_filelist(path, "r")
    (tmp_path / "images" / "e").mkdir(parents=True)
    path = write(tmp_path, "e/a.jpg\n")
    with pytest.raises(WiderFaceFormatError, match=r"line 1: expected an existing image file"):
        load_wider_face_filelist(path, str(tmp_path / "images"), check_images=True)
