"""`WiderFaceEvaluator`: easy / medium / hard AP of a Detectron2 model by the official protocol."""

import copy
import json
import logging
import math
import os
from collections import OrderedDict
from typing import Dict, List, Tuple

import numpy as np
from detectron2.data import MetadataCatalog
from detectron2.evaluation import DatasetEvaluator
from detectron2.utils import comm

from df2s2_deploy.evaluation.wider_face_breakdown import evaluate_breakdown
from df2s2_deploy.evaluation.wider_face_ground_truth import (
    SUBSETS,
    ImageKey,
    load_wider_face_ground_truth,
)
from df2s2_deploy.evaluation.wider_face_pr_curves import save_pr_curves_json, save_pr_curves_png
from df2s2_deploy.detections import Detections
from df2s2_deploy.evaluation.wider_face_predictions import (
    Issue,
    PredictionReport,
    image_key,
    row_problems,
    write_prediction_dir,
)
from df2s2_deploy.evaluation.wider_face_protocol import evaluate_wider_face

__all__ = ["WiderFaceEvaluator", "image_key", "instances_to_rows"]

GT_DIR_KEY = "wider_face_gt_dir"


def instances_to_rows(instances) -> np.ndarray:
    """(n, 5) float64 rows x1, y1, x2 - x1, y2 - y1, score of `Instances`.

    `instances` has `pred_boxes` (XYXY) and `scores`.
    """
    boxes = instances.pred_boxes.tensor.detach().cpu().numpy()
    return Detections(boxes, instances.scores.detach().cpu().numpy()).to_wider_face_rows()


