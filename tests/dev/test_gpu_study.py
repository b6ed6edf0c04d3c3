"""dev/gpu_study.py: its --smoke mode runs every part on the CPU and writes the report."""
import json
import math

import pytest
import torch

from dev import gpu_study


def test_smoke_mode_measures_every_model_batch_and_precision_and_writes_the_report(tmp_path):
    out = tmp_path / "gpu"
    report = gpu_study.main(["--smoke", "--output-dir", str(out), "--work-dir", str(tmp_path / "work")])
    rows = {(r["model"], r["batch"], r["amp"]) for r in report["inference"]}
    models = {"df2s2_R_50", "retinanet_R_50_FPN_P2P7", "retinanet_R_50_FPN_1x (Detectron2)"}
    assert rows == {(m, b, p) for m in models for b in (1, 2) for p in ("float32", "bfloat16 autocast")}
    assert all(r["fps"] > 0 for r in report["inference"])
    assert [r["amp"] for r in report["training"]] == ["float32", "bfloat16 autocast"]
    assert all(math.isfinite(r["loss"]) and r["iters_per_s"] > 0 for r in report["training"])
    study = report["seg_study"]["command"]
    assert report["seg_study"]["ran"] is False and "-m dev.seg_study --device cuda --iters 2000" in study
    # the seg study's four Table 2 variants, five seeds
    assert "--variants retinanet_p2p7 seg fus df2s2 --seeds 0 1 2 3 4" in study
    assert json.loads((out / "gpu_study.json").read_text())["inference"] == report["inference"]
    table = (out / "gpu_study.md").read_text()
    assert "| df2s2_R_50 | 64x64 | 2 | bfloat16 autocast |" in table and "26.45 FPS" in table


def test_the_full_study_without_cuda_is_a_clear_error(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(SystemExit, match="no CUDA device.*--smoke"):
        gpu_study.main(["--output-dir", str(tmp_path / "gpu")])
    assert not (tmp_path / "gpu").exists()
