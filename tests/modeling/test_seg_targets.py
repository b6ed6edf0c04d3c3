import torch

from df2s2_d2.modeling.seg_targets import (
    IGNORE,
    assign_levels,
    box_mask_targets,
    image_grid_sizes,
    seg_target_params,
)
from tests.common import get_config

STRIDES = [4, 8, 16, 32, 64, 128]
SIZES = [16.0, 32.0, 64.0, 128.0, 256.0, 512.0]


def targets_for(boxes, ignore=None, image_size=(256, 256)):
    boxes = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    ignore = torch.zeros(len(boxes), dtype=torch.bool) if ignore is None else torch.tensor(ignore)
    return box_mask_targets(boxes, ignore, image_grid_sizes(image_size, STRIDES), STRIDES, SIZES)


def test_level_is_nearest_anchor_size_in_log_scale():
    boxes = torch.tensor([
        [0, 0, 16, 16],    # 16 -> P2
        [0, 0, 22, 22],    # 22: log-distance to 16 is 0.318, to 32 is 0.375 -> P2
        [0, 0, 23, 23],    # 23: 0.363 vs 0.330 -> P3
        [0, 0, 64, 256],   # sqrt = 128 -> P5
        [0, 0, 2, 2],      # tiny -> clamped to P2
        [0, 0, 2000, 2000],  # huge -> clamped to P7
    ], dtype=torch.float32)
    assert assign_levels(boxes, SIZES).tolist() == [0, 0, 1, 3, 0, 5]


def test_box_marks_cells_whose_centre_is_inside_on_its_level_only():
    # A 32x32 face at (40, 40)-(72, 72) goes to P3 (stride 8): cell centres
    # 4 + 8j inside [40, 72) -> j = 5..8.
    t = targets_for([[40, 40, 72, 72]])
    expected = torch.zeros(32, 32, dtype=torch.int8)
    expected[5:9, 5:9] = 1
    assert torch.equal(t[1], expected)
    assert all(int(level.abs().sum()) == 0 for i, level in enumerate(t) if i != 1)


def test_tiny_face_marks_at_least_its_centre_cell():
    # 3x3 face between cell centres of P2 (centres at 2, 6, 10...): centre (8.5, 8.5) -> cell 2.
    t = targets_for([[7, 7, 10, 10]])
    assert int(t[0].sum()) == 1
    assert t[0][2, 2] == 1


def test_empty_image_gives_all_background():
    t = targets_for([])
    assert [tuple(x.shape) for x in t] == image_grid_sizes((256, 256), STRIDES)
    assert all(int(x.abs().sum()) == 0 for x in t)


def test_ignored_faces_are_ignore_not_background_and_faces_win():
    t = targets_for([[40, 40, 72, 72], [56, 56, 88, 88]], ignore=[False, True])
    level = t[1]
    assert level[5, 5] == 1          # face only
    assert level[7, 7] == 1          # overlap: the face wins
    assert level[10, 10] == IGNORE   # ignored face only
    assert level[20, 20] == 0        # background
    assert int((level == IGNORE).sum()) == 16 - 4


def test_grid_sizes_round_up():
    assert image_grid_sizes((97, 130), [4, 128]) == [(25, 33), (1, 2)]


def test_params_from_config_follow_anchor_base_sizes():
    strides, sizes = seg_target_params(get_config())
    assert strides == STRIDES
    assert sizes == SIZES
