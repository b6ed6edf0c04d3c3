"""The face augmentations: square face crop, pad to square, photometric distortion."""

import cv2
import numpy as np
import pytest
from detectron2.data import transforms as T

from df2s2_d2.data import (
    PhotometricTransform,
    RandomPhotometricDistortion,
    RandomSquareFaceCrop,
)
from df2s2_d2.data.transforms import centres_inside, square_pad_transform


def random_image(h=48, w=64, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_centres_inside_uses_half_open_image():
    boxes = np.array([[0, 0, 2, 2], [8, 8, 12, 12], [-4, 0, 4, 2], [9, 0, 11, 2]], float)
    assert centres_inside(boxes, 10, 10).tolist() == [True, False, True, False]


def test_crop_is_a_square_from_the_scales_and_holds_a_face_centre():
    image = random_image(60, 100)
    boxes = np.array([[5, 5, 15, 15], [70, 30, 90, 55], [40, 2, 44, 8]], float)
    aug = RandomSquareFaceCrop([0.5, 0.8], max_tries=50)
    np.random.seed(0)
    for _ in range(50):
        t = aug.get_transform(image, boxes)
        assert isinstance(t, T.CropTransform)
        assert t.w == t.h and t.w in (30, 48)
        assert 0 <= t.x0 <= 100 - t.w and 0 <= t.y0 <= 60 - t.h
        assert centres_inside(boxes - [t.x0, t.y0, t.x0, t.y0], t.w, t.h).any()
    assert aug.num_fallbacks == 0


@pytest.mark.parametrize(
    "boxes, tries",
    [(np.zeros((0, 4)), 50), (np.array([[1, 1, 5, 5.0]]), 0)],
    ids=["no_face", "no_tries"],
)
def test_crop_falls_back_to_the_whole_image_padded_to_a_square(boxes, tries):
    image = random_image(30, 50)
    aug = RandomSquareFaceCrop([0.3], max_tries=tries, pad_value=7)
    t = aug.get_transform(image, boxes)
    out = t.apply_image(image)
    assert out.shape == (50, 50, 3)
    assert (out[:30] == image).all() and (out[30:] == 7).all()
    assert np.allclose(t.apply_box(np.array([[1, 2, 3, 4.0]])), [[1, 2, 3, 4]])
    assert aug.num_fallbacks == 1


def test_crop_rejects_bad_scales():
    with pytest.raises(ValueError, match="crop scales"):
        RandomSquareFaceCrop([0.5, 1.5], max_tries=3)


def test_square_pad_pads_right_or_bottom():
    tall = random_image(40, 30)
    t = square_pad_transform(40, 30, 3)
    out = t.apply_image(tall)
    assert out.shape == (40, 40, 3) and (out[:, :30] == tall).all() and (out[:, 30:] == 3).all()


def test_photometric_neutral_is_identity():
    image = random_image()
    assert (PhotometricTransform().apply_image(image) == image).all()


def test_photometric_brightness_and_contrast():
    image = np.full((4, 4, 3), 100, np.uint8)
    assert (PhotometricTransform(brightness=20).apply_image(image) == 120).all()
    assert (PhotometricTransform(contrast=2.0).apply_image(image) == 200).all()
    assert (PhotometricTransform(brightness=200).apply_image(image) == 255).all()  # clipped


def test_photometric_saturation_zero_gives_grey():
    out = PhotometricTransform(saturation=0.0).apply_image(random_image())
    assert np.abs(out.astype(int) - out[..., :1]).max() <= 1


def test_photometric_hue_full_turn_is_identity_and_half_turn_changes_colour():
    image = random_image()
    full = PhotometricTransform(hue=360.0).apply_image(image)
    assert np.abs(full.astype(int) - image).max() <= 1
    half = PhotometricTransform(hue=180.0).apply_image(image)
    assert np.abs(half.astype(int) - image).mean() > 20


def test_photometric_hue_follows_the_image_format():
    bgr = np.zeros((2, 2, 3), np.uint8)
    bgr[..., 2] = 200  # pure red in BGR
    shifted = PhotometricTransform(hue=120.0, image_format="BGR").apply_image(bgr)
    expected = cv2.cvtColor(np.array([[[0, 200, 0]]], np.uint8), cv2.COLOR_RGB2BGR)  # green
    assert np.abs(shifted[0, 0].astype(int) - expected[0, 0]).max() <= 1
    rgb_shift = PhotometricTransform(hue=120.0, image_format="RGB").apply_image(
        bgr[..., ::-1].copy()
    )
    assert np.abs(rgb_shift[0, 0].astype(int) - [0, 200, 0]).max() <= 1


def test_photometric_leaves_geometry_alone():
    boxes = np.array([[1.0, 2.0, 30.0, 40.0]])
    t = RandomPhotometricDistortion(prob=1.0).get_transform(random_image())
    assert np.array_equal(t.apply_box(boxes.copy()), boxes)
    out = t.apply_image(random_image())
    assert out.shape == (48, 64, 3) and out.dtype == np.uint8


def test_photometric_probability_zero_is_identity():
    image = random_image()
    np.random.seed(0)
    for _ in range(5):
        t = RandomPhotometricDistortion(prob=0.0).get_transform(image)
        assert (t.apply_image(image) == image).all()
