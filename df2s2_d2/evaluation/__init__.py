"""WIDER FACE evaluation by the official protocol.

The protocol, the ground-truth reader, the prediction files and the PR curves live in
the torch-free ``df2s2_deploy.evaluation``; their modules are also importable under
their former names here (``df2s2_d2.evaluation.wider_face_protocol`` ...), as the very
same module objects.
"""
import sys

from df2s2_deploy.evaluation import (
    wider_face_ground_truth,
    wider_face_pr_curves,
    wider_face_predictions,
    wider_face_protocol,
)

for _module in (
    wider_face_ground_truth,
    wider_face_pr_curves,
    wider_face_predictions,
    wider_face_protocol,
):
    sys.modules[f"{__name__}.{_module.__name__.rsplit('.', 1)[1]}"] = _module

from .build import build_face_evaluator  # noqa: E402
from .wider_face_evaluator import WiderFaceEvaluator, final_wider_face_ap, wider_face_ap_curve  # noqa: E402
from df2s2_deploy import evaluation as _torch_free  # noqa: E402
from df2s2_deploy.evaluation import *  # noqa: E402,F401,F403  the torch-free API

__all__ = ["build_face_evaluator", "WiderFaceEvaluator", "final_wider_face_ap", "wider_face_ap_curve",
           *_torch_free.__all__]
