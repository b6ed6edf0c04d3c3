"""Images in, model input out, as Detectron2's test-time data path does it:
``read_image``, ``ResizeShortestEdge`` (PIL bilinear on uint8), normalisation, and
``ImageList`` padding to the backbone's size divisibility."""
import os
import warnings
from typing import Optional, Sequence, Tuple

import numpy as np
from PIL import Image, ImageOps

__all__ = [
    "read_image", "to_8_bits", "check_image_array", "to_model_format", "resized_shape",
    "resize", "model_input", "batch_input", "DECODE_ERRORS",
]

FORMATS = ("BGR", "RGB")
# What Pillow and the file system raise for a file that is not a readable image.
DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)


def to_8_bits(image: Image.Image) -> Image.Image:
    """16-bit (and 32-bit integer) single-channel images scaled to 0..255 (v / 257), as the
    training pipeline reads them; Pillow's ``convert`` would saturate them instead."""
    if image.mode not in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
        return image
    values = np.asarray(image)
    if image.mode == "I" and values.max(initial=0) <= 255 and values.min(initial=0) >= 0:
        return Image.fromarray(values.astype(np.uint8))
    scaled = np.clip(np.rint(values.astype(np.float64) / 257.0), 0, 255).astype(np.uint8)
    return Image.fromarray(scaled)


def read_image(path, fmt: str = "BGR", max_pixels: Optional[int] = None) -> np.ndarray:
    """(H, W, 3) uint8 in `fmt` channel order of the image file `path` (str or PathLike);
    EXIF orientation applied and 16-bit images scaled as in training.

    Raises FileNotFoundError or ValueError naming the file: missing, empty, truncated,
    not an image, or more than `max_pixels` pixels (default: Pillow's decompression-bomb
    limit).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such image file")
    if os.path.getsize(path) == 0:
        raise ValueError(f"{path}: empty file (0 bytes), expected an image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                pixels = image.width * image.height
                if max_pixels is not None and pixels > max_pixels:
                    raise Image.DecompressionBombError(
                        f"{image.width} x {image.height} = {pixels} pixels, more than the "
                        f"limit of {max_pixels}"
                    )
                image = ImageOps.exif_transpose(to_8_bits(image)).convert("RGB")
    except DECODE_ERRORS as e:
        raise ValueError(
            f"{path}: could not be read as an image ({type(e).__name__}: {e})"
        ) from None
    return to_model_format(np.asarray(image), "RGB", fmt)


def check_image_array(image: np.ndarray, index: int = 0) -> np.ndarray:
    """`image` as an array, refused (ValueError naming the input's index and shape) when it
    is not an (H, W, 3) uint8 image with H, W >= 1."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8 or image.size == 0:
        raise ValueError(
            f"image {index}: expected an (H, W, 3) uint8 array with H, W >= 1, "
            f"got shape {image.shape} and dtype {image.dtype}"
        )
    return image


def to_model_format(image: np.ndarray, input_format: str, model_format: str) -> np.ndarray:
    """(H, W, 3) uint8 `image` in `input_format` order -> in `model_format` order."""
    for name, fmt in (("input format", input_format), ("model format", model_format)):
        if fmt not in FORMATS:
            raise ValueError(f"{name} must be one of {FORMATS}, got {fmt!r}")
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(
            f"expected an (H, W, 3) uint8 image, got shape {image.shape} and dtype {image.dtype}"
        )
    return image if input_format == model_format else image[:, :, ::-1]


def resized_shape(height: int, width: int, min_size: int, max_size: int) -> Tuple[int, int]:
    """(new_h, new_w): shorter side `min_size`, longer side at most `max_size`
    (``ResizeShortestEdge.get_output_shape``)."""
    size = min_size * 1.0
    scale = size / min(height, width)
    if height < width:
        new_h, new_w = size, scale * width
    else:
        new_h, new_w = scale * height, size
    if max(new_h, new_w) > max_size:
        scale = max_size * 1.0 / max(new_h, new_w)
        new_h, new_w = new_h * scale, new_w * scale
    return int(new_h + 0.5), int(new_w + 0.5)


def resize(image: np.ndarray, min_size: int, max_size: int) -> np.ndarray:
    """(H, W, 3) uint8 -> (h, w, 3) uint8 by ``ResizeTransform.apply_image``: PIL bilinear.

    ``min_size`` 0 leaves the image as it is (Detectron2's NoOpTransform).
    """
    if min_size == 0:
        return image
    new_h, new_w = resized_shape(image.shape[0], image.shape[1], min_size, max_size)
    resized = Image.fromarray(np.ascontiguousarray(image)).resize((new_w, new_h), Image.BILINEAR)
    return np.asarray(resized)


def model_input(
    image: np.ndarray, pixel_mean, pixel_std, size_divisibility: int
) -> np.ndarray:
    """(H, W, 3) uint8 -> (1, 3, H', W') float32: (x - mean) / std, zero-padded at the bottom
    and right to multiples of `size_divisibility` (``ImageList.from_tensors``)."""
    return batch_input([image], pixel_mean, pixel_std, size_divisibility)


def batch_input(
    images: Sequence[np.ndarray], pixel_mean, pixel_std, size_divisibility: int
) -> np.ndarray:
    """N (H_i, W_i, 3) uint8 -> (N, 3, H', W') float32, each normalised and zero-padded at the
    bottom and right to the largest H_i and W_i, rounded up to multiples of
    `size_divisibility` (``ImageList.from_tensors``)."""
    mean = np.asarray(pixel_mean, dtype=np.float32)
    std = np.asarray(pixel_std, dtype=np.float32)
    height = max(image.shape[0] for image in images)
    width = max(image.shape[1] for image in images)
    if size_divisibility > 1:
        height = -(-height // size_divisibility) * size_divisibility
        width = -(-width // size_divisibility) * size_divisibility
    batch = np.zeros((len(images), 3, height, width), dtype=np.float32)
    for i, image in enumerate(images):
        normalized = (image.astype(np.float32) - mean) / std
        batch[i, :, : image.shape[0], : image.shape[1]] = normalized.transpose(2, 0, 1)
    return batch
