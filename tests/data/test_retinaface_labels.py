"""RetinaFace's label.txt reader: the format, each malformed input, the counts, registration."""

import logging
import os
import re

import pytest
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import BoxMode
from PIL import Image

from df2s2_d2.data import (
    LandmarkCounts,
    WiderFaceFormatError,
    load_retinaface_labels,
    parse_retinaface_labels,
    register_retinaface_layout,
)
from df2s2_deploy.face_landmarks import LANDMARK_FLIP_MAP, LANDMARK_NAMES
from tests.data.bad_input import file_digests

ROOT = os.path.expanduser(os.getenv("DETECTRON2_DATASETS", "datasets"))

VISIBLE_FACE = (
    "449 330 122 149 488.906 373.643 0.0 542.089 376.442 0.0 515.031 412.83 0.0 "
    "485.849 425.893 0.0 538.357 431.491 0.0 0.82"
)
HIDDEN_FACE = (
    "78 238 14 17 84.188 244.607 1.0 89.527 244.491 0.0 86.973 247.857 1.0 "
    "85.116 250.643 0.0 88.482 250.643 1.0 0.36"
)
NO_LANDMARKS = "177 218 64 109" + " -1.0" * 15 + " 0.68"
LABELS = (
    "# 0--Parade/0_Parade_marchingband_1_849.jpg\n"
    f"{VISIBLE_FACE}\n"
    f"{NO_LANDMARKS}\n"
    "# 0--Parade/empty.jpg\n"
    "# 1--Handshaking/b.jpg\n"
    f"{HIDDEN_FACE}\n"
)


def write(tmp_path, text: str, name="label.txt", newline="\n"):
    path = tmp_path / name
    path.write_bytes(text.replace("\n", newline).encode())
    return path


def face(x=10, y=20, w=30, h=40, points=None, score=1.0):
    """A face line; ``points``: five (x, y, flag), default visible points inside the box."""
    points = points or [(x + 5 + 5 * k, y + 10 + 5 * k, 0.0) for k in range(5)]
    return " ".join(map(str, [x, y, w, h, *[v for p in points for v in p], score]))


def triples(annotation):
    """The keypoints of an annotation as five [x, y, v]."""
    k = annotation["keypoints"]
    assert len(k) == 15
    return [k[i : i + 3] for i in range(0, 15, 3)]


def test_parse_keeps_the_rows_as_written(tmp_path):
    entries = parse_retinaface_labels(write(tmp_path, LABELS))
    assert [(rel, line, len(rows)) for rel, line, rows in entries] == [
        ("0--Parade/0_Parade_marchingband_1_849.jpg", 1, 2),
        ("0--Parade/empty.jpg", 4, 0),
        ("1--Handshaking/b.jpg", 5, 1),
    ]
    assert entries[0][2][0] == [float(v) for v in VISIBLE_FACE.split()]
    assert entries[0][2][1][4:19] == [-1.0] * 15


def test_dicts_have_boxes_and_keypoints(tmp_path):
    counts = LandmarkCounts()
    d = load_retinaface_labels(write(tmp_path, LABELS), "root", counts=counts)
    assert [r["image_id"] for r in d] == [
        "0--Parade/0_Parade_marchingband_1_849",
        "0--Parade/empty",
        "1--Handshaking/b",
    ]
    assert d[0]["file_name"] == "root/0--Parade/0_Parade_marchingband_1_849.jpg"
    assert "height" not in d[0]  # images are not opened
    visible, no_landmarks = d[0]["annotations"]
    assert visible["bbox"] == [449, 330, 122, 149] and visible["bbox_mode"] == BoxMode.XYWH_ABS
    assert visible["category_id"] == 0 and visible["iscrowd"] == 0
    assert triples(visible) == [
        [488.906, 373.643, 2],
        [542.089, 376.442, 2],
        [515.031, 412.83, 2],
        [485.849, 425.893, 2],
        [538.357, 431.491, 2],
    ]
    assert all(isinstance(v, float) for v in visible["keypoints"])
    assert visible["landmark_score"] == pytest.approx(0.82)
    assert no_landmarks["keypoints"] == [0.0] * 15 and no_landmarks["iscrowd"] == 0
    assert d[1]["annotations"] == []  # an image line without face lines: a negative
    assert d[2]["annotations"][0]["keypoints"][2::3] == [1, 2, 1, 2, 1]  # flag 1.0: hidden
    assert (counts.images, counts.kept, counts.empty_images) == (3, 3, 1)
    assert counts.faces_with_landmarks == 2 and counts.partly_labelled == 0


def test_crlf_bom_and_no_final_newline_read_the_same(tmp_path):
    expected = load_retinaface_labels(write(tmp_path, LABELS, "lf.txt"), "r")
    assert load_retinaface_labels(write(tmp_path, LABELS, "crlf.txt", "\r\n"), "r") == expected
    assert load_retinaface_labels(write(tmp_path, "\ufeff" + LABELS, "bom.txt"), "r") == expected
    assert load_retinaface_labels(write(tmp_path, LABELS.rstrip(), "eol.txt"), "r") == expected


