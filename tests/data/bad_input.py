"""Helpers of the bad-input tests: malformed image files made in a test folder."""

import hashlib
import io
import struct
import zlib
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


def file_digests(*paths) -> dict:
    """{path: sha256} of the files named and of every file under the folders named
    (links found in folders are left out: their targets are hashed where they lie)."""
    found = {}
    for path in map(Path, paths):
        for p in sorted(path.rglob("*")) if path.is_dir() else [path]:
            if p.is_file() and not (p.is_symlink() and p != path):
                found[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return found


def write_png16(path: Path, h: int = 20, w: int = 24, seed: int = 0) -> Path:
    """A 16-bit greyscale PNG with values over the whole 0..65535 range."""
    values = np.random.default_rng(seed).integers(0, 65536, (h, w)).astype(np.uint16)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(values).save(path)
    assert Image.open(path).mode.startswith("I;16")
    return path


def write_bomb_png(path: Path, width: int = 30000, height: int = 30000) -> Path:
    """A few-byte PNG whose header announces width x height pixels (a decompression bomb:
    more than Pillow's limit with the defaults)."""
    buffer = io.BytesIO()
    Image.new("L", (1, 1)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    data[16:24] = struct.pack(">II", width, height)  # IHDR width, height
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))  # IHDR CRC
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(data))
    return path
