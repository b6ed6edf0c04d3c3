"""Mixed precision: DF2S2's training step and inference under CPU bfloat16 autocast stay
close to float32; FaceDetector(amp=True), with landmarks too; SOLVER.AMP.ENABLED refused
without CUDA."""
import logging

import numpy as np
import pytest
import torch

from detectron2.modeling import build_model
from detectron2.utils.events import EventStorage

from df2s2_d2 import FaceDetector
from df2s2_d2.amp import AmpUnavailableError, check_amp_training
from tests.common import face_instances, random_image, small_cfg


def seeded_model():
    torch.manual_seed(0)
    return build_model(small_cfg())


def training_batch():
    image = random_image(192, 256, seed=1)
    boxes = [[20, 30, 60, 80], [100, 40, 124, 70], [150, 100, 230, 180], [10, 150, 18, 160]]
    return [{"image": image, "instances": face_instances(boxes, (192, 256))}]


def test_a_training_step_under_bfloat16_autocast_gives_the_float32_losses_and_gradients():
    """Focal, box and seg losses within 2 % of float32; gradients finite and aligned."""
    model = seeded_model().train()
    losses = {}
    grads = {}
    for name, amp in (("fp32", False), ("bf16", True)):
        model.zero_grad()
        with EventStorage(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            loss_dict = model(training_batch())
        sum(loss_dict.values()).backward()
        losses[name] = {k: v.item() for k, v in loss_dict.items()}
        grads[name] = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
    assert set(losses["fp32"]) == {"loss_cls", "loss_box_reg", "loss_seg"}
    for key, value in losses["fp32"].items():
        assert losses["bf16"][key] == pytest.approx(value, rel=0.02), key
    assert torch.isfinite(grads["bf16"]).all()
    # 2 %, as the losses: bfloat16's 8-bit mantissa compounds through the backbone (the
    # res5 weights' gradients agree least); 0.990 on an AVX2 CPU without native bfloat16
    assert torch.nn.functional.cosine_similarity(grads["fp32"], grads["bf16"], dim=0) > 0.98


def test_face_detector_amp_on_the_cpu_runs_bfloat16_and_finds_the_float32_detections(caplog):
    cfg = small_cfg(["MODEL.RETINANET.PRIOR_PROB", 0.3, "MODEL.RETINANET.SCORE_THRESH_TEST", 0.2, "INPUT.MIN_SIZE_TEST", 160,
                     "INPUT.MAX_SIZE_TEST", 256])
    image = random_image(160, 200, seed=2).permute(1, 2, 0).numpy()
    torch.manual_seed(0)
    fp32 = FaceDetector(cfg).detect(image)
    torch.manual_seed(0)
    with caplog.at_level(logging.INFO, logger="df2s2_d2.face_detector"):
        detector = FaceDetector(cfg, amp=True)
    assert "autocast to torch.bfloat16 on cpu" in caplog.text
    amp = detector.detect(image)
    assert amp.boxes.dtype == np.float32 and len(fp32) > 20
    # the 20 best float32 detections are found under autocast, within 2 px and 0.02 in score
    top = fp32.boxes[:20]
    distance = np.abs(top[:, None] - amp.boxes[None]).max(axis=-1)
    nearest = distance.argmin(axis=1)
    assert distance.min(axis=1).max() < 2.0
    np.testing.assert_allclose(amp.scores[nearest], fp32.scores[:20], atol=0.02)
    assert not np.array_equal(amp.scores[nearest], fp32.scores[:20])  # it did run in bfloat16


def test_face_detector_amp_gives_float32_landmarks_near_the_float32_ones():
    cfg = small_cfg(["MODEL.DF2S2.LANDMARKS", True, "MODEL.RETINANET.PRIOR_PROB", 0.3,
                     "MODEL.RETINANET.SCORE_THRESH_TEST", 0.2, "INPUT.MIN_SIZE_TEST", 160,
                     "INPUT.MAX_SIZE_TEST", 256])
    image = random_image(160, 200, seed=2).permute(1, 2, 0).numpy()
    torch.manual_seed(0)
    fp32 = FaceDetector(cfg).detect(image)
    torch.manual_seed(0)
    amp = FaceDetector(cfg, amp=True).detect(image)
    assert amp.landmarks.dtype == np.float32 and amp.landmarks.shape == (len(amp), 5, 2)
    # the landmarks of the nearest box to each of the 20 best float32 detections
    nearest = np.abs(fp32.boxes[:20, None] - amp.boxes[None]).max(axis=-1).argmin(axis=1)
    assert np.abs(amp.landmarks[nearest] - fp32.landmarks[:20]).max() < 2.0


def test_amp_training_without_cuda_is_refused_with_a_clear_error():
    cfg = small_cfg(["SOLVER.AMP.ENABLED", True])
    if torch.cuda.is_available():
        cfg.MODEL.DEVICE = "cpu"
    with pytest.raises(AmpUnavailableError, match="SOLVER.AMP.ENABLED True: .* needs a CUDA device"):
        check_amp_training(cfg)
    check_amp_training(small_cfg())  # AMP off: nothing to refuse


def test_train_net_refuses_amp_without_cuda_before_writing_anything(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    import train_net
    from tests.test_train_net import train_net_args

    output = tmp_path / "out"
    with pytest.raises(AmpUnavailableError, match="no CUDA device"):
        train_net.main(train_net_args(output, opts=["SOLVER.AMP.ENABLED", True]))
    assert not output.exists()
