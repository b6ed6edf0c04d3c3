"""WiderFaceDatasetMapper: crop, ignored faces, box-mask targets, test mode."""

import cv2
import numpy as np
import pytest
import torch
from detectron2.structures import BoxMode

from df2s2_d2.data import WiderFaceDatasetMapper
from df2s2_d2.modeling.seg_targets import build_box_mask_targets
from tests.common import get_config

H, W = 160, 200


@pytest.fixture(scope="module")
def coordinate_image(tmp_path_factory):
    """A lossless image whose pixel (y, x) holds B = x, G = y: a crop's offset can be read back."""
    ys, xs = np.mgrid[0:H, 0:W]
    image = np.stack([xs, ys, np.full_like(xs, 50)], axis=-1).astype(np.uint8)
    path = tmp_path_factory.mktemp("mapper") / "coords.png"
    cv2.imwrite(str(path), image)
    return str(path)


def face(x1, y1, x2, y2, iscrowd=0):
    return {
        "bbox": [x1, y1, x2, y2],
        "bbox_mode": BoxMode.XYXY_ABS,
        "category_id": 0,
        "iscrowd": iscrowd,
    }


def record(path, faces):
    return {
        "file_name": path,
        "image_id": "e/coords",
        "height": H,
        "width": W,
        "annotations": faces,
    }


def config(**opts):
    flat = []
    for key, value in opts.items():
        flat += [key, value]
    defaults = ["INPUT.RANDOM_FLIP", "none", "INPUT.FACE_AUG.PHOTOMETRIC", False]
    return get_config(opts=defaults + flat)


def random_faces(n=40, seed=0):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, [W - 12, H - 12], (n, 2))
    wh = rng.uniform(4, 40, (n, 2))
    x2y2 = np.minimum(xy + wh, [W, H])
    return [face(*map(float, b)) for b in np.concatenate([xy, x2y2], axis=1)]


def expected_targets(cfg, image_hw, boxes, ignore):
    targets = build_box_mask_targets(cfg)
    return targets(
        torch.as_tensor(boxes, dtype=torch.float32).reshape(-1, 4),
        torch.as_tensor(ignore, dtype=torch.bool),
        targets.grid_sizes(image_hw),
    )


def assert_targets_equal(actual, expected):
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        assert a.dtype == torch.int8 and torch.equal(a, e)


def test_crop_keeps_exactly_the_faces_whose_centre_is_inside(coordinate_image):
    side = 80  # CROP_SCALES 0.5 of the short side 160; TRAIN_SIZE 80 makes the resize a no-op
    cfg = config(**{"INPUT.FACE_AUG.CROP_SCALES": [0.5], "INPUT.FACE_AUG.TRAIN_SIZE": side})
    mapper = WiderFaceDatasetMapper(cfg, is_train=True)
    faces = random_faces()
    boxes = np.array([f["bbox"] for f in faces])
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    np.random.seed(0)
    offsets = set()
    for _ in range(20):
        out = mapper(record(coordinate_image, faces))
        x0, y0 = int(out["image"][0, 0, 0]), int(out["image"][1, 0, 0])
        offsets.add((x0, y0))
        inside = ((centres >= [x0, y0]) & (centres < [x0 + side, y0 + side])).all(axis=1)
        expected = (boxes[inside] - [x0, y0, x0, y0]).clip(0, side)
        assert out["image"].shape == (3, side, side)
        assert torch.allclose(
            out["instances"].gt_boxes.tensor, torch.tensor(expected, dtype=torch.float32)
        )
        assert inside.any()
    assert len(offsets) > 5  # the crops really are random
    c = mapper.counts
    assert c["images"] == 20 and c["faces_kept"] + c["faces_outside_crop"] == 20 * len(faces)
    assert c["faces_outside_crop"] > 0


def test_without_crop_tries_the_whole_image_is_kept(coordinate_image):
    cfg = config(**{"INPUT.FACE_AUG.CROP_TRIES": 0, "INPUT.FACE_AUG.TRAIN_SIZE": 100})
    faces = random_faces(5)
    out = WiderFaceDatasetMapper(cfg, is_train=True)(record(coordinate_image, faces))
    scale = 100 / W  # padded to 200 x 200, resized to 100 x 100
    expected = np.array([f["bbox"] for f in faces]) * scale
    assert torch.allclose(
        out["instances"].gt_boxes.tensor, torch.tensor(expected, dtype=torch.float32)
    )
    assert out["image"].shape == (3, 100, 100)


