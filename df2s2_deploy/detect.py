"""Detect faces with an exported model, without torch or Detectron2.

    df2s2-detect --model exported/face_detector.onnx INPUT [INPUT ...] --output detections.json
    df2s2-detect --model ... WIDER_val/images --output predictions/ --wider-face
    df2s2-detect --model exported/face_detector_int8.onnx --batch-size 4 ...

INPUT: image files, folders (their images, recursively, sorted) and videos (every
frame; ``--every N`` for every N-th). Writes one JSON file (a list of
``{"file", "frame" (videos only), "height", "width", "boxes" [[x1, y1, x2, y2], ...],
"scores", "landmarks"}``) or, with ``--wider-face``, the official WIDER FACE prediction
files ``<output>/<event>/<name>.txt`` (event: the image's folder; boxes only), ready for
``wider-face-eval``. "landmarks" comes with a model exported from a DF2S2 trained with
``MODEL.DF2S2.LANDMARKS``: per detection five ``[x, y]`` in input pixels (eye, eye,
nose, mouth corner, mouth corner; the first eye and mouth corner the ones with the
smaller x on an upright frontal face); ``--landmarks`` refuses a model without them.
The int8 model (``tools/export.py --int8``) runs the same way; ``--batch-size N``
feeds N images per network call.

Bad input: an ``--output`` that resolves (through links) to an input or a model file, or
that cannot be written, is refused before any work; the output is written by replacing
it, never through a link. Unreadable images, videos without a readable frame and images
of more than ``--max-pixels`` pixels are skipped, counted and named in a warning; a run
in which no input gives an image exits with status 1 and writes nothing.
"""
import argparse
import json
import logging
import os
import sys
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image
from tqdm import tqdm

from .evaluation.wider_face_predictions import image_key, write_prediction_dir
from .onnx_detector import OnnxFaceDetector
from .output_paths import check_not_protected, check_output_dir, check_output_file, replace_file
from .preprocessing import read_image

