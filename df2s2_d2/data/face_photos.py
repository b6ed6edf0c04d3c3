"""Real photos with face boxes in COCO format, registered as Detectron2 datasets and
scored by :class:`df2s2_d2.evaluation.FacePhotoEvaluator` (AP at IoU 0.5 and 0.3).

``real_photos_dev``: the development photos, from ``$DETECTRON2_DATASETS/real_photos``
or else ``../shared/real_photos`` beside this repository, each holding
``real_photos_dev.json`` and ``images/``. For measuring only: never train on them.
``register_face_photos`` registers any such folder of a user's.
"""
import os
from pathlib import Path
from typing import Optional

from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data.datasets import load_coco_json

REAL_PHOTOS_JSON = "real_photos_dev.json"
SHARED_REAL_PHOTOS = Path(__file__).resolve().parents[2].parent / "shared" / "real_photos"


def register_face_photos(name: str, json_file: str, image_root: str) -> None:
    """Register COCO-format face boxes as ``name`` (as Detectron2's
    ``register_coco_instances`` does), evaluated by ``FacePhotoEvaluator``."""
    DatasetCatalog.register(name, lambda: load_coco_json(json_file, image_root, name))
    MetadataCatalog.get(name).set(
        json_file=json_file, image_root=image_root, evaluator_type="face_photos"
    )


def find_real_photos(root: str) -> Optional[Path]:
    """The development photos' folder (``<root>/real_photos``, else the shared one), or None."""
    for folder in (Path(root) / "real_photos", SHARED_REAL_PHOTOS):
        if (folder / REAL_PHOTOS_JSON).is_file():
            return folder
    return None


def register_real_photos(root: str) -> None:
    """``real_photos_dev`` when :func:`find_real_photos` finds the folder."""
    folder = find_real_photos(root)
    if folder is not None:
        register_face_photos("real_photos_dev", str(folder / REAL_PHOTOS_JSON), str(folder / "images"))
