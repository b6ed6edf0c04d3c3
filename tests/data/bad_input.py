"""Helpers of the bad-input tests: malformed image files made in a test folder."""

import hashlib
import io
from pathlib import Path

import numpy as np
from PIL import Image


def jpeg_bytes(h: int = 24, w: int = 32, seed: int = 0) -> bytes:
    image = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def write_jpeg(path: Path, h: int = 24, w: int = 32, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(jpeg_bytes(h, w, seed))
    return path


def write_truncated_jpeg(path: Path, h: int = 24, w: int = 32) -> Path:
    """A JPEG cut at half its length: its header (and so its size) still reads."""
    data = jpeg_bytes(h, w)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data[: len(data) // 2])
    return path


def digests(folder: Path) -> dict:
    """{relative path: sha256} of every file under ``folder``."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }
