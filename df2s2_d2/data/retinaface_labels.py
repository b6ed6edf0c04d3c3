"""RetinaFace's five-landmark annotation files -> Detectron2 dataset dicts, and registration.

The format of RetinaFace's ``retinaface_gt_v1.1.zip`` (``train/label.txt``), one
block per image::

    # <event>/<name>.jpg
    x y w h  x0 y0 f0  x1 y1 f1  x2 y2 f2  x3 y3 f3  x4 y4 f4  score     (one line per face)

The path is relative to the image folder; an image line may be followed by no
face line (an image without faces, kept as a negative). Points are in the order of
``df2s2_deploy.face_landmarks.LANDMARK_NAMES``, in image pixels. A point's flag
is 0.0 (visible), 1.0 (labelled but hidden) or -1.0 (not labelled: then its x and
y are -1.0 too); a face without landmarks has all fifteen values -1.0. A face whose
points are only partly -1.0 is accepted: its -1.0 points are not labelled, the
others are used. The last number is kept as the annotation's ``landmark_score``
(RetinaFace's annotation confidence; nothing in this project uses it).

Numbers are ASCII decimals (no NaN, no inf); CRLF line ends and a leading
byte-order mark are accepted, as in :mod:`.wider_face`. Anything else that
departs from the format raises :class:`.wider_face.WiderFaceFormatError`, naming
the file, the 1-based line and what was expected.

The dicts are those of :func:`.wider_face.load_wider_face_txt`, plus per annotation
``keypoints``: fifteen floats ``[x0, y0, v0, ..., x4, y4, v4]``, v in Detectron2's /
COCO's convention (2 visible, 1 labelled but hidden, 0 not labelled, with x = y =
0). Every annotation has them: a face without landmarks has fifteen zeros. The
format has no ``invalid`` attribute, so every face is an ordinary face
(``iscrowd`` 0). Boxes with w <= 0 or h <= 0 are dropped and counted; with
``check_images``, a point outside the image ([0, W] x [0, H]) becomes not labelled
and is counted too.
"""

import logging
import math
import os
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import BoxMode

from df2s2_deploy.face_landmarks import (
    LABELLED_HIDDEN,
    LANDMARK_FLIP_MAP,
    LANDMARK_NAMES,
    NOT_LABELLED,
    NUM_LANDMARKS,
    VISIBLE,
)

from .wider_face import (
    SPLIT_FILES,
    FaceCounts,
    WiderFaceFormatError,
    _image_path,
    _read_lines,
    _record,
    annotations_from_rows,
)

logger = logging.getLogger(__name__)

# RetinaFace's point flags -> Detectron2's visibility.
FLAG_VISIBLE, FLAG_HIDDEN, FLAG_NOT_LABELLED = 0.0, 1.0, -1.0
FLAG_TO_VISIBILITY = {FLAG_VISIBLE: VISIBLE, FLAG_HIDDEN: LABELLED_HIDDEN}
VISIBILITY_TO_FLAG = {VISIBLE: FLAG_VISIBLE, LABELLED_HIDDEN: FLAG_HIDDEN}

LANDMARK_FIELDS = tuple(f"{n}_{c}" for n in LANDMARK_NAMES for c in ("x", "y", "flag"))
RETINAFACE_FIELDS = ("x", "y", "w", "h") + LANDMARK_FIELDS + ("score",)
_FIELDS_TEXT = "x y w h, five 'x y visibility' triples and a score"

# Under a data set root: split -> label file (RetinaFace's zip unpacked into retinaface_gt/).
LABEL_FILE = "retinaface_gt/{split}/label.txt"

# Detectron2's Visualizer: lines between landmarks (names, RGB colour).
KEYPOINT_CONNECTION_RULES = [
    ("eye_1", "eye_2", (102, 204, 255)),
    ("mouth_1", "mouth_2", (255, 128, 0)),
    ("eye_1", "nose", (102, 204, 255)),
    ("eye_2", "nose", (102, 204, 255)),
]

