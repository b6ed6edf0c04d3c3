import pytest
import torch
from torch import nn

from detectron2.config import get_cfg
from detectron2.structures import Boxes, Instances

from df2s2_d2.config import add_df2s2_config
from df2s2_d2.modeling.test_time_augmentation import DF2S2WithTTA, box_voting


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


def instances(size, boxes, scores, classes):
    inst = Instances(size)
    inst.pred_boxes = Boxes(torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4))
    inst.scores = torch.tensor(scores, dtype=torch.float32)
    inst.pred_classes = torch.tensor(classes, dtype=torch.long)
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
    """Returns the i-th of `outputs` (boxes, scores, classes), in the coordinates of
    the original image, for the i-th image it is given."""

    def __init__(self, outputs):
        super().__init__()
        self.outputs = outputs
        self.calls = 0

    def forward(self, batched_inputs):
        results = []
        for x in batched_inputs:
            boxes, scores, classes = self.outputs[self.calls]
            self.calls += 1
            size = (x["height"], x["width"])
            results.append({"instances": instances(size, boxes, scores, classes)})
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
