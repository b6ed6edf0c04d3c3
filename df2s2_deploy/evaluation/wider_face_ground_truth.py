"""The WIDER FACE evaluation ground truth: `eval_tools/ground_truth/*.mat`.

`wider_face_val.mat` lists every val image and its face boxes;
`wider_{easy,medium,hard}_val.mat` add `gt_list`, the 1-based indices of the
faces that belong to each subset. All hold (E, 1) MATLAB cell arrays, read
with `scipy.io.loadmat`:

    event_list{i}          event folder, e.g. '0--Parade'
    file_list{i}{j}        image name without '.jpg'
    face_bbx_list{i}{j}    (n, 4) int32 x, y, w, h (never empty in the official files)
    gt_list{i}{j}          (k, 1) uint8/uint16 1-based face indices, or empty
"""

import logging
import os
from dataclasses import dataclass
from typing import Dict, List, Tuple

import numpy as np
import scipy.io

__all__ = [
    "SUBSETS",
    "ALL_FACES_FILE",
    "ImageKey",
    "subset_file_name",
    "WiderFaceGroundTruth",
    "load_wider_face_ground_truth",
]

logger = logging.getLogger(__name__)

SUBSETS = ("easy", "medium", "hard")
ALL_FACES_FILE = "wider_face_val.mat"


def subset_file_name(subset: str) -> str:
    """File that holds `gt_list` of one subset, e.g. 'wider_easy_val.mat'."""
    return f"wider_{subset}_val.mat"


ImageKey = Tuple[str, str]  # (event, image name without extension)


@dataclass(frozen=True)
class WiderFaceGroundTruth:
    """Ground truth of every image, in .mat order (events, then images).

    Attributes:
        image_keys: (event, name) of each image.
        boxes: per image, (n_i, 4) int32 x, y, w, h; (0, 4) when the .mat cell is empty.
        subset_indices: subset name -> per image, (k_i,) int64 0-based indices of
            the faces in that subset (as listed, duplicates kept).
    """

    image_keys: List[ImageKey]
    boxes: List[np.ndarray]
    subset_indices: Dict[str, List[np.ndarray]]

    def num_faces(self, subset: str) -> int:
        """Recall denominator of a subset: the summed length of its gt_list cells."""
        return int(sum(len(indices) for indices in self.subset_indices[subset]))


def load_wider_face_ground_truth(gt_dir: str) -> WiderFaceGroundTruth:
    """Read `wider_face_val.mat` and the three subset files from `gt_dir`.

    Raises FileNotFoundError for a missing file and ValueError, naming the file
    and the cell, for a structure that differs from the official one.
    """
    path = os.path.join(gt_dir, ALL_FACES_FILE)
    image_keys, boxes = _read_images(_load(path), path)
    subset_indices = {}
    for subset in SUBSETS:
        subset_path = os.path.join(gt_dir, subset_file_name(subset))
        mat = _load(subset_path)
        subset_keys, subset_boxes = _read_images(mat, subset_path)
        _check_same_images(path, image_keys, boxes, subset_path, subset_keys, subset_boxes)
        subset_indices[subset] = _read_subset(mat, subset_path, boxes)
    return WiderFaceGroundTruth(image_keys, boxes, subset_indices)


def _load(path: str) -> dict:
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{path}: not found. The WIDER FACE evaluation needs {ALL_FACES_FILE} and "
            f"{', '.join(subset_file_name(s) for s in SUBSETS)} in one folder "
            "(eval_tools/ground_truth of the official release)."
        )
    with open(path, "rb") as f:
        header = f.read(128)
    variables = "event_list, file_list, face_bbx_list"
    if os.path.basename(path) != ALL_FACES_FILE:
        variables += ", gt_list"
    expected = f"expected a MATLAB v5 .mat file as in eval_tools/ground_truth ({variables})"
    if not header:
        raise ValueError(f"{path}: the file is empty (0 bytes); {expected}")
    if header.startswith(b"MATLAB 7.3") or _is_hdf5(path):
        raise ValueError(
            f"{path}: a MATLAB v7.3 (HDF5) file, which scipy.io cannot read; {expected}. "
            "Re-save it in MATLAB with save(..., '-v7')"
        )
    try:
        return scipy.io.loadmat(path)
    except Exception as e:  # scipy raises many types (ValueError, TypeError, zlib.error, ...)
        raise ValueError(
            f"{path}: cannot be read as a .mat file ({type(e).__name__}: {e}); {expected}. "
            "Is it truncated or a different file?"
        ) from e


def _is_hdf5(path: str) -> bool:
    """HDF5 signature at offset 0 or 512 (MATLAB v7.3 puts a 512-byte header first)."""
    with open(path, "rb") as f:
        for offset in (0, 512):
            f.seek(offset)
            if f.read(8) == b"\x89HDF\r\n\x1a\n":
                return True
    return False


def _variable(mat: dict, name: str, path: str) -> np.ndarray:
    if name not in mat:
        raise ValueError(f"{path}: variable '{name}' is missing")
    cells = mat[name]
    if cells.dtype != object or cells.ndim != 2 or cells.shape[1] != 1:
        raise ValueError(
            f"{path}: '{name}' should be an (E, 1) cell array, got {cells.dtype} {cells.shape}"
        )
    return cells


