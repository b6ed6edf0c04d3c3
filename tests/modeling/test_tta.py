import pytest
import torch
from torch import nn

from detectron2.config import get_cfg
from detectron2.data import transforms as T
from detectron2.modeling import build_model
from detectron2.structures import Boxes, Instances

from df2s2_d2.config import add_df2s2_config
from df2s2_d2.modeling.test_time_augmentation import (
    DF2S2WithTTA,
    box_voting,
    flip_detections,
    merge_detections,
)
from tests.common import random_image, small_cfg


def make_cfg(min_sizes, max_size=1000, flip=False, merge="voting", detections=100):
    cfg = get_cfg()
    add_df2s2_config(cfg)
    cfg.TEST.AUG.MIN_SIZES = min_sizes
    cfg.TEST.AUG.MAX_SIZE = max_size
    cfg.TEST.AUG.FLIP = flip
    cfg.TEST.AUG.MERGE = merge
    cfg.TEST.AUG.MERGE_IOU = 0.4
    cfg.TEST.DETECTIONS_PER_IMAGE = detections
    return cfg


def instances(size, boxes, scores, classes, points=None):
    """Detections; `points` (N, 5, 2) become `pred_keypoints` with the score as third value."""
    inst = Instances(size)
    inst.pred_boxes = Boxes(torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4))
    inst.scores = torch.tensor(scores, dtype=torch.float32)
    inst.pred_classes = torch.tensor(classes, dtype=torch.long)
    if points is not None:
        points = torch.tensor(points, dtype=torch.float32).reshape(-1, 5, 2)
        scores = inst.scores[:, None, None].expand(-1, 5, 1)
        inst.pred_keypoints = torch.cat([points, scores], dim=2)
    return inst


class SquareDetector(nn.Module):
    """Detects the bright square of an image and rescales its box to height/width,
    as a Detectron2 meta-architecture does. Records what it is given."""

    def __init__(self):
        super().__init__()
        self.one = nn.Parameter(torch.ones(()))  # output needs grad unless no_grad
        self.batch_sizes, self.seen, self.training_flags = [], [], []

    def forward(self, batched_inputs):
        self.batch_sizes.append(len(batched_inputs))
        self.training_flags.append(self.training)
        results = []
        for i, x in enumerate(batched_inputs):
            h, w = x["image"].shape[1:]
            bright = x["image"][0] > 127
            ys = bright.any(dim=1).nonzero()[:, 0]
            xs = bright.any(dim=0).nonzero()[:, 0]
            box = [xs.min().item(), ys.min().item(), xs.max().item() + 1, ys.max().item() + 1]
            self.seen.append(((h, w), box))
            scale = torch.tensor([x["width"] / w, x["height"] / h] * 2)
            inst = instances((x["height"], x["width"]), box, [0.5 + 0.05 * i], [0])
            inst.pred_boxes = Boxes(inst.pred_boxes.tensor * scale * self.one)
            results.append({"instances": inst})
        return results


class FixedDetector(nn.Module):
    """Returns the i-th of `outputs` (boxes, scores, classes[, landmarks]), in the
    coordinates of the original image, for the i-th image it is given."""

    def __init__(self, outputs):
        super().__init__()
        self.outputs = outputs
        self.calls = 0

    def forward(self, batched_inputs):
        results = []
        for x in batched_inputs:
            output = self.outputs[self.calls]
            self.calls += 1
            size = (x["height"], x["width"])
            results.append({"instances": instances(size, *output)})
        return results


def square_image(h, w, y1, x1, y2, x2):
    image = torch.zeros(3, h, w, dtype=torch.uint8)
    image[:, y1:y2, x1:x2] = 255
    return image


# -- box voting ------------------------------------------------------------------

