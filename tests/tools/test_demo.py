import cv2
import numpy as np
import pytest
import torch

from detectron2.modeling import build_model
from detectron2.structures import Instances

from tests.common import CONFIGS, get_config
from df2s2_d2.landmark_drawing import LANDMARK_COLORS
from tools import demo

CONFIG = "Synth/df2s2_R_18_quick.yaml"
# A tiny model at the image's own size; at most three faces, so that boxes stay apart.
OPTS = [
    "MODEL.FFP.OUT_CHANNELS", "32", "MODEL.RETINANET.NUM_CONVS", "1",
    "INPUT.MIN_SIZE_TEST", "120", "INPUT.MAX_SIZE_TEST", "200", "TEST.DETECTIONS_PER_IMAGE", "3",
]


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> str:
    """A seeded random model whose box deltas are zero: detected boxes are anchors, inside the image."""
    torch.manual_seed(0)
    model = build_model(get_config(CONFIG, OPTS))
    with torch.no_grad():
        model.head.bbox_pred.weight.zero_()
        model.head.bbox_pred.bias.zero_()
    path = tmp_path_factory.mktemp("weights") / "model.pth"
    torch.save({"model": model.state_dict()}, path)
    return str(path)


def faces_image(seed: int = 0) -> np.ndarray:
    """A 120 x 160 BGR image with two skin-coloured ellipses."""
    rng = np.random.default_rng(seed)
    image = np.full((120, 160, 3), 70, np.uint8) + rng.integers(0, 20, (120, 160, 3), dtype=np.uint8)
    cv2.ellipse(image, (50, 60), (18, 24), 0, 0, 360, (120, 160, 210), -1)
    cv2.ellipse(image, (115, 45), (12, 16), 0, 0, 360, (100, 140, 190), -1)
    return image


def demo_args(weights, *args, threshold="0"):
    return [
        "--config-file", str(CONFIGS / CONFIG), *args, "--confidence-threshold", threshold,
        "MODEL.WEIGHTS", weights, "MODEL.DEVICE", "cpu", *OPTS,
    ]


def outline_changed_fraction(before, after, box) -> float:
    """Fraction of the pixels within 2 px of a box's outline that differ between the images."""
    h, w = before.shape[:2]
    x0, y0, x1, y1 = (int(round(float(v))) for v in box)
    near = np.zeros((h, w), bool)
    for xa, ya, xb, yb in ((x0, y0, x1, y0), (x0, y1, x1, y1), (x0, y0, x0, y1), (x1, y0, x1, y1)):
        near[max(ya - 2, 0):min(yb + 3, h), max(xa - 2, 0):min(xb + 3, w)] = True
    changed = (before != after).any(axis=-1)
    return float(changed[near].mean())


def test_draws_the_detected_faces_into_the_output_image(tmp_path, weights):
    image = faces_image()
    cv2.imwrite(str(tmp_path / "in.png"), image)
    demo.main(demo_args(weights, "--input", str(tmp_path / "in.png"), "--output", str(tmp_path / "out.png")))
    drawn = cv2.imread(str(tmp_path / "out.png"))
    assert drawn.shape == image.shape

    args = demo.get_parser().parse_args(demo_args(weights, "--input", "unused"))
    instances, _ = demo.FaceDemo(demo.setup_cfg(args)).run_on_image(image)
    assert len(instances) == 3
    for box in instances.pred_boxes.tensor:
        assert outline_changed_fraction(image, drawn, box) > 0.5


def test_confidence_threshold_above_every_score_leaves_the_image_unchanged(tmp_path, weights):
    image = faces_image()
    cv2.imwrite(str(tmp_path / "in.png"), image)
    out = tmp_path / "out.png"
    demo.main(demo_args(weights, "--input", str(tmp_path / "in.png"), "--output", str(out), threshold="1.0"))
    assert np.array_equal(cv2.imread(str(out)), image)


def test_folder_input_writes_one_output_per_image_with_its_name(tmp_path, weights):
    (tmp_path / "in").mkdir()
    for k in range(2):
        cv2.imwrite(str(tmp_path / "in" / f"img{k}.png"), faces_image(seed=k))
    (tmp_path / "in" / "notes.txt").write_text("not an image")
    demo.main(demo_args(weights, "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out")))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["img0.png", "img1.png"]
    for k in range(2):
        assert not np.array_equal(cv2.imread(str(tmp_path / "out" / f"img{k}.png")), faces_image(seed=k))