class WiderFaceEvaluator(DatasetEvaluator):
    """WIDER FACE AP of the easy, medium and hard subsets, reproducing the official MATLAB code.

    The ground truth folder (the official `eval_tools/ground_truth`, or the
    synthetic set's equivalent) comes from the dataset's metadata key
    `wider_face_gt_dir`. Predictions of each image are keyed by the folder
    and stem of its `file_name` (`.../<event>/<name>.jpg`).

    With `output_dir`, `evaluate` also writes:
      - `wider_face_predictions/<event>/<name>.txt`: the official prediction
        files (usable with the official tools and for a test-server submission);
      - `wider_face_pr_curves.png` and `wider_face_pr_curves.json`;
      - `wider_face_breakdown.json`: AP per face size and per attribute value
        (:mod:`df2s2_deploy.evaluation.wider_face_breakdown`).
    The results hold "wider_face" (AP_easy, AP_medium, AP_hard) and
    "wider_face_breakdown" (AP_<subset> of each breakdown subset with faces; an
    empty one is left out and logged, never reported as 0).
    Without `wider_face_gt_dir` (the test split), it only writes the prediction files.
    """

    def __init__(self, dataset_name: str, output_dir: str = None, distributed: bool = True):
        self._dataset_name = dataset_name
        self._output_dir = output_dir
        self._distributed = distributed
        self._logger = logging.getLogger(__name__)
        self._gt_dir = MetadataCatalog.get(dataset_name).get(GT_DIR_KEY, None)
        if self._gt_dir is None:
            message = (
                f"Dataset '{dataset_name}' has no metadata '{GT_DIR_KEY}' (a folder with "
                "wider_face_val.mat and wider_{easy,medium,hard}_val.mat)"
            )
            if output_dir is None:
                raise ValueError(
                    message + "; without it and without output_dir there is nothing to do."
                )
            self._logger.warning(message + ": only the prediction files will be written, no AP.")
        self.reset()

    def reset(self):
        self._predictions: Dict[ImageKey, np.ndarray] = {}
        self._duplicates = []

    def process(self, inputs, outputs):
        for input, output in zip(inputs, outputs):
            key = image_key(input["file_name"])
            if key in self._predictions:
                self._duplicates.append(input["file_name"])
            self._predictions[key] = instances_to_rows(output["instances"])

    def evaluate(self):
        predictions, duplicates = self._gather()
        if predictions is None:
            return {}
        if not predictions:
            self._logger.warning("[WiderFaceEvaluator] Did not receive valid predictions.")
            return {}
        report = PredictionReport()
        report.warnings.extend(
            Issue(f, "image processed more than once; its last predictions kept")
            for f in duplicates
        )
        if self._output_dir:
            self._write_predictions(predictions)
        if self._gt_dir is None:
            report.log(self._logger)
            return {}

        gt = load_wider_face_ground_truth(self._gt_dir)
        known = set(gt.image_keys)
        for key in sorted(predictions):
            where = f"{key[0]}/{key[1]}"
            if key not in known:
                report.unexpected.append(
                    Issue(where, f"not an image of the ground truth in {self._gt_dir}")
                )
            else:
                report.warnings.extend(row_problems(predictions[key], where))
        missing = [f"{e}/{n}" for e, n in gt.image_keys if (e, n) not in predictions]
        if missing:
            self._logger.warning(
                "%d of %d ground-truth images were not evaluated (skipped as unusable, or "
                "not in the dataset): they count as images without detections: %s%s",
                len(missing),
                len(known),
                ", ".join(missing[:20]),
                f" and {len(missing) - 20} more" if len(missing) > 20 else "",
            )
        report.log(self._logger)

        curves = evaluate_wider_face(gt, predictions)
        if self._output_dir:
            save_pr_curves_png(
                curves,
                os.path.join(self._output_dir, "wider_face_pr_curves.png"),
                self._dataset_name,
            )
            save_pr_curves_json(curves, os.path.join(self._output_dir, "wider_face_pr_curves.json"))
        results = {f"AP_{subset}": 100 * curves[subset].ap for subset in SUBSETS}
        self._logger.info(
            "WIDER FACE AP on %s: %s",
            self._dataset_name,
            ", ".join(f"{k} {v:.2f}" for k, v in results.items() if math.isfinite(v)),
        )
        breakdown = evaluate_breakdown(gt, predictions, self._gt_dir)
        if self._output_dir:
            with open(os.path.join(self._output_dir, "wider_face_breakdown.json"), "w") as f:
                json.dump(breakdown.to_dict(), f, indent=2)
        self._logger.info("WIDER FACE AP per face size and attribute:\n%s", breakdown.table())
        by_subset = {f"AP_{e.name}": 100 * e.ap for e in breakdown.entries if e.ap is not None}
        return OrderedDict({"wider_face": results, "wider_face_breakdown": by_subset})

    def _gather(self):
        """All ranks' predictions on the main process; (None, None) elsewhere."""
        if not self._distributed:
            return copy.copy(self._predictions), list(self._duplicates)
        comm.synchronize()
        parts = comm.gather((self._predictions, self._duplicates), dst=0)
        if not comm.is_main_process():
            return None, None
        predictions, duplicates = {}, []
        for part_predictions, part_duplicates in parts:
            duplicates.extend(part_duplicates)
            duplicates.extend(
                k[0] + "/" + k[1] for k in part_predictions.keys() & predictions.keys()
            )
            predictions.update(part_predictions)
        return predictions, duplicates

    def _write_predictions(self, predictions):
        pred_dir = os.path.join(self._output_dir, "wider_face_predictions")
        write_prediction_dir(pred_dir, predictions)
        self._logger.info("Wrote prediction files of %d images to %s", len(predictions), pred_dir)


def wider_face_ap_curve(metrics_file: str) -> List[Tuple[int, Dict[str, float]]]:
    """[(iteration, {"easy", "medium", "hard": AP in percent}), ...]: every WIDER FACE
    evaluation that Detectron2's JSON writer recorded in ``metrics_file`` (``metrics.json``)."""
    with open(metrics_file) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [(r["iteration"], {k: r[f"wider_face/AP_{k}"] for k in ("easy", "medium", "hard")})
            for r in rows if "wider_face/AP_easy" in r]


def final_wider_face_ap(metrics_file: str) -> Dict[str, float]:
    """{"easy", "medium", "hard"}: APs (percent) of the last WIDER FACE evaluation in
    ``metrics_file``."""
    curve = wider_face_ap_curve(metrics_file)
    if not curve:
        raise ValueError(f"{metrics_file}: holds no WIDER FACE evaluation (no wider_face/AP_* row)")
    return curve[-1][1]
