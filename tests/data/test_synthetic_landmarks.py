"""The five landmarks of the synthetic faces: where the heads are drawn, the hidden ones,
RetinaFace's label.txt, and images and WIDER FACE files unchanged by them."""

import json
import os

import numpy as np
import pytest

from df2s2_d2.data import (
    LandmarkCounts,
    ensure_synthetic_dataset,
    generate_synthetic_dataset,
    load_retinaface_labels,
    load_wider_face_txt,
    parse_retinaface_labels,
)
from df2s2_d2.data import synthetic_scene
from df2s2_d2.data.synthetic_scene import EVENTS, SceneFace, _draw_head, _Look, head_landmarks
from df2s2_deploy.face_landmarks import LABELLED_HIDDEN, LANDMARK_FLIP_INDICES, VISIBLE
from tests.data.test_synthetic_faces import all_files

SKIN = np.array([150.0, 170.0, 210.0])
BACKGROUND = 200


def draw(face: SceneFace, yaw: float, size=(300, 300)) -> np.ndarray:
    """The head of ``face`` alone (no hair, no glasses) on a flat background."""
    img = np.full((*size, 3), BACKGROUND, np.uint8)
    look = _Look(
        skin=SKIN,
        hair=np.zeros(3),
        has_hair=False,
        glasses=False,
        yaw=yaw,
        expression=face.expression,
    )
    _draw_head(img, face.x + face.w / 2, face.y + face.h / 2, face.w, face.h, look)
    return img.astype(np.float64)


def pixel(img, x, y):
    return img[int(round(y)), int(round(x))]


def test_points_follow_the_drawing_formulas():
    face, t = SceneFace(40, 30, 120, 150), 0.2
    cx, cy, w, h = 100.0, 105.0, 120, 150
    spread = 0.2 * w * (1 - 0.35 * t)
    half = 0.16 * w * (1 - 0.3 * t)
    expected = [
        (cx + 0.22 * t * w - spread, cy - 0.04 * h),
        (cx + 0.22 * t * w + spread, cy - 0.04 * h),
        (cx + 0.32 * t * w, cy + 0.1 * h),
        (cx + 0.25 * t * w - half, cy + 0.27 * h - 0.03 * h),
        (cx + 0.25 * t * w + half, cy + 0.27 * h - 0.03 * h),
    ]
    points = head_landmarks(face, t)
    np.testing.assert_allclose([p[:2] for p in points], expected)
    assert [p[2] for p in points] == [VISIBLE] * 5
    assert points[0][0] < points[2][0] < points[1][0]  # eye_1 has the smaller x
    assert points[3][0] < points[4][0]


def test_points_lie_on_the_drawn_features():
    face = SceneFace(40, 30, 120, 150)
    img = draw(face, 0.0)
    skin = pixel(img, 100, 105 - 0.2 * 150).sum()  # the forehead
    eye_1, eye_2, nose, mouth_1, mouth_2 = head_landmarks(face, 0.0)
    for x, y, _ in (eye_1, eye_2):
        assert pixel(img, x, y).sum() < 0.5 * skin  # the pupil
    assert pixel(img, *nose[:2]).sum() < 0.8 * skin  # skin * 0.7
    for x, y, _ in (mouth_1, mouth_2):  # the ends of the lips' arc, (60, 50, 150)
        assert np.abs(pixel(img, x, y) - (60, 50, 150)).max() < 40
    # beyond the ends of the 4-pixel stroke, skin again
    assert np.abs(pixel(img, mouth_1[0] - 5, mouth_1[1]) - SKIN).max() < 10
    assert np.abs(pixel(img, mouth_2[0] + 5, mouth_2[1]) - SKIN).max() < 10


def test_open_mouth_corners_lie_on_the_open_mouth():
    face = SceneFace(40, 30, 120, 150, expression=1)
    img = draw(face, 0.0)
    *_, mouth_1, mouth_2 = head_landmarks(face, 0.0)
    assert mouth_1[1] == pytest.approx(105 + 0.29 * 150)
    assert np.abs(pixel(img, mouth_1[0] + 2, mouth_1[1]) - (30, 20, 60)).max() < 40
    assert np.abs(pixel(img, mouth_2[0] - 2, mouth_2[1]) - (30, 20, 60)).max() < 40
    assert np.abs(pixel(img, mouth_2[0] + 3, mouth_2[1]) - SKIN).max() < 10


@pytest.mark.parametrize("yaw, hidden", [(0.7, 1), (-0.7, 0)])
def test_far_eye_of_a_turned_head_is_hidden(yaw, hidden):
    face = SceneFace(40, 30, 120, 150, pose=1)
    img = draw(face, yaw)
    points = head_landmarks(face, yaw)
    assert [p[2] for p in points] == [LABELLED_HIDDEN if k == hidden else VISIBLE for k in range(5)]
    seen = points[1 - hidden]
    assert pixel(img, *seen[:2]).sum() < 0.5 * SKIN.sum()  # the visible eye's pupil
    x, y, _ = points[hidden]
    assert np.abs(pixel(img, x, y) - SKIN).max() < 10  # no eye drawn there
    assert face.x < x < face.x + face.w and face.y < y < face.y + face.h


