"""WIDER FACE txt quirks a new user hits: byte-order mark, absolute paths, non-ASCII
digits, non-UTF-8 text, unreadable images. Errors name the file and the line."""

import logging

import pytest

from df2s2_d2.data import WiderFaceFormatError, load_wider_face_filelist, load_wider_face_txt
from tests.data.bad_input import digests, write_jpeg, write_truncated_jpeg

BOX = "1 1 4 4 0 0 0 0 0 0 \n"


def write(tmp_path, data: bytes, name="gt.txt"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def error_of(path, loader=load_wider_face_txt, **kwargs):
    with pytest.raises(WiderFaceFormatError) as info:
        loader(path, "images", **kwargs)
    return info.value


def test_byte_order_mark_is_not_part_of_the_first_image_id(tmp_path):
    text = "0--Parade/a.jpg\n1\n" + BOX + "0--Parade/b.jpg\n1\n" + BOX
    path = write(tmp_path, b"\xef\xbb\xbf" + text.encode())
    before = digests(tmp_path)
    dicts = load_wider_face_txt(path, "images")
    assert [d["image_id"] for d in dicts] == ["0--Parade/a", "0--Parade/b"]
    assert dicts[0]["file_name"] == "images/0--Parade/a.jpg"
    assert digests(tmp_path) == before


def test_byte_order_mark_in_the_test_file_list_is_stripped(tmp_path):
    path = write(tmp_path, b"\xef\xbb\xbf" + b"0--Parade/a.jpg\r\n0--Parade/b.jpg\r\n")
    assert [d["image_id"] for d in load_wider_face_filelist(path, "images")] == [
        "0--Parade/a",
        "0--Parade/b",
    ]


def test_byte_order_mark_inside_the_file_is_an_error(tmp_path):
    text = "e/a.jpg\n1\n" + BOX + "\ufeffe/b.jpg\n1\n" + BOX
    error = error_of(write(tmp_path, text.encode()))
    assert error.line == 4 and "byte-order mark" in str(error)


@pytest.mark.parametrize(
    "image_path",
    [
        "/home/user/photos/a.jpg",
        "\\\\server\\share/a.jpg",
        "C:/photos/a.jpg",
        "../other/a.jpg",
        "e/../../a.jpg",
    ],
)
def test_paths_that_would_leave_the_image_root_are_errors(tmp_path, image_path):
    path = write(tmp_path, f"e/ok.jpg\n1\n{BOX}{image_path}\n1\n{BOX}".encode())
    error = error_of(path)
    assert str(path) in str(error) and error.line == 4
    assert "relative to the image folder" in str(error) and repr(image_path) in str(error)


@pytest.mark.parametrize(
    "count",
    ["\u0663", "\uff13", "\u00b3", "\u0969", "3\u200b"],
    ids=["arabic", "fullwidth", "superscript", "devanagari", "zero_width_space"],
)
def test_count_with_non_ascii_digits_is_an_error_naming_file_and_line(tmp_path, count):
    path = write(tmp_path, f"e/a.jpg\n1\n{BOX}e/b.jpg\n{count}\n{BOX * 3}".encode())
    error = error_of(path)
    assert error.path == str(path) and error.line == 5
    assert "ASCII decimal digits" in str(error) and "the number of faces of 'e/b.jpg'" in str(error)


def test_non_utf8_file_is_an_error_naming_file_and_line(tmp_path):
    path = write(
        tmp_path, b"e/a.jpg\n1\n" + BOX.encode() + "e/\u00e9t\u00e9.jpg\n".encode("latin-1")
    )
    error = error_of(path)
    assert error.line == 4 and "UTF-8 text" in str(error)


def test_missing_image_is_an_error_naming_file_and_line(tmp_path):
    path = write(tmp_path, f"e/a.jpg\n1\n{BOX}".encode())
    error = error_of(path, check_images=True)
    assert error.line == 1 and "an existing image file" in str(error)


@pytest.mark.parametrize("kind", ["zero_bytes", "text", "truncated"])
def test_unreadable_image_is_kept_without_size_and_named(tmp_path, kind, caplog):
    image = tmp_path / "images" / "e" / "a.jpg"
    image.parent.mkdir(parents=True)
    if kind == "zero_bytes":
        image.write_bytes(b"")
    elif kind == "text":
        image.write_text("not an image")
    else:
        write_truncated_jpeg(image)
    write_jpeg(tmp_path / "images" / "e" / "b.jpg")
    txt = write(tmp_path, f"e/a.jpg\n1\n{BOX}e/b.jpg\n1\n{BOX}".encode())
    with caplog.at_level(logging.WARNING, logger="df2s2_d2"):
        dicts = load_wider_face_txt(txt, str(tmp_path / "images"), check_images=True)
    assert [d["image_id"] for d in dicts] == ["e/a", "e/b"]
    assert ("height" in dicts[0]) == (kind == "truncated")  # a truncated JPEG's header reads
    assert (dicts[1]["height"], dicts[1]["width"]) == (24, 32)
    if kind != "truncated":
        assert f"{txt}, line 1: " in caplog.text and "a.jpg cannot be read" in caplog.text
