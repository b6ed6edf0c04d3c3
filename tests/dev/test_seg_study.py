"""dev/seg_study.py and dev/photo_runs.py: the seg-supervision study at the quick start's scale."""
import json

import pytest

from dev import seg_study
from dev.photo_runs import CONFIG, clear_stopped_run, final_val_readouts, run_log
from tests.common import get_config


def run(results, variant, seed, hard, small=None, ap30=50.0):
    runs = results / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    record = {"variant": variant, "seed": seed, "iters": 500, "val_AP_easy": hard + 20, "val_AP_medium": hard + 15,
              "val_AP_hard": hard, "real_AP30": ap30, "real_AP50": ap30 - 10}
    if small is not None:
        record["val_AP_size_0-16"] = small
    (runs / f"{variant}_seed{seed}.json").write_text(json.dumps(record))


def write_metrics(path, hard, small):
    rows = [{"iteration": 19, "total_loss": 2.0, "loss_cls": 1.0, "loss_box_reg": 0.9, "loss_seg": 0.1},
            {"iteration": 500, "wider_face/AP_easy": 90.0, "wider_face/AP_medium": 85.0,
             "wider_face/AP_hard": hard, "wider_face_breakdown/AP_size_0-16": small,
             "wider_face_breakdown/AP_pose_atypical": 12.5}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")


def test_every_variant_is_a_valid_change_of_the_quick_start_config():
    for variant in seg_study.VARIANTS:
        overrides = seg_study.model_overrides(variant)
        assert (overrides == []) == (variant == "df2s2")
        get_config(CONFIG.removeprefix("configs/"), overrides)  # the config checks accept it
    assert seg_study.model_overrides("seg_norm_foreground") == ["MODEL.DF2S2.SEG_LOSS_NORM", "foreground"]
    assert seg_study.model_overrides("lambda2_0.5") == ["MODEL.DF2S2.SEG_LOSS_WEIGHT", "0.5"]


def test_every_question_compares_two_variants_of_the_study():
    for _, a, b in seg_study.QUESTIONS:
        assert a in seg_study.VARIANTS and b in seg_study.VARIANTS and a != b


def test_val_readouts_take_the_last_evaluation_and_its_breakdown(tmp_path):
    write_metrics(tmp_path / "metrics.json", hard=61.23456, small=30.0)
    out = final_val_readouts(tmp_path / "metrics.json")
    assert out == {"val_AP_easy": 90.0, "val_AP_medium": 85.0, "val_AP_hard": 61.235,
                   "val_AP_size_0-16": 30.0, "val_AP_pose_atypical": 12.5}


def test_report_pairs_by_seed_per_readout_and_leaves_empty_bins_blank(tmp_path):
    for seed, (base, seg) in enumerate([(60.0, 62.0), (58.0, 61.0), (61.0, 62.0)]):
        run(tmp_path, "retinanet_p2p7", seed, base, small=20.0)
        run(tmp_path, "seg", seed, seg)  # no face in the 0-16 bin: no AP there
    text = seg_study.write_report(tmp_path)
    row = next(line for line in text.splitlines() if line.startswith("| + Seg. on FPN"))
    cells = row.split(" | ")
    assert cells[1] == "3"
    # hard: differences 2, 3, 1: mean 2, t(0.975, 2) * 1 / sqrt(3) = 2.48
    assert cells[2 + list(seg_study.READOUTS).index("val_AP_hard")] == "+2.0 [-0.5, +4.5] undecided"
    assert cells[2 + list(seg_study.READOUTS).index("val_AP_size_0-16")] == ""
    seg_row = next(line for line in text.splitlines() if line.startswith("| `seg`"))
    assert "| 61.7 ± 1.4 |" in seg_row
    assert (tmp_path / "seg_study.md").read_text() == text
    assert "here 500 iterations on cpu)" in text


def test_report_pairs_the_attribute_subsets_in_their_own_table(tmp_path):
    for seed, (base, seg) in enumerate([(10.0, 13.0), (12.0, 14.0), (11.0, 15.0)]):
        for variant, occluded in (("retinanet_p2p7", base), ("seg", seg)):
            run(tmp_path, variant, seed, 60.0)
            record = json.loads((tmp_path / "runs" / f"{variant}_seed{seed}.json").read_text())
            record["val_AP_occlusion_heavy"] = occluded
            (tmp_path / "runs" / f"{variant}_seed{seed}.json").write_text(json.dumps(record))
    text = seg_study.write_report(tmp_path)
    table = text.split("## Paired differences by WIDER attribute")[1].splitlines()
    header = next(line for line in table if line.startswith("| question"))
    column = header.split(" | ").index("occlusion heavy")
    row = next(line for line in table if line.startswith("| + Seg. on FPN"))
    # differences 3, 2, 4: mean 3, t(0.975, 2) * 1 / sqrt(3) = 2.48
    assert row.split(" | ")[column] == "+3.0 [+0.5, +5.5] better"
    assert row.split(" | ")[header.split(" | ").index("pose atypical")] == ""  # not in these runs


def test_a_clear_difference_is_called_better(tmp_path):
    for seed, (df2s2, fus) in enumerate([(70.0, 60.0), (71.0, 60.5), (69.0, 59.0)]):
        run(tmp_path, "df2s2", seed, df2s2)
        run(tmp_path, "fus", seed, fus)
    text = seg_study.write_report(tmp_path)
    row = next(line for line in text.splitlines() if line.startswith("| Seg. on top of Fus."))
    assert row.split(" | ")[2 + list(seg_study.READOUTS).index("val_AP_hard")].endswith(" better")


def quick_start_folder(root, seed, config_seed=None, config=CONFIG):
    folder = root / f"seed{seed}"
    (folder / "train").mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps(
        {"config": config, "train_and_eval_seconds": 480.0, "real_photos_AP30": 55.0,
         "real_photos_AP50": 45.0, "real_photos_faces": 36}))
    write_metrics(folder / "train" / "metrics.json", hard=64.0, small=37.0)
    (folder / "train" / "config.yaml").write_text(
        f"SEED: {seed if config_seed is None else config_seed}\nSOLVER:\n  MAX_ITER: 500\n")
    return folder