__all__ = ["main", "collect_inputs"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")

logger = logging.getLogger("df2s2_deploy.detect")


def collect_inputs(inputs: Sequence[str]) -> Tuple[List[str], List[str]]:
    """(images, videos): the files named and those found in the folders named, sorted."""
    images, videos = [], []
    for path in inputs:
        if os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    if name.lower().endswith(IMAGE_EXTENSIONS):
                        images.append(os.path.join(root, name))
        elif not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: no such file or folder")
        elif path.lower().endswith(VIDEO_EXTENSIONS):
            videos.append(path)
        else:
            images.append(path)
    return images, videos


def video_frames(path: str, every: int) -> Iterator[Tuple[int, np.ndarray]]:
    """(frame index, (H, W, 3) uint8 BGR frame) of every `every`-th frame."""
    import cv2

    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        raise ValueError(f"{path}: OpenCV cannot open this video")
    try:
        index = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            if index % every == 0:
                yield index, frame
            index += 1
    finally:
        capture.release()


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="images, folders, videos")
    parser.add_argument("--model", required=True, help="face_detector.onnx (its JSON beside it)")
    parser.add_argument("--config", help="the deploy JSON, if not beside the model")
    parser.add_argument(
        "--output", required=True, help="JSON file, or folder with --wider-face"
    )
    parser.add_argument(
        "--wider-face", action="store_true",
        help="write the official WIDER FACE prediction files instead of JSON",
    )
    parser.add_argument(
        "--landmarks", action="store_true",
        help="require the five landmarks: refuse a model without landmark outputs (a model "
        "with them always writes them)",
    )
    parser.add_argument("--score-threshold", type=float, help="default: the exported one")
    parser.add_argument("--min-size", type=int, help="test shorter side (default: exported)")
    parser.add_argument("--max-size", type=int, help="test longer-side cap (default: exported)")
    parser.add_argument("--every", type=int, default=1, help="video: every N-th frame")
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0: default)")
    parser.add_argument(
        "--batch-size", type=int, default=1, metavar="N",
        help="images per network call, padded to the batch's largest (default 1)",
    )
    parser.add_argument(
        "--max-pixels", type=int, metavar="N",
        help="skip images of more than N pixels, as decompression bombs "
        "(default and upper bound: Pillow's limit, 2 x PIL.Image.MAX_IMAGE_PIXELS)",
    )
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = get_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s", stream=sys.stderr)
    try:
        images, videos = collect_inputs(args.inputs)
    except FileNotFoundError as e:
        parser.error(str(e))
    if not images and not videos:
        parser.exit(1, f"error: no image or video in {', '.join(args.inputs)} (image names end in "
                    f"{', '.join(IMAGE_EXTENSIONS)}; videos in {', '.join(VIDEO_EXTENSIONS)})\n")
    if args.wider_face and videos:
        parser.error("--wider-face takes images only; videos given: " + ", ".join(videos))
    if args.every < 1:
        parser.error("--every must be at least 1")
    if args.batch_size < 1:
        parser.error("--batch-size must be at least 1")
    pillow_limit = 2 * Image.MAX_IMAGE_PIXELS if Image.MAX_IMAGE_PIXELS else None
    if args.max_pixels is not None and not 1 <= args.max_pixels <= (pillow_limit or args.max_pixels):
        parser.error(f"--max-pixels must be between 1 and Pillow's limit {pillow_limit}")
    config = args.config or os.path.splitext(args.model)[0] + ".json"
    try:
        check_outputs(args.output, args.wider_face, images, images + videos + [args.model, config])
        detector = OnnxFaceDetector(
            args.model, args.config, score_threshold=args.score_threshold,
            min_size=args.min_size, max_size=args.max_size, num_threads=args.threads,
            max_pixels=args.max_pixels,
        )
        if args.landmarks:
            detector.require_landmarks()
    except (FileNotFoundError, ValueError) as e:
        parser.exit(2, f"error: {e}\n")

    records, skipped, batch = [], [], []
    for i, path in enumerate(tqdm(images, desc="images", unit="image", disable=not images)):
        try:
            batch.append((path, read_image(path, "BGR", args.max_pixels)))
        except (FileNotFoundError, ValueError) as e:
            skipped.append(str(e))
        if batch and (len(batch) == args.batch_size or i == len(images) - 1):
            arrays = [image for _, image in batch]
            for (path, image), found in zip(batch, detector.detect(arrays, args.batch_size)):
                records.append(_record(path, None, image, found))
            batch = []
    for path in videos:
        frames = 0
        try:
            for index, frame in tqdm(video_frames(path, args.every), desc=path, unit="frame"):
                records.append(_record(path, index, frame, detector.detect(frame)))
                frames += 1
        except ValueError as e:
            skipped.append(str(e))
            continue
        if frames == 0:
            skipped.append(f"{path}: no frame could be read (an empty or undecodable video)")
    if skipped:
        logger.warning("%d input(s) skipped:\n  %s", len(skipped), "\n  ".join(skipped))
    if not records:
        parser.exit(1, f"error: none of the {len(images) + len(videos)} input(s) gave an image; "
                    f"nothing written to {args.output}\n")

    if args.wider_face:
        predictions = {image_key(r["file"]): r["rows"] for r in records}
        write_prediction_dir(args.output, predictions)
        logger.info("Wrote the prediction files of %d images to %s", len(predictions), args.output)
    else:
        rows = [{k: v for k, v in r.items() if k != "rows"} for r in records]
        replace_file(args.output, lambda tmp: _write_json(tmp, rows))
        logger.info("Wrote the detections of %d images / frames to %s", len(records), args.output)
    return 0


def check_outputs(output: str, wider_face: bool, images: List[str], protected: List[str]) -> None:
    """Refuse, before any work, an output that would write over an input or a model file
    (through links too), a file where a folder is expected, and an unwritable one."""
    if not wider_face:
        check_output_file(output, protected)
        return
    check_output_dir(output, protected)
    for path in images:
        event, name = image_key(path)
        check_not_protected(os.path.join(output, event, name + ".txt"), protected)


def _write_json(path: str, rows: List[dict]) -> None:
    with open(path, "w") as f:
        json.dump(rows, f)


def _record(path: str, frame: Optional[int], image: np.ndarray, detections) -> dict:
    record = {"file": path}
    if frame is not None:
        record["frame"] = frame
    record.update(height=image.shape[0], width=image.shape[1], **detections.to_dict())
    record["rows"] = detections.to_wider_face_rows()
    return record


if __name__ == "__main__":
    sys.exit(main())
