"""The readings of Eq. 2's seg term (MODEL.DF2S2.SEG_LOSS_NORM)."""
import math

import pytest
import torch
import torch.nn.functional as F

from detectron2.modeling import build_model

from df2s2_d2.config_checks import ConfigValueError, check_config_values
from tests.common import small_cfg


def bce(x, y):
    return F.binary_cross_entropy_with_logits(torch.tensor(x), torch.tensor(y)).item()


@pytest.fixture(scope="module")
def model():
    return build_model(small_cfg())


# two levels: 4 valid cells (one foreground, one ignored cell), then 1 valid background cell
LOGITS = [torch.tensor([[[[2.0, -1.0], [0.5, 9.0], [0.0, 0.0]]]]), torch.tensor([[[[-3.0]]]])]
TARGETS = [torch.tensor([[[1, 0], [0, -1], [0, 0]]]), torch.tensor([[[0]]])]
CELLS = [(2.0, 1.0), (-1.0, 0.0), (0.5, 0.0), (0.0, 0.0), (0.0, 0.0), (-3.0, 0.0)]


@pytest.mark.parametrize("norm, expected", [
    ("level_mean", sum(bce(x, y) for x, y in CELLS[:5]) / 5 + bce(-3.0, 0.0)),
    ("cell_mean", sum(bce(x, y) for x, y in CELLS) / 6),
    ("foreground", sum(bce(x, y) for x, y in CELLS) / 1),
])
def test_each_reading(model, norm, expected):
    model.seg_loss_norm = norm
    assert model.seg_loss(LOGITS, TARGETS).item() == pytest.approx(expected, rel=1e-6)
    model.seg_loss_norm = "level_mean"


def test_level_mean_is_the_default_and_weights_a_coarse_cell_as_a_whole_level(model):
    assert model.seg_loss_norm == "level_mean"
    coarse_only = model.seg_loss(LOGITS[1:], TARGETS[1:]).item()
    assert math.isclose(coarse_only, bce(-3.0, 0.0), rel_tol=1e-6)


def test_foreground_reading_without_foreground_divides_by_one(model):
    model.seg_loss_norm = "foreground"
    assert model.seg_loss(LOGITS[1:], TARGETS[1:]).item() == pytest.approx(bce(-3.0, 0.0))
    model.seg_loss_norm = "level_mean"


def test_the_config_key_reaches_the_model_and_is_checked():
    assert build_model(small_cfg(["MODEL.DF2S2.SEG_LOSS_NORM", "cell_mean"])).seg_loss_norm == "cell_mean"
    with pytest.raises(ConfigValueError, match="SEG_LOSS_NORM"):
        check_config_values(small_cfg(["MODEL.DF2S2.SEG_LOSS_NORM", "pixels"]))