VOTE_BOXES = torch.tensor(
    [
        [5.0, 0, 15, 10],  # IoU 1/3 with the top box: its own group
        [1.0, 0, 11, 10],  # IoU 9/11 with the top box: votes
        [20.0, 20, 30, 30],  # disjoint: its own group
        [0.0, 0, 10, 10],  # top box
        [0.0, 2, 10, 12],  # IoU 2/3 with the top box: votes
    ]
)
VOTE_SCORES = torch.tensor([0.7, 0.6, 0.8, 0.9, 0.3])
# Group of the top box, weights 0.9, 0.6, 0.3 (sum 1.8):
# x1 = (0*.9 + 1*.6 + 0*.3) / 1.8 = 1/3, y1 = (0 + 0 + 2*.3) / 1.8 = 1/3,
# x2 = (10*.9 + 11*.6 + 10*.3) / 1.8 = 31/3, y2 = (10*.9 + 10*.6 + 12*.3) / 1.8 = 31/3.
VOTED_BOXES = torch.tensor([[1 / 3, 1 / 3, 31 / 3, 31 / 3], [20, 20, 30, 30], [5, 0, 15, 10]])
VOTED_SCORES = torch.tensor([0.9, 0.8, 0.7])


def test_box_voting_averages_each_group_by_score():
    boxes, scores = box_voting(VOTE_BOXES, VOTE_SCORES, 0.5, 100)
    torch.testing.assert_close(boxes, VOTED_BOXES)
    torch.testing.assert_close(scores, VOTED_SCORES)


def test_box_voting_keeps_at_most_max_detections():
    boxes, scores = box_voting(VOTE_BOXES, VOTE_SCORES, 0.5, 2)
    torch.testing.assert_close(boxes, VOTED_BOXES[:2])
    torch.testing.assert_close(scores, VOTED_SCORES[:2])


def test_box_voting_includes_iou_equal_to_threshold():
    boxes = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 5]])  # IoU 50 / 100
    merged, scores = box_voting(boxes, torch.tensor([0.75, 0.25]), 0.5, 10)
    # y2 = 10 * 0.75 + 5 * 0.25
    torch.testing.assert_close(merged, torch.tensor([[0.0, 0, 10, 8.75]]))
    torch.testing.assert_close(scores, torch.tensor([0.75]))


def test_box_voting_empty_and_degenerate_input():
    boxes, scores = box_voting(torch.zeros(0, 4), torch.zeros(0), 0.5, 10)
    assert boxes.shape == (0, 4) and scores.shape == (0,)
    point = torch.tensor([[5.0, 5, 5, 5]])  # zero area: IoU with itself is 0 / 0
    boxes, scores = box_voting(point, torch.tensor([0.5]), 0.5, 10)
    torch.testing.assert_close(boxes, point)
    torch.testing.assert_close(scores, torch.tensor([0.5]))


# -- TTA wrapper -------------------------------------------------------------------


@pytest.mark.parametrize("flip", [True, False])
def test_tta_maps_every_scale_and_flip_back_to_the_original_box(flip):
    # Shorter sides 20, 40, 160; 160 is capped by the longer side 120, so the
    # images are the input resized by 0.5, 1 and 2 and the square's edges stay sharp.
    model = SquareDetector().train()
    tta = DF2S2WithTTA(make_cfg((20, 40, 160), max_size=120, flip=flip), model, batch_size=4)
    # A: 40 x 60, square x 10..30, y 10..20.
    # B: 60 x 40 input of a 120 x 80 original (loader resized by 0.5), square x 4..14,
    # y 30..50, i.e. x 8..28, y 60..100 in the original.
    inputs = [
        {"image": square_image(40, 60, 10, 10, 20, 30), "height": 40, "width": 60},
        {"image": square_image(60, 40, 30, 4, 50, 14), "height": 120, "width": 80},
    ]
    out = tta(inputs)

    n = 3 * (2 if flip else 1)
    assert len(model.seen) == 2 * n
    # Per image, n augmented images in batches of at most 4.
    assert model.batch_sizes == ([4, 2, 4, 2] if flip else [3, 3])
    # (augmented size, box found in it); flipped: x' = w - x.
    expected_a = [((20, 30), [5, 5, 15, 10]), ((40, 60), [10, 10, 30, 20])]
    expected_a += [((80, 120), [20, 20, 60, 40])]
    expected_b = [((30, 20), [2, 15, 7, 25]), ((60, 40), [4, 30, 14, 50])]
    expected_b += [((120, 80), [8, 60, 28, 100])]
    if flip:
        expected_a += [((20, 30), [15, 5, 25, 10]), ((40, 60), [30, 10, 50, 20])]
        expected_a += [((80, 120), [60, 20, 100, 40])]
        expected_b += [((30, 20), [13, 15, 18, 25]), ((60, 40), [26, 30, 36, 50])]
        expected_b += [((120, 80), [52, 60, 72, 100])]
    assert sorted(model.seen[:n]) == sorted(expected_a)
    assert sorted(model.seen[n:]) == sorted(expected_b)

    # Every copy maps back onto the original box, so voting leaves exactly that box.
    a, b = out[0]["instances"], out[1]["instances"]
    assert a.image_size == (40, 60) and b.image_size == (120, 80)
    torch.testing.assert_close(a.pred_boxes.tensor, torch.tensor([[10.0, 10, 30, 20]]))
    torch.testing.assert_close(b.pred_boxes.tensor, torch.tensor([[8.0, 60, 28, 100]]))
    # Scores 0.5 + 0.05 * (position in batch): the best is the group's score.
    torch.testing.assert_close(a.scores, torch.tensor([0.65 if flip else 0.6]))
    assert a.pred_classes.tolist() == [0]

    # Run in eval mode without gradients; the model's mode is restored.
    assert not any(model.training_flags) and model.training
    assert not a.pred_boxes.tensor.requires_grad


