"""WIDER FACE evaluation by the official protocol.

``WiderFaceEvaluator`` is the Detectron2 evaluator. The protocol, the ground-truth
reader, the prediction files and the PR curves live in the torch-free
``df2s2_deploy.evaluation`` (import its modules from there); its API is re-exported here.
"""
from df2s2_deploy import evaluation as deploy_evaluation
from df2s2_deploy.evaluation import (
    SUBSETS,
    PredictionReport,
    WiderFaceGroundTruth,
    WiderFacePRCurve,
    evaluate_wider_face,
    load_wider_face_ground_truth,
    read_prediction_dir,
    write_prediction_dir,
)

from .build import build_face_evaluator
from .wider_face_evaluator import WiderFaceEvaluator, final_wider_face_ap, wider_face_ap_curve

__all__ = [
    "build_face_evaluator",
    "WiderFaceEvaluator",
    "final_wider_face_ap",
    "wider_face_ap_curve",
    *deploy_evaluation.__all__,
]
