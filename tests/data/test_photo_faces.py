"""The photo-like face data set: real face crops and procedural heads on people-free photos."""
import os

import numpy as np
import pytest

from df2s2_d2.data import (
    MissingSourceError,
    PhotoRecipe,
    generate_photo_dataset,
    load_photo_sources,
    load_wider_face_txt,
)
from df2s2_d2.data.photo_scene import VAL_FACES, render_photo_scene
from df2s2_d2.data.photo_sources import BACKGROUND_FILES, FACE_FILE
from df2s2_d2.data.synthetic_scene import EVENTS
from tests.data.test_synthetic_faces import all_files


@pytest.fixture(scope="module")
def sources():
    return load_photo_sources()


def test_sources_are_the_lfw_crops_and_the_people_free_photos(sources):
    assert sources.faces.shape == sources.non_faces.shape == (100, 25, 25)
    assert [name for name, _ in sources.backgrounds] == list(BACKGROUND_FILES)
    # the photos with people in skimage/data stay out
    assert not {"astronaut.png", "camera.png", "coins.png"} & set(BACKGROUND_FILES)


def test_same_seed_same_bytes(tmp_path):
    generate_photo_dataset(str(tmp_path / "a"), 3, 2, seed=5, image_size=96)
    generate_photo_dataset(str(tmp_path / "b"), 3, 2, seed=5, image_size=96)
    generate_photo_dataset(str(tmp_path / "c"), 3, 2, seed=6, image_size=96)
    a, b, c = (all_files(tmp_path / x) for x in "abc")
    assert a == b and a != c
    records = load_wider_face_txt(str(tmp_path / "a" / "wider_face_split" / "wider_face_train_bbx_gt.txt"),
                                  str(tmp_path / "a" / "WIDER_train" / "images"))
    assert len(records) == 3


def _render(sources, recipe, seed, split_ids=None):
    rng = np.random.default_rng(seed)
    return render_photo_scene(rng, 192, 256, EVENTS[0], sources, recipe, True, split_ids)


def test_real_faces_are_pasted_without_landmarks_procedural_ones_with(sources):
    real = [f for s in range(6) for f in _render(sources, PhotoRecipe(real_faces=1.0), s)[1]]
    drawn = [f for s in range(6) for f in _render(sources, PhotoRecipe(real_faces=0.0), s)[1]]
    assert real and drawn
    assert all(f.landmarks is None for f in real)
    assert all(f.landmarks is not None for f in drawn if not f.invalid)
    assert all(f.pose == 0 for f in real)  # a real crop cannot turn its head


@pytest.mark.parametrize("real", [True, False])
def test_face_box_is_the_face_not_the_head(sources, real):
    # WIDER FACE's box is brow to chin: the head drawn around it reaches well above the
    # box and hardly below it
    from df2s2_d2.data.photo_scene import _draw_procedural_face, _draw_real_face
    from df2s2_d2.data.synthetic_scene import SceneFace, _Look

    face = SceneFace(60, 80, 60, 78)
    look = _Look(skin=np.array([150.0, 170, 210]), hair=np.array([20.0, 20, 20]), has_hair=True,
                 glasses=False, yaw=0.0, expression=0)
    image = np.zeros((240, 180, 3), np.uint8)
    if real:
        _draw_real_face(image, np.random.default_rng(0), face, sources.faces[0], look)
    else:
        _draw_procedural_face(image, face, look)
    rows = np.nonzero(image[:, face.x + face.w // 2].sum(axis=1) > 0)[0]
    assert rows.min() < face.y - 0.15 * face.h  # hair and skull above the brow
    assert rows.max() <= face.y + face.h + 0.05 * face.h  # the chin ends the box
    columns = np.nonzero(image[face.y + face.h // 2].sum(axis=1) > 0)[0]
    assert columns.min() < face.x and columns.max() > face.x + face.w  # ears beyond the cheeks


def test_val_faces_are_held_out(sources):
    train_ids = np.arange(100 - VAL_FACES)
    seen = []
    import df2s2_d2.data.photo_scene as scene

    original = scene._real_face_patch

    def spy(rng, crop, w, h, skin):
        seen.append(crop)
        return original(rng, crop, w, h, skin)

    scene._real_face_patch = spy
    try:
        for seed in range(4):
            _render(sources, PhotoRecipe(real_faces=1.0), seed, train_ids)
    finally:
        scene._real_face_patch = original
    assert seen
    val = sources.faces[100 - VAL_FACES:]
    assert not any(np.array_equal(c, v) for c in seen for v in val)


def test_missing_source_is_named_before_any_file(tmp_path, monkeypatch):
    import df2s2_d2.data.photo_sources as photo_sources

    monkeypatch.setattr(photo_sources, "skimage_data_dir", lambda: str(tmp_path / "nowhere"))
    with pytest.raises(MissingSourceError, match=f"{FACE_FILE}.*scikit-image"):
        generate_photo_dataset(str(tmp_path / "out"), 2, 1, image_size=64)
    assert not os.path.exists(tmp_path / "out")


def test_unreadable_background_is_named(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    np.save(data / FACE_FILE, np.zeros((200, 25, 25)))
    (data / BACKGROUND_FILES[0]).write_bytes(b"not a png")
    with pytest.raises(MissingSourceError, match=f"{BACKGROUND_FILES[0]}.*scikit-image.*unreadable"):
        load_photo_sources(str(data))


def test_command_line_writes_the_photo_like_set(tmp_path, capsys):
    from df2s2_d2.data.synthetic import main as synthetic_main

    args = ["--num-train", "2", "--num-val", "1", "--image-size", "64", "--seed", "3"]
    synthetic_main(["--kind", "photo", "--out", str(tmp_path / "photo"), *args])
    assert "train: 2 images" in capsys.readouterr().out
    generate_photo_dataset(str(tmp_path / "direct"), 2, 1, seed=3, image_size=64)
    synthetic_main(["--out", str(tmp_path / "cartoon"), *args])
    photo = all_files(tmp_path / "photo")
    assert photo == all_files(tmp_path / "direct") and photo != all_files(tmp_path / "cartoon")


def test_ensure_writes_once_per_recipe(tmp_path):
    from df2s2_d2.data import ensure_photo_dataset

    params = dict(num_train=2, num_val=1, image_size=64)
    assert ensure_photo_dataset(str(tmp_path), **params)
    assert not ensure_photo_dataset(str(tmp_path), **params)
    assert ensure_photo_dataset(str(tmp_path), PhotoRecipe(photometric=False), **params)


def test_every_body_is_drawn_before_any_face(sources, monkeypatch):
    # a body drawn after a face would cover it, leaving a box on a shirt
    import df2s2_d2.data.photo_scene as scene

    calls = []
    for name in ("_draw_clothed_body", "_draw_real_face", "_draw_procedural_face"):
        original = getattr(scene, name)
        monkeypatch.setattr(scene, name, lambda *a, _o=original, _n=name: (calls.append(_n), _o(*a))[1])
    rng = np.random.default_rng(1)
    _, faces = render_photo_scene(rng, 192, 256, EVENTS[1], sources, PhotoRecipe(real_faces=0.5))
    assert len(faces) >= 3
    bodies = [k for k, c in enumerate(calls) if c == "_draw_clothed_body"]
    drawn = [k for k, c in enumerate(calls) if c != "_draw_clothed_body"]
    assert len(bodies) == len(drawn) == len(faces) and max(bodies) < min(drawn)
