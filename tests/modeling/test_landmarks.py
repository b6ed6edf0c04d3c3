"""The landmark predictor: encoding, loss, inference with pred_keypoints, and a model
without it that is exactly the model of before."""
import numpy as np
import pytest
import torch
from detectron2.modeling import build_model
from detectron2.structures import Boxes, Keypoints
from detectron2.utils.events import EventStorage

from df2s2_deploy.face_landmarks import decode_landmarks, encode_landmarks
from df2s2_d2.modeling.meta_arch.landmarks import landmark_loss, matched_landmarks
from tests.common import face_instances, random_image, small_cfg

FACES = [[10, 12, 40, 48], [70, 20, 110, 70]]
# (x, y, v) per point; the second face's mouth corner hidden, its nose not labelled
POINTS = [
    [[18, 25, 2], [32, 25, 2], [25, 32, 2], [19, 40, 2], [31, 40, 2]],
    [[80, 38, 2], [100, 38, 2], [0, 0, 0], [82, 58, 2], [98, 58, 1]],
]


def build(landmarks, seed=0, opts=()):
    return build_model(small_cfg(["MODEL.DF2S2.LANDMARKS", landmarks, "SEED", seed, *opts]))


def inputs(points=POINTS, height=128, width=160):
    instances = face_instances(FACES, (height, width))
    instances.gt_keypoints = Keypoints(torch.tensor(points, dtype=torch.float32))
    return [{"image": random_image(height, width), "instances": instances}]


def losses(model, batch):
    model.train()
    with EventStorage():
        return model(batch)


@pytest.mark.parametrize("lib", [np, torch])
def test_encoding_round_trips_and_is_retinaface_s(lib):
    anchors = lib.asarray([[0.0, 0.0, 20.0, 40.0]]) if lib is np else torch.tensor([[0.0, 0.0, 20.0, 40.0]])
    points = np.array([[[10, 20], [12, 20], [10, 24], [0, 0], [20, 40]]], dtype=np.float64)
    points = points if lib is np else torch.tensor(points, dtype=torch.float32)
    encoded = encode_landmarks(points, anchors)
    # centre (10, 20), size (20, 40), variance 0.1: (12 - 10) / 2 = 1, (24 - 20) / 4 = 1
    assert np.allclose(np.asarray(encoded)[0, :6], [0, 0, 1, 0, 0, 1])
    assert np.allclose(np.asarray(decode_landmarks(encoded, anchors)), np.asarray(points), atol=1e-5)


def test_without_the_option_the_model_is_unchanged_and_shares_the_paired_weights():
    plain, with_landmarks = build(False), build(True)
    plain_state, landmark_state = plain.state_dict(), with_landmarks.state_dict()
    assert set(landmark_state) - set(plain_state) == {"head.landmark_pred.weight", "head.landmark_pred.bias"}
    assert all(torch.equal(v, landmark_state[k]) for k, v in plain_state.items())
    assert plain.head.landmark_pred is None
    assert set(losses(plain, inputs())) == {"loss_cls", "loss_box_reg", "loss_seg"}


def test_detections_are_retinanet_s_and_carry_scaled_keypoints():
    plain, with_landmarks = build(False), build(True)
    batch = [{"image": random_image(128, 160), "height": 256, "width": 320}]
    with torch.no_grad():
        ours = with_landmarks.eval()(batch)[0]["instances"]
        theirs = plain.eval()(batch)[0]["instances"]
    assert len(ours) > 0
    assert torch.equal(ours.pred_boxes.tensor, theirs.pred_boxes.tensor)
    assert torch.equal(ours.scores, theirs.scores)
    assert ours.pred_keypoints.shape == (len(ours), 5, 3)
    assert torch.equal(ours.pred_keypoints[:, :, 2], ours.scores[:, None].expand(-1, 5))
    # points decoded at the network's input, then scaled x2 like the boxes
    boxes = ours.pred_boxes.tensor
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    assert (ours.pred_keypoints[:, :, :2] - centres[:, None]).abs().max() < 2 * 256


def test_loss_is_zero_for_perfect_points_and_ignores_unlabelled_ones():
    model = build(True)
    model.train()
    batch = inputs()
    features = model.backbone(model.preprocess_image(batch).tensor)
    features = [features[f] for f in model.head_in_features]
    anchors = model.anchor_generator(features)
    gt = [batch[0]["instances"]]
    shapes = [(1, 60, f.shape[2], f.shape[3]) for f in features]
    # a prediction equal to each anchor's target where labelled, garbage elsewhere
    all_anchors = Boxes.cat(anchors)
    keypoints, foreground = matched_landmarks(model.anchor_matcher, all_anchors, gt[0])
    assert foreground.any()
    target = encode_landmarks(keypoints[:, :, :2], all_anchors.tensor)
    labelled = (keypoints[:, :, 2] > 0).repeat_interleave(2, dim=1)
    pred = torch.where(labelled, target, torch.full_like(target, 50.0))
    levels, start = [], 0
    for s in shapes:
        n = s[2] * s[3] * 6
        level = pred[start:start + n].reshape(s[2], s[3], 6 * 10).permute(2, 0, 1)[None]
        levels.append(level)
        start += n
    assert float(landmark_loss(model.anchor_matcher, anchors, levels, gt)) == 0
    shifted = [x + 0.5 for x in levels]  # smooth L1 (beta 1) of 0.5 per labelled coordinate: 0.125
    labelled_points = int((gt[0].gt_keypoints.tensor[:, :, 2] > 0).sum())
    per_anchor = torch.tensor([float((keypoints[i, :, 2] > 0).sum()) for i in range(len(keypoints))])
    expected = float((per_anchor[foreground] * 2 * 0.125).sum() / foreground.sum())
    assert labelled_points == 9
    assert float(landmark_loss(model.anchor_matcher, anchors, shifted, gt)) == pytest.approx(expected, rel=1e-5)


def test_faces_without_landmarks_add_no_loss_and_no_gradient():
    model = build(True)
    unlabelled = losses(model, inputs(points=np.zeros((2, 5, 3)).tolist()))
    assert unlabelled["loss_landmark"].item() == 0
    unlabelled["loss_landmark"].backward()
    assert not model.head.landmark_pred.weight.grad.abs().any()
    labelled = losses(build(True), inputs())
    assert float(labelled["loss_landmark"]) > 0


def test_landmark_loss_weight_scales_the_term():
    one = losses(build(True, opts=["MODEL.DF2S2.LANDMARK_LOSS_WEIGHT", 0.1]), inputs())
    two = losses(build(True, opts=["MODEL.DF2S2.LANDMARK_LOSS_WEIGHT", 0.2]), inputs())
    assert float(two["loss_landmark"]) == pytest.approx(2 * float(one["loss_landmark"]), rel=1e-5)
    assert float(two["loss_cls"]) == pytest.approx(float(one["loss_cls"]), rel=1e-6)
