"""The CPU a measurement ran on: its model name and the instruction sets that decide speed.

Timings and int8 accuracy depend on the CPU: onnxruntime's int8 kernels take another path
with VNNI than without, and PyTorch's bfloat16 and float32 kernels use AVX-512 where it
exists. Reports name the CPU and these flags so their numbers can be compared. Read from
Linux's ``/proc/cpuinfo``; elsewhere the name falls back to :mod:`platform` and the flags
are empty. Torch-free.
"""
import platform
from typing import List

__all__ = ["SPEED_FLAGS", "cpu_name", "cpu_flags", "flags_text"]

# x86 instruction sets that change which kernels PyTorch and onnxruntime run
SPEED_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni", "amx_int8")


def _field(cpuinfo: str, key: str) -> str:
    """The value of the first ``key : value`` line of `cpuinfo` ("" where absent or unreadable)."""
    try:
        with open(cpuinfo) as f:
            for line in f:
                name, _, value = line.partition(":")
                if name.strip() == key:
                    return value.strip()
    except OSError:
        pass
    return ""


def cpu_name(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The CPU's model name, e.g. "AMD EPYC 9454"."""
    return _field(cpuinfo, "model name") or platform.processor() or platform.machine() or "unknown CPU"


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> List[str]:
    """Which of :data:`SPEED_FLAGS` this CPU has, in that order ([] where unreadable)."""
    flags = set(_field(cpuinfo, "flags").split())
    return [flag for flag in SPEED_FLAGS if flag in flags]


def flags_text(flags: List[str]) -> str:
    """`flags` for a report line: "avx2, avx512f", or "none of ..." where the CPU has none."""
    return ", ".join(flags) or "none of " + ", ".join(SPEED_FLAGS)
