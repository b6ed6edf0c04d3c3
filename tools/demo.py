#!/usr/bin/env python
"""Detect faces in images, a video or a webcam stream and draw them with Detectron2's
Visualizer.

    python tools/demo.py --config-file configs/WIDER-FACE/df2s2_R_50.yaml \\
        --input photo.jpg 'crowds/*.jpg' more_photos/ --output out/ MODEL.WEIGHTS model_final.pth
    python tools/demo.py --config-file ... --video-input clip.mp4 --output faces.mp4 MODEL.WEIGHTS ...
    python tools/demo.py --config-file ... --webcam MODEL.WEIGHTS ...

``--input`` takes image files, glob patterns and folders (every image file in the
folder). ``--output`` is a file for a single image or video, otherwise a folder (the
input file names are kept). Without ``--output`` the results are shown in a window,
which needs an OpenCV build with GUI support (``opencv-python``, not ``-headless``).
"""
import df2s2_d2  # noqa: F401  first: hides Detectron2's known import-time warnings
import argparse
import glob
import os
import time
from typing import Iterator, List, Tuple

import cv2
import numpy as np
import tqdm

from detectron2.data import MetadataCatalog
from detectron2.data.detection_utils import read_image
from detectron2.engine import DefaultPredictor
from detectron2.structures import Instances
from detectron2.utils.logger import setup_logger
from detectron2.utils.visualizer import Visualizer

from df2s2_d2 import get_df2s2_cfg

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
WINDOW_NAME = "DF2S2 faces"
ESC = 27


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config-file", required=True, metavar="FILE", help="path to a config file")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", nargs="+", help="image files, glob patterns or folders")
    source.add_argument("--video-input", metavar="FILE", help="a video file")
    source.add_argument("--webcam", action="store_true", help="the default camera")
    parser.add_argument("--output", help="output file (one image or video) or folder")
    parser.add_argument(
        "--confidence-threshold", type=float, default=0.5,
        help="minimum score of a drawn face (sets MODEL.RETINANET.SCORE_THRESH_TEST)",
    )
    parser.add_argument(
        "opts", default=[], nargs=argparse.REMAINDER, help="config options: KEY VALUE pairs"
    )
    return parser


def setup_cfg(args):
    cfg = get_df2s2_cfg(args.config_file, args.opts)
    cfg.MODEL.RETINANET.SCORE_THRESH_TEST = args.confidence_threshold
    # Also for the R-CNN configs (COCO-Detection/faster_rcnn_R_50_FFP_1x.yaml).
    cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST = args.confidence_threshold
    cfg.freeze()
    return cfg


class FaceDemo:
    """A `DefaultPredictor` and a `Visualizer`: BGR image in, (detections, drawn BGR image) out."""

    def __init__(self, cfg):
        self.predictor = DefaultPredictor(cfg)
        name = cfg.DATASETS.TEST[0] if len(cfg.DATASETS.TEST) else "__unused"
        self.metadata = MetadataCatalog.get(name)

    def run_on_image(self, image: np.ndarray) -> Tuple[Instances, np.ndarray]:
        """image: (H, W, 3) uint8 BGR, as OpenCV reads it."""
        instances = self.predictor(image)["instances"].to("cpu")
        visualizer = Visualizer(image[:, :, ::-1], self.metadata)
        drawn = visualizer.draw_instance_predictions(instances).get_image()
        return instances, np.ascontiguousarray(drawn[:, :, ::-1])

    def run_on_video(self, capture: cv2.VideoCapture) -> Iterator[np.ndarray]:
        """Drawn BGR frames, one per frame read from ``capture``."""
        while capture.isOpened():
            ok, frame = capture.read()
            if not ok:
                break
            yield self.run_on_image(frame)[1]


