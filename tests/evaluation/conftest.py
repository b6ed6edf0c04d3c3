"""WIDER FACE evaluation test fixtures: hand-made ground truth in the official .mat layout."""

import os

import numpy as np
import pytest
import scipy.io

SUBSET_NAMES = ("easy", "medium", "hard")


def _cells(items) -> np.ndarray:
    """An (n, 1) MATLAB cell array holding `items` (numpy object array filled one by one)."""
    cells = np.empty((len(items), 1), dtype=object)
    for k, item in enumerate(items):
        cells[k, 0] = item
    return cells


def write_ground_truth(gt_dir, images, subsets):
    """Write wider_face_val.mat and wider_{easy,medium,hard}_val.mat as the official files are.

    Args:
        images: list of (event, name, boxes) with boxes a list of [x, y, w, h]
            (empty list: an empty cell); events keep their first-seen order.
        subsets: subset name -> per image, the list of 1-based face indices.
    """
    os.makedirs(gt_dir, exist_ok=True)
    events = list(dict.fromkeys(event for event, _, _ in images))
    per_event = {
        event: [k for k, image in enumerate(images) if image[0] == event] for event in events
    }

    def boxes_of(k):
        return np.array(images[k][2], dtype=np.int32).reshape(-1, 4)

    common = {
        "event_list": _cells(events),
        "file_list": _cells([_cells([images[k][1] for k in per_event[e]]) for e in events]),
        "face_bbx_list": _cells([_cells([boxes_of(k) for k in per_event[e]]) for e in events]),
    }
    scipy.io.savemat(os.path.join(gt_dir, "wider_face_val.mat"), common)
    for subset in SUBSET_NAMES:

        def indices(k):
            values = subsets[subset][k]
            return np.array(values, dtype=np.uint8).reshape(-1, 1)

        gt_list = _cells([_cells([indices(k) for k in per_event[e]]) for e in events])
        scipy.io.savemat(
            os.path.join(gt_dir, f"wider_{subset}_val.mat"), dict(common, gt_list=gt_list)
        )
    return gt_dir


@pytest.fixture
def ground_truth_writer():
    return write_ground_truth


@pytest.fixture
def real_ground_truth_dir(wider_face_annotations):
    """The official eval_tools/ground_truth under $WIDER_FACE_ANNOTATIONS; skips where absent."""
    gt_dir = wider_face_annotations / "eval_tools" / "ground_truth"
    if not (gt_dir / "wider_face_val.mat").is_file():
        pytest.skip(f"{gt_dir} has no wider_face_val.mat (the official evaluation ground truth)")
    return str(gt_dir)
