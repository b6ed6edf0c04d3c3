"""dev/quickstart_seeds.py summarises the quick start over seeds."""
from dev.quickstart_seeds import summary


def record(seed, easy, medium, hard, **real):
    return {"seed": seed, "AP_easy": easy, "AP_medium": medium, "AP_hard": hard, "config": "c.yaml",
            "loss_rise_warnings": 0, "total_seconds": 600.0, **real}


def test_summary_counts_the_seeds_that_reach_the_floors_and_names_failures():
    records = [record(0, 95.0, 93.0, 75.0), record(1, 91.0, 90.0, 59.0), record(2, 93.0, 92.0, 70.0),
               {"seed": 3, "returncode": 1}]
    table, markdown = summary(records, floor_easy=80.0, floor_hard=60.0)
    assert table["passing"] == [0, 2] and table["failed"] == [3]
    assert table["AP_easy"]["mean"] == 93.0 and table["AP_hard"]["min"] == 59.0
    # t(0.975, 2) * stdev / sqrt(3) = 4.303 * 2 / 1.732
    assert abs(table["AP_easy"]["ci95"] - 4.968) < 1e-3
    assert "| 3 | failed (exit 1) |" in markdown
    assert "2 of 4 seeds reach AP easy >= 80 and AP hard >= 60." in markdown


def test_the_readme_rows_give_the_mean_interval_and_worst_seed(tmp_path):
    from pathlib import Path

    from dev.quickstart_seeds import readme_rows

    records = [record(0, 95.0, 93.0, 75.0), record(1, 91.0, 90.0, 59.0), record(2, 93.0, 92.0, 70.0)]
    table, _ = summary(records, floor_easy=80.0, floor_hard=60.0)
    rows = readme_rows(table, records, Path("results/quickstart_seeds"))
    assert "| mean ± 95 % CI over 3 seeds | 93.0 ± 5.0 |" in rows
    assert "| worst seed | 91.0 | 90.0 | 59.0 | |" in rows
    assert "| 10 min (median) |" in rows
    assert "2 of 3 seeds reach AP easy >= 80 and hard >= 60" in rows


def test_real_photo_ap_is_summarised_when_every_run_has_it(tmp_path):
    from pathlib import Path

    from dev.quickstart_seeds import readme_rows

    records = [record(0, 95.0, 93.0, 75.0, real_photos_AP50=40.0, real_photos_AP30=60.0),
               record(1, 91.0, 90.0, 59.0, real_photos_AP50=30.0, real_photos_AP30=50.0)]
    table, markdown = summary(records, floor_easy=0.0, floor_hard=0.0)
    assert table["real_photos_AP30"]["mean"] == 55.0 and table["real_photos_AP50"]["min"] == 30.0
    assert "| 0 | 95.0 | 93.0 | 75.0 | 40.0 | 60.0 | 0 | 600 |" in markdown
    rows = readme_rows(table, records, Path("r"))
    assert rows.startswith("| `c.yaml` | AP easy | AP medium | AP hard | real photos AP@0.5 | real photos AP@0.3 |")
    # a run without the photos: no real-photo column rather than a mean over some seeds
    table, _ = summary(records + [record(2, 93.0, 92.0, 70.0)], floor_easy=0.0, floor_hard=0.0)
    assert "real_photos_AP30" not in table


def test_seeds_with_results_are_not_run_again(tmp_path, monkeypatch):
    import json
    import sys

    from dev import quickstart_seeds

    (tmp_path / "seed0.json").write_text(json.dumps(record(0, 95.0, 93.0, 75.0)))
    started = []
    monkeypatch.setattr(quickstart_seeds, "run_seed", lambda seed, args: started.append(seed))
    monkeypatch.setattr(sys, "argv", ["x", "--seeds", "0", "--results", str(tmp_path)])
    quickstart_seeds.main()
    assert started == []


def test_loss_rise_warnings_are_the_loss_watchs_not_the_closing_advice(tmp_path):
    from types import SimpleNamespace

    from dev.quickstart_seeds import collect

    out = tmp_path / "seed0"
    out.mkdir()
    (out / "quickstart.log").write_text(
        "WARNING: the training loss has risen for 120 iterations after the warm-up\n"
        "WARNING: this run's AP is far below ... and any 'training loss has risen' warning in its log.\n")
    assert collect(0, SimpleNamespace(output=str(tmp_path)), 0)["loss_rise_warnings"] == 1
