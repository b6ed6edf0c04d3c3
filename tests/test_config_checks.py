"""Config values out of range are refused when the config is loaded, naming the key and
the allowed range; every config file of the project passes."""
import hashlib

import pytest

from df2s2_d2 import get_df2s2_cfg
from df2s2_d2.config_checks import ConfigValueError
from tests.common import CONFIGS

CONFIG = CONFIGS / "Synth/df2s2_R_18_quick.yaml"


@pytest.mark.parametrize("key, value, allowed", [
    ("MODEL.DF2S2.SEG_LOSS_WEIGHT", -0.05, "a number >= 0"),
    ("MODEL.DF2S2.BOX_LOSS_WEIGHT", -1.0, "a number >= 0"),
    ("MODEL.RETINANET.FOCAL_LOSS_GAMMA", -2.0, "a number >= 0"),
    ("MODEL.RETINANET.FOCAL_LOSS_ALPHA", 1.5, r"a number in \[0, 1\]"),
    ("INPUT.FACE_AUG.TRAIN_SIZE", 0, "an integer >= 1"),
    ("INPUT.MIN_SIZE_TEST", -1, "an integer >= 0"),
    ("INPUT.MAX_SIZE_TEST", 0, "an integer >= 1"),
    ("SOLVER.IMS_PER_BATCH", 0, "an integer >= 1"),
    ("SOLVER.CHECKPOINT_PERIOD", 0, "an integer >= 1"),
    ("SOLVER.MAX_ITER", 0, "an integer >= 1"),
    ("TEST.EVAL_PERIOD", -1, "an integer >= 0"),
    ("MODEL.PIXEL_STD", "[57.375, 0.0, 58.395]", "non-zero numbers"),
    ("MODEL.RETINANET.IOU_THRESHOLDS", "[0.5, 0.4]", r"increasing numbers in \[0, 1\]"),
    ("MODEL.RETINANET.IOU_LABELS", "[0, 1]", "3 labels"),
    ("MODEL.ANCHOR_GENERATOR.SIZES", "[[16], [32]]", r"1 list, or one per level of MODEL.RETINANET.IN_FEATURES \(6\)"),
])
def test_a_value_out_of_range_is_refused_at_load_naming_the_key_and_range(key, value, allowed):
    before = hashlib.sha256(CONFIG.read_bytes()).hexdigest()
    with pytest.raises(ConfigValueError, match=rf"^{key}: expected {allowed}.*found"):
        get_df2s2_cfg(str(CONFIG), [key, str(value)])
    assert hashlib.sha256(CONFIG.read_bytes()).hexdigest() == before


def test_a_bad_value_in_a_config_file_is_refused(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(f"_BASE_: {CONFIG}\nSOLVER:\n  CHECKPOINT_PERIOD: 0\n")
    before = path.read_bytes()
    with pytest.raises(ValueError, match=r"^SOLVER.CHECKPOINT_PERIOD: expected an integer >= 1"):
        get_df2s2_cfg(str(path))
    assert path.read_bytes() == before


def test_boundary_values_are_accepted():
    cfg = get_df2s2_cfg(str(CONFIG), [
        "MODEL.DF2S2.SEG_LOSS_WEIGHT", "0.0", "TEST.EVAL_PERIOD", "0", "INPUT.MIN_SIZE_TEST", "0",
        "MODEL.RETINANET.FOCAL_LOSS_ALPHA", "-1.0", "MODEL.ANCHOR_GENERATOR.SIZES", "[[32]]",
        "MODEL.RETINANET.IOU_THRESHOLDS", "[0.5, 0.5]",
    ])
    assert cfg.MODEL.DF2S2.SEG_LOSS_WEIGHT == 0.0


@pytest.mark.parametrize("path", sorted(CONFIGS.rglob("*.yaml")), ids=lambda p: p.name)
def test_every_yaml_config_passes_the_checks(path):
    get_df2s2_cfg(str(path))