def _string(cell, where: str) -> str:
    values = np.asarray(cell).ravel()
    if values.size != 1 or not isinstance(values[0], str):
        raise ValueError(f"{where}: expected a character array, got {values!r}")
    return str(values[0])


def _column_cell(cell, where: str) -> np.ndarray:
    cells = np.asarray(cell)
    if cells.size == 0:
        return np.empty((0, 1), dtype=object)
    if cells.dtype != object or cells.ndim != 2 or cells.shape[1] != 1:
        raise ValueError(f"{where}: expected an (n, 1) cell array, got {cells.dtype} {cells.shape}")
    return cells


def _read_images(mat: dict, path: str) -> Tuple[List[ImageKey], List[np.ndarray]]:
    events = _variable(mat, "event_list", path)
    files = _variable(mat, "file_list", path)
    face_boxes = _variable(mat, "face_bbx_list", path)
    if not (len(events) == len(files) == len(face_boxes)):
        raise ValueError(
            f"{path}: event_list, file_list and face_bbx_list have {len(events)}, "
            f"{len(files)} and {len(face_boxes)} events"
        )
    keys, boxes = [], []
    for i in range(len(events)):
        event = _string(events[i, 0], f"{path}: event_list{{{i + 1}}}")
        names = _column_cell(files[i, 0], f"{path}: file_list{{{i + 1}}}")
        event_boxes = _column_cell(face_boxes[i, 0], f"{path}: face_bbx_list{{{i + 1}}}")
        if len(names) != len(event_boxes):
            raise ValueError(
                f"{path}: event {i + 1} ({event}) has {len(names)} names in file_list "
                f"and {len(event_boxes)} cells in face_bbx_list"
            )
        for j in range(len(names)):
            where = f"{{{i + 1}}}{{{j + 1}}}"
            keys.append((event, _string(names[j, 0], f"{path}: file_list{where}")))
            boxes.append(_boxes(event_boxes[j, 0], f"{path}: face_bbx_list{where}"))
    return keys, boxes


def _boxes(cell, where: str) -> np.ndarray:
    """(n, 4) int32 boxes of one image; the official files store int32."""
    boxes = np.asarray(cell)
    if boxes.size == 0:
        return np.zeros((0, 4), dtype=np.int32)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(
            f"{where}: expected an (n, 4) array of x, y, w, h, got shape {boxes.shape}"
        )
    if boxes.dtype == np.int32:
        return boxes
    if not np.issubdtype(boxes.dtype, np.number) or np.iscomplexobj(boxes):
        raise ValueError(f"{where}: expected integer boxes (int32), got {boxes.dtype} values")
    if not np.all(np.isfinite(boxes)) or not np.array_equal(boxes, np.round(boxes)):
        raise ValueError(
            f"{where}: expected integer boxes (int32), got non-integer {boxes.dtype} values"
        )
    logger.warning(
        "%s: boxes stored as %s; evaluated as int32 like the official files", where, boxes.dtype
    )
    return boxes.astype(np.int32)


def _check_same_images(path, keys, boxes, subset_path, subset_keys, subset_boxes):
    if subset_keys != keys:
        raise ValueError(f"{subset_path}: its event_list / file_list differ from those of {path}")
    for key, a, b in zip(keys, boxes, subset_boxes):
        if not np.array_equal(a, b):
            raise ValueError(
                f"{subset_path}: face boxes of {key[0]}/{key[1]} differ from those of {path}"
            )


def _read_subset(mat: dict, path: str, boxes: List[np.ndarray]) -> List[np.ndarray]:
    """Per image, the 0-based indices of the subset's faces."""
    cells = _variable(mat, "gt_list", path)
    subset = []
    for i in range(len(cells)):
        event_cells = _column_cell(cells[i, 0], f"{path}: gt_list{{{i + 1}}}")
        for j in range(len(event_cells)):
            where = f"{path}: gt_list{{{i + 1}}}{{{j + 1}}}"
            if len(subset) == len(boxes):
                raise ValueError(f"{where}: more gt_list cells than images ({len(boxes)})")
            subset.append(_indices(event_cells[j, 0], len(boxes[len(subset)]), where))
    if len(subset) != len(boxes):
        raise ValueError(
            f"{path}: gt_list has {len(subset)} images, face_bbx_list has {len(boxes)}"
        )
    return subset


def _indices(cell, num_faces: int, where: str) -> np.ndarray:
    indices = np.asarray(cell).ravel()
    if indices.size == 0:
        return np.zeros(0, dtype=np.int64)
    if not np.issubdtype(indices.dtype, np.number):
        raise ValueError(f"{where}: expected numeric face indices, got {indices.dtype}")
    indices = indices.astype(np.int64) - 1
    if indices.min() < 0 or indices.max() >= num_faces:
        raise ValueError(
            f"{where}: face indices must lie in 1..{num_faces} (the image's faces), "
            f"got {indices.min() + 1}..{indices.max() + 1}"
        )
    return indices
