"""Helpers shared by the tests: configs and tiny inputs."""
from pathlib import Path

import torch

from detectron2.structures import Boxes, Instances

from df2s2_d2 import get_df2s2_cfg

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"


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
