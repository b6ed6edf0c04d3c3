"""dev/ablation.py: variants read from the ablation configs, one factor per step,
paired confidence intervals and verdicts."""
import argparse
import json
import math
import statistics
from pathlib import Path

import pytest

from tests.common import CONFIGS, get_config
from dev import ablation, seg_study


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


def test_every_variant_is_an_ablation_config_and_every_config_a_variant():
    files = {p.name for p in (CONFIGS / "WIDER-FACE/ablations").glob("*.yaml")}
    assert {f"{v}_R_50.yaml" for v in ablation.VARIANTS} <= files
    # the seg study's variants, but its DF2S2 arm, which is its config's own
    seg_variants = {f"{v}_R_50.yaml" for v in seg_study.VARIANTS if v != "df2s2"}
    assert seg_variants <= files
    assert files == {f"{v}_R_50.yaml" for v in ablation.VARIANTS} | seg_variants


def test_overrides_are_exactly_the_keys_of_the_variant_yaml():
    assert ablation.variant_overrides("df2s2_no_crop") == ["INPUT.FACE_AUG.RANDOM_CROP", "False"]
    assert ablation.variant_overrides("lambda2_1.0") == ["MODEL.DF2S2.SEG_LOSS_WEIGHT", "1.0"]


def test_the_study_trains_a_variant_on_the_synthetic_twin_of_its_data():
    command = ablation.run_command("df2s2_landmarks", 3, argparse.Namespace(
        output="out", device="cpu", workers=0, iters=10, opts=[]))
    train = command[command.index("DATASETS.TRAIN") + 1]
    assert train == '("synth_faces_train_landmarks",)'
    assert command[command.index("SEED") + 1] == "3"


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
        ("df2s2", "df2s2_landmarks_off", ["DATASETS.TRAIN"]),
        ("df2s2_landmarks_off", "df2s2_landmarks", ["MODEL.DF2S2.LANDMARKS"]),
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


def write_metrics(folder, losses, evals):
    """A Detectron2-like metrics.json: loss rows every 20 iterations, evaluation rows."""
    folder.mkdir(parents=True)
    rows = [{"iteration": it, "total_loss": loss} for it, loss in losses]
    rows += [{"iteration": it, "wider_face/AP_easy": e, "wider_face/AP_medium": m, "wider_face/AP_hard": h}
             for it, e, m, h in evals]
    rows.sort(key=lambda r: r["iteration"])
    (folder / "metrics.json").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_ap_curve_holds_every_evaluation_in_order(tmp_path):
    write_metrics(tmp_path / "run", [(19, 2.0), (39, 1.0)], [(9, 10.0, 20.0, 5.0), (39, 30.0, 40.0, 15.0)])
    assert ablation.ap_curve(tmp_path / "run/metrics.json") == [[9, 10.0, 20.0, 5.0], [39, 30.0, 40.0, 15.0]]
    assert ablation.loss_curve(tmp_path / "run/metrics.json") == [[19, 2.0], [39, 1.0]]


def test_run_record_of_a_run_stopped_before_its_schedule(tmp_path):
    write_metrics(tmp_path / "run", [(19, 2.0), (39, 1.0), (59, 0.5)], [(19, 10.0, 20.0, 5.0), (39, 30.0, 40.0, 15.0)])
    record = ablation.run_record("seg", 3, tmp_path / "run", 100, "cuda", ["TEST.EVAL_PERIOD", "20"], 12.34)
    assert record["stopped_at"] == 60
    assert (record["AP_easy"], record["AP_medium"], record["AP_hard"], record["AP_iteration"]) == (30.0, 40.0, 15.0, 40)
    assert record["overrides"] == ablation.variant_overrides("seg") + ["TEST.EVAL_PERIOD", "20"]
    assert record["wall_seconds"] == 12.3


def test_run_record_of_a_completed_run_has_no_stop(tmp_path):
    write_metrics(tmp_path / "run", [(19, 2.0), (39, 1.0)], [(39, 30.0, 40.0, 15.0)])
    record = ablation.run_record("seg", 0, tmp_path / "run", 40, "cpu", [], 1.0)
    assert "stopped_at" not in record and record["AP_hard"] == 15.0


def test_log_wall_seconds_spans_the_first_and_last_time_stamps(tmp_path):
    log = tmp_path / "log.txt"
    log.write_text("Command Line Args: ...\n[11/29 22:16:23 detectron2]: start\n  a traceback line\n"
                   "[11/29 22:20:19 d2.engine]: iter 739\n")
    assert ablation.log_wall_seconds(log) == 236.0


