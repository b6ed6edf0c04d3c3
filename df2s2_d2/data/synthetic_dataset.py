"""A synthetic face data set in the WIDER FACE layout: the data of the quick start
and of the tests, for machines without WIDER FACE. Command line: ``python -m
df2s2_d2.data.synthetic`` (see there).

``generate_synthetic_dataset(out_dir, ...)`` writes::

    WIDER_train/images/<event>/<name>.jpg     WIDER_val/images/<event>/<name>.jpg
    wider_face_split/wider_face_{train,val}_bbx_gt.txt
    eval_tools/ground_truth/wider_face_val.mat, wider_{easy,medium,hard}_val.mat
    retinaface_gt/{train,val}/label.txt        (five landmarks; not with landmarks=False)

so it goes through the same parser, mapper and evaluator as WIDER FACE. Scenes are
drawn by :mod:`.synthetic_scene`; the same arguments give the same bytes. The
``label.txt`` files hold the same boxes as the WIDER txt files, in RetinaFace's
format: an invalid face without landmarks (fifteen -1.0), every other face with its
five points (:func:`.synthetic_scene.head_landmarks`: flag 1.0 for the far eye of a
turned head and points under an occluder, 0.0 otherwise); the last number, a
quality score in RetinaFace's files, is 1.0 for every face.

Evaluation subsets (a face's scale is sqrt(w * h) in pixels of the written image;
invalid faces are in none; easy is in medium is in hard):

    easy    scale >= 32, blur 0 (clear),    occlusion 0 (none)
    medium  scale >= 16, blur <= 1,         occlusion <= 1
    hard    every valid face
"""

import json
import os
import shutil
from typing import Callable, Dict, List, Optional, Tuple

import cv2
import numpy as np

from .retinaface_labels import LABEL_FILE, register_retinaface_layout
from .synthetic_scene import EVENTS, SceneFace, render_scene
from .wider_face import GT_DIR, SPLIT_FILES, register_wider_face_layout
from .wider_face_writer import (
    retinaface_row,
    write_retinaface_labels,
    write_wider_face_mat,
    write_wider_face_txt,
)

DEFAULT_IMAGE_SIZE = 384  # long side, pixels
EMPTY_IMAGE_PROB = 0.02  # images drawn without any face (the zero-face quirk)
JPEG_QUALITY = 90
# subset -> (min scale in px, max blur code, max occlusion code)
SUBSET_LIMITS = {"easy": (32.0, 0, 0), "medium": (16.0, 1, 1), "hard": (0.0, 2, 2)}
_SPLIT_IDS = {"train": 0, "val": 1}

SyntheticImage = Tuple[str, str, List[SceneFace]]  # event, name (no .jpg), faces
# (rng, height, width, event, with_faces, split) -> (image, faces): how a scene is drawn
SceneRenderer = Callable[..., Tuple[np.ndarray, List[SceneFace]]]


def render_cartoon(rng, height, width, event, with_faces, split):
    """The cartoon scenes of :mod:`.synthetic_scene` (the same for both splits)."""
    return render_scene(rng, height, width, event, with_faces=with_faces)


def in_subset(face: SceneFace, subset: str) -> bool:
    """Whether ``face`` belongs to evaluation subset "easy", "medium" or "hard"."""
    min_scale, max_blur, max_occlusion = SUBSET_LIMITS[subset]
    return (
        not face.invalid
        and face.scale >= min_scale
        and face.blur <= max_blur
        and face.occlusion <= max_occlusion
    )


def _image_shape(rng: np.random.Generator, long_side: int) -> Tuple[int, int]:
    """(H, W): landscape 4:3 (60 %), square (20 %) or portrait 3:4 (20 %)."""
    short = 2 * int(round(0.75 * long_side / 2))
    return [(short, long_side), (long_side, long_side), (long_side, short)][
        rng.choice(3, p=[0.6, 0.2, 0.2])
    ]


def _image_name(event: str, index: int) -> str:
    number, title = event.split("--")
    return f"{number}_{title}_{title}_{number}_{index}"