_NUMBER = re.compile(r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?")
_FLAGS = (FLAG_VISIBLE, FLAG_HIDDEN, FLAG_NOT_LABELLED)


@dataclass
class LandmarkCounts(FaceCounts):
    """:class:`.wider_face.FaceCounts` plus how the landmarks were used."""

    faces_with_landmarks: int = 0  # kept faces with at least one labelled point
    partly_labelled: int = 0  # kept faces with some, not all, points flagged -1 in the file
    landmarks_outside_image: int = 0  # points outside the image, made not labelled


def _number(path: str, lineno: int, name: str, field: str) -> float:
    try:
        value = float(field)
    except ValueError:
        value = None
    if value is not None and not math.isfinite(value):  # "nan", "inf", "1e999"
        raise WiderFaceFormatError(path, lineno, f"a finite number for '{name}'", field)
    if value is None or not _NUMBER.fullmatch(field):  # float() also takes "1_0", "٣"
        raise WiderFaceFormatError(path, lineno, f"a number for '{name}'", field)
    return value


def _face(path: str, lineno: int, s: str) -> List[float]:
    """The twenty numbers of a face line."""
    fields = s.split()
    if len(fields) != len(RETINAFACE_FIELDS):
        raise WiderFaceFormatError(
            path, lineno, f"{len(RETINAFACE_FIELDS)} numbers ({_FIELDS_TEXT})", s
        )
    row = [_number(path, lineno, n, f) for n, f in zip(RETINAFACE_FIELDS, fields)]
    for k in range(NUM_LANDMARKS):
        x, y, flag = row[4 + 3 * k : 7 + 3 * k]
        name = LANDMARK_NAMES[k]
        if flag not in _FLAGS:
            raise WiderFaceFormatError(
                path,
                lineno,
                f"the flag of '{name}' in -1.0 (not labelled), 0.0 (visible), 1.0 (hidden)",
                fields[6 + 3 * k],
            )
        if flag == FLAG_NOT_LABELLED and (x, y) != (-1.0, -1.0):
            raise WiderFaceFormatError(
                path,
                lineno,
                f"x and y of '{name}' -1.0, as its flag is -1.0 (not labelled)",
                " ".join(fields[4 + 3 * k : 7 + 3 * k]),
            )
    return row


def parse_retinaface_labels(path: str) -> List[Tuple[str, int, List[List[float]]]]:
    """Parse a RetinaFace ``label.txt``, exactly as written.

    Returns:
        per image: (relative image path, line of its ``#`` line, rows), one row of
        the twenty numbers ``x y w h x0 y0 f0 ... x4 y4 f4 score`` per face line.
    """
    path = os.fspath(path)
    entries, first_line = [], {}
    for lineno, line in enumerate(_read_lines(path), start=1):
        if line.lstrip().startswith("#"):
            rel = _image_path(path, lineno, line.lstrip()[1:])
            if rel in first_line:
                raise WiderFaceFormatError(
                    path,
                    lineno,
                    f"each image once ('{rel}' is already on line {first_line[rel]})",
                    rel,
                )
            first_line[rel] = lineno
            entries.append((rel, lineno, []))
        elif not entries:
            raise WiderFaceFormatError(
                path, lineno, "an image line '# <event>/<name>.jpg' before the first face", line
            )
        else:
            entries[-1][2].append(_face(path, lineno, line))
    return entries


def _landmark_annotation(
    row: Sequence[float], size: Optional[Tuple[int, int]], counts: LandmarkCounts
) -> Dict:
    """Annotation of a face row; ``size`` (height, width) drops points outside the image."""
    keypoints, labelled, unlabelled = [], 0, 0
    for k in range(NUM_LANDMARKS):
        x, y, flag = row[4 + 3 * k : 7 + 3 * k]
        if flag == FLAG_NOT_LABELLED:
            keypoints += [0.0, 0.0, float(NOT_LABELLED)]
            unlabelled += 1
        elif size is not None and not (0 <= x <= size[1] and 0 <= y <= size[0]):
            keypoints += [0.0, 0.0, float(NOT_LABELLED)]
            counts.landmarks_outside_image += 1
        else:
            keypoints += [x, y, float(FLAG_TO_VISIBILITY[flag])]
            labelled += 1
    counts.faces_with_landmarks += labelled > 0
    counts.partly_labelled += 0 < unlabelled < NUM_LANDMARKS
    return {
        "bbox": [float(v) for v in row[:4]],
        "bbox_mode": BoxMode.XYWH_ABS,
        "category_id": 0,
        "iscrowd": 0,
        "keypoints": keypoints,
        "landmark_score": row[-1],
    }


def load_retinaface_labels(
    label_file: str,
    image_root: str,
    *,
    check_images: bool = False,
    counts: Optional[LandmarkCounts] = None,
) -> List[Dict]:
    """Detectron2 dicts of a RetinaFace ``label.txt``; images are not opened unless
    ``check_images``.

    Args:
        label_file: ``label.txt``.
        image_root: folder its paths are relative to (``WIDER_train/images``).
        check_images: require every image to exist, read its height / width from
            the file header and drop (make not labelled) points outside it.
        counts: if given, receives how the file's faces and points were used (also logged).
    Returns:
        one dict per image, as :func:`.wider_face.load_wider_face_txt`'s, every
        annotation with ``keypoints`` and ``landmark_score``.
    """
    label_file = os.fspath(label_file)
    counts = LandmarkCounts() if counts is None else counts
    dicts = []
    for rel, lineno, rows in parse_retinaface_labels(label_file):
        record = _record(label_file, lineno, rel, image_root, check_images)
        size = (record["height"], record["width"]) if "height" in record else None
        record["annotations"] = annotations_from_rows(
            rows, counts, lambda row: _landmark_annotation(row, size, counts)
        )
        dicts.append(record)
    logger.info(
        f"{label_file}: {counts.images} images, {counts.total} boxes = {counts.kept} faces "
        f"+ {counts.degenerate} degenerate boxes dropped (w or h <= 0); "
        f"{counts.faces_with_landmarks} faces with landmarks, {counts.partly_labelled} "
        f"partly labelled, {counts.landmarks_outside_image} points outside their image "
        f"dropped; {counts.empty_images} images without annotations"
    )
    return dicts


def register_retinaface_layout(
    name: str, label_file: str, image_root: str, gt_dir: Optional[str] = None
) -> None:
    """Register ``name`` as the faces and landmarks of a RetinaFace ``label_file`` with
    images under ``image_root``. ``gt_dir``: the WIDER FACE evaluation ground truth of
    the same images (``eval_tools/ground_truth``), if there is one. Nothing is read
    until the dataset is used."""
    DatasetCatalog.register(
        name, lambda: load_retinaface_labels(label_file, image_root, check_images=True)
    )
    metadata = dict(
        thing_classes=["face"],
        image_root=image_root,
        annotation_file=label_file,
        keypoint_names=LANDMARK_NAMES,
        keypoint_flip_map=LANDMARK_FLIP_MAP,
        keypoint_connection_rules=KEYPOINT_CONNECTION_RULES,
    )
    if gt_dir is not None:
        metadata.update(evaluator_type="wider_face", wider_face_gt_dir=gt_dir)
    MetadataCatalog.get(name).set(**metadata)


def register_all_retinaface(root: str) -> None:
    """``wider_face_train_landmarks`` under ``<root>/widerface`` (RetinaFace released
    landmarks of the train split only)."""
    widerface = os.path.join(root, "widerface")
    register_retinaface_layout(
        "wider_face_train_landmarks",
        os.path.join(widerface, LABEL_FILE.format(split="train")),
        os.path.join(widerface, SPLIT_FILES["train"][1]),
    )
