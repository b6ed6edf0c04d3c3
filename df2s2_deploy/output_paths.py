"""Outputs checked before any work and written without touching what they do not own.

A tool refuses, before it starts, an output that resolves (through links) to one of its
inputs or model files, a file where a folder is expected, and a place it cannot write.
:func:`replace_file` writes a new file beside the output, then renames it over the output:
a link at the output is replaced, never written through, and a failed write leaves the
old output as it was. Torch-free.
"""
import os
import tempfile
from typing import Callable, Iterable

__all__ = [
    "OutputPathError", "same_file", "check_not_protected", "check_output_file",
    "check_output_dir", "replace_file",
]


class OutputPathError(ValueError):
    """An output that would replace a file the tool does not own, or cannot be written."""


def same_file(a: str, b: str) -> bool:
    """Whether paths ``a`` and ``b`` name one file (symbolic and hard links included)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def check_not_protected(output: str, protected: Iterable[str], what: str = "--output") -> None:
    """Refuse ``output`` when it resolves to one of the ``protected`` files (inputs, models)."""
    for path in protected:
        if path and "://" not in str(path) and same_file(output, path):
            raise OutputPathError(
                f"{output}: {what} resolves to {path}, an input or model file, which would "
                "be overwritten; choose another output"
            )


def _check_writable_folder(folder: str, output: str, what: str) -> None:
    """``folder`` (or, if it does not exist yet, its nearest existing parent) is a folder
    in which a file can be created: tried with a temporary file, removed at once."""
    existing = os.path.abspath(folder)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise OutputPathError(f"{output}: {what} cannot be created: {existing} is not a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as e:
        raise OutputPathError(f"{output}: {what} is not writable ({e.strerror} in {existing})") from e


def check_output_file(output: str, protected: Iterable[str] = (), what: str = "--output") -> None:
    """Refuse, before any work, an output file that is a folder, is protected, or cannot be
    written."""
    output = os.fspath(output)
    if os.path.isdir(output):
        raise OutputPathError(f"{output}: {what} is a folder; expected a file name")
    check_not_protected(output, protected, what)
    _check_writable_folder(os.path.dirname(os.path.abspath(output)), output, what)


def check_output_dir(output: str, protected: Iterable[str] = (), what: str = "--output") -> None:
    """Refuse, before anything is written, an output folder that exists and is not a folder,
    is protected, or cannot be written."""
    output = os.fspath(output)
    if os.path.lexists(output) and not os.path.isdir(output):
        raise OutputPathError(
            f"{output}: {what} exists and is not a folder; expected a folder (new or existing)"
        )
    check_not_protected(output, protected, what)
    _check_writable_folder(output, output, what)


def replace_file(path: str, write: Callable[[str], None]) -> None:
    """``write(temporary path)`` beside ``path``, then rename it to ``path``; the temporary
    file keeps ``path``'s extension (some writers choose the format by it)."""
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=os.path.splitext(name)[1])
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would hide the output from others
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
