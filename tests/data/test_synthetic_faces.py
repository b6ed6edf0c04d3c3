"""The synthetic face data set and the official-format writers."""

import json
import os

import numpy as np
import pytest
import scipy.io
from PIL import Image

from df2s2_d2.data import (
    FaceCounts,
    generate_synthetic_dataset,
    in_subset,
    load_wider_face_txt,
    parse_wider_face_txt,
    write_wider_face_mat,
    write_wider_face_txt,
)
from df2s2_d2.data.synthetic import main as synthetic_main
from df2s2_d2.data.synthetic_scene import MIN_FACE_PX, SceneFace
from df2s2_d2.data.wider_face_writer import gt_index_array

SUBSETS = ("easy", "medium", "hard")
MAT_FILES = ["wider_face_val.mat"] + [f"wider_{s}_val.mat" for s in SUBSETS]


def all_files(root):
    out = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, root)] = f.read()
    return out


def test_same_arguments_give_the_same_bytes(tmp_path):
    generate_synthetic_dataset(str(tmp_path / "a"), 3, 3, seed=7, image_size=96)
    generate_synthetic_dataset(str(tmp_path / "b"), 3, 3, seed=7, image_size=96)
    generate_synthetic_dataset(str(tmp_path / "c"), 3, 3, seed=8, image_size=96)
    a, b, c = (all_files(tmp_path / x) for x in "abc")
    assert len(a) == 3 + 3 + 2 + 4 + 2  # images, two txt files, four .mat files, two label.txt
    assert a == b
    assert a != c


def test_layout(tiny_synthetic):
    root, images = tiny_synthetic
    assert sorted(os.listdir(root / "wider_face_split")) == [
        "wider_face_train_bbx_gt.txt",
        "wider_face_val_bbx_gt.txt",
    ]
    assert sorted(os.listdir(root / "eval_tools" / "ground_truth")) == sorted(MAT_FILES)
    for split, folder in (("train", "WIDER_train"), ("val", "WIDER_val")):
        for event, name, _ in images[split]:
            assert (root / folder / "images" / event / f"{name}.jpg").is_file()


@pytest.mark.parametrize("split", ["train", "val"])
def test_txt_parses_back_to_the_written_faces(tiny_synthetic, split):
    root, images = tiny_synthetic
    folder = "WIDER_train" if split == "train" else "WIDER_val"
    text = (root / "wider_face_split" / f"wider_face_{split}_bbx_gt.txt").read_text()
    assert all(line.endswith(" ") for line in text.splitlines() if len(line.split()) == 10)
    counts = FaceCounts()
    dicts = load_wider_face_txt(
        root / "wider_face_split" / f"wider_face_{split}_bbx_gt.txt",
        str(root / folder / "images"),
        check_images=True,
        counts=counts,
    )
    assert [d["image_id"] for d in dicts] == [f"{e}/{n}" for e, n, _ in images[split]]
    for d, (_, _, faces) in zip(dicts, images[split]):
        assert [a["bbox"] for a in d["annotations"]] == [[f.x, f.y, f.w, f.h] for f in faces]
        assert [a["iscrowd"] for a in d["annotations"]] == [f.invalid for f in faces]
        assert [a["occlusion"] for a in d["annotations"]] == [f.occlusion for f in faces]
    assert counts.ignored == sum(f.invalid for _, _, fs in images[split] for f in fs)


def test_images_and_faces_have_the_promised_sizes(tiny_synthetic, tiny_image_size):
    root, images = tiny_synthetic
    for split, folder in (("train", "WIDER_train"), ("val", "WIDER_val")):
        for event, name, faces in images[split]:
            with Image.open(root / folder / "images" / event / f"{name}.jpg") as im:
                w, h = im.size
            assert max(w, h) == tiny_image_size
            for f in faces:
                assert 0 <= f.x and f.x + f.w <= w and 0 <= f.y and f.y + f.h <= h
                assert MIN_FACE_PX - 1 <= f.scale <= min(w, h) / 2 + 1


def load_mat(path):
    return scipy.io.loadmat(str(path))


def test_mat_files_have_the_official_structure(tiny_synthetic):
    root, images = tiny_synthetic
    gt_dir = root / "eval_tools" / "ground_truth"
    val = images["val"]
    events = sorted({e for e, _, _ in val})
    for mat_name in MAT_FILES:
        m = load_mat(gt_dir / mat_name)
        for key in ("event_list", "file_list", "face_bbx_list"):
            assert m[key].shape == (len(events), 1) and m[key].dtype == object
        assert [m["event_list"][i][0][0] for i in range(len(events))] == events
        names = [
            f"{m['event_list'][i][0][0]}/{f[0][0]}"
            for i in range(len(events))
            for f in m["file_list"][i][0]
        ]
        assert names == [f"{e}/{n}" for e, n, _ in val]
        boxes = [b[0] for i in range(len(events)) for b in m["face_bbx_list"][i][0]]
        for (_, _, faces), b in zip(val, boxes):
            assert b.dtype == np.int32 and b.shape == (max(len(faces), 1), 4)
            assert b.tolist() == ([[f.x, f.y, f.w, f.h] for f in faces] or [[0, 0, 0, 0]])
        assert ("gt_list" in m) == (mat_name != "wider_face_val.mat")


