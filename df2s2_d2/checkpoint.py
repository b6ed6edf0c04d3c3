"""Weights files checked before Detectron2's ``DetectionCheckpointer`` loads them.

PyTorch reports a bad checkpoint as ``PytorchStreamReader failed``, a bare ``EOFError``
or an ``UnpicklingError`` suggesting ``weights_only=False``, naming no file.
:func:`check_checkpoint_file` turns an empty, truncated or foreign file into a
:class:`CheckpointFileError` naming it; :func:`load_weights` checks the file that
``resume_or_load`` would read (``last_checkpoint``'s, when resuming), then loads it with
Detectron2's checkpointer.
"""
import os
import pickle
import pickletools
import zipfile

from detectron2.checkpoint import DetectionCheckpointer

__all__ = [
    "CheckpointFileError", "check_checkpoint_file", "checkpoint_to_load", "check_to_load",
    "load_weights",
]

ZIP_MAGIC = b"PK\x03\x04"  # torch.save's format since PyTorch 1.6
PICKLE_PROTOCOL = b"\x80"  # .pkl weights and torch.save's legacy format start so
EXPECTED = "expected a PyTorch checkpoint (.pth, torch.save) or pickled weights (.pkl)"


class CheckpointFileError(ValueError):
    """A weights file that cannot be loaded; the message names it and says what it is not."""

    def __init__(self, path: str, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = path


def check_checkpoint_file(path: str, named_by: str = "") -> None:
    """Raise FileNotFoundError / :class:`CheckpointFileError` naming ``path`` (and
    ``named_by``, the file or key that names it) unless it looks like a complete
    checkpoint. Remote paths (``detectron2://``, URLs) are left to Detectron2."""
    path = os.fspath(path)
    if not path or "://" in path:
        return
    by = f" (named by {named_by})" if named_by else ""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such checkpoint file{by}")
    with open(path, "rb") as f:
        head = f.read(4)
    if not head:
        raise CheckpointFileError(path, f"empty file (0 bytes){by}; {EXPECTED}")
    if head == ZIP_MAGIC:
        try:
            with zipfile.ZipFile(path) as archive:
                archive.infolist()
        except (zipfile.BadZipFile, OSError) as e:
            raise CheckpointFileError(
                path, f"truncated or damaged PyTorch checkpoint{by}: not a complete zip archive "
                f"({e}); {EXPECTED}"
            ) from None
    elif head[:1] == PICKLE_PROTOCOL or path.endswith(".pkl"):
        try:
            with open(path, "rb") as f:
                for _ in pickletools.genops(f):  # reads the opcodes, runs none
                    pass
        except (ValueError, EOFError, pickle.UnpicklingError) as e:
            raise CheckpointFileError(
                path, f"truncated or damaged pickle{by}: {e}; {EXPECTED}"
            ) from None
    else:
        raise CheckpointFileError(path, f"not a checkpoint{by}; {EXPECTED}")


def checkpoint_to_load(checkpointer: DetectionCheckpointer, weights: str, resume: bool) -> str:
    """The file ``checkpointer.resume_or_load(weights, resume)`` reads."""
    if resume and checkpointer.has_checkpoint():
        return checkpointer.get_checkpoint_file()
    return weights


def check_to_load(checkpointer: DetectionCheckpointer, weights: str, resume: bool) -> None:
    """Check the file that ``resume_or_load(weights, resume)`` would read."""
    path = checkpoint_to_load(checkpointer, weights, resume)
    named_by = "MODEL.WEIGHTS"
    if path != weights:
        named_by = os.path.join(checkpointer.save_dir, "last_checkpoint")
    check_checkpoint_file(path, named_by)


def load_weights(model, weights: str, save_dir: str = "", resume: bool = False) -> dict:
    """``DetectionCheckpointer(model, save_dir).resume_or_load(weights, resume)`` after
    checking the file it reads; returns what the checkpointer returns."""
    checkpointer = DetectionCheckpointer(model, save_dir=save_dir)
    check_to_load(checkpointer, weights, resume)
    return checkpointer.resume_or_load(weights, resume=resume)
