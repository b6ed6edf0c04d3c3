"""Warnings that Detectron2 and its dependencies print and that no user can act on.

``ignore_known_warnings()`` hides exactly these, matched by message and category.
Importing ``df2s2_d2`` calls it before anything imports Detectron2, so every entry
point that imports ``df2s2_d2`` first starts without them; every other warning shows.
"""
import warnings

KNOWN_WARNINGS = [
    # fvcore.nn's focal losses are `torch.jit.script` functions (imported by
    # detectron2.layers); PyTorch deprecates torch.jit.script and warns once per function.
    (r"`torch\.jit\.script` is deprecated", FutureWarning),
    # Detectron2 0.6's DefaultAnchorGenerator calls torch.meshgrid without `indexing`
    # (main passes indexing="ij"); PyTorch warns on the first forward of every model.
    (r"torch\.meshgrid: in an upcoming release, it will be required to pass the indexing argument",
     UserWarning),
]


def ignore_known_warnings() -> None:
    """Add an "ignore" filter for each entry of KNOWN_WARNINGS."""
    for message, category in KNOWN_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)