def test_partly_unlabelled_face_keeps_its_labelled_points(tmp_path):
    points = [(15, 30, 0.0), (-1.0, -1.0, -1.0), (25, 40, 1.0), (-1, -1, -1), (35, 50, 0.0)]
    counts = LandmarkCounts()
    d = load_retinaface_labels(
        write(tmp_path, f"# e/a.jpg\n{face(points=points)}\n"), "r", counts=counts
    )
    assert triples(d[0]["annotations"][0]) == [
        [15, 30, 2],
        [0, 0, 0],
        [25, 40, 1],
        [0, 0, 0],
        [35, 50, 2],
    ]
    assert counts.partly_labelled == 1 and counts.faces_with_landmarks == 1


def test_degenerate_boxes_are_dropped_and_counted(tmp_path, caplog):
    text = f"# e/a.jpg\n{face()}\n{face(w=0)}\n{face(h=-3)}\n# e/b.jpg\n{face(w=-1)}\n"
    counts = LandmarkCounts()
    path = write(tmp_path, text)
    with caplog.at_level(logging.INFO, logger="df2s2_d2.data.retinaface_labels"):
        d = load_retinaface_labels(path, "r", counts=counts)
    assert [len(r["annotations"]) for r in d] == [1, 0]
    assert (counts.kept, counts.degenerate, counts.total, counts.empty_images) == (1, 3, 4, 1)
    assert counts.faces_with_landmarks == 1
    assert str(path) in caplog.text
    for phrase in ("2 images", "4 boxes = 1 faces", "3 degenerate", "1 faces with landmarks"):
        assert phrase in caplog.text


def make_images(tmp_path, sizes):
    """JPEG images {rel: (width, height)} under tmp_path / "images"."""
    for rel, size in sizes.items():
        (tmp_path / "images" / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", size).save(tmp_path / "images" / rel)
    return str(tmp_path / "images")


def test_points_outside_the_image_become_unlabelled_and_are_counted(tmp_path, caplog):
    image_root = make_images(tmp_path, {"e/a.jpg": (60, 50)})
    points = [(0, 0, 0.0), (60, 50, 1.0), (60.5, 10, 0.0), (10, -0.1, 1.0), (30, 51, 0.0)]
    counts = LandmarkCounts()
    path = write(tmp_path, f"# e/a.jpg\n{face(points=points)}\n")
    with caplog.at_level(logging.INFO, logger="df2s2_d2.data.retinaface_labels"):
        d = load_retinaface_labels(path, image_root, check_images=True, counts=counts)
    assert (d[0]["height"], d[0]["width"]) == (50, 60)
    assert d[0]["annotations"][0]["keypoints"] == [0, 0, 2, 60, 50, 1] + [0] * 9
    assert counts.landmarks_outside_image == 3
    assert "3 points outside their image dropped" in caplog.text
    # without the image sizes nothing can be outside
    d = load_retinaface_labels(path, image_root)
    assert d[0]["annotations"][0]["keypoints"][6:9] == [60.5, 10, 2]


def test_reading_leaves_the_files_unchanged(tmp_path):
    image_root = make_images(tmp_path, {"e/a.jpg": (60, 50)})
    path = write(tmp_path, f"# e/a.jpg\n{face()}\n")
    before = file_digests(tmp_path)
    load_retinaface_labels(path, image_root, check_images=True)
    assert file_digests(tmp_path) == before


# --- malformed input: the error names the file, the line and what was expected --------


def assert_error(tmp_path, text, line, expected, **kwargs):
    path = write(tmp_path, text)
    with pytest.raises(WiderFaceFormatError) as info:
        load_retinaface_labels(path, str(tmp_path / "images"), **kwargs)
    message = str(info.value)
    assert message.startswith(f"{path}, line {line}: expected ")
    assert expected in message
    assert info.value.line == line


def test_wrong_number_of_values(tmp_path):
    text = f"# e/a.jpg\n{face()}\n{face()} 0.5\n"
    assert_error(
        tmp_path, text, 3, "20 numbers (x y w h, five 'x y visibility' triples and a score)"
    )
    assert_error(tmp_path, "# e/a.jpg\n10 20 30 40\n", 2, "20 numbers")


@pytest.mark.parametrize("value", ["3O", "1_0", "\u0663", "0x1f"])
def test_not_a_number(tmp_path, value):
    assert_error(tmp_path, f"# e/a.jpg\n{face()}\n{face(w=value)}\n", 3, "a number for 'w'")


def test_not_a_number_names_the_landmark_field(tmp_path):
    text = f"# e/a.jpg\n{face(points=[(1, 2, 0.0)] * 4 + [(1, '2,5', 0.0)])}\n"
    assert_error(tmp_path, text, 2, "a number for 'mouth_2_y'")


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "1e999"])
def test_nan_and_inf(tmp_path, value):
    text = f"# e/a.jpg\n{face(points=[(1, 2, 0.0), (value, 2, 0.0)] + [(1, 2, 0.0)] * 3)}\n"
    path = write(tmp_path, text)
    expected = re.escape(f"{path}, line 2: expected a finite number for 'eye_2_x'")
    with pytest.raises(WiderFaceFormatError, match="^" + expected):
        load_retinaface_labels(path, "r")


