"""A small seeded DF2S2 (random weights), its checkpoint and its deploy export."""
import pytest
import torch

from detectron2.modeling import build_model

from tests.common import CONFIGS, get_config
from tools import export

CONFIG = "Synth/df2s2_R_18_quick.yaml"
# Tiny model; a high cls prior and a low threshold give hundreds of detections per image;
# test images are resized to shorter side 160 (longer side at most 256).
OPTS = [
    "MODEL.FFP.OUT_CHANNELS", "32", "MODEL.RETINANET.NUM_CONVS", "1",
    "MODEL.RETINANET.PRIOR_PROB", "0.3", "MODEL.RETINANET.SCORE_THRESH_TEST", "0.2",
    "TEST.DETECTIONS_PER_IMAGE", "300", "INPUT.MIN_SIZE_TEST", "160", "INPUT.MAX_SIZE_TEST", "256",
]


@pytest.fixture(scope="session")
def deploy_cfg():
    return get_config(CONFIG, OPTS)


def save_seeded_weights(cfg, folder) -> str:
    """Checkpoint of the model of ``cfg`` seeded 0, in ``folder``. Its box predictor is
    scaled down (deltas ~0.005): onnxruntime's and PyTorch's float32 head outputs differ by
    ~1e-6 of their size, which the largest anchors (812 px) would otherwise turn into more
    than 1e-3 px."""
    torch.manual_seed(0)
    model = build_model(cfg)
    with torch.no_grad():
        model.head.bbox_pred.weight.mul_(0.1)
    path = folder / "model.pth"
    torch.save({"model": model.state_dict()}, path)
    return str(path)


@pytest.fixture(scope="session")
def seeded_weights(tmp_path_factory, deploy_cfg):
    """Checkpoint of the seeded model (:func:`save_seeded_weights`)."""
    return save_seeded_weights(deploy_cfg, tmp_path_factory.mktemp("weights"))


def export_deploy_model(out, weights, opts):
    """(face_detector.onnx path, its JSON path), written to ``out`` by tools/export.py
    --format deploy."""
    export.main([
        "--config-file", str(CONFIGS / CONFIG), "--format", "deploy", "--output", str(out),
        "MODEL.WEIGHTS", weights, *opts,
    ])
    return str(out / "face_detector.onnx"), str(out / "face_detector.json")


@pytest.fixture(scope="session")
def deploy_model(tmp_path_factory, seeded_weights):
    """The seeded model exported (:func:`export_deploy_model`)."""
    return export_deploy_model(tmp_path_factory.mktemp("deploy"), seeded_weights, OPTS)
