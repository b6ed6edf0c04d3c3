#!/usr/bin/env python
"""Detect faces in images, a video or a webcam stream and draw them with Detectron2's
Visualizer (and the five landmarks of a model trained with MODEL.DF2S2.LANDMARKS).

    python tools/demo.py --config-file configs/WIDER-FACE/df2s2_R_50.yaml \\
        --input photo.jpg 'crowds/*.jpg' more_photos/ --output out/ MODEL.WEIGHTS model_final.pth
    python tools/demo.py --config-file ... --video-input clip.mp4 --output faces.mp4 MODEL.WEIGHTS ...
    python tools/demo.py --config-file ... --webcam MODEL.WEIGHTS ...

``--input`` takes image files, glob patterns and folders (every image file in the
folder). ``--output`` is a file for a single image or video, otherwise a folder (the
input file names are kept). Without ``--output`` the results are shown in a window,
which needs an OpenCV build with GUI support (``opencv-python``, not ``-headless``).
A model with landmarks also gets each face's five points drawn as small filled circles:
eyes cyan, nose yellow, mouth corners magenta (`LANDMARK_COLORS`).

Bad input: the demo refuses, before any work, an ``--output`` that would write over an
input (e.g. the input folder itself) or the config or weights file (through links too),
two inputs that would write the same output, an output extension OpenCV cannot write,
an output it cannot write, and weights that are not a complete checkpoint. Outputs are
written by replacing them, never through a link. Over several images, one that cannot be read
(corrupt, truncated, empty, too thin to resize) is skipped with a warning naming it and
counted in the final summary (exit status 0); ``--fail-fast`` stops at the first one
with an error (exit status 1).
"""
import df2s2_d2  # noqa: F401  first: hides Detectron2's known import-time warnings
import argparse
import glob
import logging
import os
import time
from typing import Dict, Iterator, List, Tuple

import cv2
import numpy as np
import tqdm

from detectron2.data import MetadataCatalog
from detectron2.engine import DefaultPredictor
from detectron2.structures import Instances
from detectron2.utils.logger import setup_logger
from detectron2.utils.visualizer import Visualizer

from df2s2_d2 import get_df2s2_cfg
from df2s2_d2.argument_parser import config_argument_parser
from df2s2_d2.checkpoint import check_checkpoint_file
from df2s2_d2.data import BadImageError, DegenerateImageError, read_image
from df2s2_d2.data.transforms import CheckedResizeShortestEdge
from df2s2_d2.landmark_drawing import draw_landmarks
from df2s2_deploy.output_paths import check_not_protected, check_output_file, replace_file, same_file

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
WINDOW_NAME = "DF2S2 faces"
ESC = 27


def get_parser() -> argparse.ArgumentParser:
    parser = config_argument_parser(__doc__.split("\n\n")[0])
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
        "--fail-fast", action="store_true",
        help="stop at the first image that cannot be read, instead of skipping it",
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
        check_checkpoint_file(cfg.MODEL.WEIGHTS, "MODEL.WEIGHTS")
        self.weights = cfg.MODEL.WEIGHTS
        self.predictor = DefaultPredictor(cfg)
        # The same resize, with an error instead of a 0-px side for a too thin image.
        self.predictor.aug = CheckedResizeShortestEdge(
            [cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MIN_SIZE_TEST], cfg.INPUT.MAX_SIZE_TEST
        )
        name = cfg.DATASETS.TEST[0] if len(cfg.DATASETS.TEST) else "__unused"
        self.metadata = MetadataCatalog.get(name)

    def run_on_image(self, image: np.ndarray) -> Tuple[Instances, np.ndarray]:
        """image: (H, W, 3) uint8 BGR, as OpenCV reads it."""
        instances = self.predictor(image)["instances"].to("cpu")
        return instances, draw_faces(image, instances, self.metadata)

    def run_on_video(self, capture: cv2.VideoCapture) -> Iterator[np.ndarray]:
        """Drawn BGR frames, one per frame read from ``capture``."""
        while capture.isOpened():
            ok, frame = capture.read()
            if not ok:
                break
            yield self.run_on_image(frame)[1]


