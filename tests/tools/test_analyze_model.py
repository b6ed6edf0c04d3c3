import pytest
from fvcore.nn import FlopCountAnalysis

from detectron2.export import TracingAdapter
from detectron2.modeling import build_model

from tests.common import CONFIGS, get_config, random_image
from tools import analyze_model

CONFIG = "Synth/df2s2_R_18_quick.yaml"
OPTS = ["MODEL.FFP.OUT_CHANNELS", "32", "MODEL.RETINANET.NUM_CONVS", "1"]


def analyze(seg_head: bool):
    opts = [*OPTS, "MODEL.DF2S2.SEG_HEAD", str(seg_head), "MODEL.WEIGHTS", "", "MODEL.DEVICE", "cpu"]
    return analyze_model.main([
        "--config-file", str(CONFIGS / CONFIG), "--tasks", "flop", "parameter", "structure",
        "--num-inputs", "2", "--size", "64", "96", *opts,
    ])


@pytest.fixture(scope="module")
def results():
    return analyze(True), analyze(False)


def test_flops_equal_a_direct_fvcore_count_with_the_seg_head_on_and_off(results):
    with_seg, without_seg = results
    model = build_model(get_config(CONFIG, OPTS)).eval()
    inputs = [{"image": random_image(64, 96)}]
    adapter = TracingAdapter(model, inputs, allow_non_tensor=True)
    direct = FlopCountAnalysis(adapter, adapter.flattened_inputs).total()
    assert with_seg["flop"] == without_seg["flop"] == direct > 0


def test_parameters_and_structure_show_the_training_only_seg_predictor(results):
    with_seg, without_seg = results
    # seg_pred: one 3x3 conv from the 32-channel tower to K = 1 map, with bias.
    assert with_seg["parameter"] - without_seg["parameter"] == 32 * 9 + 1
    assert "(seg_pred): Conv2d(32, 1" in with_seg["structure"]
    assert "seg_pred" not in without_seg["structure"]