def test_a_quick_start_run_becomes_the_df2s2_arm(tmp_path):
    record = seg_study.quickstart_record(quick_start_folder(tmp_path, 3))
    assert record["variant"] == "df2s2" and record["seed"] == 3 and record["iters"] == 500
    assert record["real_AP30"] == 55.0 and record["real_faces"] == 36
    assert record["val_AP_hard"] == 64.0 and record["val_AP_size_0-16"] == 37.0
    assert record["loss_terms"]["loss_seg"] == [[19, 0.1]]


@pytest.mark.parametrize("kwargs", [{"config_seed": 2}, {"config": "configs/Synth/df2s2_R_18_quick.yaml"}])
def test_a_quick_start_of_another_seed_or_config_is_refused(tmp_path, kwargs):
    with pytest.raises(ValueError, match="expected a quick start of .* with SEED 3"):
        seg_study.quickstart_record(quick_start_folder(tmp_path, 3, **kwargs))


def test_readme_gets_the_questions_between_its_markers_with_a_relative_link(tmp_path):
    for seed, (base, seg) in enumerate([(60.0, 62.0), (58.0, 61.0), (61.0, 62.0)]):
        run(tmp_path / "study", "retinanet_p2p7", seed, base, small=20.0)
        run(tmp_path / "study", "seg", seed, seg, small=22.0)
    (tmp_path / "docs").mkdir()
    page = tmp_path / "docs" / "page.md"
    page.write_text("# x\n<!-- seg-study-verdicts -->\nold\n<!-- /seg-study-verdicts -->\nend\n")
    seg_study.write_report(tmp_path / "study", page)
    text = page.read_text()
    assert "old" not in text and text.endswith("<!-- /seg-study-verdicts -->\nend\n")
    row = next(line for line in text.splitlines() if line.startswith("| + Seg. on FPN"))
    assert row.split(" | ")[2].startswith("+2.0 [-0.5, +4.5]")  # val hard, the first read-out
    assert "](../study/seg_study.md)." in text


def test_each_run_keeps_its_own_log_when_its_name_holds_a_dot(tmp_path):
    logs = {run_log(tmp_path / f"{variant}_seed0") for variant in ("lambda2_0.1", "lambda2_0.2", "lambda2_0.5")}
    assert len(logs) == 3
    assert run_log(tmp_path / "lambda2_0.1_seed0") == tmp_path / "lambda2_0.1_seed0.log"


def test_a_run_stopped_part_way_leaves_no_rows_for_its_rerun(tmp_path):
    out = tmp_path / "fus_seed0"
    write_metrics(out.parent / "other_metrics.json", hard=1.0, small=1.0)
    out.mkdir()
    (out / "metrics.json").write_text(json.dumps({"iteration": 19, "loss_cls": 9.0}) + "\n")
    clear_stopped_run(out)
    assert not out.exists()
    assert (out.parent / "other_metrics.json").exists()
    clear_stopped_run(out)  # nothing there: nothing to do
