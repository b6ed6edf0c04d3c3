"""dev/peer_detectors.py: detections files, --extra scoring and the picture grid, on
hand-made photos and boxes (no peer environment, no network)."""
import json

import numpy as np
import pytest
from PIL import Image

from dev.peer_detectors import draw_grid, load_detections, main, parse_extra, save_detections
from df2s2_deploy.evaluation.box_ap import PhotoBoxes

GT = [[10, 10, 50, 50], [60, 10, 90, 40]]
# IoU 0.6 with the first face, a false positive, IoU 0.4 with the second face
DETECTIONS = {"a.png": (np.array([[10, 10, 50, 34], [0, 60, 10, 70], [60, 10, 90, 22]], float),
                        np.array([0.9, 0.8, 0.7]))}


def write_photos(root):
    (root / "images").mkdir(parents=True)
    Image.new("RGB", (100, 80), (128, 128, 128)).save(root / "images" / "a.png")
    coco = {"images": [{"id": 1, "file_name": "a.png", "width": 100, "height": 80}],
            "annotations": [{"id": k + 1, "image_id": 1, "category_id": 1,
                             "bbox": [x1, y1, x2 - x1, y2 - y1]} for k, (x1, y1, x2, y2) in enumerate(GT)],
            "categories": [{"id": 1, "name": "face"}]}
    (root / "real_photos_dev.json").write_text(json.dumps(coco))


def test_extra_detections_are_scored_and_drawn(tmp_path):
    write_photos(tmp_path / "photos")
    extra = tmp_path / "mine.json"
    save_detections(str(extra), DETECTIONS, {"model": "hand-made"})
    out = tmp_path / "out"
    report = main(["--photos", str(tmp_path / "photos"), "--detectors", "--extra", f"mine={extra}",
                   "--output", str(out)])
    assert report == json.loads((out / "peers.json").read_text())
    mine = report["detectors"]["mine"]
    assert mine["box_ap"]["AP50"] == 0.5  # hit at rank 1, then a false positive; one face missed
    assert mine["box_ap"]["AP30"] == pytest.approx(0.5 + 0.5 * 2 / 3, abs=1e-4)
    assert mine["box_ap"]["recall50@0.5"] == 0.5 and mine["box_ap"]["false_positives50@0.5"] == 2
    assert mine["model"] == "hand-made" and mine["operating_threshold"] == 0.5
    with Image.open(out / "peers_grid.png") as grid:
        assert grid.width == 320 + 2 * 4
    table = (out / "peers.md").read_text()
    assert "| mine | 50.0 | 83.3 | 50.0 | 2 | score >= 0.5 |" in table
    assert "(peers_grid.png)" in table


def test_the_operating_threshold_of_a_file_wins_and_none_keeps_every_box(tmp_path):
    write_photos(tmp_path / "photos")
    for name, threshold in (("strict", 0.85), ("all", None)):
        save_detections(str(tmp_path / f"{name}.json"), DETECTIONS, {"operating_threshold": threshold})
    report = main(["--photos", str(tmp_path / "photos"), "--detectors", "--output", str(tmp_path / "out"),
                   "--extra", f"strict={tmp_path / 'strict.json'}", "--extra", f"all={tmp_path / 'all.json'}"])
    strict, every = report["detectors"]["strict"], report["detectors"]["all"]
    assert strict["box_ap"]["recall30@0.85"] == 0.5 and strict["box_ap"]["false_positives30@0.85"] == 0
    assert every["box_ap"]["recall30@-inf"] == 1.0 and every["operating_threshold"] is None


def test_detections_round_trip_and_bad_files_name_the_photo(tmp_path):
    path = tmp_path / "d.json"
    save_detections(str(path), DETECTIONS, {"detector": "x"})
    detections, meta = load_detections(str(path))
    assert meta == {"detector": "x"}
    np.testing.assert_allclose(detections["a.png"][0], DETECTIONS["a.png"][0])
    np.testing.assert_allclose(detections["a.png"][1], DETECTIONS["a.png"][1])
    path.write_text(json.dumps({"detections": {"a.png": {"boxes": [[0, 0, 1, 1]], "scores": [0.5, 0.6]}}}))
    with pytest.raises(ValueError, match="a.png: 1 boxes but 2 scores"):
        load_detections(str(path))
    path.write_text(json.dumps({"a.png": {"boxes": [], "scores": []}}))
    with pytest.raises(ValueError, match="'detections'"):
        load_detections(str(path))
    assert parse_extra("ours=a=b.json") == ("ours", "a=b.json")
    with pytest.raises(Exception, match="NAME=detections.json"):
        parse_extra("ours.json")


def near(grid, x, y, colour):
    patch = np.asarray(grid.convert("RGB"))[y - 1 : y + 2, x - 1 : x + 2].reshape(-1, 3).astype(int)
    return bool((np.abs(patch - colour).max(axis=1) < 40).any())


def test_draw_grid_draws_ground_truth_green_and_boxes_above_the_threshold_red(tmp_path):
    Image.new("RGB", (100, 80), (128, 128, 128)).save(tmp_path / "a.png")
    gt = [PhotoBoxes("a.png", 100, 80, np.array(GT, float))]
    columns = {"low": DETECTIONS, "high": DETECTIONS}
    out = tmp_path / "grid.png"
    assert draw_grid([str(tmp_path / "a.png")], columns, gt, {"low": 0.0, "high": 0.85}, str(out)) == 320
    grid = Image.open(out)
    assert grid.size == (2 * 320 + 3 * 4, 18 + 256 + 2 * 4)
    scale, top = 3.2, 18 + 4
    for column in range(2):
        left = 4 + column * (320 + 4)
        assert near(grid, left + int(30 * scale), top + int(50 * scale) - 1, (0, 220, 0))  # face 1, bottom
        assert near(grid, left + int(30 * scale), top + int(34 * scale) - 1, (255, 0, 0))  # hit, bottom
        false_positive = near(grid, left + int(5 * scale), top + int(70 * scale) - 1, (255, 0, 0))
        assert false_positive == (column == 0)  # score 0.8: drawn at 0.0, not at 0.85


def test_draw_grid_narrows_the_tiles_to_fit_the_size(tmp_path):
    noise = np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "a.png")
    gt = [PhotoBoxes("a.png", 200, 200, np.zeros((0, 4)))]
    out = tmp_path / "grid.png"
    width = draw_grid([str(tmp_path / "a.png")], {"x": {}}, gt, 0.5, str(out), max_bytes=40_000)
    assert 80 <= width < 320 and out.stat().st_size <= 40_000