@pytest.mark.parametrize("crop", [True, False], ids=["crop", "no_crop"])
def test_full_pipeline_boxes_inside_and_targets_match_boxes(coordinate_image, crop):
    size = 96
    cfg = config(
        **{
            "INPUT.FACE_AUG.RANDOM_CROP": crop,
            "INPUT.FACE_AUG.TRAIN_SIZE": size,
            "INPUT.FACE_AUG.PHOTOMETRIC": True,
            "INPUT.RANDOM_FLIP": "horizontal",
        }
    )
    mapper = WiderFaceDatasetMapper(cfg, is_train=True)
    np.random.seed(1)
    for i in range(10):
        out = mapper(record(coordinate_image, random_faces(seed=i)))
        boxes = out["instances"].gt_boxes.tensor
        assert out["image"].shape == (3, size, size) and out["image"].dtype == torch.uint8
        assert len(boxes) > 0
        assert (boxes >= 0).all() and (boxes <= size).all()
        assert (boxes[:, 2:] > boxes[:, :2]).all()
        assert torch.equal(out["instances"].gt_classes, torch.zeros(len(boxes), dtype=torch.int64))
        assert_targets_equal(
            out["seg_targets"], expected_targets(cfg, (size, size), boxes, torch.zeros(len(boxes)))
        )


def test_ignored_and_small_faces_become_ignore_regions(coordinate_image):
    size = 100  # no augmentation: pad 200 x 160 to 200 x 200, resize by 0.5
    cfg = config(
        **{
            "INPUT.FACE_AUG.RANDOM_CROP": False,
            "INPUT.FACE_AUG.TRAIN_SIZE": size,
            "INPUT.FACE_AUG.MIN_FACE_SIZE": 8.0,
        }
    )
    normal, small, invalid = [10, 20, 70, 90], [150, 100, 160, 110], [100, 10, 140, 50]
    faces = [face(*normal), face(*small), face(*invalid, iscrowd=1)]
    mapper = WiderFaceDatasetMapper(cfg, is_train=True)
    out = mapper(record(coordinate_image, faces))
    half = lambda b: [v / 2 for v in b]  # noqa: E731
    assert out["instances"].gt_boxes.tensor.tolist() == [half(normal)]
    expected = expected_targets(
        cfg, (size, size), [half(normal), half(invalid), half(small)], [False, True, True]
    )
    assert_targets_equal(out["seg_targets"], expected)
    assert any((t == -1).any() for t in out["seg_targets"])
    c = mapper.counts
    assert (c["faces_kept"], c["small_faces_ignored"], c["crowd_faces_ignored"]) == (1, 1, 1)


@pytest.mark.parametrize(
    "faces", [[], [face(100, 10, 140, 50, iscrowd=1)]], ids=["none", "only_ignored"]
)
def test_images_without_faces_still_map(coordinate_image, faces):
    cfg = config(**{"INPUT.FACE_AUG.TRAIN_SIZE": 64})
    out = WiderFaceDatasetMapper(cfg, is_train=True)(record(coordinate_image, faces))
    assert out is not None and out["image"].shape == (3, 64, 64)
    assert len(out["instances"]) == 0
    assert all(t.shape[0] > 0 for t in out["seg_targets"])
    assert not any((t == 1).any() for t in out["seg_targets"])


@pytest.mark.parametrize(
    "opts",
    [{"MODEL.DF2S2.SEG_HEAD": False}, {"MODEL.META_ARCHITECTURE": "RetinaNet"}],
    ids=["no_seg_head", "retinanet"],
)
def test_no_seg_targets_without_the_seg_branch(coordinate_image, opts):
    cfg = config(**{"INPUT.FACE_AUG.TRAIN_SIZE": 64}, **opts)
    out = WiderFaceDatasetMapper(cfg, is_train=True)(record(coordinate_image, random_faces(5)))
    assert "seg_targets" not in out and len(out["instances"]) > 0


def test_test_mode_resizes_shortest_edge_and_drops_annotations(coordinate_image):
    cfg = config(**{"INPUT.MIN_SIZE_TEST": 80, "INPUT.MAX_SIZE_TEST": 1000})
    out = WiderFaceDatasetMapper(cfg, is_train=False)(record(coordinate_image, random_faces(5)))
    assert out["image"].shape == (3, 80, 100)
    assert (out["height"], out["width"]) == (H, W)
    assert "annotations" not in out and "instances" not in out and "seg_targets" not in out


def test_mapper_does_not_modify_its_input(coordinate_image):
    d = record(coordinate_image, random_faces(5))
    before = repr(d)
    WiderFaceDatasetMapper(config(**{"INPUT.FACE_AUG.TRAIN_SIZE": 64}), is_train=True)(d)
    assert repr(d) == before