# Two scales, no flip: the first image gets outputs[0], the second outputs[1].
OVERLAPPING = [
    ([[0, 0, 10, 10], [20, 20, 30, 30]], [0.6, 0.5], [1, 0]),
    ([[1, 0, 11, 10]], [0.9], [0]),  # IoU 9/11 with the first box
]


def test_tta_nms_keeps_the_top_boxes_unchanged():
    tta = DF2S2WithTTA(make_cfg((20, 40), merge="nms"), FixedDetector(OVERLAPPING))
    out = tta([{"image": torch.zeros(3, 40, 60, dtype=torch.uint8)}])[0]["instances"]
    torch.testing.assert_close(
        out.pred_boxes.tensor, torch.tensor([[1.0, 0, 11, 10], [20, 20, 30, 30]])
    )
    torch.testing.assert_close(out.scores, torch.tensor([0.9, 0.5]))
    assert out.pred_classes.tolist() == [0, 0]


def test_tta_voting_moves_the_top_box():
    tta = DF2S2WithTTA(make_cfg((20, 40), merge="voting"), FixedDetector(OVERLAPPING))
    out = tta([{"image": torch.zeros(3, 40, 60, dtype=torch.uint8)}])[0]["instances"]
    # x1 = (0 * 0.6 + 1 * 0.9) / 1.5, x2 = (10 * 0.6 + 11 * 0.9) / 1.5
    expected = torch.tensor([[0.6, 0, 10.6, 10], [20, 20, 30, 30]])
    torch.testing.assert_close(out.pred_boxes.tensor, expected)
    torch.testing.assert_close(out.scores, torch.tensor([0.9, 0.5]))
    assert out.pred_classes.tolist() == [0, 0]
    assert out.image_size == (40, 60)


@pytest.mark.parametrize("merge", ["voting", "nms"])
def test_tta_caps_detections_per_image(merge):
    disjoint = [[0, 0, 5, 5], [10, 0, 15, 5], [20, 0, 25, 5], [30, 0, 35, 5]]
    same = (disjoint, [0.6, 0.9, 0.7, 0.8], [0, 0, 0, 0])
    cfg = make_cfg((20, 40), merge=merge, detections=3)
    out = DF2S2WithTTA(cfg, FixedDetector([same, same]))(
        [{"image": torch.zeros(3, 40, 60, dtype=torch.uint8)}]
    )[0]["instances"]
    torch.testing.assert_close(out.scores, torch.tensor([0.9, 0.8, 0.7]))
    expected = torch.tensor([disjoint[1], disjoint[3], disjoint[2]], dtype=torch.float32)
    torch.testing.assert_close(out.pred_boxes.tensor, expected)


def test_tta_without_detections_returns_empty_instances():
    empty = ([], [], [])
    tta = DF2S2WithTTA(make_cfg((20, 40), flip=True), FixedDetector([empty] * 4))
    out = tta([{"image": torch.zeros(3, 40, 60, dtype=torch.uint8)}])[0]["instances"]
    assert len(out) == 0 and out.pred_boxes.tensor.shape == (0, 4)
    assert out.scores.shape == (0,) and out.pred_classes.shape == (0,)


def test_tta_rejects_unknown_merge():
    with pytest.raises(ValueError):
        DF2S2WithTTA(make_cfg((20,), merge="mean"), FixedDetector([]))


