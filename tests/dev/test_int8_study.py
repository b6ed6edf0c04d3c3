"""dev/int8_study.py's report: one row per variant, latency ratios and the AP lost."""
from dev.int8_study import markdown


def test_the_table_gives_each_variants_latency_ratio_and_largest_ap_loss():
    report = {
        "sizes": ["320x256"],
        "fp32": {"ap": {"easy": 97.0, "medium": 95.0, "hard": 80.0}},
        "variants": {"minmax-32": {
            "latency": {"320x256": {"fp32": 0.2, "int8": 0.09}},
            "ap": {"easy": 96.9, "medium": 95.1, "hard": 78.5},
        }},
    }
    table = markdown(report)
    assert "| fp32 | 1.00 | 97.0 | 95.0 | 80.0 |  |" in table
    assert "| minmax-32 | 0.45 | 96.9 | 95.1 | 78.5 | 1.5 |" in table
    assert "320x256: fp32 200 ms" in table
