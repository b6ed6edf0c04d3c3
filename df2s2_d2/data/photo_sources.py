"""The real image material of the photo-like face set, all shipped in the scikit-image
wheel (``skimage/data/``), read once and checked before any image is written.

- Face crops: ``lfw_subset.npy``, 100 Labeled Faces in the Wild crops (25 x 25 grey,
  forehead to chin, cheek to cheek) and 100 non-face crops of the same photos. The
  only photos of people used for training.
- Backgrounds: the photos of ``skimage/data`` without a person in them (each looked
  at; the astronaut, the cameraman, the coins' heads and the meme GIF are left out).
"""
import importlib.util
import os
from dataclasses import dataclass
from typing import List, Tuple

import numpy as np
from PIL import Image

PACKAGE = "scikit-image"
FACE_FILE = "lfw_subset.npy"
NUM_FACES = 100  # rows 0-99 are faces, 100-199 non-faces
# Photos without people: textures, objects, an animal, scenes, text, science images.
BACKGROUND_FILES = (
    "brick.png",
    "chelsea.png",  # a cat's face: a hard non-face
    "coffee.png",
    "grass.png",
    "gravel.png",
    "hubble_deep_field.jpg",
    "ihc.png",
    "moon.png",
    "motorcycle_left.png",
    "motorcycle_right.png",
    "page.png",
    "retina.jpg",
    "rocket.jpg",
    "text.png",
    "cell.png",
    "clock_motion.png",
    "logo.png",
)
# The face box of WIDER FACE's convention (brow to chin, cheek to cheek) inside an LFW
# crop, in fractions of the crop (x0, y0, x1, y1): the crop's sides show a little
# background or hair, its top is the forehead and its bottom the chin.
LFW_FACE_BOX = (0.12, 0.0, 0.88, 1.0)


class MissingSourceError(RuntimeError):
    """An image source of the photo-like set is absent or unreadable."""


@dataclass
class PhotoSources:
    """faces / non_faces: (100, 25, 25) float32 in [0, 1]; backgrounds: (name, (H, W, 3)
    uint8 BGR) pairs."""

    faces: np.ndarray
    non_faces: np.ndarray
    backgrounds: List[Tuple[str, np.ndarray]]


def skimage_data_dir() -> str:
    """``skimage/data`` of the installed scikit-image, found without importing it."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise MissingSourceError(
            f"the photo-like face set needs the package {PACKAGE} (its skimage/data/ files: "
            f"{FACE_FILE} and background photos); install it with `pip install {PACKAGE}` "
            "or run `make setup`"
        )
    return os.path.join(list(spec.submodule_search_locations)[0], "data")


def load_photo_sources(data_dir: str = None) -> PhotoSources:
    """Read and check every source; raises MissingSourceError naming the file and the package."""
    data_dir = data_dir or skimage_data_dir()
    path = os.path.join(data_dir, FACE_FILE)
    try:
        crops = np.load(path)
    except (OSError, ValueError) as e:
        raise MissingSourceError(f"{path} (package {PACKAGE}): unreadable face crops: {e}") from e
    if crops.shape != (2 * NUM_FACES, 25, 25):
        raise MissingSourceError(
            f"{path} (package {PACKAGE}): shape {crops.shape}, expected (200, 25, 25)"
        )
    backgrounds = []
    for name in BACKGROUND_FILES:
        image_path = os.path.join(data_dir, name)
        try:  # Pillow: libpng would warn about page.png's colour profile through OpenCV
            with Image.open(image_path) as im:
                image = np.ascontiguousarray(np.asarray(im.convert("RGB"))[:, :, ::-1])
        except (OSError, ValueError) as e:
            raise MissingSourceError(
                f"{image_path} (package {PACKAGE}): background photo absent or unreadable: {e}"
            ) from e
        backgrounds.append((name, image))
    crops = crops.astype(np.float32)
    return PhotoSources(crops[:NUM_FACES], crops[NUM_FACES:], backgrounds)
