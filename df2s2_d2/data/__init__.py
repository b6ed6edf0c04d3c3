"""WIDER FACE and synthetic face data: parsing, registration, mapper.

Importing this package registers ``wider_face_{train,val,test}``,
``synth_faces_{train,val}`` and the five-landmark ``wider_face_train_landmarks`` and
``synth_faces_{train,val}_landmarks`` under ``$DETECTRON2_DATASETS`` (default
``datasets``).
"""

import os

from .box_validation import validate_annotations
from .dataset_mapper import WiderFaceDatasetMapper, build_face_augmentation
from .image_reading import BadImageError, read_image
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
    "ensure_synthetic_dataset",
    "QUICKSTART_DATA",
    "in_subset",
    "write_wider_face_txt",
    "write_wider_face_mat",
    "write_retinaface_labels",
    "retinaface_row",
]
