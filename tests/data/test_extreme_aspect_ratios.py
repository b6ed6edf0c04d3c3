"""Extreme aspect ratios: memory bounded by the output size; too thin images named."""

import logging
import tracemalloc

import cv2
import numpy as np
import pytest
from detectron2.structures import BoxMode

from df2s2_d2.data import BadImageError, DegenerateImageError, FitToSquare, WiderFaceDatasetMapper
from df2s2_d2.data.transforms import CheckedResizeShortestEdge, RandomSquareFaceCrop
from tests.common import get_config


def test_fit_to_square_resizes_before_padding():
    image = np.full((20, 100, 3), 9, np.uint8)
    t = FitToSquare(50, pad_value=3).get_transform(image)
    out = t.apply_image(image)
    assert out.shape == (50, 50, 3)
    assert (out[:10] == 9).all() and (out[10:] == 3).all()
    assert np.allclose(t.apply_box(np.array([[10, 2, 30, 12.0]])), [[5, 1, 15, 6]])


def test_crop_fallback_with_out_size_never_builds_the_big_square():
    image = np.zeros((40, 20000, 3), np.uint8)
    aug = RandomSquareFaceCrop([0.5], max_tries=0, out_size=640)
    t = aug.get_transform(image, np.zeros((0, 4)))
    tracemalloc.start()
    out = t.apply_image(image)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert out.shape == (640, 640, 3)
    # Padding first would allocate 20000 x 20000 x 3 bytes (1.2 GB).
    assert peak < 20 * 2**20


@pytest.mark.parametrize("shape", [(1, 20000), (20000, 1)])
def test_too_thin_image_raises_a_clear_error(shape):
    image = np.zeros(shape + (3,), np.uint8)
    with pytest.raises(DegenerateImageError, match="too thin to resize.*rounds to 0"):
        FitToSquare(640).get_transform(image)
    with pytest.raises(DegenerateImageError, match="too thin to resize"):
        CheckedResizeShortestEdge(800, 1333).get_transform(image)


def write(tmp_path, h, w):
    path = tmp_path / f"strip_{w}x{h}.png"
    cv2.imwrite(str(path), np.full((h, w, 3), 128, np.uint8))
    return str(path)


@pytest.mark.parametrize("augment", [True, False])
def test_training_on_a_very_wide_image_stays_small(tmp_path, augment):
    path = write(tmp_path, 80, 4000)  # 1 : 50; a padded square would take 48 MB
    # No crop tries: the crop falls back to the whole image, padded to a square.
    opts = ["INPUT.FACE_AUG.RANDOM_CROP", augment, "INPUT.FACE_AUG.CROP_TRIES", 0]
    cfg = get_config(opts=opts + ["INPUT.FACE_AUG.TRAIN_SIZE", 64])
    mapper = WiderFaceDatasetMapper(cfg, is_train=True)
    face = {"bbox": [100, 5, 30, 30], "bbox_mode": BoxMode.XYWH_ABS, "category_id": 0}
    tracemalloc.start()
    out = mapper({"file_name": path, "annotations": [face]})
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert tuple(out["image"].shape) == (3, 64, 64)
    assert peak < 16 * 2**20


@pytest.mark.parametrize("is_train", [True, False])
def test_mapper_skips_a_too_thin_image_and_names_it(tmp_path, is_train, caplog):
    path = write(tmp_path, 1, 20000)
    mapper = WiderFaceDatasetMapper(get_config(), is_train=is_train)
    with caplog.at_level(logging.WARNING, logger="df2s2_d2"):
        out = mapper({"file_name": path, "image_id": "strip", "annotations": []})
    assert "strip_20000x1.png" in caplog.text and "too thin to resize" in caplog.text
    assert mapper.counts["images_skipped"] == 1
    if is_train:
        assert out is None
    else:
        assert "image" not in out and "too thin" in out["skipped"]


def test_too_thin_image_with_fail_fast_is_an_error_naming_it(tmp_path):
    path = write(tmp_path, 1, 20000)
    cfg = get_config(opts=["INPUT.BAD_INPUT.FAIL_FAST", True])
    with pytest.raises(BadImageError, match="strip_20000x1.png: .*too thin"):
        WiderFaceDatasetMapper(cfg, is_train=False)({"file_name": path, "annotations": []})