def expand_inputs(patterns: List[str]) -> List[str]:
    """Image paths from files, glob patterns and folders, each in sorted order."""
    paths = []
    for pattern in patterns:
        pattern = os.path.expanduser(pattern)
        if os.path.isdir(pattern):
            found = sorted(
                os.path.join(pattern, f) for f in os.listdir(pattern)
                if f.lower().endswith(IMAGE_EXTENSIONS)
            )
            if not found:
                raise FileNotFoundError(
                    f"{pattern}: folder holds no image file (expected names ending in "
                    f"{', '.join(IMAGE_EXTENSIONS)})"
                )
        else:
            found = sorted(glob.glob(pattern))
            if not found:
                raise FileNotFoundError(f"{pattern}: no such file, or no file matches the pattern")
        paths.extend(found)
    return paths


def output_file(output: str, input_path: str, many: bool) -> str:
    """Where the result for ``input_path`` goes: ``output`` itself, or inside it if a folder."""
    if many or os.path.isdir(output) or output.endswith(os.sep):
        if os.path.isfile(output):
            raise NotADirectoryError(f"{output}: expected a folder for several inputs, found a file")
        os.makedirs(output, exist_ok=True)
        return os.path.join(output, os.path.basename(input_path))
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    return output


def show(image: np.ndarray, wait_ms: int) -> int:
    """Show ``image`` in the demo window; returns the key pressed (-1 if none)."""
    try:
        cv2.namedWindow(WINDOW_NAME, cv2.WINDOW_NORMAL)
        cv2.imshow(WINDOW_NAME, image)
    except cv2.error as e:
        raise RuntimeError(
            "Cannot open a window: this OpenCV build has no GUI support. "
            "Pass --output to write the results instead."
        ) from e
    return cv2.waitKey(wait_ms)


def read_bgr(path: str) -> np.ndarray:
    try:
        return read_image(path, format="BGR")
    except Exception as e:  # PIL raises several types for unreadable files
        raise ValueError(f"{path}: could not be read as an image ({e})") from e


def run_images(demo: FaceDemo, args, logger) -> None:
    paths = expand_inputs(args.input)
    for path in tqdm.tqdm(paths, disable=len(paths) == 1):
        start = time.perf_counter()
        instances, drawn = demo.run_on_image(read_bgr(path))
        logger.info(f"{path}: {len(instances)} faces in {time.perf_counter() - start:.2f}s")
        if args.output:
            out = output_file(args.output, path, many=len(paths) > 1)
            if not cv2.imwrite(out, drawn):
                raise OSError(f"{out}: could not be written (is the extension an image format?)")
        elif show(drawn, 0) == ESC:
            break


def run_video(demo: FaceDemo, args) -> None:
    capture = cv2.VideoCapture(args.video_input)
    if not capture.isOpened():
        raise ValueError(f"{args.video_input}: could not be opened as a video")
    width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
    height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    num_frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    writer = None
    if args.output:
        out = args.output
        if os.path.isdir(out) or out.endswith(os.sep):
            stem = os.path.splitext(os.path.basename(args.video_input))[0]
            out = output_file(out, stem + ".mp4", many=True)
        else:
            out = output_file(out, args.video_input, many=False)
        writer = cv2.VideoWriter(out, cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
        if not writer.isOpened():
            raise OSError(f"{out}: could not be opened for writing an mp4v video")
    try:
        for frame in tqdm.tqdm(demo.run_on_video(capture), total=num_frames):
            if writer is not None:
                writer.write(frame)
            elif show(frame, 1) == ESC:
                break
    finally:
        capture.release()
        if writer is not None:
            writer.release()


def run_webcam(demo: FaceDemo, args) -> None:
    if args.output:
        raise ValueError("--output is not supported with --webcam")
    capture = cv2.VideoCapture(0)
    if not capture.isOpened():
        raise RuntimeError("could not open the default camera (device 0)")
    try:
        for frame in demo.run_on_video(capture):
            if show(frame, 1) == ESC:
                break
    finally:
        capture.release()
        cv2.destroyAllWindows()


def main(argv=None) -> None:
    args = get_parser().parse_args(argv)
    setup_logger(name="fvcore")
    logger = setup_logger()
    logger.info(f"Arguments: {args}")
    demo = FaceDemo(setup_cfg(args))
    if args.input:
        run_images(demo, args, logger)
    elif args.video_input:
        run_video(demo, args)
    else:
        run_webcam(demo, args)


if __name__ == "__main__":
    main()