def test_seg_level_is_the_best_iou_anchor_level_through_the_mapper(tmp_path):
    """One face per image, 10-600 px, square and 1:1.5, through the mapper (no crop):
    the only level its target marks is the level of its best-IoU anchor."""
    from detectron2.modeling import build_model
    from detectron2.structures import Boxes, pairwise_iou

    size = 640
    cfg = config(**{"INPUT.FACE_AUG.RANDOM_CROP": False, "INPUT.FACE_AUG.TRAIN_SIZE": size})
    mapper = WiderFaceDatasetMapper(cfg, is_train=True)
    generator = build_model(cfg).anchor_generator
    path = tmp_path / "blank.png"
    cv2.imwrite(str(path), np.zeros((size, size, 3), np.uint8))
    rng = np.random.default_rng(0)
    checked = 0
    for side in np.geomspace(10, 600, 40):
        for ratio in (1.0, 1.5):
            w, h = side / np.sqrt(ratio), min(side * np.sqrt(ratio), size - 1)
            x, y = rng.uniform(0, size - w), rng.uniform(0, size - h)
            rec = dict(record(str(path), [face(x, y, x + w, y + h)]), height=size, width=size)
            out = mapper(rec)
            marked = [i for i, t in enumerate(out["seg_targets"]) if (t == 1).any()]
            grid = [tuple(t.shape) for t in out["seg_targets"]]
            anchors = generator([torch.zeros(1, 1, *hw) for hw in grid])
            ious = [pairwise_iou(out["instances"].gt_boxes, a).max() for a in anchors]
            assert marked == [int(torch.stack(ious).argmax())], (x, y, w, h)
            checked += 1
    assert checked == 80


def test_seg_targets_for_a_registered_subclass_of_df2s2(coordinate_image):
    from detectron2.modeling import META_ARCH_REGISTRY

    from df2s2_d2.modeling import DF2S2

    if "MyDF2S2" not in META_ARCH_REGISTRY:
        META_ARCH_REGISTRY.register(type("MyDF2S2", (DF2S2,), {}))
    cfg = config(**{"INPUT.FACE_AUG.TRAIN_SIZE": 64, "MODEL.META_ARCHITECTURE": "MyDF2S2"})
    out = WiderFaceDatasetMapper(cfg, is_train=True)(record(coordinate_image, random_faces(5)))
    assert "seg_targets" in out


def with_points(annotation, points):
    return dict(annotation, keypoints=[float(v) for p in points for v in p])


def test_landmarks_follow_crop_resize_and_flip_and_swap_sides(coordinate_image):
    # no crop tries: the image is padded to 200 x 200, resized to 100, then always flipped
    cfg = config(**{"INPUT.FACE_AUG.CROP_TRIES": 0, "INPUT.FACE_AUG.TRAIN_SIZE": 100,
                    "INPUT.RANDOM_FLIP": "horizontal"})
    mapper = WiderFaceDatasetMapper(cfg, is_train=True)
    points = [[20, 30, 2], [40, 30, 2], [30, 40, 1], [22, 50, 2], [38, 50, 2]]
    dicts = record(coordinate_image, [with_points(face(10, 20, 50, 60), points), face(100, 20, 140, 60)])
    flipped = 0
    for seed in range(8):
        np.random.seed(seed)
        out = mapper(dicts)
        kp = out["instances"].gt_keypoints.tensor.numpy()
        box = out["instances"].gt_boxes.tensor.numpy()[0]
        expected = np.array(points, dtype=np.float64)
        expected[:, :2] *= 0.5
        if box[0] > 25:  # flipped: x -> 100 - x, eyes and mouth corners swap
            flipped += 1
            expected[:, 0] = 100 - expected[:, 0]
            expected = expected[[1, 0, 2, 4, 3]]
        assert np.allclose(kp[0], expected, atol=1e-4)
        assert not kp[1].any()  # the face without landmarks: all zero, not labelled
    assert 0 < flipped < 8


def test_landmarks_leaving_the_crop_become_unlabelled_and_are_counted(coordinate_image):
    side = 80
    cfg = config(**{"INPUT.FACE_AUG.CROP_SCALES": [0.5], "INPUT.FACE_AUG.TRAIN_SIZE": side})
    mapper = WiderFaceDatasetMapper(cfg, is_train=True)
    # a wide face whose outer points stick out of its own box
    points = [[2, 50, 2], [60, 50, 2], [31, 55, 2], [10, 65, 2], [52, 65, 2]]
    dicts = record(coordinate_image, [with_points(face(4, 40, 58, 70), points)])
    np.random.seed(0)
    dropped = 0
    for _ in range(20):
        out = mapper(dicts)
        if not len(out["instances"]):
            continue
        x0, y0 = int(out["image"][0, 0, 0]), int(out["image"][1, 0, 0])
        kp = out["instances"].gt_keypoints.tensor.numpy()[0]
        for p, q in zip(points, kp):
            inside = x0 <= p[0] <= x0 + side and y0 <= p[1] <= y0 + side
            assert (q[2] > 0) == inside
            dropped += not inside
            if inside:
                assert np.allclose(q[:2], [p[0] - x0, p[1] - y0], atol=1e-4)
    assert dropped > 0 and mapper.counts["landmarks_outside_crop"] == dropped


def test_no_keypoints_without_landmark_annotations(coordinate_image):
    out = WiderFaceDatasetMapper(config(), is_train=True)(record(coordinate_image, random_faces(5)))
    assert not out["instances"].has("gt_keypoints")
