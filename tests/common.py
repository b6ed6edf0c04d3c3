"""Helpers shared by the tests: configs and tiny inputs."""
import importlib
from pathlib import Path

import pytest
import torch

from detectron2.structures import Boxes, Instances

from df2s2_d2 import get_df2s2_cfg

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"


def detectron2_is_python_only() -> bool:
    """True for install/detectron2_fallback.py's v0.6 install (a stand-in detectron2._C)."""
    try:
        return getattr(importlib.import_module("detectron2._C"), "PYTHON_ONLY", False)
    except ImportError:
        return False


PYTHON_ONLY_DETECTRON2 = detectron2_is_python_only()
needs_compiled_ops = pytest.mark.skipif(
    PYTHON_ONLY_DETECTRON2,
    reason="needs Detectron2's compiled ops: this is the v0.6 Python-only fallback "
    "(`make test-upstream` runs it on Detectron2 main built from source)",
)


def get_config(path: str = "Synth/df2s2_R_18_quick.yaml", opts=()):
    """A frozen-free config of this project: `path` relative to configs/, CPU, no weights."""
    return get_df2s2_cfg(str(CONFIGS / path), ["MODEL.WEIGHTS", "", "MODEL.DEVICE", "cpu", *opts])


def small_cfg(opts=()):
    """The synthetic R18 config made smaller still for unit tests."""
    return get_config(
        "Synth/df2s2_R_18_quick.yaml",
        ["MODEL.FFP.OUT_CHANNELS", 32, "MODEL.RETINANET.NUM_CONVS", 1, *opts],
    )


def face_instances(boxes, image_size):
    """Instances with `gt_boxes` (XYXY list) and class 0 for every box."""
    inst = Instances(image_size)
    inst.gt_boxes = Boxes(torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4))
    inst.gt_classes = torch.zeros(len(inst.gt_boxes), dtype=torch.int64)
    return inst


def random_image(height: int, width: int, seed: int = 0) -> torch.Tensor:
    """A (3, H, W) uint8 image."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (3, height, width), dtype=torch.uint8, generator=g)
