"""Warnings that Detectron2's dependencies print on import and that no user can act on.

``ignore_known_warnings()`` hides exactly these, matched by message and category.
Importing ``df2s2_d2`` calls it before anything imports Detectron2, so every entry
point that imports ``df2s2_d2`` first starts without them; every other warning shows.
"""
import warnings

KNOWN_WARNINGS = [
    # fvcore.nn's focal losses are `torch.jit.script` functions (imported by
    # detectron2.layers); PyTorch deprecates torch.jit.script and warns once per function.
    (r"`torch\.jit\.script` is deprecated", FutureWarning),
]


def ignore_known_warnings() -> None:
    """Add an "ignore" filter for each entry of KNOWN_WARNINGS."""
    for message, category in KNOWN_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)
