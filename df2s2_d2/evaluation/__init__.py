"""WIDER FACE evaluation by the official protocol, and the five-landmark NME.

``WiderFaceEvaluator`` and ``FaceLandmarkEvaluator`` are the Detectron2 evaluators. The
protocol, the ground-truth reader, the prediction files, the PR curves and the NME
live in the torch-free ``df2s2_deploy.evaluation`` (import its modules from there);
its API is re-exported here.
"""
from df2s2_deploy import evaluation as deploy_evaluation
from df2s2_deploy.evaluation import (
    SUBSETS,
    LandmarkNME,
    PredictionReport,
    WiderFaceGroundTruth,
    WiderFacePRCurve,
    evaluate_landmark_nme,
    evaluate_wider_face,
    load_wider_face_ground_truth,
    read_prediction_dir,
    write_prediction_dir,
)

from .build import build_face_evaluator
from .face_photo_evaluator import FacePhotoEvaluator
from .landmark_evaluator import FaceLandmarkEvaluator
from .wider_face_evaluator import WiderFaceEvaluator, final_wider_face_ap, wider_face_ap_curve

__all__ = [
    "build_face_evaluator",
    "WiderFaceEvaluator",
    "FaceLandmarkEvaluator",
    "FacePhotoEvaluator",
    "final_wider_face_ap",
    "wider_face_ap_curve",
    *deploy_evaluation.__all__,
]