# -- landmarks ---------------------------------------------------------------------

# An upright face in a 100-wide image: eyes, nose, mouth corners (smaller x first).
FACE_BOX = [10.0, 20, 40, 60]
FACE_POINTS = [[15.0, 30], [35, 31], [25, 40], [18, 50], [32, 51]]
# The same face in the mirrored image: x' = 100 - x, and the point with the smaller
# x' of each pair (the former right one) listed first.
MIRRORED_BOX = [60.0, 20, 90, 60]
MIRRORED_POINTS = [[65.0, 31], [85, 30], [75, 40], [68, 51], [82, 50]]


def test_flip_detections_mirrors_the_points_and_swaps_left_and_right():
    face = instances((80, 100), [FACE_BOX], [0.9], [0], [FACE_POINTS])
    mirrored = flip_detections(face, 100)
    torch.testing.assert_close(mirrored.pred_boxes.tensor, torch.tensor([MIRRORED_BOX]))
    torch.testing.assert_close(mirrored.pred_keypoints[..., :2], torch.tensor([MIRRORED_POINTS]))
    torch.testing.assert_close(mirrored.pred_keypoints[..., 2], torch.full((1, 5), 0.9))
    assert mirrored.scores.tolist() == face.scores.tolist() and mirrored.image_size == (80, 100)
    # its own inverse; the input is left as it was
    back = flip_detections(mirrored, 100)
    torch.testing.assert_close(back.pred_keypoints, face.pred_keypoints)
    torch.testing.assert_close(back.pred_boxes.tensor, torch.tensor([FACE_BOX]))
    torch.testing.assert_close(face.pred_keypoints[0, :, :2], torch.tensor(FACE_POINTS))


def test_flip_detections_without_landmarks_flips_the_boxes_only():
    mirrored = flip_detections(instances((80, 100), [FACE_BOX], [0.9], [0]), 100)
    torch.testing.assert_close(mirrored.pred_boxes.tensor, torch.tensor([MIRRORED_BOX]))
    assert not mirrored.has("pred_keypoints")


# Voting groups of VOTE_BOXES: {3, 1, 4} (weights 0.9, 0.6, 0.3), {2}, {0}. Detection i
# has every point at (i, 10 * i).
VOTE_POINTS = [[[i, 10 * i]] * 5 for i in range(5)]


def vote_detections():
    return instances((40, 40), VOTE_BOXES.tolist(), VOTE_SCORES.tolist(), [0] * 5, VOTE_POINTS)


def test_voting_averages_the_points_with_the_boxes_score_weights():
    detections = vote_detections()
    merged = merge_detections(detections, "voting", 0.5, 100)
    torch.testing.assert_close(merged.pred_boxes.tensor, VOTED_BOXES)
    torch.testing.assert_close(merged.scores, VOTED_SCORES)
    x = (3 * 0.9 + 1 * 0.6 + 4 * 0.3) / 1.8
    expected = torch.tensor([[x, 10 * x], [2, 20], [0, 0]])[:, None].expand(-1, 5, -1)
    torch.testing.assert_close(merged.pred_keypoints[..., :2], expected)
    # the third value stays the detection's score
    torch.testing.assert_close(merged.pred_keypoints[..., 2], VOTED_SCORES[:, None].expand(-1, 5))


def test_nms_keeps_the_kept_detections_points():
    detections = vote_detections()
    merged = merge_detections(detections, "nms", 0.5, 100)
    keep = [3, 2, 0]  # box 4 (IoU 2/3) and box 1 (IoU 9/11) are suppressed by box 3
    torch.testing.assert_close(merged.pred_boxes.tensor, VOTE_BOXES[keep])
    torch.testing.assert_close(merged.pred_keypoints, detections.pred_keypoints[keep])


