"""Mixed precision: float16 autocast on CUDA (Detectron2's ``AMPTrainer`` for training
with ``SOLVER.AMP.ENABLED``), bfloat16 autocast on the CPU for inference."""
import contextlib
import logging

import torch

__all__ = ["AmpUnavailableError", "amp_dtype", "inference_autocast", "check_amp_training"]

logger = logging.getLogger(__name__)


class AmpUnavailableError(RuntimeError):
    """Mixed precision asked for where it cannot run."""


def amp_dtype(device: str) -> torch.dtype:
    """float16 on CUDA, bfloat16 on the CPU (the dtype PyTorch's CPU autocast runs fast)."""
    return torch.float16 if torch.device(device).type == "cuda" else torch.bfloat16


def inference_autocast(device: str, enabled: bool):
    """``torch.autocast`` of `device` in `amp_dtype`, or a no-op context when not `enabled`."""
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=amp_dtype(device))


def check_amp_training(cfg) -> None:
    """Refuse ``SOLVER.AMP.ENABLED`` without a CUDA device, before any work: Detectron2's
    ``AMPTrainer`` autocasts CUDA ops only and would stop at its first step."""
    if not cfg.SOLVER.AMP.ENABLED:
        return
    device = torch.device(cfg.MODEL.DEVICE).type
    if device != "cuda" or not torch.cuda.is_available():
        where = "this machine has no CUDA device" if not torch.cuda.is_available() else (
            f"MODEL.DEVICE is {cfg.MODEL.DEVICE!r}")
        raise AmpUnavailableError(
            f"SOLVER.AMP.ENABLED True: mixed-precision training (Detectron2's AMPTrainer, float16 "
            f"autocast and a gradient scaler) needs a CUDA device, but {where}; train with "
            "SOLVER.AMP.ENABLED False (float32)"
        )
