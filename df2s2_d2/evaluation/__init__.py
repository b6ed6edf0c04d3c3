"""WIDER FACE evaluation by the official protocol."""

from .build import build_face_evaluator
from .wider_face_evaluator import WiderFaceEvaluator, final_wider_face_ap
from .wider_face_ground_truth import SUBSETS, WiderFaceGroundTruth, load_wider_face_ground_truth
from .wider_face_predictions import PredictionReport, read_prediction_dir, write_prediction_dir
from .wider_face_protocol import WiderFacePRCurve, evaluate_wider_face

__all__ = [
    "build_face_evaluator",
    "WiderFaceEvaluator",
    "final_wider_face_ap",
    "SUBSETS",
    "WiderFaceGroundTruth",
    "load_wider_face_ground_truth",
    "PredictionReport",
    "read_prediction_dir",
    "write_prediction_dir",
    "WiderFacePRCurve",
    "evaluate_wider_face",
]
