"""AP per face size and per WIDER FACE attribute, on the official protocol.

Each breakdown subset is a set of faces of the *hard* subset (every valid face of
the official ground truth): those whose size sqrt(w * h) falls in a bin, or whose
attribute code (occlusion, pose, blur, illumination, expression, from the
``*_label_list`` cells of ``wider_face_val.mat``) has one value. Every other face
is treated as the official code treats a face outside "hard": a detection on it is
dropped, neither a hit nor a false positive. So a bin that covers every size gives
exactly the hard AP, and the bins (as the values of one attribute) partition the
hard faces. Scores are normalised once over all predictions, as for easy / medium /
hard. A subset without faces has no AP (``None``), never 0.

WIDER FACE's own paper (Yang et al., CVPR 2016) evaluates by scale, occlusion and
pose in this spirit; the size bins here follow the pyramid's strides (16 px is the
smallest anchor).
"""

import math
import os
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import scipy.io

from .wider_face_ground_truth import ALL_FACES_FILE, ImageKey, WiderFaceGroundTruth
from .wider_face_protocol import evaluate_wider_face

__all__ = [
    "SIZE_BINS",
    "ATTRIBUTE_VALUES",
    "BASE_SUBSET",
    "BreakdownEntry",
    "Breakdown",
    "face_sizes",
    "read_attribute_labels",
    "size_bin_name",
    "breakdown_subsets",
    "evaluate_breakdown",
]

# sqrt(w * h) bins in pixels of the image as annotated, [low, high).
SIZE_BINS: Tuple[Tuple[float, float], ...] = (
    (0, 16), (16, 32), (32, 64), (64, 128), (128, math.inf)
)
# WIDER FACE's attribute codes (wider_face_split/readme.txt), value names by code.
ATTRIBUTE_VALUES: Dict[str, Tuple[str, ...]] = {
    "occlusion": ("none", "partial", "heavy"),
    "pose": ("typical", "atypical"),
    "blur": ("clear", "normal", "heavy"),
    "illumination": ("normal", "extreme"),
    "expression": ("typical", "exaggerate"),
}
BASE_SUBSET = "hard"


@dataclass(frozen=True)
class BreakdownEntry:
    """One breakdown subset: its faces and AP (fraction; None when it has no face)."""

    name: str
    num_faces: int
    ap: Optional[float]


@dataclass(frozen=True)
class Breakdown:
    """The entries in report order (sizes, then attributes) and what could not be done."""

    entries: List[BreakdownEntry]
    notes: List[str]

    def to_dict(self) -> dict:
        """JSON-ready: {"subsets": {name: {"faces", "AP"}}, "notes": [...]}."""
        return {
            "subsets": {e.name: {"faces": e.num_faces, "AP": e.ap} for e in self.entries},
            "notes": list(self.notes),
        }

    def table(self) -> str:
        """Plain-text table: name, faces, AP (or 'empty')."""
        lines = [f"{'subset':<24}{'faces':>8}  AP"]
        for e in self.entries:
            ap = "empty (no face)" if e.ap is None else f"{e.ap:.6f}"
            lines.append(f"{e.name:<24}{e.num_faces:>8}  {ap}")
        return "\n".join(lines + [f"note: {n}" for n in self.notes])


def face_sizes(boxes: np.ndarray) -> np.ndarray:
    """sqrt(w * h) of (n, 4) x, y, w, h boxes; 0 for a degenerate box. (n,) float64."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.sqrt(np.clip(boxes[:, 2], 0, None) * np.clip(boxes[:, 3], 0, None))


def size_bin_name(low: float, high: float) -> str:
    """'size_16-32', 'size_128-inf'."""
    return f"size_{low:g}-{high:g}"


def read_attribute_labels(
    gt_dir: str, gt: WiderFaceGroundTruth
) -> Tuple[Dict[str, List[np.ndarray]], List[str]]:
    """The attribute codes of every face from ``<gt_dir>/wider_face_val.mat``.

    Returns (attribute -> per image, (n_i,) int64 codes, in `gt` order) for the
    attributes whose ``<attribute>_label_list`` is there and fits the boxes, and a
    note for each that is missing or does not fit (naming the file and the cell).
    """
    path = os.path.join(gt_dir, ALL_FACES_FILE)
    mat = scipy.io.loadmat(path)
    labels, notes = {}, []
    for attribute in ATTRIBUTE_VALUES:
        variable = f"{attribute}_label_list"
        if variable not in mat:
            notes.append(f"{path}: no '{variable}': no {attribute} breakdown")
            continue
        try:
            labels[attribute] = _per_image_codes(mat[variable], gt, f"{path}: {variable}")
        except ValueError as e:
            notes.append(f"{e}: no {attribute} breakdown")
    return labels, notes


def _per_image_codes(cells, gt: WiderFaceGroundTruth, where: str) -> List[np.ndarray]:
    flat = [np.asarray(c).ravel().astype(np.int64) for event in cells[:, 0] for c in event[:, 0]]
    if len(flat) != len(gt.boxes):
        raise ValueError(f"{where}: {len(flat)} images, the boxes have {len(gt.boxes)}")
    for k, (codes, boxes) in enumerate(zip(flat, gt.boxes)):
        if len(codes) != len(boxes):
            event, name = gt.image_keys[k]
            raise ValueError(
                f"{where}: {event}/{name} has {len(codes)} codes for {len(boxes)} faces"
            )
    return flat


def breakdown_subsets(
    gt: WiderFaceGroundTruth,
    labels: Mapping[str, Sequence[np.ndarray]],
    size_bins: Sequence[Tuple[float, float]] = SIZE_BINS,
) -> Dict[str, List[np.ndarray]]:
    """name -> per image, 0-based indices of the base subset's faces in that subset.

    Names: ``size_<low>-<high>`` for each bin, ``<attribute>_<value>`` for each
    attribute in ``labels`` and each of its values (:data:`ATTRIBUTE_VALUES`).
    """
    base = gt.subset_indices[BASE_SUBSET]
    sizes = [face_sizes(boxes) for boxes in gt.boxes]
    subsets = {}
    for low, high in size_bins:
        subsets[size_bin_name(low, high)] = [
            idx[(s[idx] >= low) & (s[idx] < high)] for idx, s in zip(base, sizes)
        ]
    for attribute, codes in labels.items():
        for value, value_name in enumerate(ATTRIBUTE_VALUES[attribute]):
            subsets[f"{attribute}_{value_name}"] = [
                idx[c[idx] == value] for idx, c in zip(base, codes)
            ]
    return subsets


def evaluate_breakdown(
    gt: WiderFaceGroundTruth,
    predictions: Mapping[ImageKey, Optional[np.ndarray]],
    gt_dir: Optional[str] = None,
    size_bins: Sequence[Tuple[float, float]] = SIZE_BINS,
) -> Breakdown:
    """AP per size bin and, when ``gt_dir``'s ``wider_face_val.mat`` has the label
    lists, per attribute value. ``predictions`` as for :func:`evaluate_wider_face`."""
    labels, notes = read_attribute_labels(gt_dir, gt) if gt_dir else ({}, [])
    if gt_dir is None:
        notes = ["no ground-truth folder given: sizes only, no attribute breakdown"]
    subsets = breakdown_subsets(gt, labels, size_bins)
    curves = evaluate_wider_face(gt, predictions, subsets)
    entries = [
        BreakdownEntry(name, c.num_faces, c.ap if c.num_faces else None)
        for name, c in curves.items()
    ]
    return Breakdown(entries, notes)
