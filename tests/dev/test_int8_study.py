"""dev/int8_study.py's report: one row per variant, latency ratios and the AP lost."""
from dev.int8_study import VARIANTS, markdown


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
    assert "CPU:" not in table  # a report from before the flags were recorded
    report.update(cpu="x86_64", cpu_flags=["avx2"])
    assert "CPU: x86_64; flags avx2." in markdown(report)


def test_the_weight_bits_variant_differs_from_the_default_in_that_alone():
    default, full = VARIANTS["minmax-32"], VARIANTS["minmax-32 8-bit weights"]
    assert default[:4] == full[:4] and (default[4], full[4]) == (True, False)



def test_a_variant_that_gains_everywhere_has_lost_nothing():
    report = {
        "sizes": ["320x256"],
        "fp32": {"ap": {"easy": 83.52, "medium": 83.6, "hard": 65.7}},
        "variants": {"minmax-32": {
            "latency": {"320x256": {"fp32": 0.1, "int8": 0.05}},
            "ap": {"easy": 83.54, "medium": 83.8, "hard": 66.3},
        }},
    }
    assert "| minmax-32 | 0.50 | 83.5 | 83.8 | 66.3 | 0.0 |" in markdown(report)
