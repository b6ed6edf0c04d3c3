"""A trained model on real photos: AP at IoU 0.5 and 0.3 by :class:`FacePhotoEvaluator`,
and the photos with its detections drawn, one by one and on one contact sheet (what the
quick start and the studies report)."""
import json
import os
from pathlib import Path
from typing import Optional

import cv2
import numpy as np
from detectron2.evaluation import inference_on_dataset
from detectron2.modeling import build_model

from ..checkpoint import load_weights
from ..data.test_loader import build_face_test_loader
from .face_photo_evaluator import FacePhotoEvaluator

GT_COLOUR, DETECTION_COLOUR = (0, 200, 0), (0, 0, 255)  # BGR


def draw_photo_detections(photos, detections, image_dir: str, out_dir: str,
                          threshold: float = 0.5, long_side: int = 1024) -> None:
    """Each photo with its ground truth (green) and detections >= ``threshold`` (red, with
    the score), scaled to ``long_side``, as ``out_dir/<file_name>``."""
    os.makedirs(out_dir, exist_ok=True)
    for photo in photos:
        image = cv2.imread(os.path.join(image_dir, photo.file_name))
        if image is None:
            continue
        scale = long_side / max(image.shape[:2])
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        thick = max(2, round(long_side / 400))
        for x0, y0, x1, y1 in photo.boxes * scale:
            cv2.rectangle(image, (int(x0), int(y0)), (int(x1), int(y1)), GT_COLOUR, thick)
        boxes, scores = detections.get(photo.file_name, ([], []))
        for (x0, y0, x1, y1), score in zip(boxes, scores):
            if score < threshold:
                continue
            p, q = (int(x0 * scale), int(y0 * scale)), (int(x1 * scale), int(y1 * scale))
            cv2.rectangle(image, p, q, DETECTION_COLOUR, thick)
            cv2.putText(image, f"{score:.2f}", (p[0], max(p[1] - 4, 12)), cv2.FONT_HERSHEY_SIMPLEX,
                        0.5, DETECTION_COLOUR, 1, cv2.LINE_AA)
        cv2.imwrite(os.path.join(out_dir, photo.file_name), image)


def contact_sheet(image_paths, out_file: str, columns: int = 4, tile_width: int = 300) -> None:
    """The images side by side, ``columns`` a row, each ``tile_width`` wide and 3:2 (letterboxed)."""
    tile_height = tile_width * 2 // 3
    tiles = []
    for path in image_paths:
        image = cv2.imread(str(path))
        if image is None:
            continue
        scale = min(tile_width / image.shape[1], tile_height / image.shape[0])
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        tile = np.full((tile_height, tile_width, 3), 255, np.uint8)
        y, x = (tile_height - image.shape[0]) // 2, (tile_width - image.shape[1]) // 2
        tile[y : y + image.shape[0], x : x + image.shape[1]] = image
        tiles.append(tile)
    if not tiles:
        return
    tiles += [np.full_like(tiles[0], 255)] * (-len(tiles) % columns)
    rows = [np.hstack(tiles[k : k + columns]) for k in range(0, len(tiles), columns)]
    cv2.imwrite(out_file, np.vstack(rows), [cv2.IMWRITE_JPEG_QUALITY, 80])


def check_real_photos(cfg, weights: str, dataset: str, out_dir: Optional[str] = None,
                      draw: bool = True) -> dict:
    """Run the model of ``cfg`` with ``weights`` on the registered photo set ``dataset``;
    returns the evaluator's scores (AP50, AP30, recall and false positives at 0.5, in
    percent) and writes them, the detections and (``draw``) the drawn photos to ``out_dir``."""
    from df2s2_deploy.evaluation.box_ap import load_coco_face_boxes

    from detectron2.data import MetadataCatalog

    model = build_model(cfg).eval()
    load_weights(model, weights)
    evaluator = FacePhotoEvaluator(dataset, output_dir=out_dir)
    scores = inference_on_dataset(model, build_face_test_loader(cfg, dataset), evaluator)["face_photos"]
    if out_dir:
        # the format of dev/peer_detectors.py --extra, which puts them beside other detectors
        detections = {k: {"boxes": b.round(1).tolist(), "scores": s.round(4).tolist()}
                      for k, (b, s) in evaluator.detections.items()}
        Path(out_dir, "detections.json").write_text(
            json.dumps({"detections": detections, "operating_threshold": 0.5}))
        if draw:
            meta = MetadataCatalog.get(dataset)
            photos = load_coco_face_boxes(meta.json_file)
            draw_photo_detections(photos, evaluator.detections, meta.image_root, out_dir)
            contact_sheet([Path(out_dir, p.file_name) for p in photos], str(Path(out_dir).with_suffix(".jpg")))
    return dict(scores)