def test_video_input_writes_a_video_with_every_frame(tmp_path, weights):
    source = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(source), cv2.VideoWriter_fourcc(*"mp4v"), 5, (160, 120))
    for k in range(3):
        writer.write(faces_image(seed=k))
    writer.release()
    demo.main(demo_args(weights, "--video-input", str(source), "--output", str(tmp_path / "out.mp4")))
    capture = cv2.VideoCapture(str(tmp_path / "out.mp4"))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    assert len(frames) == 3 and all(f.shape == (120, 160, 3) for f in frames)


def test_missing_input_and_imageless_folder_are_named_in_the_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing_here.jpg"):
        demo.expand_inputs([str(tmp_path / "nothing_here.jpg")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="empty: folder holds no image file"):
        demo.expand_inputs([str(tmp_path / "empty")])
    (tmp_path / "broken.jpg").write_text("not an image")
    with pytest.raises(ValueError, match="broken.jpg: could not be read as an image"):
        demo.read_bgr(str(tmp_path / "broken.jpg"))


# Landmark offsets per anchor in RetinaFace's encoding (units of 0.1 anchor side): eyes
# up left / right, nose at the centre, mouth corners down left / right.
LANDMARK_PATTERN = [-2.5, -2, 2.5, -2, 0, 0, -2, 2.5, 2, 2.5]


@pytest.fixture(scope="module")
def landmark_weights(tmp_path_factory) -> str:
    """As `weights`, with landmarks: zero weights and a bias putting every anchor's five
    points at `LANDMARK_PATTERN`, inside its box."""
    torch.manual_seed(0)
    model = build_model(get_config(CONFIG, OPTS + ["MODEL.DF2S2.LANDMARKS", "True"]))
    with torch.no_grad():
        model.head.bbox_pred.weight.zero_()
        model.head.bbox_pred.bias.zero_()
        model.head.landmark_pred.weight.zero_()
        model.head.landmark_pred.bias.copy_(torch.tensor(LANDMARK_PATTERN).repeat(6))
    path = tmp_path_factory.mktemp("landmark_weights") / "model.pth"
    torch.save({"model": model.state_dict()}, path)
    return str(path)


def test_a_landmark_model_gets_its_five_points_drawn_over_the_boxes(landmark_weights):
    image = faces_image()
    args = demo.get_parser().parse_args(
        demo_args(landmark_weights, "--input", "unused") + ["MODEL.DF2S2.LANDMARKS", "True"]
    )
    face_demo = demo.FaceDemo(demo.setup_cfg(args))
    np.random.seed(0)  # the Visualizer's random box colours
    instances, drawn = face_demo.run_on_image(image)
    assert len(instances) == 3 and instances.pred_keypoints.shape == (3, 5, 3)
    boxes_only = Instances(instances.image_size, **instances.get_fields())
    boxes_only.remove("pred_keypoints")
    np.random.seed(0)
    plain = demo.draw_faces(image, boxes_only, face_demo.metadata)
    points = instances.pred_keypoints[:, :, :2].numpy()
    changed = (drawn != plain).any(axis=-1)
    rows, cols = np.nonzero(changed)
    # every point drawn, and nothing but the points (within the 4 px maximum radius)
    for x, y in points.reshape(-1, 2):
        assert changed[int(y), int(x)], (x, y)
    xs, ys = points[..., 0].ravel(), points[..., 1].ravel()
    distance = np.hypot(cols[:, None] + 0.5 - xs, rows[:, None] + 0.5 - ys)
    assert distance.min(axis=1).max() <= 4.5
    # the last face drawn shows its points in the eyes / nose / mouth colours (BGR)
    for (x, y), color in zip(points[-1], LANDMARK_COLORS):
        expected = np.array(color[::-1]) * 255
        assert np.abs(drawn[int(y), int(x)] - expected).max() <= 2, (x, y, drawn[int(y), int(x)], expected)