def test_subsets_follow_the_rule_and_nest(tiny_synthetic):
    root, images = tiny_synthetic
    gt_dir = root / "eval_tools" / "ground_truth"
    members = {}
    for subset in SUBSETS:
        m = load_mat(gt_dir / f"wider_{subset}_val.mat")
        lists = [g[0] for i in range(len(m["gt_list"])) for g in m["gt_list"][i][0]]
        members[subset] = set()
        for k, ((event, name, faces), gt) in enumerate(zip(images["val"], lists)):
            assert gt.dtype == np.uint8 and (gt.shape[1:] == (1,) or gt.shape == (0, 0))
            indices = gt.ravel().tolist()
            assert indices == [j + 1 for j, f in enumerate(faces) if in_subset(f, subset)]
            members[subset] |= {(k, j) for j in indices}
            assert not any(faces[j - 1].invalid for j in indices)
    assert members["easy"] <= members["medium"] <= members["hard"]
    assert len(members["easy"]) > 0 and len(members["hard"]) > len(members["easy"])


def test_subset_rule():
    big_clear = SceneFace(0, 0, 30, 36)  # scale ~32.9
    assert [in_subset(big_clear, s) for s in SUBSETS] == [True, True, True]
    assert [in_subset(SceneFace(0, 0, 20, 20), s) for s in SUBSETS] == [False, True, True]
    assert [in_subset(SceneFace(0, 0, 40, 40, blur=1), s) for s in SUBSETS] == [False, True, True]
    assert [in_subset(SceneFace(0, 0, 40, 40, occlusion=2), s) for s in SUBSETS] == [
        False,
        False,
        True,
    ]
    assert [in_subset(SceneFace(0, 0, 8, 8), s) for s in SUBSETS] == [False, False, True]
    assert [in_subset(SceneFace(0, 0, 40, 40, invalid=1), s) for s in SUBSETS] == [False] * 3


def test_structure_matches_the_real_ground_truth(tiny_synthetic, wider_face_annotations):
    root, _ = tiny_synthetic
    for mat_name in MAT_FILES:
        ours = load_mat(root / "eval_tools" / "ground_truth" / mat_name)
        real = load_mat(wider_face_annotations / "eval_tools" / "ground_truth" / mat_name)
        keys = {k for k in real if not k.startswith("__")}
        assert {k for k in ours if not k.startswith("__")} == keys
        for key in keys:
            assert ours[key].shape[1:] == real[key].shape[1:] == (1,)
            leaf_ours, leaf_real = ours[key][0][0], real[key][0][0]
            if key == "event_list":
                assert leaf_ours.dtype.kind == leaf_real.dtype.kind == "U"
                continue
            assert leaf_ours.shape[1:] == leaf_real.shape[1:] == (1,)
            inner_ours, inner_real = leaf_ours[0][0], leaf_real[0][0]
            assert inner_ours.dtype.kind == inner_real.dtype.kind
            if key != "file_list":
                assert inner_ours.dtype == inner_real.dtype, key
                assert inner_ours.shape[1:] == inner_real.shape[1:], key


def test_zero_face_images_are_written_in_the_split_forms(tmp_path):
    images = [("0--Parade", "empty", []), ("0--Parade", "one", [[1, 2, 3, 4, 0, 0, 0, 0, 0, 0]])]
    write_wider_face_txt(tmp_path / "train.txt", images, "train")
    write_wider_face_txt(tmp_path / "val.txt", images, "val")
    assert (
        (tmp_path / "train.txt")
        .read_text()
        .startswith("0--Parade/empty.jpg\n0\n0 0 0 0 0 0 0 0 0 0 \n")
    )
    assert (
        (tmp_path / "val.txt")
        .read_text()
        .startswith("0--Parade/empty.jpg\n1\n0 0 0 0 0 0 0 0 0 0 \n")
    )
    for split in ("train", "val"):
        entries = parse_wider_face_txt(tmp_path / f"{split}.txt")
        assert [len(rows) for _, _, rows in entries] == ([0, 1] if split == "train" else [1, 1])
        dicts = load_wider_face_txt(tmp_path / f"{split}.txt", "r")
        assert [len(d["annotations"]) for d in dicts] == [0, 1]

    write_wider_face_mat(tmp_path / "hard.mat", images, subset=[[], [0]])
    m = load_mat(tmp_path / "hard.mat")
    assert m["face_bbx_list"][0][0][0][0].tolist() == [[0, 0, 0, 0]]
    assert m["gt_list"][0][0][0][0].shape == (0, 0)
    assert m["gt_list"][0][0][1][0].tolist() == [[1]]


def test_gt_index_array_types_as_official():
    assert gt_index_array([1, 2], 5).dtype == np.uint8 and gt_index_array([1, 2], 5).shape == (2, 1)
    assert gt_index_array([3, 300], 400).dtype == np.uint16
    assert gt_index_array([], 1).shape == (0, 0)  # one face, not in the subset
    assert gt_index_array([], 4).shape == (0, 1)


def test_command_line(tmp_path, capsys):
    synthetic_main(
        [
            "--out",
            str(tmp_path),
            "--num-train",
            "1",
            "--num-val",
            "2",
            "--seed",
            "0",
            "--image-size",
            "64",
        ]
    )
    assert "train: 1 images" in capsys.readouterr().out
    assert (
        len(parse_wider_face_txt(tmp_path / "wider_face_split" / "wider_face_val_bbx_gt.txt")) == 2
    )


def test_ensure_synthetic_dataset_writes_once_per_set_of_arguments(tmp_path):
    from df2s2_d2.data import ensure_synthetic_dataset

    root = tmp_path / "synth"
    params = dict(num_train=1, num_val=1, seed=0, image_size=96)
    assert ensure_synthetic_dataset(str(root), **params) is True
    assert ensure_synthetic_dataset(str(root), **params) is False
    assert ensure_synthetic_dataset(str(root), **{**params, "seed": 1}) is True
    assert json.loads((root / "synthetic.json").read_text())["seed"] == 1
