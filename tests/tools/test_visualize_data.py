"""tools/visualize_data.py: seg-target cells are drawn centred on their anchors."""
import numpy as np
import pytest

from tools.visualize_data import overlay_seg_targets


@pytest.mark.parametrize("offset, first", [(0.0, 6), (0.5, 8)])
def test_a_marked_cell_covers_the_square_centred_on_its_anchor(offset, first):
    image = np.zeros((32, 32, 3), np.uint8)
    target = np.zeros((8, 8), np.int8)
    target[2, 2] = 1  # anchor at (2 + offset) * 4: 8 (offset 0) or 10 (offset 0.5)
    out = overlay_seg_targets(image, [target], [4], offset)
    rows, cols = np.nonzero(out.any(axis=2))
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (first, first + 3, first, first + 3)


def test_an_output_dir_that_is_a_file_is_refused_and_kept(tmp_path, monkeypatch):
    from df2s2_deploy.output_paths import OutputPathError
    from tests.common import CONFIGS
    from tools import visualize_data

    existing = tmp_path / "notes.txt"
    existing.write_text("keep")
    monkeypatch.setattr("sys.argv", [
        "visualize_data.py", "--config-file", str(CONFIGS / "Synth/df2s2_R_18_quick.yaml"),
        "--source", "annotation", "--output-dir", str(existing),
    ])
    with pytest.raises(OutputPathError, match=rf"^{existing}: --output-dir exists and is not a folder"):
        visualize_data.main()
    assert existing.read_text() == "keep"


def test_labelled_landmarks_are_drawn_and_unlabelled_ones_are_not():
    from detectron2.data import MetadataCatalog

    from tools.visualize_data import draw_boxes

    image = np.full((80, 100, 3), 128, np.uint8)
    faces = [[20.0, 20.0, 60.0, 70.0]]
    points = [[30, 35, 2], [50, 35, 1], [40, 45, 0], [32, 58, 2], [48, 58, 2]]
    metadata = MetadataCatalog.get("synth_faces_train_landmarks")
    boxes_only = draw_boxes(image, metadata, faces, [])
    drawn = draw_boxes(image, metadata, faces, [], [points])
    for x, y, v in points:
        assert (drawn[y, x] != boxes_only[y, x]).any() == (v > 0), (x, y, v)
