"""WIDER FACE evaluation by the official protocol, and the landmark NME, in numpy and
scipy only.

``df2s2_d2.evaluation`` (the Detectron2 evaluators) uses these modules; the
``wider-face-eval`` command runs ``wider_face.main``.
"""

from .landmark_nme import LandmarkNME, evaluate_landmark_nme
from .wider_face_ground_truth import SUBSETS, WiderFaceGroundTruth, load_wider_face_ground_truth
from .wider_face_predictions import PredictionReport, read_prediction_dir, write_prediction_dir
from .wider_face_protocol import WiderFacePRCurve, evaluate_wider_face

__all__ = [
    "SUBSETS",
    "WiderFaceGroundTruth",
    "load_wider_face_ground_truth",
    "PredictionReport",
    "read_prediction_dir",
    "write_prediction_dir",
    "WiderFacePRCurve",
    "evaluate_wider_face",
    "LandmarkNME",
    "evaluate_landmark_nme",
]