@pytest.mark.parametrize("flag", ["2.0", "0.5", "-2"])
def test_flag_out_of_range(tmp_path, flag):
    text = f"# e/a.jpg\n{face(points=[(1, 2, 0.0)] * 2 + [(1, 2, flag)] + [(1, 2, 0.0)] * 2)}\n"
    assert_error(tmp_path, text, 2, "the flag of 'nose' in -1.0 (not labelled), 0.0 (visible)")


def test_unlabelled_point_with_coordinates(tmp_path):
    text = f"# e/a.jpg\n{face(points=[(5, 6, -1.0)] + [(1, 2, 0.0)] * 4)}\n"
    assert_error(tmp_path, text, 2, "x and y of 'eye_1' -1.0, as its flag is -1.0")


def test_face_before_any_image_line(tmp_path):
    assert_error(tmp_path, f"{face()}\n# e/a.jpg\n", 1, "an image line '# <event>/<name>.jpg'")


def test_same_image_twice(tmp_path):
    text = f"# e/a.jpg\n{face()}\n# e/b.jpg\n# e/a.jpg\n{face()}\n"
    assert_error(tmp_path, text, 4, "each image once ('e/a.jpg' is already on line 1)")


@pytest.mark.parametrize("path", ["# a.jpg", "# /abs/e/a.jpg", "# ../e/a.jpg", "# e/a.png"])
def test_bad_image_path(tmp_path, path):
    assert_error(tmp_path, f"# e/x.jpg\n{face()}\n{path}\n", 3, "an image path")


def test_blank_line_between_faces(tmp_path):
    assert_error(tmp_path, f"# e/a.jpg\n{face()}\n\n{face()}\n", 3, "20 numbers")


def test_missing_image_names_the_label_file_and_line(tmp_path):
    make_images(tmp_path, {"e/a.jpg": (60, 50)})
    text = f"# e/a.jpg\n{face()}\n# e/b.jpg\n{face()}\n"
    assert_error(
        tmp_path,
        text,
        3,
        f"an existing image file {tmp_path / 'images' / 'e' / 'b.jpg'}",
        check_images=True,
    )


# --- registration -------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, folder, split, images, gt",
    [
        ("wider_face_train_landmarks", "widerface", "train", "WIDER_train/images", False),
        ("synth_faces_train_landmarks", "synth_faces", "train", "WIDER_train/images", False),
        ("synth_faces_val_landmarks", "synth_faces", "val", "WIDER_val/images", True),
    ],
)
def test_landmark_datasets_registered_at_import(name, folder, split, images, gt):
    meta = MetadataCatalog.get(name)
    assert name in DatasetCatalog.list()
    assert meta.thing_classes == ["face"]
    assert meta.annotation_file == os.path.join(ROOT, folder, f"retinaface_gt/{split}/label.txt")
    assert meta.image_root == os.path.join(ROOT, folder, images)
    assert list(meta.keypoint_names) == list(LANDMARK_NAMES)
    assert meta.keypoint_flip_map == LANDMARK_FLIP_MAP
    assert {(a, b) for a, b, _ in meta.keypoint_connection_rules} >= {
        ("eye_1", "eye_2"),
        ("mouth_1", "mouth_2"),
    }
    if gt:
        assert meta.evaluator_type == "wider_face"
        assert meta.wider_face_gt_dir == os.path.join(ROOT, folder, "eval_tools", "ground_truth")
    else:
        assert not hasattr(meta, "evaluator_type") and not hasattr(meta, "wider_face_gt_dir")


def test_wider_face_val_landmarks_are_not_registered():
    assert "wider_face_val_landmarks" not in DatasetCatalog.list()


def test_registered_layout_loads_lazily_with_image_sizes(tmp_path):
    image_root = make_images(tmp_path, {"e/a.jpg": (60, 50)})
    label_file = tmp_path / "label.txt"
    name = "retinaface_labels_test_layout"
    register_retinaface_layout(name, str(label_file), image_root)  # nothing is read here
    try:
        with pytest.raises(FileNotFoundError, match="label.txt"):
            DatasetCatalog.get(name)
        write(tmp_path, f"# e/a.jpg\n{face()}\n")
        (d,) = DatasetCatalog.get(name)
        assert (d["height"], d["width"]) == (50, 60)
        assert len(d["annotations"][0]["keypoints"]) == 15
    finally:
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)