@pytest.mark.parametrize("yaw", [0.0, 0.2, -0.4, 0.7, 0.9])
@pytest.mark.parametrize("expression", [0, 1])
def test_mirrored_head_has_mirrored_points(yaw, expression):
    width = 300
    face = SceneFace(40, 30, 120, 150, expression=expression)
    mirrored = SceneFace(width - 40 - 120, 30, 120, 150, expression=expression)
    points = np.array(head_landmarks(face, yaw))
    flipped = np.array(head_landmarks(mirrored, -yaw))[list(LANDMARK_FLIP_INDICES)]
    np.testing.assert_allclose(flipped[:, 0], width - points[:, 0])
    np.testing.assert_allclose(flipped[:, 1:], points[:, 1:])


def test_points_under_the_occluder_are_hidden():
    face = SceneFace(40, 30, 120, 150)
    occluder = ((28.0, 15.0), (95.0, 195.0))  # the left of the face (nose at x = 100)
    assert [p[2] for p in head_landmarks(face, 0.0, occluder)] == [
        LABELLED_HIDDEN,
        VISIBLE,
        VISIBLE,
        LABELLED_HIDDEN,
        VISIBLE,
    ]


def test_landmarks_draw_nothing_from_the_generator(monkeypatch):
    """The scene, and the generator's state after it, are the same when the landmarks are
    not computed at all: they cost no random number and no pixel."""

    def scene():
        rng = np.random.default_rng(11)
        image, faces = render(rng)
        return image, faces, rng.bit_generator.state

    def render(rng):
        return synthetic_scene.render_scene(rng, 160, 200, EVENTS[1])

    image, faces, state = scene()
    assert any(f.landmarks for f in faces)
    monkeypatch.setattr(synthetic_scene, "head_landmarks", lambda *args: None)
    image_without, faces_without, state_without = scene()
    assert not any(f.landmarks for f in faces_without)
    np.testing.assert_array_equal(image, image_without)
    assert state == state_without
    assert [f.row() for f in faces] == [f.row() for f in faces_without]


def test_landmark_files_leave_every_other_file_unchanged(tmp_path):
    generate_synthetic_dataset(str(tmp_path / "a"), 3, 3, seed=5, image_size=96, landmarks=False)
    generate_synthetic_dataset(str(tmp_path / "b"), 3, 3, seed=5, image_size=96)
    without, with_landmarks = all_files(tmp_path / "a"), all_files(tmp_path / "b")
    labels = {os.path.join("retinaface_gt", s, "label.txt") for s in ("train", "val")}
    assert set(with_landmarks) == set(without) | labels
    assert {k: v for k, v in with_landmarks.items() if k not in labels} == without


@pytest.mark.parametrize("split, folder", [("train", "WIDER_train"), ("val", "WIDER_val")])
def test_label_files_hold_the_wider_boxes_and_the_scene_points(tiny_synthetic, split, folder):
    root, images = tiny_synthetic
    image_root = str(root / folder / "images")
    counts = LandmarkCounts()
    dicts = load_retinaface_labels(
        root / "retinaface_gt" / split / "label.txt", image_root, check_images=True, counts=counts
    )
    wider = load_wider_face_txt(
        root / "wider_face_split" / f"wider_face_{split}_bbx_gt.txt", image_root
    )
    assert [d["image_id"] for d in dicts] == [d["image_id"] for d in wider]
    for d, w, (_, _, faces) in zip(dicts, wider, images[split]):
        assert [a["bbox"] for a in d["annotations"]] == [a["bbox"] for a in w["annotations"]]
        for a, f in zip(d["annotations"], faces):
            if f.invalid:
                assert f.landmarks is None and a["keypoints"] == [0.0] * 15
            else:
                np.testing.assert_allclose(
                    np.reshape(a["keypoints"], (5, 3)), f.landmarks, atol=5e-4
                )
    faces = [f for _, _, fs in images[split] for f in fs]
    assert counts.landmarks_outside_image == 0  # every point lies in its image
    assert counts.faces_with_landmarks == sum(not f.invalid for f in faces)
    assert counts.partly_labelled == 0


def test_label_file_in_retinaface_spelling(tiny_synthetic):
    root, images = tiny_synthetic
    path = root / "retinaface_gt" / "val" / "label.txt"
    lines = path.read_text().splitlines()
    assert lines[0] == f"# {images['val'][0][0]}/{images['val'][0][1]}.jpg"
    faces = [f for _, _, fs in images["val"] for f in fs]
    rows = [r for _, _, rs in parse_retinaface_labels(path) for r in rs]
    assert len(rows) == len(faces)
    for row, f in zip(rows, faces):
        assert row[:4] == [f.x, f.y, f.w, f.h] and row[-1] == 1.0
        flags = row[6:19:3]
        assert flags == ([-1.0] * 5 if f.invalid else [2.0 - v for _, _, v in f.landmarks])
    assert any(r[6:19:3].count(1.0) for r in rows)  # some hidden points in the set


def test_ensure_rewrites_a_set_written_before_the_landmark_files(tmp_path):
    root = tmp_path / "synth"
    params = dict(num_train=1, num_val=1, seed=0, image_size=64)
    generate_synthetic_dataset(str(root), landmarks=False, **params)
    (root / "synthetic.json").write_text(json.dumps(params))  # the stamp of such a set
    assert ensure_synthetic_dataset(str(root), **params) is True
    assert (root / "retinaface_gt" / "train" / "label.txt").is_file()
    assert (root / "retinaface_gt" / "val" / "label.txt").is_file()
    assert ensure_synthetic_dataset(str(root), **params) is False