def draw_faces(image: np.ndarray, instances: Instances, metadata) -> np.ndarray:
    """(H, W, 3) uint8 BGR with the boxes (the Visualizer's) and, when ``instances`` has
    ``pred_keypoints``, each face's five landmarks drawn (`draw_landmarks`)."""
    visualizer = Visualizer(image[:, :, ::-1], metadata)
    boxes_only = instances
    if instances.has("pred_keypoints"):  # the Visualizer would draw COCO-style keypoints
        boxes_only = Instances(instances.image_size, **instances.get_fields())
        boxes_only.remove("pred_keypoints")
    visualizer.draw_instance_predictions(boxes_only)
    if instances.has("pred_keypoints"):
        points = instances.pred_keypoints[:, :, :2].numpy()
        draw_landmarks(visualizer, points, instances.pred_boxes.tensor.numpy())
    return np.ascontiguousarray(visualizer.output.get_image()[:, :, ::-1])


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
    """Where the result for ``input_path`` goes: ``output`` itself, or inside it if a folder.
    Creates nothing (see :func:`write_image`)."""
    if many or os.path.isdir(output) or output.endswith(os.sep):
        if os.path.isfile(output):
            raise NotADirectoryError(f"{output}: expected a folder for several inputs, found a file")
        return os.path.join(output, os.path.basename(input_path))
    return output


def can_write_image(path: str) -> bool:
    """Whether OpenCV has an image writer for ``path``'s extension."""
    try:
        return bool(cv2.haveImageWriter(path))
    except (AttributeError, cv2.error):
        return os.path.splitext(path)[1].lower() in IMAGE_EXTENSIONS


def plan_outputs(
    inputs: List[str], output: str, image_outputs: bool = True, protected: List[str] = ()
) -> Dict[str, str]:
    """input path -> output path, checked before any work: no output may replace an
    input or a `protected` file (config, weights), two inputs may not share an output,
    every output folder must be writable, and (images) OpenCV must be able to write each
    extension. Raises ValueError naming the files."""
    many = len(inputs) > 1
    plan = {path: output_file(output, path, many) for path in inputs}
    by_output = {}
    for path, out in plan.items():
        for other in inputs:
            if same_file(out, other):
                raise ValueError(
                    f"{out}: the output would write over the input {other}; "
                    "choose an --output outside the input files (e.g. another folder)"
                )
        key = os.path.realpath(out)
        if key in by_output:
            raise ValueError(
                f"{out}: both {by_output[key]} and {path} would be written there; "
                "rename one of them or run them separately"
            )
        by_output[key] = path
        if image_outputs and not can_write_image(out):
            raise ValueError(
                f"{out}: OpenCV cannot write an image with this extension; expected a file "
                f"name ending in {', '.join(IMAGE_EXTENSIONS)}, or a folder (an existing "
                "one, or a name ending in '/')"
            )
    checked_folders = set()
    for out in plan.values():
        check_not_protected(out, protected)
        folder = os.path.dirname(os.path.abspath(out))
        if folder not in checked_folders:
            check_output_file(out, protected)
            checked_folders.add(folder)
    return plan


def write_image(path: str, image: np.ndarray) -> None:
    """Write ``image`` (BGR) to ``path``, creating its folder; OpenCV's two ways of
    failing (False; an exception in OpenCV 5) give one error naming the file. The file
    is replaced, never written through a link."""

    def write(tmp: str) -> None:
        try:
            ok = cv2.imwrite(tmp, image)
        except cv2.error as e:
            raise OSError(f"{path}: could not be written as an image ({e})") from e
        if not ok:
            raise OSError(f"{path}: could not be written (is the extension an image format?)")

    replace_file(path, write)


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
    """(H, W, 3) uint8 BGR, fully decoded; BadImageError (a ValueError) naming the file."""
    return read_image(path, format="BGR")


