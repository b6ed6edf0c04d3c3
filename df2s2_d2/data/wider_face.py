"""WIDER FACE annotation files -> Detectron2 dataset dicts, and dataset registration.

The official txt format (``wider_face_split/readme.txt``), one block per image::

    <event>/<name>.jpg
    <N>
    x1 y1 w h blur expression illumination invalid occlusion pose     (N lines)

Quirks of the official files, all accepted: every box line ends with a space;
an image without faces is written ``0`` + one line of ten zeros (train) or
``1`` + an all-zero box (val); some boxes have w <= 0 or h <= 0. CRLF line ends
and a UTF-8 byte-order mark at the start of the file are accepted too. Image paths
must be relative to the image folder (no absolute path, no ``..``), and counts are
ASCII decimal numbers. Anything else that departs from the format raises
:class:`WiderFaceFormatError`, naming the file, the 1-based line and what was
expected.

:func:`parse_wider_face_txt` returns the rows as written; :func:`load_wider_face_txt`
turns them into Detectron2 dicts and counts every box exactly once: kept (a face),
ignored (invalid = 1: an ``iscrowd`` annotation, so neither a loss nor COCO
evaluation calls it background) or degenerate (w <= 0 or h <= 0: no annotation).
The val form of a zero-face image is one degenerate box.
"""

import logging
import os
import re
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import BoxMode
from PIL import Image

from .image_reading import DECODE_ERRORS

logger = logging.getLogger(__name__)

ATTRIBUTES = ("blur", "expression", "illumination", "invalid", "occlusion", "pose")
# Largest code of each attribute (readme.txt); the smallest is 0.
ATTRIBUTE_MAX = {
    "blur": 2,
    "expression": 1,
    "illumination": 1,
    "invalid": 1,
    "occlusion": 2,
    "pose": 1,
}
BOX_FIELDS = ("x1", "y1", "w", "h") + ATTRIBUTES

# Official layout under a WIDER FACE root: split -> (annotation file, image folder).
SPLIT_FILES = {
    "train": ("wider_face_split/wider_face_train_bbx_gt.txt", "WIDER_train/images"),
    "val": ("wider_face_split/wider_face_val_bbx_gt.txt", "WIDER_val/images"),
    "test": ("wider_face_split/wider_face_test_filelist.txt", "WIDER_test/images"),
}
GT_DIR = "eval_tools/ground_truth"  # wider_face_val.mat, wider_{easy,medium,hard}_val.mat


class WiderFaceFormatError(ValueError):
    """A WIDER FACE file that departs from the format; the message names file and line."""

    def __init__(self, path: str, line: int, expected: str, got: Optional[str] = None):
        found = "the end of the file" if got is None else repr(got)
        super().__init__(f"{path}, line {line}: expected {expected}; found {found}")
        self.path, self.line = path, line


@dataclass
class FaceCounts:
    """How the boxes of one annotation file were used; kept + ignored + degenerate = total."""

    images: int = 0
    kept: int = 0
    ignored: int = 0
    degenerate: int = 0
    empty_images: int = 0  # images left without any annotation

    @property
    def total(self) -> int:
        return self.kept + self.ignored + self.degenerate


