"""DF2S2 without torch or Detectron2: the ONNX face detector runtime (numpy, onnxruntime,
Pillow, OpenCV) and the WIDER FACE evaluation (numpy, scipy).

Importing this package imports nothing heavy; ``OnnxFaceDetector`` and ``Detections``
are loaded on first use, so ``df2s2_deploy.evaluation`` needs only numpy and scipy.
"""
import importlib

__all__ = ["Detections", "OnnxFaceDetector"]

_LAZY = {"Detections": ".detections", "OnnxFaceDetector": ".onnx_detector"}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
