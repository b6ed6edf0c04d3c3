"""Detectron2 evaluator of face boxes on real photos (COCO-format datasets registered by
:func:`df2s2_d2.data.face_photos.register_face_photos`): AP at IoU 0.5 and 0.3, recall
and false positives at score 0.5, by the torch-free :mod:`df2s2_deploy.evaluation.box_ap`
(PASCAL VOC's all-point AP, not COCO's 101-point AP50)."""
import json
import os
from collections import OrderedDict
from typing import Optional

import numpy as np
from detectron2.data import MetadataCatalog
from detectron2.evaluation import DatasetEvaluator
from detectron2.utils import comm

from df2s2_deploy.evaluation.box_ap import evaluate_box_ap, load_coco_face_boxes

RESULT_FILE = "face_photos.json"


class FacePhotoEvaluator(DatasetEvaluator):
    """Collects each image's boxes and scores; ``evaluate()`` returns
    ``{"face_photos": {"AP50", "AP30", "recall50@0.5", ...}}`` with AP and recall in percent."""

    def __init__(self, dataset_name: str, output_dir: Optional[str] = None, score_threshold: float = 0.5):
        # read once, as COCOEvaluator does: a bad file fails here, before inference
        self._photos = load_coco_face_boxes(MetadataCatalog.get(dataset_name).json_file)
        self._output_dir = output_dir
        self._score_threshold = score_threshold
        self._detections = {}

    @property
    def detections(self) -> dict:
        """{file name: (boxes (K, 4) x1 y1 x2 y2, scores (K,))} of the images processed."""
        return self._detections

    def reset(self):
        self._detections = {}

    def process(self, inputs, outputs):
        for inp, out in zip(inputs, outputs):
            instances = out["instances"].to("cpu")
            self._detections[os.path.basename(inp["file_name"])] = (
                instances.pred_boxes.tensor.numpy().astype(np.float64),
                instances.scores.numpy().astype(np.float64),
            )

    def evaluate(self):
        gathered = comm.gather(self._detections, dst=0)
        if not comm.is_main_process():
            return {}
        detections = {k: v for part in gathered for k, v in part.items()}
        result = evaluate_box_ap(self._photos, detections,
                                 score_threshold=self._score_threshold)
        scores = result.to_dict(percent=True)
        if self._output_dir:
            os.makedirs(self._output_dir, exist_ok=True)
            with open(os.path.join(self._output_dir, RESULT_FILE), "w") as f:
                json.dump(result.to_dict(), f, indent=2)
        return OrderedDict(face_photos=scores)
