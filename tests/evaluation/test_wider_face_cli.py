"""`python -m df2s2_d2.evaluation.wider_face`: APs, JSON last line, reported problems."""

import json
import logging
import os

import pytest

from df2s2_d2.evaluation.wider_face import main

# Image a: face 1 in every subset, face 2 only in hard. Image b: one face in medium and hard.
IMAGES = [
    ("0--Parade", "0_Parade_a", [[0, 0, 9, 9], [100, 100, 9, 9]]),
    ("1--Handshaking", "1_Handshaking_b", [[10, 10, 20, 20]]),
]
SUBSETS = {"easy": [[1], []], "medium": [[1], [1]], "hard": [[1, 2], [1]]}


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


@pytest.fixture
def dirs(tmp_path, ground_truth_writer):
    gt_dir = ground_truth_writer(str(tmp_path / "gt"), IMAGES, SUBSETS)
    pred = tmp_path / "pred"
    # Face 1 at score 1.0, face 2 at score 0.0 (normalised: 1 and 0).
    write(pred / "0--Parade" / "0_Parade_a.txt", "0_Parade_a\n2\n0 0 9 9 1.0\n100 100 9 9 0.0\n")
    write(
        pred / "1--Handshaking" / "1_Handshaking_b.txt", "1_Handshaking_b\n2\n10 10 20 20 0.9\n"
    )  # 1 row of 2
    write(pred / "0--Parade" / "stray.txt", "stray\n0\n")
    return str(pred), gt_dir


def test_prints_the_three_aps_and_a_json_last_line(dirs, capsys, caplog):
    pred_dir, gt_dir = dirs
    with caplog.at_level(logging.WARNING):
        assert main(["--pred", pred_dir, "--gt", gt_dir, "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    # easy: 1 face found, the face-2 detection dropped: AP 1.
    # medium: 1 of 2 faces (image b's file is rejected), precision 1: AP 0.5.
    # hard: 1 of 3 faces above threshold 0, 2 of 3 at threshold 0, precision 1: AP 2/3.
    assert json.loads(lines[-1]) == pytest.approx(
        {"easy": 1.0, "medium": 0.5, "hard": 2 / 3}, abs=1e-12
    )
    assert lines[1].split() == ["Easy", "1.000000"]
    rejected = os.path.join(pred_dir, "1--Handshaking", "1_Handshaking_b.txt") + ":2:"
    assert any(rejected in r.getMessage() for r in caplog.records)
    assert any(os.path.join("0--Parade", "stray.txt") in r.getMessage() for r in caplog.records)


def test_missing_ground_truth_exits_with_an_error(dirs, tmp_path, capsys):
    pred_dir, _ = dirs
    with pytest.raises(SystemExit) as exit:
        main(["--pred", pred_dir, "--gt", str(tmp_path / "nothing")])
    assert exit.value.code == 2
    assert "wider_face_val.mat: not found" in capsys.readouterr().err
