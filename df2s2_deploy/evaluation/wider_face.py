"""Evaluate a folder of WIDER FACE prediction files by the official protocol.

    wider-face-eval --pred PRED_DIR --gt GT_DIR [--json]
    python -m df2s2_deploy.evaluation.wider_face ...   (the same)

PRED_DIR holds `<event>/<name>.txt` files in the official format; GT_DIR holds
`wider_face_val.mat` and `wider_{easy,medium,hard}_val.mat` (the official
`eval_tools/ground_truth`). Prints the AP of each subset; with `--json` the
last line is `{"easy": AP, "medium": AP, "hard": AP}` (fractions). What could
not be read is logged as warnings on stderr, naming the file and the line.
Needs only numpy and scipy.
"""

import argparse
import json
import logging
import math
import sys
from typing import Dict, Optional, Sequence, Tuple

from .wider_face_ground_truth import SUBSETS, load_wider_face_ground_truth
from .wider_face_predictions import PredictionReport, read_prediction_dir
from .wider_face_protocol import WiderFacePRCurve, evaluate_wider_face

__all__ = ["evaluate_prediction_dir", "main"]

logger = logging.getLogger(__name__)


def evaluate_prediction_dir(
    pred_dir: str, gt_dir: str
) -> Tuple[Dict[str, WiderFacePRCurve], PredictionReport]:
    """Read the ground truth and the prediction files, evaluate, and log the reading report."""
    gt = load_wider_face_ground_truth(gt_dir)
    predictions, report = read_prediction_dir(pred_dir, gt.image_keys)
    report.log(logger)
    num_detections = sum(len(rows) for rows in predictions.values())
    logger.info(
        "Read %d detections for %d of %d images from %s",
        num_detections,
        len(predictions),
        len(gt.image_keys),
        pred_dir,
    )
    return evaluate_wider_face(gt, predictions), report


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--pred", required=True, help="folder of <event>/<name>.txt prediction files"
    )
    parser.add_argument(
        "--gt",
        required=True,
        help="folder of wider_face_val.mat and wider_{easy,medium,hard}_val.mat",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help='end with one line {"easy": AP, "medium": AP, "hard": AP}',
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s", stream=sys.stderr)
    try:
        curves, _ = evaluate_prediction_dir(args.pred, args.gt)
    except (FileNotFoundError, ValueError) as e:
        parser.exit(2, f"error: {e}\n")
    print("WIDER FACE val AP (official protocol)")
    for subset in SUBSETS:
        print(f"{subset.capitalize():<7}{curves[subset].ap:.6f}")
    if args.json:
        # NaN (a subset without faces) is not JSON: null
        print(
            json.dumps({s: curves[s].ap if math.isfinite(curves[s].ap) else None for s in SUBSETS})
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
