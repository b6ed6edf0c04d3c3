"""`FaceLandmarkEvaluator`: the five-landmark NME of a Detectron2 model
(``df2s2_deploy.evaluation.landmark_nme``)."""

import copy
import json
import logging
import math
import os
from collections import OrderedDict
from typing import Dict, Tuple

import numpy as np
from detectron2.data import DatasetCatalog
from detectron2.evaluation import DatasetEvaluator
from detectron2.structures import BoxMode
from detectron2.utils import comm

from df2s2_deploy.evaluation.landmark_nme import evaluate_landmark_nme
from df2s2_deploy.face_landmarks import NUM_LANDMARKS

__all__ = ["FaceLandmarkEvaluator", "landmark_ground_truth"]

RESULT_FILE = "landmark_nme.json"


def landmark_ground_truth(dataset_name: str) -> Dict[str, Tuple[np.ndarray, np.ndarray]]:
    """{file_name: (boxes (n, 4) XYXY, points (n, 5, 3) x, y, v)} of a registered dataset
    whose annotations have ``keypoints``."""
    ground_truth = {}
    for record in DatasetCatalog.get(dataset_name):
        annotations = record.get("annotations", [])
        if any("keypoints" not in a for a in annotations):
            raise ValueError(
                f"Dataset '{dataset_name}' has annotations without 'keypoints' "
                f"({record['file_name']}): it has no landmarks to evaluate (register a "
                "RetinaFace label.txt with register_retinaface_layout)"
            )
        boxes = [BoxMode.convert(a["bbox"], a["bbox_mode"], BoxMode.XYXY_ABS) for a in annotations]
        ground_truth[record["file_name"]] = (
            np.asarray(boxes, np.float64).reshape(-1, 4),
            np.asarray([a["keypoints"] for a in annotations], np.float64).reshape(
                -1, NUM_LANDMARKS, 3
            ),
        )
    return ground_truth


class FaceLandmarkEvaluator(DatasetEvaluator):
    """NME of the five landmarks (``pred_keypoints``) of the faces a model finds.

    Ground truth: the ``keypoints`` of ``DatasetCatalog.get(dataset_name)``; the
    predictions of an image are keyed by its ``file_name``. Results:
    ``{"landmarks": {"NME", "faces_matched", "faces_with_landmarks"}}``, NME a fraction
    of sqrt(w * h) of the face box (NaN when no landmark face was matched). With
    ``output_dir``, also writes them (and the count of points) to ``landmark_nme.json``.
    """

    def __init__(self, dataset_name: str, output_dir: str = None, distributed: bool = True):
        self._dataset_name = dataset_name
        self._output_dir = output_dir
        self._distributed = distributed
        self._logger = logging.getLogger(__name__)
        self.reset()

    def reset(self):
        self._predictions: Dict[str, Tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def process(self, inputs, outputs):
        for input, output in zip(inputs, outputs):
            instances = output["instances"]
            if not instances.has("pred_keypoints"):
                if len(instances) == 0:  # nothing found: no points to look for
                    points = np.zeros((0, NUM_LANDMARKS, 3))
                else:
                    raise ValueError(
                        "FaceLandmarkEvaluator: the model's instances have no 'pred_keypoints': "
                        "the model has no landmark predictor (MODEL.DF2S2.LANDMARKS); leave "
                        "'landmarks' out of TEST.EVALUATORS for it"
                    )
            else:
                points = instances.pred_keypoints.detach().cpu().numpy()
            self._predictions[input["file_name"]] = (
                instances.pred_boxes.tensor.detach().cpu().numpy(),
                instances.scores.detach().cpu().numpy(),
                points,
            )

    def evaluate(self):
        predictions = self._gather()
        if predictions is None:
            return {}
        ground_truth = landmark_ground_truth(self._dataset_name)
        unknown = sorted(set(predictions) - set(ground_truth))
        if unknown:
            self._logger.warning(
                "%d images with predictions are not in %s and were not evaluated: %s",
                len(unknown),
                self._dataset_name,
                ", ".join(unknown[:20]),
            )
        result = evaluate_landmark_nme(ground_truth, predictions)
        results = {
            "NME": result.nme,
            "faces_matched": result.faces_matched,
            "faces_with_landmarks": result.faces_with_landmarks,
        }
        self._logger.info(
            "Landmark NME on %s: %s over %d of %d faces with landmarks (%d points)",
            self._dataset_name,
            f"{result.nme:.4f}" if math.isfinite(result.nme) else "n/a",
            result.faces_matched,
            result.faces_with_landmarks,
            result.points,
        )
        if self._output_dir:
            os.makedirs(self._output_dir, exist_ok=True)
            with open(os.path.join(self._output_dir, RESULT_FILE), "w") as f:
                json.dump(
                    {
                        "dataset": self._dataset_name,
                        **results,
                        "NME": result.nme if math.isfinite(result.nme) else None,
                        "points": result.points,
                    },
                    f,
                    indent=1,
                )
        return OrderedDict({"landmarks": results})

    def _gather(self):
        """All ranks' predictions on the main process; None elsewhere."""
        if not self._distributed:
            return copy.copy(self._predictions)
        comm.synchronize()
        parts = comm.gather(self._predictions, dst=0)
        if not comm.is_main_process():
            return None
        predictions = {}
        for part in parts:
            predictions.update(part)
        return predictions