def test_a_log_without_time_stamps_is_named_in_the_error(tmp_path):
    log = tmp_path / "log.txt"
    log.write_text("Traceback (most recent call last):\n")
    with pytest.raises(ValueError, match="log.txt: no time-stamped line"):
        ablation.log_wall_seconds(log)


def test_import_runs_writes_a_json_per_training_folder(tmp_path):
    for seed in (0, 1):
        folder = tmp_path / "train" / f"retinanet_p2p7_seed{seed}"
        write_metrics(folder, [(19, 2.0), (39, 1.0)], [(39, 30.0 + seed, 40.0, 15.0)])
        (folder / "log.txt").write_text("[11/29 10:00:00 x]: a\n[11/29 10:01:40 x]: b\n")
    written = ablation.import_runs(tmp_path / "train", tmp_path / "runs", 3000, "cuda", [])
    assert [p.name for p in written] == ["retinanet_p2p7_seed0.json", "retinanet_p2p7_seed1.json"]
    record = json.loads(written[1].read_text())
    assert (record["seed"], record["AP_easy"], record["stopped_at"], record["wall_seconds"]) == (1, 31.0, 40, 100.0)


def test_import_runs_refuses_a_folder_that_names_no_variant(tmp_path):
    write_metrics(tmp_path / "train" / "mystery_seed0", [(19, 2.0)], [])
    with pytest.raises(ValueError, match="mystery_seed0: expected a folder <variant>_seed<S>"):
        ablation.import_runs(tmp_path / "train", tmp_path / "runs", 100, "cuda", [])


def test_base_lr_loss_windows_stop_at_the_first_lr_step_and_the_earliest_stop():
    curve = [[it, 1000.0 / (it + 1)] for it in range(19, 1000, 20)]
    records = [{"iters": 1000, "loss_curve": curve}, {"iters": 1000, "loss_curve": curve, "stopped_at": 650}]
    windows = ablation.base_lr_loss_windows(records, window=200)
    # warm-up 100; the first LR step is at 800, but one run stopped at 650: 500-699 is cut.
    assert [a for a, _ in windows] == [100, 300]
    expected = statistics.median([1000.0 / (it + 1) for it in range(119, 300, 20)])
    assert windows[0][1] == pytest.approx(expected)


