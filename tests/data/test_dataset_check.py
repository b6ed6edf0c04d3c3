"""The dataset checker: decodes every image, compares sizes, validates boxes, exits 1
on problems and names the files."""

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from detectron2.data import DatasetCatalog
from detectron2.structures import BoxMode

from df2s2_d2.data import generate_synthetic_dataset
from df2s2_d2.data.check import check_dataset, main
from tests.common import get_config
from tests.data.bad_input import digests, write_jpeg, write_truncated_jpeg

REPO = Path(__file__).resolve().parents[2]


def box(x, y, w, h):
    return {"bbox": [x, y, w, h], "bbox_mode": BoxMode.XYWH_ABS, "category_id": 0}


@pytest.fixture
def registered(tmp_path):
    """Register datasets (name -> dicts) for one test, removed afterwards."""
    names = []

    def register(name, dicts):
        DatasetCatalog.register(name, lambda: dicts)
        names.append(name)
        return name

    yield register
    for name in names:
        DatasetCatalog.remove(name)


def clean_dicts(tmp_path, n=2):
    return [
        {
            "file_name": str(write_jpeg(tmp_path / "img" / f"ok{k}.jpg", seed=k)),
            "height": 24,
            "width": 32,
            "annotations": [box(2, 2, 10, 10)],
        }
        for k in range(n)
    ]


def test_clean_dataset_passes(tmp_path, registered, capsys):
    name = registered("check_clean", clean_dicts(tmp_path))
    assert main([name, "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "All datasets are clean." in out and "| check_clean" in out and "OK" in out


def test_every_kind_of_problem_is_found_counted_and_named(tmp_path, registered, capsys):
    dicts = clean_dicts(tmp_path)
    truncated = write_truncated_jpeg(tmp_path / "img" / "truncated.jpg")
    empty = tmp_path / "img" / "empty.jpg"
    empty.write_bytes(b"")
    thin = tmp_path / "img" / "thin.png"
    cv2.imwrite(str(thin), np.zeros((1, 20000, 3), np.uint8))
    dicts += [
        {"file_name": str(truncated), "height": 24, "width": 32, "annotations": []},
        {"file_name": str(empty), "annotations": []},
        {"file_name": str(thin), "annotations": []},
        {"file_name": dicts[0]["file_name"], "height": 30, "width": 32, "annotations": []},
        {
            "file_name": dicts[1]["file_name"],
            "annotations": [
                box(1, 1, 0, 5),
                box(1, 1, -3, 5),
                box(np.nan, 1, 3, 3),
                box(99, 1, 3, 3),
            ],
        },
    ]
    name = registered("check_bad", dicts)
    before = digests(tmp_path)
    report = check_dataset(name, get_config(), progress=False)
    assert report.images == 7 and not report.ok
    assert [report.count(k) for k in ("unreadable", "size_mismatch", "too_thin")] == [2, 1, 1]
    assert report.count("boxes_empty") == 1  # one image, two boxes
    assert "2 box(es)" in report.problems["boxes_empty"][0]
    assert report.count("boxes_not_finite") == 1 and report.count("boxes_outside_image") == 1
    assert any("truncated.jpg" in m for m in report.problems["unreadable"])
    assert any("empty.jpg" in m for m in report.problems["unreadable"])
    assert "thin.png" in report.problems["too_thin"][0]

    assert main([name, "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "PROBLEMS" in out and "truncated.jpg" in out and "Problems in: check_bad" in out
    assert digests(tmp_path) == before


def test_unknown_dataset_and_broken_annotation_file_are_reported(tmp_path, registered, capsys):
    def broken():
        raise ValueError(f"{tmp_path}/gt.txt, line 3: expected a count")

    DatasetCatalog.register("check_broken", broken)
    try:
        assert main(["no_such_dataset", "check_broken", "--no-progress"]) == 1
    finally:
        DatasetCatalog.remove("check_broken")
    out = capsys.readouterr().out
    assert "'no_such_dataset' is not a registered dataset" in out
    assert "gt.txt, line 3: expected a count" in out and "NOT LOADED" in out


def test_bad_config_file_is_a_usage_error(tmp_path):
    (tmp_path / "empty.yaml").write_text("")
    with pytest.raises(SystemExit) as info:
        main(["--config-file", str(tmp_path / "empty.yaml"), "synth_faces_val"])
    assert info.value.code == 2


def test_tool_finds_a_truncated_image_of_a_project_dataset(tmp_path):
    """tools/check_dataset.py on synth_faces_val (registered by importing the project)."""
    root = tmp_path / "datasets"
    generate_synthetic_dataset(
        str(root / "synth_faces"), num_train=1, num_val=3, seed=1, image_size=64
    )
    val_dir = root / "synth_faces" / "WIDER_val" / "images"
    victim = sorted(val_dir.rglob("*.jpg"))[1]
    victim.write_bytes(victim.read_bytes()[:200])
    env = dict(os.environ, DETECTRON2_DATASETS=str(root), OMP_NUM_THREADS="1")
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "tools" / "check_dataset.py"),
            "synth_faces_val",
            "--no-progress",
            "--config-file",
            str(REPO / "configs" / "Synth" / "df2s2_R_18_quick.yaml"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 1, result.stderr
    assert victim.name in result.stdout and "Problems in: synth_faces_val" in result.stdout
