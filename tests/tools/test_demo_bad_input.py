"""tools/demo.py never writes over its inputs; skips (or fails fast on) unreadable images;
names an output extension OpenCV cannot write before any work."""

import logging
import os

import cv2
import numpy as np
import pytest

from tests.data.bad_input import digests, write_truncated_jpeg
from df2s2_d2 import get_df2s2_cfg
from tests.common import CONFIGS
from tests.tools.test_demo import CONFIG, demo_args, faces_image, weights  # noqa: F401  (fixture)
from tools import demo


def photos(folder, n=2):
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        cv2.imwrite(str(folder / f"img{k}.png"), faces_image(seed=k))
    return folder


def run_main(args):
    with pytest.raises(SystemExit) as info:
        demo.main(args)
    return info.value.code


@pytest.mark.parametrize("output", ["same_folder", "same_folder_slash", "same_file", "symlink"])
def test_output_that_would_replace_an_input_is_refused(tmp_path, weights, capsys, output):
    folder = photos(tmp_path / "in")
    os.symlink(folder, tmp_path / "link")
    inputs, out = {
        "same_folder": ([str(folder)], str(folder)),
        "same_folder_slash": ([str(folder / "*.png")], str(folder) + "/"),
        "same_file": ([str(folder / "img0.png")], str(folder / "img0.png")),
        "symlink": ([str(folder)], str(tmp_path / "link")),
    }[output]
    before = digests(tmp_path)
    assert run_main(demo_args(weights, "--input", *inputs, "--output", out)) == 1
    err = capsys.readouterr().err
    assert "the output would write over the input" in err and "img0.png" in err
    assert digests(tmp_path) == before


def test_output_video_equal_to_the_input_video_is_refused(tmp_path, weights, capsys):
    video = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 5, (160, 120))
    writer.write(faces_image())
    writer.release()
    before = digests(tmp_path)
    assert run_main(demo_args(weights, "--video-input", str(video), "--output", str(video))) == 1
    assert "write over the input video" in capsys.readouterr().err
    assert digests(tmp_path) == before


def test_two_inputs_with_one_output_name_are_refused(tmp_path, weights, capsys):
    photos(tmp_path / "a", 1)
    photos(tmp_path / "b", 1)
    args = ["--input", str(tmp_path / "a"), str(tmp_path / "b"), "--output", str(tmp_path / "out")]
    assert run_main(demo_args(weights, *args)) == 1
    assert "would be written there" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["result.xyz", "result"])
def test_unknown_output_extension_is_named_before_any_work(tmp_path, weights, capsys, name):
    photos(tmp_path / "in", 1)
    out = tmp_path / "out" / name
    assert (
        run_main(
            demo_args(weights, "--input", str(tmp_path / "in" / "img0.png"), "--output", str(out))
        )
        == 1
    )
    assert f"{out}: OpenCV cannot write an image with this extension" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_write_image_gives_one_error_for_both_opencv_behaviours(tmp_path, monkeypatch):
    image = faces_image()
    with pytest.raises(OSError, match="bad.xyz: could not be written"):
        demo.write_image(str(tmp_path / "bad.xyz"), image)  # OpenCV 5 raises, 4 returns False
    monkeypatch.setattr(demo.cv2, "imwrite", lambda path, image: False)
    with pytest.raises(OSError, match="x.png: could not be written"):
        demo.write_image(str(tmp_path / "x.png"), image)


def corrupt_folder(tmp_path):
    folder = photos(tmp_path / "in", 2)
    write_truncated_jpeg(folder / "broken.jpg")
    (folder / "empty.png").write_bytes(b"")
    return folder


def test_folder_with_corrupt_images_processes_the_rest_and_counts_them(tmp_path, weights):
    folder = corrupt_folder(tmp_path)
    before = digests(folder)
    demo.main(demo_args(weights, "--input", str(folder), "--output", str(tmp_path / "out")))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["img0.png", "img1.png"]
    assert digests(folder) == before


