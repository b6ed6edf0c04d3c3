"""Face-aware training augmentations as Detectron2 ``Augmentation`` / ``Transform`` classes.

- :class:`RandomSquareFaceCrop`: a random square crop whose side is a fraction of the
  image's short side, kept only when it holds the centre of at least one face; after
  ``max_tries`` failures the whole image is padded to a square instead (resized first
  when ``out_size`` is given, so that memory never grows with the aspect ratio).
- :class:`FitToSquare`: resize the long side to a size, then pad to a square of it.
- :class:`CheckedResizeShortestEdge`: Detectron2's test resize, with an error instead
  of a side that rounds to 0 px.
- :class:`RandomPhotometricDistortion` / :class:`PhotometricTransform`: brightness,
  contrast, saturation and hue jitter in the style of SSD; the image only.

All randomness comes from ``np.random``, like Detectron2's own augmentations, so
``detectron2.utils.env.seed_all_rng`` and data-loader worker seeding apply.
"""

from typing import Optional, Sequence

import cv2
import numpy as np
from detectron2.data import transforms as T


def centres_inside(boxes: np.ndarray, width: float, height: float) -> np.ndarray:
    """(N,) bool: box centre in [0, width) x [0, height). boxes: (N, 4) XYXY."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    cy = (boxes[:, 1] + boxes[:, 3]) / 2
    return (cx >= 0) & (cx < width) & (cy >= 0) & (cy < height)


class DegenerateImageError(ValueError):
    """An image too thin to resize: one side would round to 0 pixels."""


def _resized_side(side: int, scale: float, height: int, width: int, what: str) -> int:
    new = int(side * scale + 0.5)
    if new < 1:
        raise DegenerateImageError(
            f"image of {width} x {height} px (width x height) is too thin to resize: {what} "
            f"makes a side {side * scale:.3g} px, which rounds to 0"
        )
    return new


def fit_to_square_transform(height: int, width: int, size: int, pad_value: float) -> T.Transform:
    """Resize so that the long side becomes ``size`` (aspect kept), then pad right and
    bottom to ``size`` x ``size``. Never allocates more than the output, whatever the
    aspect ratio. Raises :class:`DegenerateImageError` when a side would round to 0."""
    scale = size / max(height, width)
    what = f"resizing the long side to {size} px"
    new_h = _resized_side(height, scale, height, width, what)
    new_w = _resized_side(width, scale, height, width, what)
    return T.TransformList(
        [
            T.ResizeTransform(height, width, new_h, new_w),
            T.PadTransform(0, 0, size - new_w, size - new_h, new_w, new_h, pad_value),
        ]
    )


class FitToSquare(T.Augmentation):
    """Resize the long side to ``size``, then pad right / bottom to a ``size`` square."""

    def __init__(self, size: int, pad_value: float = 0.0):
        super().__init__()
        self.size, self.pad_value = int(size), pad_value

    def get_transform(self, image):
        return fit_to_square_transform(image.shape[0], image.shape[1], self.size, self.pad_value)


class CheckedResizeShortestEdge(T.ResizeShortestEdge):
    """``T.ResizeShortestEdge`` that raises :class:`DegenerateImageError` instead of
    returning a transform with a 0-px side (e.g. a 20000 x 1 image at test)."""

    def get_transform(self, image):
        transform = super().get_transform(image)
        if isinstance(transform, T.ResizeTransform) and min(transform.new_h, transform.new_w) < 1:
            h, w = image.shape[:2]
            raise DegenerateImageError(
                f"image of {w} x {h} px (width x height) is too thin to resize: the test "
                f"resize gives {transform.new_w} x {transform.new_h} px"
            )
        return transform


def square_pad_transform(height: int, width: int, pad_value: float) -> T.Transform:
    """Pad right and bottom so that the image becomes max(height, width) square."""
    side = max(height, width)
    return T.PadTransform(0, 0, side - width, side - height, width, height, pad_value)


class RandomSquareFaceCrop(T.Augmentation):
    """Random square crop that keeps at least one face.

    Each try draws a side ``s * min(H, W)`` with ``s`` from ``scales`` and a uniform
    position inside the image; the first crop holding the centre of a face wins.
    When ``max_tries`` crops hold none (or the image has no face) the image is kept
    whole and padded to a square with ``pad_value``; with ``out_size`` it is first
    resized so that its long side is ``out_size`` (:func:`fit_to_square_transform`),
    so the padded square never exceeds ``out_size`` x ``out_size``. ``num_fallbacks``
    counts those.
    """

    def __init__(
        self,
        scales: Sequence[float],
        max_tries: int,
        pad_value: float = 0.0,
        out_size: Optional[int] = None,
    ):
        super().__init__()
        if not scales or not all(0 < s <= 1 for s in scales):
            raise ValueError(f"crop scales must be in (0, 1], got {list(scales)}")
        self.scales = [float(s) for s in scales]
        self.max_tries = int(max_tries)
        self.pad_value = pad_value
        self.out_size = out_size
        self.num_images = 0
        self.num_fallbacks = 0

    def get_transform(self, image, boxes):
        """boxes: (N, 4) XYXY of the faces (not of ignored regions)."""
        h, w = image.shape[:2]
        self.num_images += 1
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        if len(boxes):
            for _ in range(self.max_tries):
                side = max(1, int(self.scales[np.random.randint(len(self.scales))] * min(h, w)))
                x0 = np.random.randint(w - side + 1)
                y0 = np.random.randint(h - side + 1)
                shifted = boxes - np.array([x0, y0, x0, y0])
                if centres_inside(shifted, side, side).any():
                    return T.CropTransform(x0, y0, side, side, orig_w=w, orig_h=h)
        self.num_fallbacks += 1
        if self.out_size is not None:
            return fit_to_square_transform(h, w, self.out_size, self.pad_value)
        return square_pad_transform(h, w, self.pad_value)


class PhotometricTransform(T.Transform):
    """Brightness shift, contrast scale, saturation scale and hue shift of a uint8 image.

    Args:
        brightness: added to every channel (0..255 scale).
        contrast: multiplies every channel (1 = unchanged).
        saturation: multiplies HSV saturation (1 = unchanged).
        hue: degrees added to HSV hue (0 = unchanged).
        contrast_first: contrast before saturation / hue, else after.
        image_format: "BGR" or "RGB"; for any other format only brightness and
            contrast are applied.
    """

    def __init__(
        self,
        brightness=0.0,
        contrast=1.0,
        saturation=1.0,
        hue=0.0,
        contrast_first=True,
        image_format="BGR",
    ):
        super().__init__()
        self._set_attributes(locals())

    def apply_image(self, img: np.ndarray) -> np.ndarray:
        """img: (H, W, C) uint8 -> (H, W, C) uint8."""
        out = img.astype(np.float32) + self.brightness
        if self.contrast_first:
            out *= self.contrast
        if self.image_format in ("BGR", "RGB") and (self.saturation != 1 or self.hue != 0):
            to_hsv, from_hsv = (
                (cv2.COLOR_BGR2HSV, cv2.COLOR_HSV2BGR)
                if self.image_format == "BGR"
                else (cv2.COLOR_RGB2HSV, cv2.COLOR_HSV2RGB)
            )
            hsv = cv2.cvtColor(np.clip(out, 0, 255) / 255.0, to_hsv)  # H in [0, 360)
            hsv[..., 0] = (hsv[..., 0] + self.hue) % 360.0
            hsv[..., 1] = np.clip(hsv[..., 1] * self.saturation, 0, 1)
            out = cv2.cvtColor(hsv, from_hsv) * 255.0
        if not self.contrast_first:
            out *= self.contrast
        return np.clip(out + 0.5, 0, 255).astype(np.uint8)

    def apply_coords(self, coords: np.ndarray) -> np.ndarray:
        return coords

    def apply_segmentation(self, segmentation: np.ndarray) -> np.ndarray:
        return segmentation

    def inverse(self) -> T.Transform:
        return T.NoOpTransform()


class RandomPhotometricDistortion(T.Augmentation):
    """Each of brightness (+-``brightness``), contrast (x ``contrast`` range), saturation
    (x ``saturation`` range) and hue (+-``hue`` degrees) applied with probability ``prob``,
    contrast before or after the colour changes at random (as in SSD)."""

    def __init__(
        self,
        brightness=32.0,
        contrast=(0.5, 1.5),
        saturation=(0.5, 1.5),
        hue=18.0,
        prob=0.5,
        image_format="BGR",
    ):
        super().__init__()
        self._init(locals())

    def get_transform(self, image):
        def maybe(value, neutral):
            return value if np.random.rand() < self.prob else neutral

        return PhotometricTransform(
            brightness=maybe(np.random.uniform(-self.brightness, self.brightness), 0.0),
            contrast=maybe(np.random.uniform(*self.contrast), 1.0),
            saturation=maybe(np.random.uniform(*self.saturation), 1.0),
            hue=maybe(np.random.uniform(-self.hue, self.hue), 0.0),
            contrast_first=bool(np.random.rand() < 0.5),
            image_format=self.image_format,
        )
