import math

import cv2
import onnx
import pytest
import torch

from detectron2.data import build_detection_test_loader
from detectron2.evaluation import inference_on_dataset
from detectron2.modeling import build_model

from df2s2_d2.checkpoint import CheckpointFileError
from df2s2_d2.data import generate_synthetic_dataset, register_wider_face_layout
from df2s2_d2.evaluation import build_face_evaluator
from df2s2_deploy.output_paths import OutputPathError
from tests.common import CONFIGS, get_config, random_image
from tests.data.bad_input import file_digests
from tools import export

CONFIG = "Synth/df2s2_R_18_quick.yaml"
# Tiny model, every anchor a candidate (threshold 0) so that random weights detect,
# test images used at their own size (192 x 256 is not resized).
OPTS = [
    "MODEL.FFP.OUT_CHANNELS", "32", "MODEL.RETINANET.NUM_CONVS", "1",
    "MODEL.RETINANET.SCORE_THRESH_TEST", "0.0", "TEST.DETECTIONS_PER_IMAGE", "100",
    "INPUT.MIN_SIZE_TEST", "192", "INPUT.MAX_SIZE_TEST", "256", "DATALOADER.NUM_WORKERS", "0",
]
TRACE_SIZE = (192, 256)
# A second shape (padded to 128 x 256 instead of 256 x 256) with no more anchors per
# level than the traced one: see the export docstring on TOPK_CANDIDATES_TEST.
OTHER_SIZE = (128, 160)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A seeded DF2S2 with its seg branch (eval mode) and its checkpoint file."""
    torch.manual_seed(0)
    model = build_model(get_config(CONFIG, OPTS)).eval()
    assert model.head.seg_pred is not None
    path = tmp_path_factory.mktemp("weights") / "model.pth"
    torch.save({"model": model.state_dict()}, path)
    return model, str(path)


def cli_args(weights, *args):
    return [
        "--config-file", str(CONFIGS / CONFIG), *args,
        "MODEL.WEIGHTS", weights, "MODEL.DEVICE", "cpu", *OPTS,
    ]


def assert_same_detections(expected, boxes, scores, classes, box_atol=1e-3, score_atol=1e-4):
    """The same detections in any order (scores that nearly tie may swap places)."""
    assert len(boxes) == len(expected) > 0
    distance = (expected.pred_boxes.tensor[:, None] - boxes[None]).abs().amax(dim=-1)
    nearest = distance.argmin(dim=1)
    assert sorted(nearest.tolist()) == list(range(len(boxes)))  # a one-to-one pairing
    assert float(distance.min(dim=1).values.max()) <= box_atol
    assert torch.allclose(scores[nearest], expected.scores, atol=score_atol)
    assert torch.equal(classes[nearest], expected.pred_classes)


def exported_names(path: str):
    """Names of the weights (and, for ONNX, the nodes) in an exported file."""
    if path.endswith(".onnx"):
        graph = onnx.load(path).graph
        return [t.name for t in graph.initializer] + [n.name for n in graph.node] + [
            name for n in graph.node for name in n.input
        ]
    module = torch.jit.load(path)
    return [n for n, _ in module.named_parameters()] + [n for n, _ in module.named_buffers()]


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_exported_model_matches_eager_at_two_sizes_and_has_no_seg_branch(tmp_path, trained, fmt):
    model, weights = trained
    sample = random_image(*TRACE_SIZE, seed=5).permute(1, 2, 0).numpy()
    cv2.imwrite(str(tmp_path / "sample.png"), sample)
    export.main(cli_args(weights, "--format", fmt, "--output", str(tmp_path / "out"),
                         "--sample-image", str(tmp_path / "sample.png")))
    path = str(tmp_path / "out" / export.FORMATS[fmt])

    names = exported_names(path)
    assert any("head.cls_score" in n for n in names)
    assert not any("seg_pred" in n for n in names)

    run = export.load_exported(path)
    for (height, width), seed in ((TRACE_SIZE, 1), (OTHER_SIZE, 2)):
        image = random_image(height, width, seed).float()
        with torch.no_grad():
            expected = model([{"image": image}])[0]["instances"]
        assert_same_detections(expected, *run(image))


def test_exported_detector_rescales_to_the_requested_size_like_the_eager_model(tmp_path, trained):
    model, _ = trained
    inputs = [{"image": random_image(*TRACE_SIZE, seed=3).float()}]
    path = export.export(model, inputs, "torchscript", str(tmp_path))
    batch = [{"image": random_image(*OTHER_SIZE, seed=4), "height": 256, "width": 320}]
    with torch.no_grad():
        expected = model(batch)[0]["instances"]
    got = export.ExportedDetector(export.load_exported(path))(batch)[0]["instances"]
    assert got.image_size == expected.image_size == (256, 320)
    assert_same_detections(expected, got.pred_boxes.tensor, got.scores, got.pred_classes)


def test_run_eval_gives_the_eager_models_wider_face_ap(tmp_path, trained):
    model, weights = trained
    generate_synthetic_dataset(str(tmp_path / "data"), num_train=1, num_val=2, seed=0, image_size=128)
    name = "export_test_synth_val"
    register_wider_face_layout(name, str(tmp_path / "data"), "val")
    opts = ["DATASETS.TEST", f"('{name}',)"]
    results = export.main(cli_args(weights, "--format", "torchscript", "--output", str(tmp_path / "out"),
                                   "--run-eval") + opts)
    cfg = get_config(CONFIG, OPTS + opts)
    evaluator = build_face_evaluator(cfg, name, str(tmp_path / "eager"))
    eager = inference_on_dataset(model, build_detection_test_loader(cfg, name), evaluator)
    ap = results[name]["wider_face"]
    assert set(ap) == {"AP_easy", "AP_medium", "AP_hard"} and math.isfinite(ap["AP_hard"])
    assert ap == pytest.approx(eager["wider_face"], nan_ok=True)  # tiny sets may leave a subset empty


def test_bad_inputs_are_named_in_the_error(tmp_path):
    cfg = get_config(CONFIG, OPTS)
    with pytest.raises(FileNotFoundError, match="missing.png: --sample-image is not a file"):
        export.sample_inputs(cfg, str(tmp_path / "missing.png"))
    with pytest.raises(ValueError, match="model.pt: expected an exported model ending in .ts or .onnx"):
        export.load_exported(str(tmp_path / "model.pt"))


def test_an_output_that_is_a_file_is_refused_and_kept(tmp_path, trained):
    out = tmp_path / "exported"
    out.write_text("not a folder")
    with pytest.raises(OutputPathError, match=rf"^{out}: --output exists and is not a folder"):
        export.main(cli_args(trained[1], "--format", "onnx", "--output", str(out)))
    assert out.read_text() == "not a folder"


def test_an_exported_file_linked_to_the_weights_is_refused(tmp_path, trained):
    weights = tmp_path / "model.pth"
    weights.write_bytes(open(trained[1], "rb").read())
    out = tmp_path / "exported"
    out.mkdir()
    (out / "face_detector.json").symlink_to(weights)
    before = file_digests(weights)
    with pytest.raises(OutputPathError, match=rf"face_detector.json: --output resolves to {weights}"):
        export.main(cli_args(str(weights), "--format", "deploy", "--output", str(out)))
    assert file_digests(weights) == before


def test_an_unwritable_output_is_refused_before_the_weights_are_loaded(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    weights = tmp_path / "empty.pth"
    weights.write_bytes(b"")  # loading would fail: the output error comes first
    with pytest.raises(OutputPathError, match=f"{blocker} is not a folder"):
        export.main(cli_args(str(weights), "--format", "onnx", "--output", str(blocker / "out")))


def test_unloadable_weights_are_an_error_naming_them(tmp_path, trained):
    weights = tmp_path / "model.pth"
    weights.write_bytes(open(trained[1], "rb").read()[:500])
    before = file_digests(weights)
    with pytest.raises(CheckpointFileError, match=rf"^{weights}: truncated"):
        export.main(cli_args(str(weights), "--format", "onnx", "--output", str(tmp_path / "out")))
    assert file_digests(weights) == before


def test_run_eval_with_int8_evaluates_the_float32_and_the_int8_deploy_models(tmp_path, trained):
    _, weights = trained
    generate_synthetic_dataset(str(tmp_path / "data"), num_train=2, num_val=2, seed=0, image_size=128)
    for split in ("train", "val"):
        register_wider_face_layout(f"export_int8_synth_{split}", str(tmp_path / "data"), split)
    opts = ["DATASETS.TEST", "('export_int8_synth_val',)", "DATASETS.TRAIN", "('export_int8_synth_train',)"]
    results = export.main(cli_args(weights, "--format", "deploy", "--int8", "--output",
                                   str(tmp_path / "out"), "--run-eval") + opts)
    assert set(results) == {"export_int8_synth_val", "export_int8_synth_val_int8"}
    for result in results.values():
        assert set(result["wider_face"]) == {"AP_easy", "AP_medium", "AP_hard"}
    assert (tmp_path / "out" / "face_detector_int8.onnx").is_file()
