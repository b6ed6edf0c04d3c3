"""dev/photo_ingredients.py: one factor at a time, paired by seed against the default recipe."""
import json

import pytest

from dev.photo_ingredients import VARIANTS, load_readouts, write_report
from df2s2_d2.data import PhotoRecipe


def run(results, variant, seed, ap30, hard=50.0):
    runs = results / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    (runs / f"{variant}_seed{seed}.json").write_text(json.dumps(
        {"variant": variant, "seed": seed, "real_AP30": ap30, "real_AP50": ap30 - 10,
         "val_AP_hard": hard, "val_AP_easy": hard + 10}))


def test_each_variant_changes_one_field_of_the_default_recipe():
    default = PhotoRecipe()
    for name, (_, change) in VARIANTS.items():
        if change is None or name == "photo":
            continue
        assert len(change) == 1
        (field, value), = change.items()
        assert getattr(default, field) != value


def test_report_pairs_by_seed_and_gives_verdicts(tmp_path):
    for seed, (with_, without) in enumerate([(60.0, 40.0), (55.0, 37.0), (58.0, 36.0)]):
        run(tmp_path, "photo", seed, with_)
        run(tmp_path, "no_real_faces", seed, without)
    run(tmp_path, "cartoon", 0, 10.0)
    assert load_readouts(tmp_path)["photo"]["real_AP30"] == {0: 60.0, 1: 55.0, 2: 58.0}
    text = write_report(tmp_path)
    row = next(line for line in text.splitlines() if line.startswith("| `no_real_faces` |"))
    # differences 20, 18, 22: mean 20, t(0.975, 2) * 2 / sqrt(3) = 4.97
    assert row.split(" | ")[1] == "+20.0 [+15.0, +25.0] helps (n=3)"
    cartoon = next(line for line in text.splitlines() if line.startswith("| `cartoon` |"))
    assert "undecided (n=1)" in cartoon  # one seed: no interval
    assert (tmp_path / "ingredients.md").read_text() == text


def test_the_quick_start_seeds_can_be_the_photo_arm(tmp_path):
    qs = tmp_path / "qs"
    qs.mkdir()
    for seed, ap30 in enumerate([50.0, 60.0]):
        (qs / f"seed{seed}.json").write_text(json.dumps(
            {"seed": seed, "real_photos_AP30": ap30, "real_photos_AP50": 40.0, "AP_hard": 60.0, "AP_easy": 80.0}))
        run(tmp_path / "study", "no_real_backgrounds", seed, ap30 + 5)
    runs = load_readouts(tmp_path / "study", qs)
    assert runs["photo"]["real_AP30"] == {0: 50.0, 1: 60.0}
    text = write_report(tmp_path / "study", qs)
    row = next(line for line in text.splitlines() if line.startswith("| `no_real_backgrounds` |"))
    assert row.split(" | ")[1].startswith("-5.0")  # photo - variant, paired by seed