def test_report_compares_stopped_runs_at_their_common_evaluations(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    curve = [[it, 1.0] for it in range(19, 600, 20)]
    for seed in range(3):
        for variant, ap, evals in (("retinanet_p2p7", 50.0, (99, 199, 299)), ("df2s2", 45.0, (99, 199))):
            rec = {"variant": variant, "seed": seed, "iters": 1000, "stopped_at": evals[-1] + 1,
                   "loss_curve": curve, "ap_curve": [[it, ap, ap, ap + it / 100 + seed] for it in evals]}
            (runs / f"{variant}_seed{seed}.json").write_text(json.dumps(rec))
    text = ablation.write_report(tmp_path, ablation.VARIANTS)
    main_table = text.split("## By evaluation")[0]
    assert "RetinaNet, FPN P2-P7 (baseline) |" not in main_table  # no run completed its schedule
    assert "| 300 | RetinaNet, FPN P2-P7 (baseline) | 3 | 50.0 ± 0.0 | 50.0 ± 0.0 | 54.0 ± 1.0 |" in text
    assert "| Table 2: DF2S2 (Fus.+Seg., default init) >= baseline | 200 it, hard | -5.0 | [-5.0, -5.0] | 3 | contradicted |" in text
    assert "300 it" not in text  # DF2S2 was never evaluated there
    assert (tmp_path / "ap_curves.png").stat().st_size > 0
    assert (tmp_path / "loss_curves.png").stat().st_size > 0


def test_deadline_stops_the_runs_and_records_what_they_reached(tmp_path, monkeypatch):
    import sys
    import df2s2_d2.data

    monkeypatch.setattr(df2s2_d2.data, "ensure_synthetic_dataset", lambda path: None)
    script = ("import json, pathlib, sys, time; d = pathlib.Path(sys.argv[1]); d.mkdir(parents=True); "
              "(d / 'metrics.json').write_text(json.dumps({'iteration': 19, 'total_loss': 1.5}) + '\\n'); "
              "time.sleep(120)")
    monkeypatch.setattr(ablation, "run_command", lambda variant, seed, args: [
        sys.executable, "-c", script, str(Path(args.output) / "train" / f"{variant}_seed{seed}")])
    args = argparse.Namespace(output=str(tmp_path / "out"), results=str(tmp_path / "res"), seeds=[0, 1],
                              variants=["seg"], iters=100, jobs=1, threads=1, workers=0, device="cpu",
                              deadline=3, opts=[])
    ablation.run_all(args)
    records = sorted((tmp_path / "res/runs").glob("*.json"))
    assert [p.name for p in records] == ["seg_seed0.json"]  # seed 1 never started
    record = json.loads(records[0].read_text())
    assert record["stopped_at"] == 20 and record["loss_curve"] == [[19, 1.5]] and "failed" not in record


def test_the_final_evaluation_counts_the_whole_schedule_and_periodic_ones_the_steps_done(tmp_path):
    # Detectron2 records a periodic evaluation at the 0-based step after which it ran,
    # and the final one (after training) at MAX_ITER.
    write_metrics(tmp_path / "run", [(19, 2.0), (39, 1.0)], [(19, 10.0, 20.0, 5.0), (40, 30.0, 40.0, 15.0)])
    record = ablation.run_record("seg", 0, tmp_path / "run", 40, "cpu", [], 1.0)
    assert record["AP_iteration"] == 40 and "stopped_at" not in record
    (tmp_path / "res/runs").mkdir(parents=True)
    (tmp_path / "res/runs/seg_seed0.json").write_text(json.dumps(record))
    assert list(ablation.load_ap_by_iteration(ablation.load_records(tmp_path / "res"))) == [20, 40]


def test_run_record_keeps_a_curve_per_loss_term(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    rows = [{"iteration": it, "total_loss": 3 - it / 20, "loss_cls": 2 - it / 40, "loss_box_reg": 1 - it / 40,
             "loss_seg": 0.02} for it in (19, 39)]
    (folder / "metrics.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
    record = ablation.run_record("df2s2", 0, folder, 40, "cpu", [], 1.0)
    assert record["loss_terms"] == {"loss_cls": [[19, 1.525], [39, 1.025]],
                                    "loss_box_reg": [[19, 0.525], [39, 0.025]],
                                    "loss_seg": [[19, 0.02], [39, 0.02]]}
    no_seg = ablation.run_record("fus_psi_zero", 0, folder, 40, "cpu", [], 1.0)
    assert no_seg["overrides"] == ["MODEL.FFP.PSI_INIT", "zero", "MODEL.DF2S2.SHARED_TOWER", "False",
                                   "MODEL.DF2S2.SEG_HEAD", "False"]


def test_the_default_init_claims_use_the_runs_of_the_default_psi_init(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    default = ablation.default_psi_init()
    other = {"zero": "xavier", "xavier": "zero"}[default]
    for seed in range(3):
        for variant, ap in (("retinanet_p2p7", 50.0), (f"fus_psi_{default}", 54.0), (f"fus_psi_{other}", 51.0),
                            (f"df2s2_psi_{default}", 55.0 + seed), (f"df2s2_psi_{other}", 48.0)):
            rec = {"variant": variant, "seed": seed, "iters": 40, **{f"AP_{s}": ap for s in ablation.SUBSETS},
                   "loss_curve": [[19, 2.0], [39, 1.5]], "loss_terms": {"loss_cls": [[19, 1.0], [39, 0.8]]}}
            (runs / f"{variant}_seed{seed}.json").write_text(json.dumps(rec))
    text = ablation.write_report(tmp_path, ablation.VARIANTS)
    assert "| Table 2: DF2S2 (Fus.+Seg., default init) >= baseline | easy | +6.0 | [+3.5, +8.5] | 3 | reproduced |" in text
    assert "| Table 2: Fus. > baseline | hard | +4.0 |" in text
    sign = "+" if default == "zero" else "-"
    assert f"| Fus. zero > Fus. xavier | easy | {sign}3.0 |" in text
    assert (tmp_path / "loss_curves.png").stat().st_size > 0


def test_readme_gets_the_verdict_table_between_its_markers(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    for seed in range(3):
        for variant, ap in (("retinanet_p2p7", 50.0), ("seg", 52.0 + seed)):
            rec = {"variant": variant, "seed": seed, "iters": 40, **{f"AP_{s}": ap for s in ablation.SUBSETS},
                   "loss_curve": [[19, 2.0], [39, 1.5]]}
            (runs / f"{variant}_seed{seed}.json").write_text(json.dumps(rec))
    readme = tmp_path / "README.md"
    readme.write_text("# x\n<!-- ablation-verdicts -->\nold\n<!-- /ablation-verdicts -->\nend\n")
    ablation.write_report(tmp_path, ablation.VARIANTS, readme)
    text = readme.read_text()
    assert "old" not in text and text.endswith("<!-- /ablation-verdicts -->\nend\n")
    assert ("| Table 2: Seg. > baseline | +3.0 [+0.5, +5.5] reproduced | +3.0 [+0.5, +5.5] reproduced "
            "| +3.0 [+0.5, +5.5] reproduced |") in text
    assert "over 3 seeds" in text
    # the report is linked from the page's own folder
    assert "](ablation.md)." in text
