"""Detectron2's stock tools (lazyconfig_train_net.py, analyze_model.py, benchmark.py)
run on this project's LazyConfig configs, on a tiny synthetic set.

The tools come from Detectron2's source, ``$DETECTRON2_SRC`` (a folder or a .tar.gz
archive; `make test-upstream` sets it), and run on Detectron2 main only.
"""
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from df2s2_d2.data import generate_synthetic_dataset
from tests.common import CONFIGS, PYTHON_ONLY_DETECTRON2

# Small and fast: batch 2 at 128 px for training, shorter side 64 for testing.
TINY = ["dataloader.train.total_batch_size=2", "dataloader.train.num_workers=0",
        "dataloader.test.num_workers=0", "dataloader.train.mapper.augmentations.1.shape=[128,128]",
        "dataloader.test.mapper.augmentations.0.short_edge_length=64",
        "model.max_detections_per_image=50", "train.device=cpu"]


@pytest.fixture(scope="module")
def stock_tools(tmp_path_factory) -> Path:
    """Detectron2's tools/ folder, from $DETECTRON2_SRC (an archive's is unpacked)."""
    if PYTHON_ONLY_DETECTRON2:
        pytest.skip("Detectron2's stock tools run on Detectron2 main built from source; this "
                    "is the v0.6 Python-only fallback (`make test-upstream` runs them)")
    src = Path(os.environ.get("DETECTRON2_SRC", ""))
    if src.is_dir() and (src / "tools").is_dir():
        return src / "tools"
    if not src.is_file():
        pytest.skip("DETECTRON2_SRC is not set to Detectron2's source (folder or .tar.gz), "
                    "which holds its stock tools/")
    dest = tmp_path_factory.mktemp("detectron2_src")
    with tarfile.open(src) as tar:
        members = [m for m in tar.getmembers() if Path(m.name).parts[1:2] == ("tools",)]
        tar.extractall(dest, members=members, filter="data")
    (tools,) = dest.glob("*/tools")
    return tools


@pytest.fixture(scope="module")
def datasets(tmp_path_factory) -> Path:
    """$DETECTRON2_DATASETS with a tiny synth_faces (6 train, 3 val images of 160 px)."""
    root = tmp_path_factory.mktemp("datasets")
    generate_synthetic_dataset(str(root / "synth_faces"), num_train=6, num_val=3, seed=3,
                               image_size=160)
    return root


def run_tool(tools: Path, datasets: Path, cwd: Path, *args) -> str:
    """Run a stock tool with the interpreter of this suite; returns stdout + stderr."""
    env = {**os.environ, "DETECTRON2_DATASETS": str(datasets), "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, *map(str, args)], env=env, cwd=cwd,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def test_lazyconfig_train_net_trains_and_evaluates(stock_tools, datasets, tmp_path):
    run_tool(stock_tools, datasets, tmp_path, stock_tools / "lazyconfig_train_net.py",
             "--config-file", CONFIGS / "Synth/df2s2_R_18_quick.py", *TINY,
             "train.max_iter=3", "lr_multiplier.scheduler.milestones=[1,2]",
             f"train.output_dir={tmp_path}")
    assert (tmp_path / "model_final.pth").exists()
    rows = [json.loads(x) for x in (tmp_path / "metrics.json").read_text().splitlines()]
    assert [r["iteration"] for r in rows if "total_loss" in r][-1] == 2
    assert all("loss_seg" in r for r in rows if "total_loss" in r)
    final = [r for r in rows if "wider_face/AP_easy" in r][-1]
    assert all(0.0 <= final[f"wider_face/AP_{k}"] <= 100.0 for k in ("easy", "medium", "hard"))
    predictions = tmp_path / "inference" / "wider_face_predictions"
    assert len(list(predictions.rglob("*.txt"))) == 3


@pytest.mark.parametrize("config", ["WIDER-FACE/df2s2_R_50.py", "WIDER-FACE/df2s2_R_101.py",
                                    "WIDER-FACE/retinanet_R_50_FPN_P2P7.py"])
def test_analyze_model_counts_the_parameters(stock_tools, datasets, tmp_path, config):
    from detectron2.config import LazyConfig, instantiate

    out = run_tool(stock_tools, datasets, tmp_path, stock_tools / "analyze_model.py",
                   "--tasks", "parameter", "--config-file", CONFIGS / config, "train.device=cpu")
    model = instantiate(LazyConfig.load(str(CONFIGS / config)).model)
    millions = sum(p.numel() for p in model.parameters()) / 1e6
    assert f"| model{' ' * 10}| {millions:.1f}M" in out or f"| {millions:.1f}M" in out


def test_analyze_model_counts_flops(stock_tools, datasets, tmp_path):
    out = run_tool(stock_tools, datasets, tmp_path, stock_tools / "analyze_model.py",
                   "--tasks", "flop", "--num-inputs", "1",
                   "--config-file", CONFIGS / "Synth/df2s2_R_18_quick.py", *TINY)
    assert "Average GFlops for each type of operators" in out
    assert "Total GFlops:" in out


def test_benchmark_runs_the_eval_loop(stock_tools, datasets, tmp_path):
    out = run_tool(stock_tools, datasets, tmp_path, stock_tools / "benchmark.py",
                   "--config-file", CONFIGS / "Synth/df2s2_R_18_quick.py", "--task", "eval",
                   *TINY, "dataloader.test.dataset.names=synth_faces_train")  # it warms up on 5
    assert "300 iters in" in out
