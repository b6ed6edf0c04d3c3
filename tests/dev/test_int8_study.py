"""dev/int8_study.py's report: one row per variant, latency ratios and the AP lost."""
from dev.int8_study import VARIANTS, markdown


def one_variant_report(fp32_ap, int8_ap, fp32_seconds, int8_seconds) -> dict:
    """A study report at 320x256 with the one variant "minmax-32"; APs are (easy, medium, hard)."""
    subsets = ("easy", "medium", "hard")
    return {
        "sizes": ["320x256"],
        "fp32": {"ap": dict(zip(subsets, fp32_ap))},
        "variants": {"minmax-32": {
            "latency": {"320x256": {"fp32": fp32_seconds, "int8": int8_seconds}},
            "ap": dict(zip(subsets, int8_ap)),
        }},
    }


def test_the_table_gives_each_variants_latency_ratio_and_largest_ap_loss():
    report = one_variant_report((97.0, 95.0, 80.0), (96.9, 95.1, 78.5), 0.2, 0.09)
    table = markdown(report)
    assert "| fp32 | 1.00 | 97.0 | 95.0 | 80.0 |  |" in table
    assert "| minmax-32 | 0.45 | 96.9 | 95.1 | 78.5 | 1.5 |" in table
    assert "320x256: fp32 200 ms" in table
    assert "CPU:" not in table  # a report from before the flags were recorded
    report.update(cpu="x86_64", cpu_flags=["avx2"])
    assert "CPU: x86_64; flags avx2." in markdown(report)
    report.update(cpu_flags=[])
    assert "CPU: x86_64; flags none of avx2, " in markdown(report)


def test_the_weight_bits_variant_differs_from_the_default_in_that_alone():
    default, full = VARIANTS["minmax-32"], VARIANTS["minmax-32 8-bit weights"]
    assert default[:4] == full[:4] and (default[4], full[4]) == (True, False)


def test_a_variant_that_gains_everywhere_has_lost_nothing():
    report = one_variant_report((83.52, 83.6, 65.7), (83.54, 83.8, 66.3), 0.1, 0.05)
    assert "| minmax-32 | 0.50 | 83.5 | 83.8 | 66.3 | 0.0 |" in markdown(report)
