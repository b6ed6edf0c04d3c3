"""Make Detectron2 importable in this Python environment, choosing in this order:

1. the Detectron2 already importable here (left untouched);
2. ``$DETECTRON2_SRC``: Detectron2's source, a folder or a ``.tar.gz`` archive of one
   (unpacked under ``<environment>/src/``), built with its compiled ops;
3. the v0.6 fallback (``install/detectron2_fallback.py``: Python sources, no compiled ops).

Usage: ``[DETECTRON2_SRC=folder-or-archive] python install/install_detectron2.py``
"""
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import detectron2_fallback


def unpack(archive: Path, dest: Path) -> Path:
    """Unpack a source archive with one top folder into ``dest`` (once); return that folder."""
    with tarfile.open(archive) as tar:
        tops = {Path(name).parts[0] for name in tar.getnames()}
        if len(tops) != 1:
            raise SystemExit(f"{archive}: expected one top folder (as `git archive` writes), "
                             f"found {sorted(tops)}")
        folder = dest / tops.pop()
        if not (folder / "setup.py").exists():
            tar.extractall(dest, filter="data")
    return folder


def source_folder(src: str) -> Path:
    """The Detectron2 source folder named by ``src`` (an archive is unpacked first)."""
    path = Path(src).expanduser().resolve()
    if path.is_file() and path.name.endswith((".tar.gz", ".tgz")):
        path = unpack(path, Path(sys.prefix) / "src")
    if not (path / "setup.py").is_file() or not (path / "detectron2").is_dir():
        raise SystemExit(f"DETECTRON2_SRC={src}: expected Detectron2's source (a folder with "
                         "setup.py and detectron2/, or a .tar.gz archive of one)")
    return path


def build_from_source(folder: Path) -> None:
    """Build and install Detectron2 with its compiled ops (CPU, or CUDA where torch has it).

    ``--no-build-isolation``: its setup.py imports the torch installed here;
    ``--no-deps``: its Python dependencies are this project's, installed before.
    """
    print(f"Building Detectron2 from {folder} with its compiled ops (a few minutes)", flush=True)
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                           "--no-build-isolation", str(folder)])
    subprocess.check_call([sys.executable, "-c", "from detectron2 import _C"])


def main() -> None:
    src = os.environ.get("DETECTRON2_SRC", "")
    if detectron2_fallback.detectron2_importable():
        import detectron2

        print(f"Using the installed Detectron2 {detectron2.__version__} ({detectron2.__file__})")
    elif src:
        build_from_source(source_folder(src))
    else:
        detectron2_fallback.main()


if __name__ == "__main__":
    main()
