"""Seg targets: each face on the level of its best-IoU anchor, cells on the anchor grid."""
import numpy as np
import pytest
import torch
from detectron2.modeling.anchor_generator import DefaultAnchorGenerator
from detectron2.structures import Boxes, pairwise_iou

from df2s2_d2.modeling.seg_targets import IGNORE, BoxMaskTargets, build_box_mask_targets
from tests.common import get_config

STRIDES = [4, 8, 16, 32, 64, 128]
SIZES = [[4 * s * 2 ** (k / 3) for k in range(3)] for s in STRIDES]


def make_targets(offset=0.0, size_divisibility=128):
    gen = DefaultAnchorGenerator(
        sizes=SIZES, aspect_ratios=[[1.0, 1.5]], strides=STRIDES, offset=offset
    )
    return BoxMaskTargets(gen, size_divisibility), gen


def targets_for(boxes, ignore=None, image_size=(256, 256)):
    maker, _ = make_targets()
    boxes = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    ignore = torch.zeros(len(boxes), dtype=torch.bool) if ignore is None else torch.tensor(ignore)
    return maker(boxes, ignore, maker.grid_sizes(image_size))


def square(side, centre=64.0):
    return [centre - side / 2, centre - side / 2, centre + side / 2, centre + side / 2]


def test_level_is_that_of_the_best_iou_anchor_not_the_nearest_base_size():
    maker, _ = make_targets()
    # Centred on a grid point of every level up to P6. P2's largest square anchor is
    # 25.4 px, P3's smallest 32 px: a 24 px face has IoU 576/645 = 0.89 on P2 against
    # 576/1024 = 0.56 on P3 (the nearest base size, 32, would say P3). The crossover
    # is near 28.5 px (IoU 645/784 = 0.82 vs 784/1024 = 0.77 at 28 px).
    boxes = torch.tensor([square(24), square(28), square(29), square(16), square(64), square(100)])
    levels = maker.assign_levels(boxes, maker.grid_sizes((256, 256)))
    assert levels.tolist() == [0, 0, 1, 0, 2, 2]


def test_level_agrees_with_brute_force_iou_over_every_anchor():
    maker, gen = make_targets()
    rng = np.random.default_rng(0)
    image = (512, 640)
    grid = maker.grid_sizes(image)
    anchors = gen([torch.zeros(1, 1, h, w) for h, w in grid])
    level_of = torch.cat([torch.full((len(a),), i) for i, a in enumerate(anchors)])
    side = np.exp(rng.uniform(np.log(6), np.log(500), 800))
    ratio = rng.choice([0.8, 1.0, 1.5], 800)
    w, h = side / np.sqrt(ratio), side * np.sqrt(ratio)
    cx, cy = rng.uniform(0, image[1], 800), rng.uniform(0, image[0], 800)
    boxes = torch.tensor(np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1), dtype=torch.float32)
    boxes[:, 0::2] = boxes[:, 0::2].clamp(0, image[1])
    boxes[:, 1::2] = boxes[:, 1::2].clamp(0, image[0])
    ious = pairwise_iou(Boxes(boxes), Boxes.cat(anchors))
    best = ious.max(dim=1).values
    ours = maker.best_anchor_ious(boxes, grid)
    assert torch.allclose(ours.max(dim=1).values, best, atol=1e-6)
    on_best_level = ious[torch.arange(len(boxes)), :] * (level_of[None, :] == maker.assign_levels(boxes, grid)[:, None])
    assert torch.allclose(on_best_level.max(dim=1).values, best, atol=1e-6)


def test_box_marks_cells_whose_anchor_centre_is_inside_on_its_level_only():
    # A 32 px face at (40, 40)-(72, 72) matches P3's 32 px anchor at (56, 56) exactly.
    # P3 anchor centres 8j (offset 0) inside [40, 72): j = 5..8.
    t = targets_for([[40, 40, 72, 72]])
    expected = torch.zeros(32, 32, dtype=torch.int8)
    expected[5:9, 5:9] = 1
    assert torch.equal(t[1], expected)
    assert all(int(level.abs().sum()) == 0 for i, level in enumerate(t) if i != 1)


@pytest.mark.parametrize("offset, centre, cell", [(0.0, 8.5, 2), (0.5, 9.0, 2), (0.5, 5.0, 1)])
def test_tiny_face_marks_the_cell_of_its_nearest_anchor(offset, centre, cell):
    # P2 anchors sit at (j + offset) * 4: offset 0 -> 0, 4, 8 (8.5 is nearest 8, j = 2);
    # offset 0.5 -> 2, 6, 10 (9 is nearest 10, j = 2; 5 is nearest 6, j = 1).
    maker, _ = make_targets(offset)
    box = torch.tensor([[centre - 1.5, centre - 1.5, centre + 1.5, centre + 1.5]])
    t = maker(box, torch.zeros(1, dtype=torch.bool), maker.grid_sizes((64, 64)))
    assert int(t[0].sum()) == 1
    assert t[0][cell, cell] == 1


def test_empty_image_gives_all_background_on_the_padded_grid():
    t = targets_for([], image_size=(97, 130))
    # Padded to (128, 256) as the backbone pads: P2 is 32 x 64, P7 1 x 2.
    assert [tuple(x.shape) for x in t] == [(32, 64), (16, 32), (8, 16), (4, 8), (2, 4), (1, 2)]
    assert all(int(x.abs().sum()) == 0 for x in t)


def test_ignored_faces_are_ignore_not_background_and_faces_win():
    t = targets_for([[40, 40, 72, 72], [56, 56, 88, 88]], ignore=[False, True])
    level = t[1]
    assert level[5, 5] == 1  # face only
    assert level[7, 7] == 1  # overlap: the face wins
    assert level[10, 10] == IGNORE  # ignored face only
    assert level[20, 20] == 0  # background
    assert int((level == IGNORE).sum()) == 16 - 4


def test_targets_from_config_use_the_models_anchor_generator_and_padding():
    from detectron2.modeling import build_model

    cfg = get_config()
    maker = build_box_mask_targets(cfg)
    model = build_model(cfg)
    assert maker.strides == list(model.anchor_generator.strides) == STRIDES
    assert maker.offset == model.anchor_generator.offset
    assert maker.size_divisibility == model.backbone.size_divisibility == 128
    for ours, theirs in zip(maker.cell_anchors, model.anchor_generator.cell_anchors):
        assert torch.equal(ours, theirs)
