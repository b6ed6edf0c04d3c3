"""Dataset registration and Detectron2's COCOEvaluator on a face dataset."""

import json
import os

import pytest
import torch
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.evaluation import COCOEvaluator
from detectron2.structures import Boxes, BoxMode, Instances
from PIL import Image

from df2s2_d2.data import register_wider_face_layout

ROOT = os.path.expanduser(os.getenv("DETECTRON2_DATASETS", "datasets"))
GT_FILES = [
    "wider_face_val.mat",
    "wider_easy_val.mat",
    "wider_medium_val.mat",
    "wider_hard_val.mat",
]


@pytest.fixture
def registered(request):
    """Register a dataset for one test and remove it afterwards."""
    names = []

    def register(name, root, split):
        register_wider_face_layout(name, str(root), split)
        names.append(name)
        return name

    yield register
    for name in names:
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)


@pytest.mark.parametrize(
    "name, folder, txt, images",
    [
        ("wider_face_train", "widerface", "wider_face_train_bbx_gt.txt", "WIDER_train/images"),
        ("wider_face_val", "widerface", "wider_face_val_bbx_gt.txt", "WIDER_val/images"),
        ("wider_face_test", "widerface", "wider_face_test_filelist.txt", "WIDER_test/images"),
        ("synth_faces_train", "synth_faces", "wider_face_train_bbx_gt.txt", "WIDER_train/images"),
        ("synth_faces_val", "synth_faces", "wider_face_val_bbx_gt.txt", "WIDER_val/images"),
    ],
)
def test_datasets_registered_at_import_in_official_layout(name, folder, txt, images):
    assert name in DatasetCatalog.list()
    meta = MetadataCatalog.get(name)
    assert meta.thing_classes == ["face"]
    assert meta.evaluator_type == "wider_face"
    assert meta.image_root == os.path.join(ROOT, folder, images)
    assert meta.annotation_file == os.path.join(ROOT, folder, "wider_face_split", txt)
    if name.endswith("_val"):
        assert meta.wider_face_gt_dir == os.path.join(ROOT, folder, "eval_tools", "ground_truth")
    else:
        assert not hasattr(meta, "wider_face_gt_dir")


def test_registration_is_lazy(tmp_path, registered):
    name = registered("face_missing", tmp_path / "nowhere", "val")  # nothing is read here
    with pytest.raises(FileNotFoundError, match="wider_face_val_bbx_gt.txt"):
        DatasetCatalog.get(name)


def test_registered_synthetic_dataset_loads_with_image_sizes(tiny_synthetic, registered):
    root, images = tiny_synthetic
    name = registered("face_tiny_val", root, "val")
    dicts = DatasetCatalog.get(name)
    assert [d["image_id"] for d in dicts] == [f"{event}/{n}" for event, n, _ in images["val"]]
    for d in dicts:
        with Image.open(d["file_name"]) as im:
            assert (d["width"], d["height"]) == im.size
    gt_dir = MetadataCatalog.get(name).wider_face_gt_dir
    assert sorted(os.listdir(gt_dir)) == sorted(GT_FILES)


def test_registered_test_split_has_no_annotations(tmp_path, registered):
    (tmp_path / "WIDER_test" / "images" / "0--Parade").mkdir(parents=True)
    (tmp_path / "wider_face_split").mkdir()
    Image.new("RGB", (20, 10)).save(tmp_path / "WIDER_test" / "images" / "0--Parade" / "a.jpg")
    (tmp_path / "wider_face_split" / "wider_face_test_filelist.txt").write_text("0--Parade/a.jpg\n")
    dicts = DatasetCatalog.get(registered("face_tiny_test", tmp_path, "test"))
    assert dicts == [
        {
            "file_name": str(tmp_path / "WIDER_test" / "images" / "0--Parade" / "a.jpg"),
            "image_id": "0--Parade/a",
            "height": 10,
            "width": 20,
        }
    ]


def _predictions(record, keep_every=1):
    faces = [a for a in record["annotations"] if not a["iscrowd"]][::keep_every]
    boxes = [BoxMode.convert(a["bbox"], a["bbox_mode"], BoxMode.XYXY_ABS) for a in faces]
    instances = Instances((record["height"], record["width"]))
    instances.pred_boxes = Boxes(torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4))
    instances.scores = torch.linspace(1.0, 0.5, len(boxes))
    instances.pred_classes = torch.zeros(len(boxes), dtype=torch.int64)
    return {"instances": instances}


def _evaluate(name, dicts, output_dir, keep_every=1):
    evaluator = COCOEvaluator(
        name, tasks=("bbox",), distributed=False, output_dir=str(output_dir), use_fast_impl=False
    )
    evaluator.reset()
    for d in dicts:
        evaluator.process([{"image_id": d["image_id"]}], [_predictions(d, keep_every)])
    return evaluator.evaluate()["bbox"]


def test_coco_evaluator_on_a_face_dataset(tiny_synthetic, registered, tmp_path):
    root, images = tiny_synthetic
    name = registered("face_tiny_coco", root, "val")
    dicts = DatasetCatalog.get(name)
    assert any(
        a["iscrowd"] for d in dicts for a in d["annotations"]
    ), "the set needs an invalid face"

    perfect = _evaluate(name, dicts, tmp_path)
    assert perfect["AP50"] == pytest.approx(100.0)
    assert perfect["AP"] == pytest.approx(100.0)

    coco = json.loads((tmp_path / f"{name}_coco_format.json").read_text())
    assert coco["categories"] == [{"id": 0, "name": "face"}]
    num_invalid = sum(f.invalid for _, _, faces in images["val"] for f in faces)
    assert sum(a["iscrowd"] for a in coco["annotations"]) == num_invalid

    half = _evaluate(name, dicts, tmp_path, keep_every=2)
    assert half["AP50"] < 75.0  # about half the faces found: recall, hence AP, drops