@pytest.mark.parametrize("merge", ["voting", "nms"])
def test_tta_maps_the_flipped_pass_s_points_back_and_merges_them(merge):
    # One scale, flipped: the plain pass finds the face with score 0.6, the flipped pass
    # (in the mirrored image's coordinates) with score 0.9, its points moved by (2, 1).
    moved = [[x - 2, y + 1] for x, y in MIRRORED_POINTS]  # x' = 100 - x: +2 in x is -2 in x'
    outputs = [
        ([FACE_BOX], [0.6], [0], [FACE_POINTS]),
        ([MIRRORED_BOX], [0.9], [0], [moved]),
    ]
    tta = DF2S2WithTTA(make_cfg((80,), flip=True, merge=merge), FixedDetector(outputs))
    out = tta([{"image": torch.zeros(3, 80, 100, dtype=torch.uint8)}])[0]["instances"]
    # voting: P + (2, 1) * 0.9 / 1.5; NMS: the flipped pass's P + (2, 1)
    shift = torch.tensor([2.0, 1]) * (0.6 if merge == "voting" else 1)
    torch.testing.assert_close(out.pred_keypoints[0, :, :2], torch.tensor(FACE_POINTS) + shift)
    torch.testing.assert_close(out.pred_keypoints[0, :, 2], torch.full((5,), 0.9))
    torch.testing.assert_close(out.pred_boxes.tensor, torch.tensor([FACE_BOX]))


def test_tta_without_landmarks_in_every_pass_gives_none():
    outputs = [([FACE_BOX], [0.6], [0], [FACE_POINTS]), ([MIRRORED_BOX], [0.9], [0])]
    tta = DF2S2WithTTA(make_cfg((80,), flip=True), FixedDetector(outputs))
    out = tta([{"image": torch.zeros(3, 80, 100, dtype=torch.uint8)}])[0]["instances"]
    assert not out.has("pred_keypoints") and len(out) == 1


def test_tta_of_a_landmark_model_without_detections_has_empty_points():
    empty = ([], [], [], [])
    tta = DF2S2WithTTA(make_cfg((20, 40), flip=True), FixedDetector([empty] * 4))
    out = tta([{"image": torch.zeros(3, 40, 60, dtype=torch.uint8)}])[0]["instances"]
    assert len(out) == 0 and out.pred_keypoints.shape == (0, 5, 3)


def rows(inst):
    """The detections as sorted rows (box, score, points): an order-free comparison."""
    flat = [inst.pred_boxes.tensor, inst.scores[:, None], inst.pred_keypoints.flatten(1)]
    flat = torch.cat(flat, dim=1)
    return sorted(map(tuple, flat.tolist()))


@pytest.mark.parametrize("flip", [False, True])
def test_tta_of_a_landmark_model_gives_its_own_points_in_the_original_image(flip):
    # One scale, NMS at IoU 1 (suppresses nothing): the TTA output is every pass's
    # detections, mapped back.
    opts = ["MODEL.DF2S2.LANDMARKS", True, "TEST.AUG.MIN_SIZES", (48,), "TEST.AUG.MAX_SIZE", 64,
            "TEST.AUG.FLIP", flip, "TEST.AUG.MERGE", "nms", "TEST.AUG.MERGE_IOU", 1.0]
    cfg = small_cfg(opts)
    model = build_model(cfg).eval()
    image = random_image(96, 128, seed=3)
    tta = DF2S2WithTTA(cfg, model, batch_size=1)  # as the passes below: exactly equal
    out = tta([{"image": image, "height": 96, "width": 128}])[0]["instances"]

    array = image.permute(1, 2, 0).numpy()
    resized = T.ResizeShortestEdge(48, 64).get_transform(array).apply_image(array)
    with torch.no_grad():
        plain, mirrored = (
            model([{"image": torch.from_numpy(a.transpose(2, 0, 1).copy()), "height": 96,
                    "width": 128}])[0]["instances"]
            for a in (resized, resized[:, ::-1])
        )
    assert len(plain) > 0 and plain.pred_keypoints.shape == (len(plain), 5, 3)
    expected = [plain]
    if flip:
        # by hand: x -> 128 - x, the pairs' points swapped
        points = mirrored.pred_keypoints[:, [1, 0, 2, 4, 3]].clone()
        points[..., 0] = 128 - points[..., 0]
        b = mirrored.pred_boxes.tensor
        b = torch.stack([128 - b[:, 2], b[:, 1], 128 - b[:, 0], b[:, 3]], dim=1)
        mirrored.pred_boxes = Boxes(b)
        mirrored.pred_keypoints = points
        expected.append(mirrored)
    assert rows(out) == rows(Instances.cat(expected))
    assert (out.scores[:-1] >= out.scores[1:]).all()
