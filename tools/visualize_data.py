#!/usr/bin/env python
"""Draw the training data: dataset dicts as annotated, or the mapper's output as the
model sees it, with the segmentation-target levels as coloured overlays.

    python tools/visualize_data.py --config-file configs/Synth/df2s2_R_18_quick.yaml \\
        --source dataloader --output-dir output/vis --num-images 8

Faces are green, ignored faces (iscrowd) red. In ``dataloader`` mode each pyramid
level's box mask is tinted with the level's colour (P2 blue ... P7 magenta; cells
marked ignored are grey).
"""

import df2s2_d2  # noqa: F401  first: hides Detectron2's known import-time warnings
import itertools
import os

import cv2
import numpy as np
from detectron2.data import DatasetCatalog, MetadataCatalog, build_detection_train_loader
from detectron2.data import detection_utils as utils
from detectron2.structures import BoxMode
from detectron2.utils.logger import setup_logger
from detectron2.utils.visualizer import Visualizer

from df2s2_d2 import get_df2s2_cfg  # importing df2s2_d2 registers the datasets
from df2s2_d2.argument_parser import config_argument_parser
from df2s2_d2.data import WiderFaceDatasetMapper
from df2s2_d2.landmark_drawing import draw_landmarks
from df2s2_deploy.output_paths import check_output_dir

FACE, IGNORED = (0.1, 0.9, 0.1), (0.95, 0.1, 0.1)
LEVEL_COLOURS = [
    (40, 90, 255),
    (0, 200, 255),
    (0, 220, 90),
    (255, 220, 0),
    (255, 120, 0),
    (230, 0, 200),
]
IGNORE_COLOUR = (128, 128, 128)


def setup(args):
    cfg = get_df2s2_cfg(args.config_file, args.opts)
    cfg.DATALOADER.NUM_WORKERS = 0
    cfg.freeze()
    return cfg


def overlay_seg_targets(
    image: np.ndarray, seg_targets, strides, offset: float = 0.0, alpha: float = 0.45
) -> np.ndarray:
    """Tint ``image`` (H, W, 3) RGB uint8 where each level's target (H_l, W_l) is 1
    (level colour) or -1 (grey); cell j of a stride-s level is the s x s square centred
    on its anchor, (j + offset) * s."""
    h, w = image.shape[:2]
    out = image.astype(np.float32)
    for level, (target, stride) in enumerate(zip(seg_targets, strides)):
        target = np.asarray(target)
        cells = np.kron(target, np.ones((stride, stride), dtype=target.dtype))
        shift = int(round((0.5 - offset) * stride))  # cell j starts at (j + offset - 0.5) * s
        cells = np.pad(cells[shift:, shift:], ((0, h), (0, w)))[:h, :w]
        for value, colour in ((1, LEVEL_COLOURS[level % len(LEVEL_COLOURS)]), (-1, IGNORE_COLOUR)):
            mask = cells == value
            out[mask] = (1 - alpha) * out[mask] + alpha * np.asarray(colour, np.float32)
    return out.astype(np.uint8)


def draw_boxes(image_rgb, metadata, faces, ignored, landmarks=None) -> np.ndarray:
    """faces / ignored: (N, 4) XYXY; landmarks: None or the faces' (N, 5, 3) x, y, v
    (points with v 0, not labelled, are not drawn)."""
    v = Visualizer(image_rgb, metadata)
    boxes = list(faces) + list(ignored)
    colours = [FACE] * len(faces) + [IGNORED] * len(ignored)
    if boxes:
        v.overlay_instances(boxes=np.asarray(boxes), assigned_colors=colours)
    if landmarks is not None and len(faces):
        draw_landmarks(v, np.asarray(landmarks).reshape(len(faces), -1, 3), np.asarray(faces))
    return v.output.get_image()


def _xyxy(annotations):
    return [BoxMode.convert(a["bbox"], a["bbox_mode"], BoxMode.XYXY_ABS) for a in annotations]


def from_annotations(cfg, num_images):
    """(name, RGB image) of the first dataset dicts of cfg.DATASETS.TRAIN."""
    for dataset in cfg.DATASETS.TRAIN:
        metadata = MetadataCatalog.get(dataset)
        for d in DatasetCatalog.get(dataset)[:num_images]:
            image = utils.read_image(d["file_name"], format="RGB")
            annotations = d.get("annotations", [])
            face_annotations = [a for a in annotations if not a.get("iscrowd", 0)]
            faces = _xyxy(face_annotations)
            ignored = _xyxy([a for a in annotations if a.get("iscrowd", 0)])
            landmarks = None
            if any("keypoints" in a for a in face_annotations):
                landmarks = [a.get("keypoints", [0.0] * 15) for a in face_annotations]
            yield d["image_id"], draw_boxes(image, metadata, faces, ignored, landmarks)


def from_dataloader(cfg, num_images):
    """(name, RGB image) of the mapper's outputs, as the training loader yields them."""
    metadata = MetadataCatalog.get(cfg.DATASETS.TRAIN[0])
    mapper = WiderFaceDatasetMapper(cfg, is_train=True)
    loader = build_detection_train_loader(cfg, mapper=mapper)
    images = (d for batch in loader for d in batch)
    for i, d in enumerate(itertools.islice(images, num_images)):
        image = utils.convert_image_to_rgb(d["image"].permute(1, 2, 0).numpy(), cfg.INPUT.FORMAT)
        if "seg_targets" in d:
            targets = mapper.box_mask_targets
            image = overlay_seg_targets(
                image, [t.numpy() for t in d["seg_targets"]], targets.strides, targets.offset
            )
        faces = d["instances"].gt_boxes.tensor.numpy()
        landmarks = d["instances"].gt_keypoints.tensor.numpy() if d["instances"].has("gt_keypoints") else None
        yield f"{i:03d}_{d['image_id']}", draw_boxes(image, metadata, faces, [], landmarks)


def main():
    parser = config_argument_parser(__doc__.split("\n\n")[0], config_file_default="")
    parser.add_argument("--source", choices=["annotation", "dataloader"], required=True)
    parser.add_argument("--output-dir", default="./output/visualize_data")
    parser.add_argument("--num-images", type=int, default=16)
    args = parser.parse_args()
    setup_logger(name="df2s2_d2")
    cfg = setup(args)
    check_output_dir(args.output_dir, [args.config_file], what="--output-dir")
    os.makedirs(args.output_dir, exist_ok=True)
    draw = from_annotations if args.source == "annotation" else from_dataloader
    for name, image in draw(cfg, args.num_images):
        path = os.path.join(args.output_dir, str(name).replace("/", "_") + ".jpg")
        cv2.imwrite(path, image[:, :, ::-1])
        print(path)


if __name__ == "__main__":
    main()
