"""Read an image file fully, or say which file could not be read and why.

Detectron2's ``read_image`` decodes lazily (a truncated JPEG fails later, inside the
data loader, without its name) and saturates 16-bit images when converting them to
8 bits. :func:`read_image` decodes the whole file at once, scales 16-bit images to
8 bits, applies the EXIF orientation as Detectron2 does, and turns every decoding
failure into a :class:`BadImageError` that names the file.
"""

import os

import numpy as np
from detectron2.data import detection_utils as utils
from detectron2.utils.file_io import PathManager
from PIL import Image

from df2s2_deploy.preprocessing import DECODE_ERRORS, to_8_bits

__all__ = ["BadImageError", "DECODE_ERRORS", "read_image", "check_image_size"]


class BadImageError(ValueError):
    """An image that cannot be used; the message names the file and the reason."""

    def __init__(self, file_name: str, reason: str):
        super().__init__(f"{file_name}: {reason}")
        self.file_name, self.reason = file_name, reason


def read_image(file_name: str, format: str = None) -> np.ndarray:
    """The (H, W, C) uint8 image of ``file_name`` in ``format`` ("BGR", "RGB", "L", ...),
    fully decoded, EXIF orientation applied. Raises :class:`BadImageError` naming the
    file when it is missing, empty, truncated or not an image."""
    file_name = os.fspath(file_name)
    try:
        if os.path.isfile(file_name) and os.path.getsize(file_name) == 0:
            raise BadImageError(file_name, "empty file (0 bytes), expected an image")
        with PathManager.open(file_name, "rb") as f:
            image = Image.open(f)
            image.load()  # decode everything now: truncated data fails here
            image = utils._apply_exif_orientation(to_8_bits(image))
            return utils.convert_PIL_to_numpy(image, format)
    except BadImageError:
        raise
    except DECODE_ERRORS as e:
        raise BadImageError(
            file_name, f"could not be read as an image ({type(e).__name__}: {e})"
        ) from e


def check_image_size(dataset_dict: dict, image: np.ndarray) -> None:
    """Detectron2's ``check_image_size`` (fills in missing height / width), raising
    :class:`BadImageError` naming the file when the dict's size is not the image's."""
    try:
        utils.check_image_size(dataset_dict, image)
    except utils.SizeMismatchError as e:
        h, w = image.shape[:2]
        raise BadImageError(
            dataset_dict.get("file_name", "<no file_name>"),
            f"decoded size {w} x {h} (width x height) differs from the dataset dict's "
            f"{dataset_dict.get('width')} x {dataset_dict.get('height')}",
        ) from e