def generate_split(
    out_dir: str,
    split: str,
    num_images: int,
    seed: int,
    image_size: int = DEFAULT_IMAGE_SIZE,
    render: SceneRenderer = render_cartoon,
) -> List[SyntheticImage]:
    """Draw and write the images of one split; returns them in annotation-file order
    (events in string order, as the official files)."""
    image_root = os.path.join(out_dir, SPLIT_FILES[split][1])
    images = []
    for index in range(num_images):
        rng = np.random.default_rng([seed, _SPLIT_IDS[split], index])
        event = EVENTS[rng.integers(len(EVENTS))]
        height, width = _image_shape(rng, image_size)
        image, faces = render(rng, height, width, event, rng.random() >= EMPTY_IMAGE_PROB, split)
        name = _image_name(event.name, index)
        os.makedirs(os.path.join(image_root, event.name), exist_ok=True)
        path = os.path.join(image_root, event.name, name + ".jpg")
        if not cv2.imwrite(path, image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
            raise OSError(f"could not write {path}")
        images.append((event.name, name, faces))
    return sorted(images, key=lambda im: (im[0], int(im[1].rsplit("_", 1)[1])))


def generate_synthetic_dataset(
    out_dir: str,
    num_train: int,
    num_val: int,
    seed: int = 0,
    image_size: int = DEFAULT_IMAGE_SIZE,
    landmarks: bool = True,
    render: SceneRenderer = render_cartoon,
) -> Dict[str, List[SyntheticImage]]:
    """Write the whole data set under ``out_dir``; returns {"train": images, "val": images}.

    ``landmarks``: also write ``retinaface_gt/{train,val}/label.txt`` (every other
    file is the same either way). ``render``: how a scene is drawn (the cartoon
    scenes by default; :mod:`.photo_dataset` passes the photo-like ones).
    """
    split_dir = os.path.join(out_dir, "wider_face_split")
    gt_dir = os.path.join(out_dir, "eval_tools", "ground_truth")
    os.makedirs(split_dir, exist_ok=True)
    os.makedirs(gt_dir, exist_ok=True)
    result = {}
    for split, num in (("train", num_train), ("val", num_val)):
        images = generate_split(out_dir, split, num, seed, image_size, render)
        rows = [(event, name, [f.row() for f in faces]) for event, name, faces in images]
        write_wider_face_txt(os.path.join(out_dir, SPLIT_FILES[split][0]), rows, split)
        if landmarks:
            label_file = os.path.join(out_dir, LABEL_FILE.format(split=split))
            os.makedirs(os.path.dirname(label_file), exist_ok=True)
            landmark_rows = [
                (event, name, [retinaface_row(f.row()[:4], f.landmarks) for f in faces])
                for event, name, faces in images
            ]
            write_retinaface_labels(label_file, landmark_rows)
        result[split] = images
    val_rows = [(event, name, [f.row() for f in faces]) for event, name, faces in result["val"]]
    write_wider_face_mat(os.path.join(gt_dir, "wider_face_val.mat"), val_rows)
    for subset in SUBSET_LIMITS:
        members = [
            [k for k, f in enumerate(faces) if in_subset(f, subset)]
            for _, _, faces in result["val"]
        ]
        write_wider_face_mat(os.path.join(gt_dir, f"wider_{subset}_val.mat"), val_rows, members)
    return result


# The data set of the quick start and the ablation study.
QUICKSTART_DATA = dict(num_train=600, num_val=150, seed=0, image_size=DEFAULT_IMAGE_SIZE)
# Version of the files a data set holds, recorded in its stamp: 2 added the label.txt files.
FILES_VERSION = 2


def ensure_synthetic_dataset(
    out_dir: str, generate: Optional[Callable[..., object]] = None, stamp_extra=None, **params
) -> bool:
    """Generate the data set under ``out_dir`` unless the one with ``params`` is there.

    A ``synthetic.json`` stamp records the arguments and :data:`FILES_VERSION` (and
    ``stamp_extra``, a dict); a set whose stamp differs (one written before the
    landmark files existed, say) is written again. ``generate(out_dir, **params)``
    writes it (default :func:`generate_synthetic_dataset`). Returns whether it wrote.
    """
    generate = generate or generate_synthetic_dataset
    params = {**QUICKSTART_DATA, **params}
    stamped = {**params, "files_version": FILES_VERSION, **(stamp_extra or {})}
    stamp = os.path.join(out_dir, "synthetic.json")
    if os.path.isfile(stamp):
        with open(stamp) as f:
            if json.load(f) == stamped:
                return False
    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    generate(out_dir, **params)
    with open(stamp, "w") as f:
        json.dump(stamped, f)
    return True


def register_all_synth_faces(root: str, name: str = "synth_faces") -> None:
    """``<name>_{train,val}`` and ``<name>_{train,val}_landmarks`` under ``<root>/<name>``
    (``synth_faces``: the cartoon set; ``photo_faces``: the photo-like one); the val
    landmarks also have the WIDER FACE ground truth, so that one evaluation gives WIDER
    FACE AP and landmark NME."""
    synth_root = os.path.join(root, name)
    for split in _SPLIT_IDS:
        register_wider_face_layout(f"{name}_{split}", synth_root, split)
        register_retinaface_layout(
            f"{name}_{split}_landmarks",
            os.path.join(synth_root, LABEL_FILE.format(split=split)),
            os.path.join(synth_root, SPLIT_FILES[split][1]),
            gt_dir=os.path.join(synth_root, GT_DIR) if split == "val" else None,
        )
