"""tools/ablation.py: variants read from the ablation configs, one factor per step,
paired confidence intervals and verdicts."""
import json
import math

import pytest

from tests.common import CONFIGS, get_config
from tools import ablation


def merged(variant):
    return get_config(opts=ablation.variant_overrides(variant))


def differing_keys(a, b, prefix=""):
    keys = []
    for k in a:
        if isinstance(a[k], dict):
            keys += differing_keys(a[k], b[k], f"{prefix}{k}.")
        elif a[k] != b[k]:
            keys.append(f"{prefix}{k}")
    return keys


def test_every_variant_is_an_ablation_config_and_every_config_a_variant_or_table3():
    files = {p.name for p in (CONFIGS / "WIDER-FACE/ablations").glob("*.yaml")}
    assert {f"{v}_R_50.yaml" for v in ablation.VARIANTS} <= files
    # Table 3's other lambda2 values are configs for WIDER FACE only.
    assert files - {f"{v}_R_50.yaml" for v in ablation.VARIANTS} == {
        "lambda2_0.1_R_50.yaml", "lambda2_0.5_R_50.yaml"}


def test_overrides_are_exactly_the_keys_of_the_variant_yaml():
    assert ablation.variant_overrides("df2s2_no_crop") == ["INPUT.FACE_AUG.RANDOM_CROP", "False"]
    assert ablation.variant_overrides("lambda2_1.0") == ["MODEL.DF2S2.SEG_LOSS_WEIGHT", "1.0"]


def test_a_variant_that_does_not_base_on_df2s2_r50_is_refused(tmp_path, monkeypatch):
    (tmp_path / "x_R_50.yaml").write_text('_BASE_: "../Base-DF2S2.yaml"\n')
    monkeypatch.setattr(ablation, "VARIANT_DIR", tmp_path)
    with pytest.raises(ValueError, match="x_R_50.yaml: an ablation variant must base on"):
        ablation.variant_overrides("x")


@pytest.mark.parametrize(
    "a, b, factor",
    [
        ("retinanet_p2p7", "seg", ["MODEL.DF2S2.SEG_HEAD"]),
        ("retinanet_p2p7", "fus", ["MODEL.BACKBONE.NAME"]),
        ("fus", "fus_seg_separate", ["MODEL.DF2S2.SEG_HEAD"]),
        ("seg", "fus_seg_separate", ["MODEL.BACKBONE.NAME"]),
        ("fus_seg_separate", "df2s2", ["MODEL.DF2S2.SHARED_TOWER"]),
        ("df2s2", "df2s2_no_crop", ["INPUT.FACE_AUG.RANDOM_CROP"]),
        ("df2s2", "lambda2_0.2", ["MODEL.DF2S2.SEG_LOSS_WEIGHT"]),
        ("df2s2", "df2s2_photometric", ["INPUT.FACE_AUG.PHOTOMETRIC"]),
        ("df2s2", "df2s2_normal_init", ["MODEL.DF2S2.TOWER_INIT"]),
    ],
)
def test_compared_variants_differ_in_exactly_one_factor(a, b, factor):
    assert differing_keys(merged(a), merged(b)) == factor


def test_paired_interval_matches_a_hand_computation():
    a = {0: 10.0, 1: 12.0, 2: 11.0, 3: 13.0, 4: 9.0}
    b = {0: 9.0, 1: 10.0, 2: 11.0, 3: 10.0, 4: 8.0, 5: 99.0}  # seed 5 unpaired: left out
    mean, half, n = ablation.paired_interval(a, b)
    diffs = [1, 2, 0, 3, 1]
    sd = math.sqrt(sum((d - 1.4) ** 2 for d in diffs) / 4)
    assert n == 5 and mean == pytest.approx(1.4)
    assert half == pytest.approx(2.776445105 * sd / math.sqrt(5), rel=1e-6)  # t(0.975, 4)


@pytest.mark.parametrize("mean, half, expected", [
    (2.0, 1.0, "reproduced"), (-2.0, 1.0, "contradicted"), (0.5, 1.0, "undecided"),
    (1.0, float("nan"), "undecided")])
def test_verdict_follows_the_interval(mean, half, expected):
    assert ablation.verdict(mean, half) == expected


def test_report_from_run_files(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    for seed in range(3):
        for variant, ap in (("retinanet_p2p7", 50.0), ("seg", 55.0)):
            rec = {"variant": variant, "seed": seed, "AP_easy": ap + seed, "AP_medium": ap,
                   "AP_hard": ap - seed, "loss_curve": [[19, 2.0], [39, 1.5]]}
            (runs / f"{variant}_seed{seed}.json").write_text(json.dumps(rec))
    (runs / "fus_seed0.json").write_text(json.dumps({"variant": "fus", "seed": 0, "failed": "NaN"}))
    text = ablation.write_report(tmp_path, ablation.VARIANTS)
    assert "| RetinaNet, FPN P2-P7 (baseline) | 3 | 51.0 ± 1.0 | 50.0 ± 0.0 | 49.0 ± 1.0 |" in text
    assert "| Table 2: Seg. > baseline | hard | +5.0 | [+5.0, +5.0] | 3 | reproduced |" in text
    assert "Failed: fus seed 0: NaN" in text
    assert (tmp_path / "ablation.png").stat().st_size > 0
    assert (tmp_path / "loss_curves.png").stat().st_size > 0
