"""dev/pyramid_stats.py measures the F-block gates, level scales and gradients."""
import torch
from detectron2.modeling import build_model

from dev.pyramid_stats import pyramid_stats
from tests.common import face_instances, random_image, small_cfg


def batch():
    return [{"image": random_image(128, 128, seed), "instances": face_instances([[10, 12, 50, 60]], (128, 128))}
            for seed in range(2)]


def stats(psi_init):
    model = build_model(small_cfg(["MODEL.FFP.PSI_INIT", psi_init, "SEED", 3]))
    return pyramid_stats(model, batch())


def test_gates_levels_losses_and_gradients_are_measured():
    xavier, zero = stats("xavier"), stats("zero")
    assert list(xavier["gates"]) == ["res4", "res3", "res2"]
    assert all(0 < g["negative_gate"] < 0.5 and g["psi_std"] > 0 for g in xavier["gates"].values())
    assert all(g == {"psi_std": 0.0, "negative_gate": 0.0} for g in zero["gates"].values())
    assert list(xavier["level_std"]) == ["p2", "p3", "p4", "p5", "p6", "p7"]
    assert all(v > 0 for v in xavier["level_grad_norm"].values())
    assert set(xavier["losses"]) == {"loss_cls", "loss_box_reg", "loss_seg"}
    assert set(xavier["parameter_grad_norm"]) == {"backbone.bottom_up", "backbone.fblocks", "backbone.projections", "head"}
    assert zero["parameter_grad_norm"]["backbone.fblocks"] > 0
