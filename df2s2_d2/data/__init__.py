"""WIDER FACE and synthetic face data: parsing, registration, mapper.

Importing this package registers ``wider_face_{train,val,test}``,
``synth_faces_{train,val}`` (cartoon faces), ``photo_faces_{train,val}`` (photo-like
faces; also ``<folder>_{train,val}`` for each ``photo_faces_*`` folder, the other recipes
of dev/photo_ingredients.py), ``real_photos_dev`` (real photos, for measuring; when found) and the five-landmark ``wider_face_train_landmarks`` and
``synth_faces_{train,val}_landmarks`` under ``$DETECTRON2_DATASETS`` (default
``datasets``).
"""

import os

from .box_validation import validate_annotations
from .dataset_mapper import WiderFaceDatasetMapper, build_face_augmentation
from .face_photos import find_real_photos, register_face_photos, register_real_photos
from .image_reading import BadImageError, read_image
from .photo_dataset import PHOTO_QUICKSTART_DATA, ensure_photo_dataset, generate_photo_dataset
from .photo_scene import PhotoRecipe
from .photo_sources import MissingSourceError, load_photo_sources
from .retinaface_labels import (
    LandmarkCounts,
    load_retinaface_labels,
    parse_retinaface_labels,
    register_all_retinaface,
    register_retinaface_layout,
)
from .synthetic_dataset import (
    QUICKSTART_DATA,
    ensure_synthetic_dataset,
    generate_synthetic_dataset,
    in_subset,
    register_all_synth_faces,
)
from .test_loader import SkipBadImages, build_face_test_loader
from .train_loader import SeededBatches, build_face_train_loader
from .transforms import (
    DegenerateImageError,
    FitToSquare,
    PhotometricTransform,
    RandomPhotometricDistortion,
    RandomSquareFaceCrop,
)
from .wider_face import (
    FaceCounts,
    WiderFaceFormatError,
    load_wider_face_filelist,
    load_wider_face_txt,
    parse_wider_face_txt,
    register_all_wider_face,
    register_wider_face_layout,
)
from .wider_face_writer import (
    retinaface_row,
    write_retinaface_labels,
    write_wider_face_mat,
    write_wider_face_txt,
)

_root = os.path.expanduser(os.getenv("DETECTRON2_DATASETS", "datasets"))
register_all_wider_face(_root)
register_all_retinaface(_root)
register_all_synth_faces(_root)
register_all_synth_faces(_root, "photo_faces")
for _variant in sorted(os.listdir(_root)) if os.path.isdir(_root) else []:
    if _variant.startswith("photo_faces_"):  # other recipes of the photo-like set (studies)
        register_all_synth_faces(_root, _variant)
register_real_photos(_root)

__all__ = [
    "WiderFaceDatasetMapper",
    "build_face_augmentation",
    "build_face_test_loader",
    "build_face_train_loader",
    "SeededBatches",
    "SkipBadImages",
    "BadImageError",
    "read_image",
    "validate_annotations",
    "DegenerateImageError",
    "FitToSquare",
    "RandomSquareFaceCrop",
    "RandomPhotometricDistortion",
    "PhotometricTransform",
    "load_wider_face_txt",
    "load_wider_face_filelist",
    "parse_wider_face_txt",
    "FaceCounts",
    "WiderFaceFormatError",
    "register_wider_face_layout",
    "register_all_wider_face",
    "register_all_synth_faces",
    "load_retinaface_labels",
    "parse_retinaface_labels",
    "LandmarkCounts",
    "register_retinaface_layout",
    "register_all_retinaface",
    "generate_synthetic_dataset",
    "generate_photo_dataset",
    "ensure_photo_dataset",
    "PHOTO_QUICKSTART_DATA",
    "PhotoRecipe",
    "MissingSourceError",
    "load_photo_sources",
    "register_face_photos",
    "register_real_photos",
    "find_real_photos",
    "ensure_synthetic_dataset",
    "QUICKSTART_DATA",
    "in_subset",
    "write_wider_face_txt",
    "write_wider_face_mat",
    "write_retinaface_labels",
    "retinaface_row",
]