def _read_lines(path: str) -> List[str]:
    """Lines without their LF / CRLF ends; blank lines at the end of the file are dropped."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8-sig")  # a leading byte-order mark is not part of line 1
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise WiderFaceFormatError(
            path, line, "UTF-8 text", repr(data[e.start : e.start + 8])
        ) from e
    lines = [s[:-1] if s.endswith("\r") else s for s in text.split("\n")]
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def _is_image_path(s: str) -> bool:
    return s.lower().endswith(".jpg") and "/" in s


def _image_path(path: str, lineno: int, s: str) -> str:
    s = s.strip()
    if not _is_image_path(s) or len(s.split()) != 1:
        raise WiderFaceFormatError(path, lineno, "an image path '<event>/<name>.jpg'", s)
    if s.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", s) or ".." in s.split("/"):
        raise WiderFaceFormatError(
            path,
            lineno,
            "an image path relative to the image folder ('<event>/<name>.jpg'; absolute "
            "paths and '..' would bypass the image root)",
            s,
        )
    if "\ufeff" in s:
        raise WiderFaceFormatError(
            path, lineno, "an image path without a byte-order mark (U+FEFF)", s
        )
    return s


_INTEGER = re.compile(r"-?[0-9]+")
_COUNT = re.compile(r"[0-9]+")  # ASCII digits only: str.isdigit() also accepts '٣', '３', '²'.
_BOX_LINE = re.compile(r"[ \t]*" + r"[ \t]+".join([r"(-?[0-9]+)"] * len(BOX_FIELDS)) + r"[ \t]*")
_ATTRIBUTE_LIMITS = [ATTRIBUTE_MAX[a] for a in ATTRIBUTES]


def _box(path: str, lineno: int, s: str) -> List[int]:
    """The ten integers of a box line."""
    match = _BOX_LINE.fullmatch(s)
    if match is None:  # find what is wrong, for the message
        fields = s.split()
        if len(fields) != len(BOX_FIELDS):
            raise WiderFaceFormatError(
                path, lineno, f"{len(BOX_FIELDS)} integers '{' '.join(BOX_FIELDS)}'", s
            )
        for name, field in zip(BOX_FIELDS, fields):
            if not _INTEGER.fullmatch(field):
                raise WiderFaceFormatError(path, lineno, f"an integer for '{name}'", field)
        raise WiderFaceFormatError(path, lineno, "integers separated by spaces", s)
    values = [int(v) for v in match.groups()]
    for name, value, limit in zip(ATTRIBUTES, values[4:], _ATTRIBUTE_LIMITS):
        if not 0 <= value <= limit:
            raise WiderFaceFormatError(path, lineno, f"'{name}' in 0..{limit}", str(value))
    return values


def _annotation(row: List[int]) -> Dict:
    x1, y1, w, h = row[:4]
    attributes = dict(zip(ATTRIBUTES, row[4:]))
    return {
        "bbox": [float(x1), float(y1), float(w), float(h)],
        "bbox_mode": BoxMode.XYWH_ABS,
        "category_id": 0,
        "iscrowd": attributes["invalid"],
        **attributes,
    }


def parse_wider_face_txt(path: str) -> List[Tuple[str, int, List[List[int]]]]:
    """Parse a box annotation txt, exactly as written.

    Returns:
        per image: (relative image path, line of the path, rows), one row of the
        ten integers ``x1 y1 w h blur expression illumination invalid occlusion pose``
        per box line counted by N (the val form of a zero-face image gives one
        all-zero row, the train form none).
    """
    path = os.fspath(path)
    lines = _read_lines(path)
    entries, first_line = [], {}
    i = 0
    while i < len(lines):
        rel = _image_path(path, i + 1, lines[i])
        if rel in first_line:
            raise WiderFaceFormatError(
                path, i + 1, f"each image once ('{rel}' is already on line {first_line[rel]})", rel
            )
        first_line[rel] = image_line = i + 1
        if i + 1 >= len(lines):
            raise WiderFaceFormatError(path, i + 2, f"the number of faces of '{rel}'")
        count_text = lines[i + 1].strip()
        if not _COUNT.fullmatch(count_text):
            raise WiderFaceFormatError(
                path,
                i + 2,
                f"the number of faces of '{rel}' (a count in ASCII decimal digits 0-9)",
                lines[i + 1],
            )
        n = int(count_text)
        i += 2
        if n == 0:  # train form of a zero-face image: one placeholder line of ten zeros
            got = lines[i] if i < len(lines) else None
            if got is None or got.split() != ["0"] * len(BOX_FIELDS):
                raise WiderFaceFormatError(
                    path, i + 1, f"the line of ten zeros that follows a count of 0 ('{rel}')", got
                )
            i += 1
        rows = []
        for k in range(n):
            if i >= len(lines):
                raise WiderFaceFormatError(path, i + 1, f"box {k + 1} of {n} of '{rel}'")
            if _is_image_path(lines[i].strip()):
                raise WiderFaceFormatError(
                    path,
                    i + 1,
                    f"box {k + 1} of {n} of '{rel}' (the count on line {image_line + 1} "
                    f"does not match the boxes)",
                    lines[i],
                )
            rows.append(_box(path, i + 1, lines[i]))
            i += 1
        entries.append((rel, image_line, rows))
    return entries


def annotations_from_rows(
    rows: Sequence[Sequence[float]],
    counts: FaceCounts,
    make_annotation: Callable[[Sequence[float]], Dict] = _annotation,
) -> List[Dict]:
    """Detectron2 annotations of one image's rows (``x y w h ...``); adds to ``counts``.

    A row with w <= 0 or h <= 0 is dropped as degenerate; any other becomes
    ``make_annotation(row)`` (by default a WIDER FACE box row's annotation), counted
    as ignored when its ``iscrowd`` is set and as kept otherwise.
    """
    annotations = []
    for row in rows:
        if row[2] <= 0 or row[3] <= 0:
            counts.degenerate += 1
            continue
        annotation = make_annotation(row)
        annotations.append(annotation)
        if annotation["iscrowd"]:
            counts.ignored += 1
        else:
            counts.kept += 1
    counts.images += 1
    counts.empty_images += not annotations
    return annotations


def parse_wider_face_filelist(path: str) -> List[Tuple[str, int]]:
    """Parse ``wider_face_test_filelist.txt``: (relative image path, line) per image."""
    path = os.fspath(path)
    entries, first_line = [], {}
    for lineno, line in enumerate(_read_lines(path), start=1):
        rel = _image_path(path, lineno, line)
        if rel in first_line:
            raise WiderFaceFormatError(
                path, lineno, f"each image once ('{rel}' is already on line {first_line[rel]})", rel
            )
        first_line[rel] = lineno
        entries.append((rel, lineno))
    return entries


def _image_size(file_name: str) -> Tuple[int, int]:
    """(height, width) as ``detection_utils.read_image`` will return it (EXIF rotation applied)."""
    with Image.open(file_name) as im:
        w, h = im.size
        orientation = im.getexif().get(0x0112, 1)
    return (w, h) if orientation in (5, 6, 7, 8) else (h, w)


def _record(txt_path: str, lineno: int, rel: str, image_root: str, check_images: bool) -> Dict:
    record = {"file_name": os.path.join(image_root, rel), "image_id": rel[: -len(".jpg")]}
    if check_images:
        if not os.path.isfile(record["file_name"]):
            raise WiderFaceFormatError(
                txt_path, lineno, f"an existing image file {record['file_name']}", rel
            )
        try:
            record["height"], record["width"] = _image_size(record["file_name"])
        except DECODE_ERRORS as e:  # kept without a size: the mapper names and skips it
            logger.warning(
                f"{txt_path}, line {lineno}: {record['file_name']} cannot be read as an image "
                f"({type(e).__name__}: {e}); training and evaluation will skip it"
            )
    return record


def load_wider_face_txt(
    txt_path: str,
    image_root: str,
    *,
    check_images: bool = False,
    counts: Optional[FaceCounts] = None,
) -> List[Dict]:
    """Detectron2 dicts of a WIDER FACE box annotation txt; images are not opened
    unless ``check_images``.

    Args:
        txt_path: ``wider_face_{train,val}_bbx_gt.txt``.
        image_root: folder the txt paths are relative to (``WIDER_<split>/images``).
        check_images: require every image to exist, and read its height / width
            from the file header.
        counts: if given, receives how the file's boxes were used (also logged).
    Returns:
        one dict per image: ``file_name``, ``image_id`` ("<event>/<name>"),
        ``height``/``width`` (with ``check_images``) and ``annotations``.
    """
    txt_path = os.fspath(txt_path)
    counts = FaceCounts() if counts is None else counts
    dicts = []
    for rel, lineno, rows in parse_wider_face_txt(txt_path):
        record = _record(txt_path, lineno, rel, image_root, check_images)
        record["annotations"] = annotations_from_rows(rows, counts)
        dicts.append(record)
    logger.info(
        f"{txt_path}: {counts.images} images, {counts.total} boxes = {counts.kept} faces kept "
        f"+ {counts.ignored} invalid faces ignored (iscrowd) + {counts.degenerate} degenerate "
        f"boxes dropped (w or h <= 0); {counts.empty_images} images without annotations"
    )
    return dicts


def load_wider_face_filelist(
    txt_path: str, image_root: str, *, check_images: bool = False
) -> List[Dict]:
    """Detectron2 dicts (no annotations) of ``wider_face_test_filelist.txt``."""
    txt_path = os.fspath(txt_path)
    entries = parse_wider_face_filelist(txt_path)
    dicts = [_record(txt_path, lineno, rel, image_root, check_images) for rel, lineno in entries]
    logger.info(f"{txt_path}: {len(dicts)} images (no annotations)")
    return dicts


def register_wider_face_layout(name: str, root: str, split: str) -> None:
    """Register ``name`` as split ``split`` of a data set in the official WIDER FACE
    layout under ``root``. Nothing is read until the dataset is used."""
    txt, images = SPLIT_FILES[split]
    txt_file, image_root = os.path.join(root, txt), os.path.join(root, images)
    load = load_wider_face_filelist if split == "test" else load_wider_face_txt
    DatasetCatalog.register(name, lambda: load(txt_file, image_root, check_images=True))
    metadata = dict(
        thing_classes=["face"],
        evaluator_type="wider_face",
        image_root=image_root,
        annotation_file=txt_file,
        split=split,
    )
    if split == "val":  # the evaluation ground truth exists for val only
        metadata["wider_face_gt_dir"] = os.path.join(root, GT_DIR)
    MetadataCatalog.get(name).set(**metadata)


def register_all_wider_face(root: str) -> None:
    """``wider_face_{train,val,test}`` under ``<root>/widerface``."""
    for split in SPLIT_FILES:
        register_wider_face_layout(f"wider_face_{split}", os.path.join(root, "widerface"), split)
