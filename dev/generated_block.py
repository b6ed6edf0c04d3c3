"""Generated tables in hand-written markdown: a study writes its summary between
``<!-- NAME -->`` and ``<!-- /NAME -->`` itself, so the page never holds a copy that drifts."""
import os
from pathlib import Path


def replace_block(path: Path, name: str, text: str) -> None:
    """Put ``text`` between the ``<!-- name -->`` line and its closing ``<!-- /name -->``
    line of ``path`` (the closing line is added after the opening one when missing)."""
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    lines = path.read_text().splitlines()
    if start not in lines:
        raise ValueError(f"{path}: no line {start!r} to put the generated {name} after")
    i = lines.index(start)
    j = lines.index(end, i) if end in lines[i:] else i
    if j == i:
        lines.insert(i + 1, end)
        j = i + 1
    lines[i + 1:j] = text.rstrip("\n").splitlines()
    path.write_text("\n".join(lines) + "\n")


def link_from(page: Path, target: Path) -> str:
    """``target``'s path as a markdown link written in ``page`` (relative to its folder)."""
    return Path(os.path.relpath(Path(target).resolve(), Path(page).resolve().parent)).as_posix()