def test_skipped_images_are_named_in_warnings_and_the_summary(tmp_path, weights, caplog):
    folder = corrupt_folder(tmp_path)
    args = demo.get_parser().parse_args(
        demo_args(weights, "--input", str(folder), "--output", str(tmp_path / "out"))
    )
    paths = demo.expand_inputs(args.input)
    face_demo = demo.FaceDemo(demo.setup_cfg(args))
    logger = logging.getLogger("demo_test")
    with caplog.at_level(logging.INFO, logger="demo_test"):
        skipped = demo.run_images(
            face_demo, args, logger, paths, demo.plan_outputs(paths, args.output)
        )
    assert [os.path.basename(p) for p in skipped] == ["broken.jpg", "empty.png"]
    assert "Skipped " + str(folder / "broken.jpg") in caplog.text
    assert "Summary: 2 of 4 images processed, 2 skipped" in caplog.text
    assert "empty.png" in caplog.text.splitlines()[-1]


def test_fail_fast_stops_at_the_first_corrupt_image(tmp_path, weights, capsys):
    folder = corrupt_folder(tmp_path)
    args = ["--input", str(folder), "--output", str(tmp_path / "out"), "--fail-fast"]
    assert run_main(demo_args(weights, *args)) == 1
    assert "broken.jpg: could not be read as an image" in capsys.readouterr().err
    assert (
        not (tmp_path / "out" / "img0.png").exists()
        and not (tmp_path / "out" / "img1.png").exists()
    )


def test_single_unreadable_or_too_thin_image_is_an_error(tmp_path, weights, capsys):
    write_truncated_jpeg(tmp_path / "broken.jpg")
    assert run_main(demo_args(weights, "--input", str(tmp_path / "broken.jpg"))) == 1
    assert "broken.jpg: could not be read" in capsys.readouterr().err
    cv2.imwrite(str(tmp_path / "thin.png"), np.full((1, 5000, 3), 90, np.uint8))
    args = ["--input", str(tmp_path / "thin.png"), "--output", str(tmp_path / "out.png")]
    assert run_main(demo_args(weights, *args)) == 1
    assert "thin.png: image of 5000 x 1 px" in capsys.readouterr().err


@pytest.mark.parametrize("target", ["weights", "config"])
def test_an_output_linked_to_the_weights_or_config_is_refused(tmp_path, weights, capsys, target):
    folder = photos(tmp_path / "in", 1)
    model = tmp_path / "model"
    model.mkdir()
    protected = {"weights": model / "model.pth", "config": model / "config.yaml"}
    protected["weights"].write_bytes(open(weights, "rb").read())
    protected["config"].write_text(get_df2s2_cfg(str(CONFIGS / CONFIG)).dump())
    out = tmp_path / "out.png"
    out.symlink_to(protected[target])
    args = demo_args(str(protected["weights"]), "--input", str(folder / "img0.png"), "--output", str(out))
    args[args.index("--config-file") + 1] = str(protected["config"])
    before = digests(model)
    assert run_main(args) == 1
    assert f"resolves to {protected[target]}" in capsys.readouterr().err
    assert digests(model) == before


def test_an_output_linked_to_another_file_replaces_the_link(tmp_path, weights):
    folder = photos(tmp_path / "in", 1)
    other = tmp_path / "other.png"
    other.write_bytes(b"not the demo's")
    out = tmp_path / "out.png"
    out.symlink_to(other)
    before = digests(folder)
    demo.main(demo_args(weights, "--input", str(folder / "img0.png"), "--output", str(out)))
    assert not out.is_symlink() and cv2.imread(str(out)).shape == (120, 160, 3)
    assert other.read_bytes() == b"not the demo's" and digests(folder) == before


def test_an_unwritable_output_is_refused_before_any_work(tmp_path, weights, capsys):
    folder = photos(tmp_path / "in", 2)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert run_main(demo_args(weights, "--input", str(folder), "--output", str(blocker / "out"))) == 1
    assert f"{blocker} is not a folder" in capsys.readouterr().err
    assert blocker.read_text() == "x"


def test_unloadable_weights_are_an_error_naming_them(tmp_path, capsys):
    folder = photos(tmp_path / "in", 1)
    bad = tmp_path / "model.pth"
    bad.write_bytes(b"")
    before = digests(tmp_path)
    assert run_main(demo_args(str(bad), "--input", str(folder), "--output", str(tmp_path / "out") + "/")) == 1
    assert f"{bad}: empty file (0 bytes)" in capsys.readouterr().err
    assert digests(tmp_path) == before
