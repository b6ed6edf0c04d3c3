"""`wider-face-eval` runs without torch or Detectron2 and prints what the in-process
evaluation of the Detectron2 package prints."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from df2s2_d2.evaluation import evaluate_wider_face, load_wider_face_ground_truth, read_prediction_dir
from df2s2_d2.evaluation.wider_face import main as module_main
from df2s2_deploy.evaluation.wider_face_predictions import write_prediction_file


def random_set(tmp_path, ground_truth_writer):
    """Ground truth of 6 images (random faces and subsets) and noisy predictions for them."""
    rng = np.random.default_rng(0)
    images, subsets, predictions = [], {"easy": [], "medium": [], "hard": []}, {}
    for k in range(6):
        n = int(rng.integers(1, 12))
        xy = rng.integers(0, 400, (n, 2))
        boxes = np.concatenate([xy, rng.integers(4, 80, (n, 2))], axis=1)
        event, name = f"{k % 3}--Event", f"{k % 3}_Event_{k}"
        images.append((event, name, boxes.tolist()))
        hard = list(range(1, n + 1))
        subsets["hard"].append(hard)
        subsets["medium"].append(hard[: max(1, n // 2)])
        subsets["easy"].append(hard[: max(1, n // 3)])
        found = boxes[rng.random(n) < 0.8] + rng.normal(0, 3, (1, 4))
        noise = np.concatenate([rng.uniform(0, 400, (5, 2)), rng.uniform(4, 60, (5, 2))], axis=1)
        rows = np.concatenate([found, noise])
        predictions[(event, name)] = np.column_stack([rows, rng.random(len(rows))])
    gt_dir = ground_truth_writer(str(tmp_path / "gt"), images, subsets)
    for (event, name), rows in predictions.items():
        os.makedirs(tmp_path / "pred" / event, exist_ok=True)
        write_prediction_file(str(tmp_path / "pred" / event / f"{name}.txt"), name, rows)
    return str(tmp_path / "pred"), gt_dir


def test_console_script_output_equals_the_in_process_evaluation_and_imports_no_torch(
    tmp_path, ground_truth_writer, capsys
):
    pred_dir, gt_dir = random_set(tmp_path, ground_truth_writer)
    script = Path(sys.executable).parent / "wider-face-eval"
    assert script.is_file(), f"{script} missing: pip install -e . installs the console scripts"
    run = subprocess.run(
        [sys.executable, "-X", "importtime", str(script), "--pred", pred_dir, "--gt", gt_dir,
         "--json"],
        capture_output=True, text=True, check=True,
    )
    imported = {line.split("|")[-1].strip().split(".")[0]
                for line in run.stderr.splitlines() if line.startswith("import time:")}
    assert "scipy" in imported
    assert not {"torch", "detectron2", "df2s2_d2", "matplotlib"} & imported

    assert module_main(["--pred", pred_dir, "--gt", gt_dir, "--json"]) == 0
    assert run.stdout == capsys.readouterr().out
    gt = load_wider_face_ground_truth(gt_dir)
    curves = evaluate_wider_face(gt, read_prediction_dir(pred_dir, gt.image_keys)[0])
    aps = json.loads(run.stdout.strip().splitlines()[-1])
    assert aps == {subset: curve.ap for subset, curve in curves.items()}
    assert 0 < aps["hard"] < 1
