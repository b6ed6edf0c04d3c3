"""The training loader's batches depend on SEED only: not on the model's variant, the
global random state or the number of data-loader workers."""
import itertools

import pytest
import torch
from detectron2.data import DatasetCatalog

from df2s2_d2.data import WiderFaceDatasetMapper, build_face_train_loader, register_wider_face_layout
from tests.common import get_config


@pytest.fixture(scope="module")
def loader_faces(tiny_synthetic):
    root, _ = tiny_synthetic
    if "loader_faces_train" not in DatasetCatalog.list():
        register_wider_face_layout("loader_faces_train", str(root), "train")
    return "loader_faces_train"


def batches(dataset, opts=(), workers=0, n=3, global_seed=0, mapper=None):
    cfg = get_config(opts=["DATASETS.TRAIN", (dataset,), "SOLVER.IMS_PER_BATCH", 2, "INPUT.FACE_AUG.TRAIN_SIZE", 96,
                           "DATALOADER.NUM_WORKERS", workers, "SEED", 5, *opts])
    torch.manual_seed(global_seed)
    loader = build_face_train_loader(cfg, mapper or WiderFaceDatasetMapper(cfg, is_train=True))
    return list(itertools.islice(loader, n))


def same(a, b):
    """Same images (file and pixels) and boxes in the same order."""
    assert len(a) == len(b)
    for batch_a, batch_b in zip(a, b):
        if [d["file_name"] for d in batch_a] != [d["file_name"] for d in batch_b]:
            return False
        for x, y in zip(batch_a, batch_b):
            if not (torch.equal(x["image"], y["image"])
                    and torch.equal(x["instances"].gt_boxes.tensor, y["instances"].gt_boxes.tensor)):
                return False
    return True


def test_two_variants_under_one_seed_get_the_same_batches_bit_for_bit(loader_faces):
    baseline = batches(loader_faces, ["MODEL.BACKBONE.NAME", "build_resnet_fpn_p2p7_backbone",
                                      "MODEL.DF2S2.SEG_HEAD", False], global_seed=1)
    df2s2 = batches(loader_faces, global_seed=2)
    assert "seg_targets" in df2s2[0][0] and "seg_targets" not in baseline[0][0]
    assert same(baseline, df2s2)


def test_worker_count_does_not_change_the_batches(loader_faces):
    assert same(batches(loader_faces, workers=0, n=4), batches(loader_faces, workers=2, n=4))


def test_another_seed_gives_other_batches(loader_faces):
    assert not same(batches(loader_faces), batches(loader_faces, ["SEED", 6]))


class SkipSomeImages:
    """The face mapper, but half of the images are 'unusable' (None), as bad files are."""

    def __init__(self, mapper, bad):
        self.mapper, self.bad = mapper, bad

    def __call__(self, d):
        return None if d["file_name"] in self.bad else self.mapper(d)


def test_skipped_images_are_replaced_the_same_way_for_any_worker_count(loader_faces):
    bad = {d["file_name"] for d in DatasetCatalog.get(loader_faces)[::2]}

    def run(workers):
        cfg = get_config(opts=["DATASETS.TRAIN", (loader_faces,), "INPUT.FACE_AUG.TRAIN_SIZE", 96, "SEED", 5])
        return batches(loader_faces, workers=workers, n=3,
                       mapper=SkipSomeImages(WiderFaceDatasetMapper(cfg, is_train=True), bad))
    zero = run(0)
    assert not {d["file_name"] for batch in zero for d in batch} & bad
    assert same(zero, run(2))


def test_a_landmark_model_refuses_training_data_without_landmarks():
    cfg = get_config(opts=["MODEL.DF2S2.LANDMARKS", True, "DATASETS.TRAIN", ("synth_faces_train",)])
    with pytest.raises(ValueError, match=r"LANDMARKS is True, but DATASETS.TRAIN \['synth_faces_train'\]"):
        build_face_train_loader(cfg, mapper=lambda d: d)
