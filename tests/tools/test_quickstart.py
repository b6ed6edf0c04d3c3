"""The quick start warns when its AP is far below the documented result."""
import json

from tools.quickstart import FLOORS, TOLERANCE, shortfall


def documented(tmp_path, easy=90.0, medium=88.0, hard=70.0):
    """A summary.json of dev/quickstart_seeds.py with these means."""
    target = tmp_path / "summary.json"
    target.write_text(json.dumps({f"AP_{s}": {"mean": v} for s, v in
                                  (("easy", easy), ("medium", medium), ("hard", hard))}))
    return target


def test_a_result_near_the_documented_mean_gives_no_warning(tmp_path, monkeypatch):
    from tools import quickstart

    monkeypatch.setattr(quickstart, "REPO", tmp_path)
    path = documented(tmp_path)
    assert shortfall({"easy": 85.0, "medium": 80.0, "hard": 65.0}, path) is None


def test_a_collapsed_run_is_named_with_the_subsets_that_fall_short(tmp_path, monkeypatch):
    from tools import quickstart

    monkeypatch.setattr(quickstart, "REPO", tmp_path)
    path = documented(tmp_path)
    message = shortfall({"easy": 5.3, "medium": 7.0, "hard": 65.0}, path)
    assert message.startswith("WARNING")
    named = message.split("(")[1].split(";")[0]
    assert named == f"easy 5.3 < {90 - TOLERANCE:.1f}, medium 7.0 < {88 - TOLERANCE:.1f}"


def test_without_the_documented_summary_the_floors_apply(tmp_path):
    missing = tmp_path / "none.json"
    assert shortfall({"easy": FLOORS["easy"] + 1, "medium": 0.0, "hard": FLOORS["hard"] + 1}, missing) is None
    assert "hard 59.0 < 60.0" in shortfall({"easy": 90.0, "medium": 90.0, "hard": 59.0}, missing)
