"""Detect faces with an exported model, without torch or Detectron2.

    df2s2-detect --model exported/face_detector.onnx INPUT [INPUT ...] --output detections.json
    df2s2-detect --model ... WIDER_val/images --output predictions/ --wider-face

INPUT: image files, folders (their images, recursively, sorted) and videos (every
frame; ``--every N`` for every N-th). Writes one JSON file (a list of
``{"file", "frame" (videos only), "height", "width", "boxes" [[x1, y1, x2, y2], ...],
"scores"}``) or, with ``--wider-face``, the official WIDER FACE prediction files
``<output>/<event>/<name>.txt`` (event: the image's folder), ready for
``wider-face-eval``. Unreadable inputs are skipped, counted and named in a warning.
"""
import argparse
import json
import logging
import os
import sys
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np
from tqdm import tqdm

from .evaluation.wider_face_predictions import image_key, write_prediction_dir
from .onnx_detector import OnnxFaceDetector
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
    parser.add_argument("--score-threshold", type=float, help="default: the exported one")
    parser.add_argument("--min-size", type=int, help="test shorter side (default: exported)")
    parser.add_argument("--max-size", type=int, help="test longer-side cap (default: exported)")
    parser.add_argument("--every", type=int, default=1, help="video: every N-th frame")
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0: default)")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = get_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s", stream=sys.stderr)
    try:
        images, videos = collect_inputs(args.inputs)
    except FileNotFoundError as e:
        parser.error(str(e))
    output = os.path.abspath(args.output)
    if output in {os.path.abspath(p) for p in images + videos}:
        parser.error(f"{args.output} is one of the inputs; it would be overwritten")
    if args.wider_face and videos:
        parser.error("--wider-face takes images only; videos given: " + ", ".join(videos))
    if args.every < 1:
        parser.error("--every must be at least 1")
    try:
        detector = OnnxFaceDetector(
            args.model, args.config, score_threshold=args.score_threshold,
            min_size=args.min_size, max_size=args.max_size, num_threads=args.threads,
        )
    except (FileNotFoundError, ValueError) as e:
        parser.exit(2, f"error: {e}\n")

    records, skipped = [], []
    for path in tqdm(images, desc="images", unit="image", disable=not images):
        try:
            image = read_image(path, "BGR")
        except (FileNotFoundError, ValueError) as e:
            skipped.append(str(e))
            continue
        records.append(_record(path, None, image, detector.detect(image)))
    for path in videos:
        try:
            for index, frame in tqdm(video_frames(path, args.every), desc=path, unit="frame"):
                records.append(_record(path, index, frame, detector.detect(frame)))
        except ValueError as e:
            skipped.append(str(e))
    if skipped:
        logger.warning("%d input(s) skipped:\n  %s", len(skipped), "\n  ".join(skipped))

    if args.wider_face:
        predictions = {image_key(r["file"]): r["rows"] for r in records}
        write_prediction_dir(args.output, predictions)
        logger.info("Wrote the prediction files of %d images to %s", len(predictions), args.output)
    else:
        with open(args.output, "w") as f:
            json.dump([{k: v for k, v in r.items() if k != "rows"} for r in records], f)
        logger.info("Wrote the detections of %d images / frames to %s", len(records), args.output)
    return 0


def _record(path: str, frame: Optional[int], image: np.ndarray, detections) -> dict:
    record = {"file": path}
    if frame is not None:
        record["frame"] = frame
    record.update(height=image.shape[0], width=image.shape[1], **detections.to_dict())
    record["rows"] = detections.to_wider_face_rows()
    return record


if __name__ == "__main__":
    sys.exit(main())
