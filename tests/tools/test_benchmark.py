import argparse
import json

import pytest
from detectron2.modeling import build_model

from df2s2_deploy.cpu_info import SPEED_FLAGS
from tests.common import CONFIGS, small_cfg
from tools import benchmark


def test_sizes_are_width_by_height_and_bad_ones_are_named():
    assert benchmark.parse_size("640x512") == (512, 640)
    with pytest.raises(argparse.ArgumentTypeError, match="'640by512': expected WIDTHxHEIGHT"):
        benchmark.parse_size("640by512")


def test_rounds_run_every_call_once_in_rotated_order_and_skip_warmup():
    order = []
    calls = {name: (lambda name=name: order.append(name)) for name in "abc"}
    times = benchmark.interleaved(calls, rounds=3, warmup=1, cuda=False)
    assert order == list("abc" "bca" "cab" "abc")
    assert {name: len(ms) for name, ms in times.items()} == {"a": 3, "b": 3, "c": 3}


def test_eval_graph_counts_leave_out_the_seg_predictor():
    image = benchmark.random_image(64, 96, seed=0)
    with_seg = build_model(small_cfg(["MODEL.DF2S2.SEG_HEAD", True])).eval()
    without_seg = build_model(small_cfg(["MODEL.DF2S2.SEG_HEAD", False])).eval()
    params, gflops = benchmark.eval_graph_counts(with_seg, image)
    seg_params = sum(p.numel() for p in with_seg.head.seg_pred.parameters())
    assert seg_params > 0
    assert params == sum(p.numel() for p in with_seg.parameters()) - seg_params
    assert (params, gflops) == benchmark.eval_graph_counts(without_seg, image)
    assert gflops > 0


def test_cli_reports_every_model_size_and_training_variant(tmp_path, capsys):
    small = ["MODEL.RESNETS.DEPTH", "18", "MODEL.RESNETS.RES2_OUT_CHANNELS", "64",
             "MODEL.RETINANET.NUM_CONVS", "1"]
    report = benchmark.main([
        "--config-file", str(CONFIGS / "Synth/df2s2_R_18_quick.yaml"), "--device", "cpu",
        "--sizes", "96x64", "64x64", "--rounds", "2", "--warmup", "0", "--train-size", "64",
        "--output", str(tmp_path / "bench.json"), *small,
    ])
    assert json.loads((tmp_path / "bench.json").read_text()) == report
    models = ["df2s2_R_18_quick", "retinanet_R_50_FPN_P2P7", "retinanet_R_50_FPN_1x (Detectron2)"]
    assert sorted((r["model"], r["width"], r["height"]) for r in report["inference"]) == sorted(
        (m, w, h) for m in models for w, h in ((96, 64), (64, 64))
    )
    assert all(len(r["ms"]) == 2 for r in report["inference"] + report["training"])
    assert [r["model"] for r in report["training"]] == [
        "df2s2_R_18_quick, seg on", "df2s2_R_18_quick, seg off"
    ]
    printed = capsys.readouterr().out
    assert "| df2s2_R_18_quick / retinanet_R_50_FPN_P2P7: ms | GFLOPs | params |" in printed
    assert "| seg on / seg off |" in printed


def test_deploy_mode_times_eager_and_deploy_runtimes_at_every_size(capsys):
    report = benchmark.main([
        "--config-file", str(CONFIGS / "Synth/df2s2_R_18_quick.yaml"), "--deploy",
        "--sizes", "96x64", "64x64", "--rounds", "2", "--warmup", "0",
        "MODEL.FFP.OUT_CHANNELS", "32", "MODEL.RETINANET.NUM_CONVS", "1",
    ])
    names = ["eager (PyTorch, FaceDetector)", "deploy (onnxruntime + numpy)"]
    assert sorted((r["model"], tuple(r["size"])) for r in report["inference"]) == sorted(
        (n, s) for n in names for s in ((64, 96), (64, 64))
    )
    assert all(len(r["ms"]) == 2 for r in report["inference"])
    assert "| 96x64 | " in capsys.readouterr().out


@pytest.mark.parametrize("output", ["config_link", "unwritable"])
def test_a_bad_output_is_refused_before_any_measurement(tmp_path, output):
    from df2s2_deploy.output_paths import OutputPathError
    from tests.data.bad_input import file_digests

    config = tmp_path / "config.yaml"
    config.write_text(benchmark.get_df2s2_cfg(str(CONFIGS / "Synth/df2s2_R_18_quick.yaml")).dump())
    blocker = tmp_path / "file"
    blocker.write_text("x")
    if output == "config_link":
        out = tmp_path / "bench.json"
        out.symlink_to(config)
        expected = f"resolves to {config}"
    else:
        out, expected = blocker / "bench.json", f"{blocker} is not a folder"
    before = file_digests(config, blocker)
    with pytest.raises(OutputPathError, match=expected):
        benchmark.main(["--config-file", str(config), "--device", "cpu", "--output", str(out)])
    assert file_digests(config, blocker) == before


def test_deploy_mode_adds_batched_and_int8_runs(capsys):
    report = benchmark.main([
        "--config-file", str(CONFIGS / "Synth/df2s2_R_18_quick.yaml"), "--deploy",
        "--sizes", "96x64", "--rounds", "1", "--warmup", "0", "--batch-sizes", "1", "3", "--int8",
        "MODEL.FFP.OUT_CHANNELS", "32", "MODEL.RETINANET.NUM_CONVS", "1",
    ])
    names = {r["model"] for r in report["inference"]}
    assert names == {"eager (PyTorch, FaceDetector)", "deploy (onnxruntime + numpy)",
                     "deploy, batch 3 (per image)", "deploy int8 (onnxruntime + numpy)"}
    printed = capsys.readouterr().out
    assert "| 96x64 | " in printed.split("int8 / fp32 deploy time |")[1]
    # int8 speed depends on VNNI: the report and the header name the CPU's flags
    assert set(report["cpu_flags"]) <= set(SPEED_FLAGS)
    assert f"{report['cpu']} (" in printed
