"""A trained model on real photos: AP at IoU 0.5 and 0.3 by :class:`FacePhotoEvaluator`,
and the photos with its detections drawn (what the quick start and the studies report)."""
import json
import os
from pathlib import Path
from typing import Optional

import cv2
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
        detections = {k: (b.tolist(), s.tolist()) for k, (b, s) in evaluator.detections.items()}
        Path(out_dir, "detections.json").write_text(json.dumps(detections))
        if draw:
            meta = MetadataCatalog.get(dataset)
            draw_photo_detections(load_coco_face_boxes(meta.json_file), evaluator.detections,
                                  meta.image_root, out_dir)
    return dict(scores)
