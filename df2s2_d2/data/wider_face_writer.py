"""Write annotations in the official WIDER FACE formats: the split txt and the
evaluation ground-truth .mat files (``eval_tools/ground_truth``); and in RetinaFace's
five-landmark format (``label.txt``, see :mod:`.retinaface_labels`).

An image is given as ``(event, name, rows)``: event folder ("0--Parade"), image
name without ".jpg", and one row ``[x, y, w, h, blur, expression, illumination,
invalid, occlusion, pose]`` of integers per face (``rows`` empty: no face); for
``label.txt``, one row of RetinaFace's twenty numbers per face (:func:`retinaface_row`).
"""

import io
from typing import List, Optional, Sequence, Tuple

import numpy as np
import scipy.io

from df2s2_deploy.face_landmarks import NOT_LABELLED, NUM_LANDMARKS

from .retinaface_labels import FLAG_NOT_LABELLED, VISIBILITY_TO_FLAG
from .wider_face import ATTRIBUTES

Image = Tuple[str, str, Sequence[Sequence[int]]]
_ZERO_ROW = [0] * 10
# .mat header text (116 bytes); fixed so that the same content gives the same bytes.
_MAT_HEADER = b"MATLAB 5.0 MAT-file, written by df2s2_d2 (WIDER FACE evaluation format)"


def write_wider_face_txt(path: str, images: Sequence[Image], split: str) -> None:
    """The split txt, exactly as the official files: LF, a space after every box line,
    a zero-face image as ``0`` + ten zeros (train) or ``1`` + an all-zero box (val)."""
    lines = []
    for event, name, rows in images:
        lines.append(f"{event}/{name}.jpg")
        if len(rows):
            lines.append(str(len(rows)))
            lines += [" ".join(str(int(v)) for v in row) + " " for row in rows]
        else:
            lines.append("0" if split == "train" else "1")
            lines.append(" ".join(map(str, _ZERO_ROW)) + " ")
    with open(path, "w", newline="\n") as f:
        f.write("\n".join(lines) + "\n")


def retinaface_row(
    box: Sequence[float],
    landmarks: Optional[Sequence[Tuple[float, float, int]]],
    score: float = 1.0,
) -> List[float]:
    """RetinaFace's twenty numbers of a face: box (x, y, w, h), five (x, y, flag) and
    ``score``. ``landmarks``: five (x, y, v), v in Detectron2's convention (VISIBLE ->
    flag 0.0, LABELLED_HIDDEN -> 1.0, NOT_LABELLED -> -1.0 -1.0 -1.0), or None for a
    face without landmarks (fifteen -1.0)."""
    row = [float(v) for v in box]
    for k in range(NUM_LANDMARKS):
        if landmarks is None or landmarks[k][2] == NOT_LABELLED:
            row += [FLAG_NOT_LABELLED] * 3
        else:
            x, y, v = landmarks[k]
            row += [float(x), float(y), VISIBILITY_TO_FLAG[v]]
    return row + [float(score)]


def _retinaface_number(v: float) -> str:
    """At most 3 decimals, as RetinaFace writes its numbers ("488.906", "0.0", "-1.0")."""
    return repr(round(float(v), 3))


def write_retinaface_labels(path: str, images: Sequence[Image]) -> None:
    """A RetinaFace ``label.txt``: ``# <event>/<name>.jpg``, then one line per face
    (box as integers when integral, other numbers rounded to 3 decimals); LF line ends."""
    lines = []
    for event, name, rows in images:
        lines.append(f"# {event}/{name}.jpg")
        for row in rows:
            box = [str(int(v)) if float(v).is_integer() else _retinaface_number(v) for v in row[:4]]
            lines.append(" ".join(box + [_retinaface_number(v) for v in row[4:]]))
    with open(path, "w", newline="\n") as f:
        f.write("\n".join(lines) + "\n")


def gt_index_array(indices: Sequence[int], num_faces: int) -> np.ndarray:
    """1-based face indices as the official ``gt_list`` stores them: (k, 1) uint8,
    uint16 when an index exceeds 255; an image with one face that is not in the
    subset gets (0, 0), any other empty list (0, 1) (MATLAB's ``find``)."""
    idx = np.asarray(indices, dtype=np.int64).reshape(-1, 1)
    dtype = np.uint16 if len(idx) and idx.max() > 255 else np.uint8
    if len(idx) == 0 and num_faces <= 1:
        return np.zeros((0, 0), dtype)
    return idx.astype(dtype)


def _cells(items: List) -> np.ndarray:
    cells = np.empty((len(items), 1), dtype=object)
    for i, item in enumerate(items):
        cells[i, 0] = item
    return cells


def write_wider_face_mat(
    path: str, images: Sequence[Image], subset: Optional[Sequence[Sequence[int]]] = None
) -> None:
    """An evaluation ground-truth .mat (``wider_face_val.mat``, or with ``subset``
    ``wider_{easy,medium,hard}_val.mat``).

    Args:
        images: in file order; events are stored in string order, as the official files.
        subset: per image (same order), the 0-based indices of its faces in the subset;
            stored 1-based as ``gt_list``.
    Writes (n_events, 1) cell arrays ``event_list``, ``file_list``, ``face_bbx_list``
    (int32 (n, 4) x, y, w, h; a zero-face image holds one [0 0 0 0]), the six
    ``<attribute>_label_list`` (uint8 (n, 1)) and, with ``subset``, ``gt_list``.
    """
    order = sorted({event for event, _, _ in images})
    per_event = {e: [] for e in order}
    for i, (event, name, rows) in enumerate(images):
        rows = np.asarray(rows if len(rows) else [_ZERO_ROW], dtype=np.int64).reshape(-1, 10)
        gt = None if subset is None else gt_index_array([k + 1 for k in subset[i]], len(rows))
        per_event[event].append((name, rows, gt))
    content = {
        "event_list": _cells(order),
        "file_list": _cells([_cells([n for n, _, _ in per_event[e]]) for e in order]),
        "face_bbx_list": _cells(
            [_cells([r[:, :4].astype(np.int32) for _, r, _ in per_event[e]]) for e in order]
        ),
    }
    for k, attribute in enumerate(ATTRIBUTES):
        content[f"{attribute}_label_list"] = _cells(
            [
                _cells([r[:, 4 + k : 5 + k].astype(np.uint8) for _, r, _ in per_event[e]])
                for e in order
            ]
        )
    if subset is not None:
        content["gt_list"] = _cells([_cells([g for _, _, g in per_event[e]]) for e in order])
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, dict(sorted(content.items())), format="5", do_compression=False)
    data = bytearray(buffer.getvalue())
    data[:116] = _MAT_HEADER.ljust(116, b" ")  # scipy writes the current time here
    with open(path, "wb") as f:
        f.write(bytes(data))
