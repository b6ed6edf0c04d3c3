"""Unusable image files: read errors name the file; the mapper skips and counts them
(or fails fast); the training and test loaders go on; nothing is written to the inputs."""

import logging

import numpy as np
import pytest
from detectron2.data import build_detection_test_loader, build_detection_train_loader
from PIL import Image

from df2s2_d2.data import BadImageError, SkipBadImages, WiderFaceDatasetMapper, read_image
from tests.common import get_config
from tests.data.bad_input import digests, write_jpeg, write_truncated_jpeg

MAKERS = {
    "truncated_jpeg": lambda p: write_truncated_jpeg(p),
    "zero_bytes": lambda p: p.write_bytes(b""),
    "random_bytes": lambda p: p.write_bytes(np.random.default_rng(0).bytes(300)),
    "text_file": lambda p: p.write_text("this is not an image\n"),
    "header_only": lambda p: p.write_bytes(b"\xff\xd8\xff\xe0"),
}


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_read_image_names_the_unreadable_file(tmp_path, kind):
    path = tmp_path / f"{kind}.jpg"
    MAKERS[kind](path)
    with pytest.raises(BadImageError, match=f"{kind}.jpg: .*(could not be read|empty file)"):
        read_image(str(path), "BGR")


def test_read_image_names_a_missing_file(tmp_path):
    with pytest.raises(BadImageError, match="nowhere.jpg"):
        read_image(str(tmp_path / "nowhere.jpg"), "BGR")


def test_sixteen_bit_png_is_scaled_not_saturated(tmp_path):
    values = (np.arange(6 * 8).reshape(6, 8) * 1300).astype(np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    image = read_image(str(tmp_path / "deep.png"), "BGR")
    assert image.shape == (6, 8, 3) and image.dtype == np.uint8
    expected = np.rint(values / 257.0).astype(np.uint8)
    assert np.array_equal(image[..., 0], expected) and np.array_equal(image[..., 2], expected)


@pytest.mark.parametrize("mode, channels", [("L", 1), ("LA", 2), ("RGBA", 4), ("P", 1)])
def test_grey_alpha_and_palette_images_give_three_channels(tmp_path, mode, channels):
    shape = (5, 7) if channels == 1 else (5, 7, channels)
    array = np.full(shape, 100, np.uint8)
    Image.fromarray(array).convert(mode).save(tmp_path / "x.png")
    assert read_image(str(tmp_path / "x.png"), "BGR").shape == (5, 7, 3)


def test_exif_orientation_is_applied(tmp_path):
    image = Image.fromarray(np.zeros((10, 30, 3), np.uint8))
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees
    image.save(tmp_path / "rotated.jpg", exif=exif)
    assert read_image(str(tmp_path / "rotated.jpg"), "BGR").shape == (30, 10, 3)


def dataset(tmp_path, bad_kind="truncated_jpeg", n_good=3):
    """Dicts of ``n_good`` readable images and one bad one (second in the list)."""
    dicts = []
    for k in range(n_good):
        path = write_jpeg(tmp_path / "images" / f"good{k}.jpg", seed=k)
        dicts.append({"file_name": str(path), "image_id": f"good{k}", "height": 24, "width": 32})
    bad = tmp_path / "images" / "bad.jpg"
    MAKERS[bad_kind](bad)
    dicts.insert(1, {"file_name": str(bad), "image_id": "bad", "height": 24, "width": 32})
    for d in dicts:
        d["annotations"] = []
    return dicts


def test_training_mapper_skips_an_unreadable_image_with_a_warning_naming_it(tmp_path, caplog):
    dicts = dataset(tmp_path)
    before = digests(tmp_path)
    mapper = WiderFaceDatasetMapper(get_config(), is_train=True)
    with caplog.at_level(logging.WARNING, logger="df2s2_d2"):
        results = [mapper(d) for d in dicts]
    assert results[1] is None and all(r is not None for r in results[:1] + results[2:])
    assert mapper.counts["images_skipped"] == 1
    assert "bad.jpg" in caplog.text and "1 images skipped so far" in caplog.text
    assert digests(tmp_path) == before


def test_fail_fast_raises_naming_the_image(tmp_path):
    dicts = dataset(tmp_path)
    mapper = WiderFaceDatasetMapper(get_config(opts=["INPUT.BAD_INPUT.FAIL_FAST", True]), True)
    with pytest.raises(BadImageError, match="bad.jpg"):
        mapper(dicts[1])


def test_size_different_from_the_dict_is_skipped_and_named(tmp_path, caplog):
    path = write_jpeg(tmp_path / "img.jpg", h=24, w=32)
    mapper = WiderFaceDatasetMapper(get_config(), is_train=True)
    with caplog.at_level(logging.WARNING, logger="df2s2_d2"):
        out = mapper({"file_name": str(path), "height": 40, "width": 32, "annotations": []})
    assert out is None and "img.jpg: decoded size 32 x 24" in caplog.text


def test_many_unusable_images_in_a_row_stop_training(tmp_path):
    dicts = dataset(tmp_path)
    cfg = get_config(opts=["INPUT.BAD_INPUT.MAX_CONSECUTIVE_SKIPS", 3])
    mapper = WiderFaceDatasetMapper(cfg, is_train=True)
    assert mapper(dicts[1]) is None and mapper(dicts[1]) is None
    with pytest.raises(BadImageError, match="bad.jpg: .*3 images in a row"):
        mapper(dicts[1])


def test_train_loader_goes_on_past_a_truncated_jpeg(tmp_path):
    dicts = dataset(tmp_path)
    before = digests(tmp_path)
    mapper = WiderFaceDatasetMapper(get_config(opts=["INPUT.FACE_AUG.TRAIN_SIZE", 32]), True)
    loader = build_detection_train_loader(
        dicts, mapper=mapper, total_batch_size=2, num_workers=0, aspect_ratio_grouping=False
    )
    batches = [batch for _, batch in zip(range(6), loader)]
    names = {d["file_name"] for batch in batches for d in batch}
    assert len(batches) == 6 and all(len(b) == 2 for b in batches)
    assert not any(n.endswith("bad.jpg") for n in names)
    assert mapper.counts["images_skipped"] >= 1
    assert digests(tmp_path) == before


@pytest.mark.parametrize("bad_kind", ["truncated_jpeg", "zero_bytes"])
def test_test_loader_leaves_out_the_unreadable_image_and_names_it(tmp_path, bad_kind, caplog):
    dicts = dataset(tmp_path, bad_kind)
    mapper = WiderFaceDatasetMapper(get_config(), is_train=False)
    loader = SkipBadImages(build_detection_test_loader(dicts, mapper=mapper, num_workers=0))
    with caplog.at_level(logging.WARNING, logger="df2s2_d2"):
        seen = [d["image_id"] for batch in loader for d in batch]
    assert seen == ["good0", "good1", "good2"]
    assert [name for name, _ in loader.skipped] == [dicts[1]["file_name"]]
    assert "1 images skipped (unusable)" in caplog.text and "bad.jpg" in caplog.text


def test_test_loader_fails_fast_naming_the_image(tmp_path):
    dicts = dataset(tmp_path)
    cfg = get_config(opts=["INPUT.BAD_INPUT.FAIL_FAST", True])
    loader = SkipBadImages(
        build_detection_test_loader(dicts, mapper=WiderFaceDatasetMapper(cfg, False), num_workers=0)
    )
    with pytest.raises(BadImageError, match="bad.jpg"):
        list(loader)
