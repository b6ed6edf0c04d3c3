"""dev/seg_diagnosis.py: the seg map's pixel AP and each loss term's gradients per level."""
import math

import pytest
import torch

from dev.seg_diagnosis import TERMS, diagnose, mean_over_batches, pixel_ap
from tests.common import face_instances, random_image, small_cfg


def test_pixel_ap_ranks_foreground_against_background_and_skips_ignored_cells():
    target = torch.tensor([[[1, 0, -1], [0, 1, 0]]])
    perfect = torch.tensor([[[[5.0, -5, 9], [-5, 5, -5]]]])  # the ignored cell scores highest
    assert pixel_ap(perfect, target) == {"ap": 1.0, "foreground": 0.4}
    # ranks: fg, bg, fg, ... -> precision 1 at recall 1/2, 2/3 at recall 1: AP 5/6
    mixed = torch.tensor([[[[5.0, 4, 0], [-5, 3, -6]]]])
    assert pixel_ap(mixed, target)["ap"] == pytest.approx(5 / 6)
    assert math.isnan(pixel_ap(mixed, torch.zeros_like(target))["ap"])


def test_each_term_sends_its_own_gradients():
    from detectron2.modeling import build_model

    torch.manual_seed(0)
    model = build_model(small_cfg())
    batch = [{"image": random_image(128, 128), "height": 128, "width": 128,
              "instances": face_instances([[10, 10, 50, 60], [70, 20, 120, 80]], (128, 128))}]
    result = mean_over_batches([diagnose(model, batch)])
    assert set(result["gradients"]) == set(TERMS)
    assert set(result["pixel_ap"]) == {"p2", "p3", "p4", "p5", "p6", "p7"}
    assert all(result["gradients"][term]["tower"] > 0 for term in TERMS)
    assert result["gradients"]["loss_cls"]["p2"] > 0  # negatives on every level
    # the seg loss has a gradient on the coarse levels, where no anchor of these faces is positive
    assert result["gradients"]["loss_seg"]["p7"] > 0
    assert result["gradients"]["loss_box_reg"]["p7"] == 0
    assert not hasattr(model, "seg_loss") or model.seg_loss.__name__ == "seg_loss"