def detect(demo: FaceDemo, path: str) -> Tuple[Instances, np.ndarray]:
    """Detections and drawn image of the image file ``path``; BadImageError naming it."""
    image = read_bgr(path)
    try:
        return demo.run_on_image(image)
    except DegenerateImageError as e:
        raise BadImageError(path, str(e)) from e


def run_images(demo: FaceDemo, args, logger, paths: List[str], plan: Dict[str, str]) -> List[str]:
    """Detect and write / show every image; returns the skipped ones (warned, not fatal
    unless ``--fail-fast``)."""
    skipped = []
    for path in tqdm.tqdm(paths, disable=len(paths) == 1):
        start = time.perf_counter()
        try:
            instances, drawn = detect(demo, path)
        except BadImageError as e:
            if args.fail_fast or len(paths) == 1:
                raise
            skipped.append(path)
            logger.warning(f"Skipped {e}")
            continue
        logger.info(f"{path}: {len(instances)} faces in {time.perf_counter() - start:.2f}s")
        if args.output:
            write_image(plan[path], drawn)
        elif show(drawn, 0) == ESC:
            break
    done = len(paths) - len(skipped)
    summary = f"Summary: {done} of {len(paths)} images processed, {len(skipped)} skipped"
    if skipped:
        logger.warning(summary + " (could not be read): " + ", ".join(skipped))
    else:
        logger.info(summary)
    return skipped


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
        out = video_output(args.output, args.video_input, [args.config_file, demo.weights])
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        if os.path.islink(out):  # replace the link, never write through it
            os.remove(out)
        try:
            writer = cv2.VideoWriter(out, cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
        except cv2.error as e:
            raise OSError(f"{out}: could not be opened for writing an mp4v video ({e})") from e
        if not writer.isOpened():
            raise OSError(f"{out}: could not be opened for writing an mp4v video")
    frames = 0
    try:
        for frame in tqdm.tqdm(demo.run_on_video(capture), total=num_frames):
            frames += 1
            if writer is not None:
                writer.write(frame)
            elif show(frame, 1) == ESC:
                break
    finally:
        capture.release()
        if writer is not None:
            writer.release()
    if writer is not None and num_frames and frames < num_frames:
        logging.getLogger(__name__).warning(
            f"{args.video_input}: {frames} of the {num_frames} frames its header announces "
            "could be read; the video may be truncated"
        )


def video_output(output: str, video_input: str, protected: List[str] = ()) -> str:
    """The output video file, refused when it would write over the input video or a
    `protected` file, or cannot be written."""
    if os.path.isdir(output) or output.endswith(os.sep):
        stem = os.path.splitext(os.path.basename(video_input))[0]
        output = output_file(output, stem + ".mp4", many=True)
    if same_file(output, video_input):
        raise ValueError(
            f"{output}: the output would write over the input video; choose another --output"
        )
    check_output_file(output, protected)
    return output


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
    """Exits with status 1 and a message naming the file for bad input (nothing is
    written); skipped images are named in warnings and counted in the summary."""
    parser = get_parser()
    args = parser.parse_args(argv)
    setup_logger(name="fvcore")
    logger = setup_logger()
    setup_logger(name="df2s2_d2")
    logger.info(f"Arguments: {args}")
    try:
        cfg = setup_cfg(args)
        protected = [args.config_file, cfg.MODEL.WEIGHTS]
        if args.input:
            paths = expand_inputs(args.input)
            plan = plan_outputs(paths, args.output, protected=protected) if args.output else {}
        elif args.video_input and args.output:
            video_output(args.output, args.video_input, protected)
        demo = FaceDemo(cfg)
        if args.input:
            run_images(demo, args, logger, paths, plan)
        elif args.video_input:
            run_video(demo, args)
        else:
            run_webcam(demo, args)
    except (ValueError, OSError) as e:  # bad input: BadImageError, config / file errors
        parser.exit(1, f"error: {e}\n")


if __name__ == "__main__":
    main()
