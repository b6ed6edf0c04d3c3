"""df2s2_deploy.cpu_info: the CPU name and speed-relevant flags that reports record."""
from df2s2_deploy.cpu_info import cpu_flags, cpu_name

CPUINFO = (
    "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9454 48-Core Processor\n"
    "flags\t\t: fpu sse2 avx2 fma avx512f avx512_bf16 avx512_vnni\n\n"
    "processor\t: 1\nmodel name\t: AMD EPYC 9454 48-Core Processor\nflags\t\t: fpu\n"
)


def test_the_first_cpu_s_name_and_flags_are_read(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(CPUINFO)
    assert cpu_name(str(cpuinfo)) == "AMD EPYC 9454 48-Core Processor"
    assert cpu_flags(str(cpuinfo)) == ["avx2", "avx512f", "avx512_bf16", "avx512_vnni"]


def test_only_the_speed_relevant_flags_are_named(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 fma avx512vl\n")
    assert cpu_flags(str(cpuinfo)) == ["avx2"]


def test_an_unreadable_cpuinfo_gives_no_flags_and_a_fallback_name(tmp_path):
    absent = str(tmp_path / "absent")
    assert cpu_flags(absent) == []
    assert cpu_name(absent)  # platform's name, or "unknown CPU"
