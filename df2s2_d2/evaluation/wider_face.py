"""Evaluate a folder of WIDER FACE prediction files by the official protocol.

    python -m df2s2_d2.evaluation.wider_face --pred PRED_DIR --gt GT_DIR [--json]

The same command as ``wider-face-eval`` (``df2s2_deploy.evaluation.wider_face``), kept
under this name; that one starts faster, as it imports neither torch nor Detectron2.
"""
import sys

from df2s2_deploy.evaluation.wider_face import evaluate_prediction_dir, main

__all__ = ["evaluate_prediction_dir", "main"]

if __name__ == "__main__":
    sys.exit(main())
