"""Evaluate a folder of WIDER FACE prediction files by the official protocol.

    wider-face-eval --pred PRED_DIR --gt GT_DIR [--json] [--breakdown]
    python -m df2s2_deploy.evaluation.wider_face ...   (the same)

PRED_DIR holds `<event>/<name>.txt` files in the official format; GT_DIR holds
`wider_face_val.mat` and `wider_{easy,medium,hard}_val.mat` (the official
`eval_tools/ground_truth`). Prints the AP of each subset; with `--json` the
last line is `{"easy": AP, "medium": AP, "hard": AP}` (fractions). With
`--breakdown` it also prints the AP per face size and per attribute value
(:mod:`.wider_face_breakdown`), which the JSON line holds under "breakdown". What could
not be read is logged as warnings on stderr, naming the file and the line.
Needs only numpy and scipy.
"""

import argparse
import json
import logging
import math
import sys
from typing import Dict, Optional, Sequence, Tuple

from .wider_face_breakdown import BASE_SUBSET, Breakdown, evaluate_breakdown
from .wider_face_ground_truth import SUBSETS, load_wider_face_ground_truth
from .wider_face_predictions import PredictionReport, read_prediction_dir
from .wider_face_protocol import WiderFacePRCurve, evaluate_wider_face

__all__ = ["evaluate_prediction_dir", "main"]

logger = logging.getLogger(__name__)


def evaluate_prediction_dir(
    pred_dir: str, gt_dir: str, breakdown: bool = False
) -> Tuple[Dict[str, WiderFacePRCurve], PredictionReport, Optional[Breakdown]]:
    """Read the ground truth and the prediction files, evaluate, and log the reading report.

    Returns the easy / medium / hard curves, the reading report and, with
    ``breakdown``, the AP per face size and attribute (else None).
    """
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
    sizes = evaluate_breakdown(gt, predictions, gt_dir) if breakdown else None
    return evaluate_wider_face(gt, predictions), report, sizes


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
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="also AP per face size (sqrt(w*h) bins) and per WIDER attribute value",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s", stream=sys.stderr)
    try:
        curves, _, breakdown = evaluate_prediction_dir(args.pred, args.gt, args.breakdown)
    except (FileNotFoundError, ValueError) as e:
        parser.exit(2, f"error: {e}\n")
    print("WIDER FACE val AP (official protocol)")
    for subset in SUBSETS:
        print(f"{subset.capitalize():<7}{curves[subset].ap:.6f}")
    if breakdown is not None:
        print(f"\nAP per face size and attribute (faces of '{BASE_SUBSET}'; others ignored)")
        print(breakdown.table())
    if args.json:
        # NaN (a subset without faces) is not JSON: null
        result = {s: curves[s].ap if math.isfinite(curves[s].ap) else None for s in SUBSETS}
        if breakdown is not None:
            result["breakdown"] = breakdown.to_dict()
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
