"""The real-photo box AP scorer (PASCAL VOC all-point AP at IoU 0.5 and 0.3)."""
import json

import numpy as np
import pytest

from df2s2_deploy.evaluation.box_ap import evaluate_box_ap, load_coco_face_boxes


def write_coco(path, images, boxes):
    """images: [(file, w, h)]; boxes: [(image index, [x, y, w, h])]."""
    data = {"images": [{"id": k + 1, "file_name": f, "width": w, "height": h} for k, (f, w, h) in enumerate(images)],
            "annotations": [{"id": j + 1, "image_id": i + 1, "category_id": 1, "bbox": b}
                            for j, (i, b) in enumerate(boxes)],
            "categories": [{"id": 1, "name": "face"}]}
    path.write_text(json.dumps(data))
    return str(path)


@pytest.fixture
def photos(tmp_path):
    # a.jpg: faces at (0,0)-(10,10) and (20,0)-(30,10); b.jpg: one face (0,0)-(10,20); c.jpg: none
    json_file = write_coco(tmp_path / "gt.json", [("a.jpg", 40, 20), ("b.jpg", 20, 20), ("c.jpg", 9, 9)],
                           [(0, [0, 0, 10, 10]), (0, [20, 0, 10, 10]), (1, [0, 0, 10, 20])])
    return load_coco_face_boxes(json_file)


def test_reads_boxes_as_corners(photos):
    assert [p.file_name for p in photos] == ["a.jpg", "b.jpg", "c.jpg"]
    np.testing.assert_array_equal(photos[0].boxes, [[0, 0, 10, 10], [20, 0, 30, 10]])
    assert photos[2].boxes.shape == (0, 4)


def test_perfect_detections_give_ap_one(photos):
    dets = {p.file_name: (p.boxes, np.full(len(p.boxes), 0.9)) for p in photos}
    result = evaluate_box_ap(photos, dets)
    assert result.ap == {0.5: 1.0, 0.3: 1.0}
    assert result.recall_at_score == {0.5: 1.0, 0.3: 1.0}
    assert result.num_faces == 3


def test_iou_threshold_decides_a_loose_box(photos):
    # the face of b.jpg boxed as its top half: IoU 0.5 exactly -> a hit at 0.5 and 0.3;
    # its top 40 %: IoU 0.4 -> a hit at 0.3 only
    half = evaluate_box_ap(photos, {"b.jpg": ([[0, 0, 10, 10]], [0.9])})
    assert half.ap[0.5] == pytest.approx(1 / 3) and half.ap[0.3] == pytest.approx(1 / 3)
    loose = evaluate_box_ap(photos, {"b.jpg": ([[0, 0, 10, 8]], [0.9])})
    assert loose.ap[0.5] == 0.0 and loose.ap[0.3] == pytest.approx(1 / 3)


def test_all_point_interpolation_and_duplicates(photos):
    # scores: a false positive on c.jpg (0.95), a hit (0.9), a duplicate of that hit (0.8),
    # a second hit (0.7). Precision at the hits: 1/2 and 2/4 -> interpolated 0.5 up to
    # recall 2/3, so AP = 2/3 * 0.5; the duplicate is a false positive.
    dets = {"c.jpg": ([[0, 0, 5, 5]], [0.95]),
            "a.jpg": ([[0, 0, 10, 10], [0, 0, 10, 10], [20, 0, 30, 10]], [0.9, 0.8, 0.7])}
    result = evaluate_box_ap(photos, dets, score_threshold=0.75)
    assert result.ap[0.5] == pytest.approx(1 / 3)
    assert result.recall_at_score[0.5] == pytest.approx(1 / 3)
    assert result.false_positives_at_score[0.5] == 2  # c.jpg's and the duplicate


def test_detections_of_unknown_images_are_refused(photos):
    with pytest.raises(ValueError, match="x.jpg"):
        evaluate_box_ap(photos, {"x.jpg": ([[0, 0, 1, 1]], [0.5])})


@pytest.mark.parametrize("bbox", [[0, 0, 0, 5], [1, 2, 3], "box"])
def test_bad_box_names_file_and_entry(tmp_path, bbox):
    json_file = write_coco(tmp_path / "gt.json", [("a.jpg", 9, 9)], [(0, bbox)])
    with pytest.raises(ValueError, match=r"gt\.json: annotations\[0\].*expected \[x, y, w, h\]"):
        load_coco_face_boxes(json_file)


def test_unknown_image_id_is_named(tmp_path):
    json_file = write_coco(tmp_path / "gt.json", [("a.jpg", 9, 9)], [])
    data = json.loads(open(json_file).read())
    data["annotations"] = [{"id": 5, "image_id": 42, "bbox": [0, 0, 2, 2]}]
    (tmp_path / "gt.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="image_id 42"):
        load_coco_face_boxes(json_file)


def test_boxes_and_scores_must_pair(photos):
    with pytest.raises(ValueError, match="a.jpg: 1 boxes but 2 scores"):
        evaluate_box_ap(photos, {"a.jpg": ([[0, 0, 1, 1]], [0.5, 0.4])})
