"""The LazyConfig configs (configs/**/*.py) build what their yacs twins build: the same
model (parameters, anchors, losses), mappers, evaluator, data and schedule."""
import numpy as np
import pytest
import torch

from detectron2.config import LazyConfig, instantiate
from detectron2.evaluation import DatasetEvaluators
from detectron2.data import DatasetCatalog
from detectron2.modeling import build_model
from detectron2.solver import build_lr_scheduler
from detectron2.utils.events import EventStorage

from df2s2_d2 import get_df2s2_cfg
from df2s2_d2.data import WiderFaceDatasetMapper, generate_synthetic_dataset, register_wider_face_layout
from df2s2_d2.evaluation import FaceLandmarkEvaluator, WiderFaceEvaluator
from tests.common import CONFIGS, face_instances, get_config, random_image

TWINS = [
    "WIDER-FACE/df2s2_R_50",
    "WIDER-FACE/df2s2_R_101",
    "WIDER-FACE/retinanet_R_50_FPN_P2P7",
    "Synth/df2s2_R_18_quick",
    "Synth/df2s2_R_18_quick_landmarks",
    "Synth/df2s2_R_18_photo",
]


def load_twins(name, as_in_file=False):
    """(yacs config, LazyConfig) of configs/<name>.yaml and configs/<name>.py; the yacs
    one on the CPU without weights unless ``as_in_file``."""
    yaml = str(CONFIGS / f"{name}.yaml")
    cfg = get_df2s2_cfg(yaml) if as_in_file else get_config(yaml)
    return cfg, LazyConfig.load(str(CONFIGS / f"{name}.py"))


def test_every_lazy_config_has_a_yacs_twin_and_the_new_baseline_keys():
    lazy_files = {str(p.relative_to(CONFIGS))[:-3] for p in CONFIGS.glob("*/*.py")
                  if p.parent.name != "common"}
    assert lazy_files == set(TWINS)
    for name in TWINS:
        assert (CONFIGS / f"{name}.yaml").exists()
        lazy = LazyConfig.load(str(CONFIGS / f"{name}.py"))
        assert {"model", "dataloader", "optimizer", "lr_multiplier", "train"} <= set(lazy)
        assert {"train", "test", "evaluator"} <= set(lazy.dataloader)


def _batch():
    """Two training inputs of different sizes, faces small to large."""
    return [
        {"image": random_image(128, 160, seed=1), "height": 128, "width": 160,
         "instances": face_instances([[10, 12, 30, 34], [60, 40, 140, 120]], (128, 160))},
        {"image": random_image(96, 128, seed=2), "height": 96, "width": 128,
         "instances": face_instances([[5, 5, 13, 14], [40, 20, 100, 90]], (96, 128))},
    ]


@pytest.mark.parametrize("name", TWINS)
def test_lazy_model_is_the_yacs_model(name):
    cfg, lazy = load_twins(name)
    torch.manual_seed(0)
    yacs_model = build_model(cfg)
    torch.manual_seed(0)
    lazy_model = instantiate(lazy.model)
    assert type(lazy_model) is type(yacs_model)
    yacs_state, lazy_state = yacs_model.state_dict(), lazy_model.state_dict()
    assert {k: v.shape for k, v in lazy_state.items()} == {k: v.shape for k, v in yacs_state.items()}
    for yacs_cells, lazy_cells in zip(yacs_model.anchor_generator.cell_anchors,
                                      lazy_model.anchor_generator.cell_anchors):
        assert torch.equal(yacs_cells, lazy_cells)
    assert lazy_model.backbone.size_divisibility == yacs_model.backbone.size_divisibility

    lazy_model.load_state_dict(yacs_state)  # same weights: the losses compare the rest
    losses = {}
    for key, model in (("yacs", yacs_model), ("lazy", lazy_model)):
        model.train()
        torch.manual_seed(0)
        with EventStorage(0):
            losses[key] = {k: float(v) for k, v in model(_batch()).items()}
    assert losses["lazy"].keys() == losses["yacs"].keys()
    assert losses["lazy"] == pytest.approx(losses["yacs"], rel=1e-6)
    if "df2s2" in name:
        assert "loss_seg" in losses["lazy"]


@pytest.fixture(scope="module")
def twin_faces(tmp_path_factory):
    """A tiny synthetic set registered as twin_faces_{train,val}; its train dicts."""
    root = str(tmp_path_factory.mktemp("twin_faces"))
    generate_synthetic_dataset(root, num_train=3, num_val=2, seed=5, image_size=200)
    for split in ("train", "val"):
        if f"twin_faces_{split}" not in DatasetCatalog.list():
            register_wider_face_layout(f"twin_faces_{split}", root, split)
    return DatasetCatalog.get("twin_faces_train")


def _map(mapper, dicts, seed=0):
    np.random.seed(seed)
    return [mapper(d) for d in dicts]


@pytest.mark.parametrize("name", TWINS)
@pytest.mark.parametrize("is_train", [True, False])
def test_lazy_mapper_maps_as_the_yacs_mapper(name, is_train, twin_faces):
    cfg, lazy = load_twins(name)
    lazy_mapper = instantiate(lazy.dataloader["train" if is_train else "test"].mapper)
    assert isinstance(lazy_mapper, WiderFaceDatasetMapper)
    ours = _map(lazy_mapper, twin_faces)
    theirs = _map(WiderFaceDatasetMapper(cfg, is_train), twin_faces)
    for a, b in zip(ours, theirs):
        assert a.keys() == b.keys()
        assert torch.equal(a["image"], b["image"])
        if is_train:
            assert torch.equal(a["instances"].gt_boxes.tensor, b["instances"].gt_boxes.tensor)
        assert ("seg_targets" in a) == (is_train and "df2s2" in name)
        for x, y in zip(a.get("seg_targets", []), b.get("seg_targets", [])):
            assert torch.equal(x, y)


@pytest.mark.parametrize("name", TWINS)
def test_lazy_data_evaluator_and_schedule_are_the_yacs_ones(name, tmp_path):
    cfg, lazy = load_twins(name, as_in_file=True)
    train, test = lazy.dataloader.train, lazy.dataloader.test
    assert (train.dataset.names,) == tuple(cfg.DATASETS.TRAIN)
    assert (test.dataset.names,) == tuple(cfg.DATASETS.TEST)
    assert train.dataset.filter_empty == cfg.DATALOADER.FILTER_EMPTY_ANNOTATIONS
    assert train.total_batch_size == cfg.SOLVER.IMS_PER_BATCH
    assert train.num_workers == test.num_workers == cfg.DATALOADER.NUM_WORKERS
    assert lazy.train.max_iter == cfg.SOLVER.MAX_ITER
    assert lazy.train.checkpointer.period == cfg.SOLVER.CHECKPOINT_PERIOD
    assert lazy.train.init_checkpoint == cfg.MODEL.WEIGHTS
    assert lazy.train.device == cfg.MODEL.DEVICE

    lazy.dataloader.test.dataset.names = "twin_faces_val"
    lazy.train.output_dir = str(tmp_path)
    evaluator = instantiate(lazy.dataloader.evaluator)
    evaluators = evaluator._evaluators if isinstance(evaluator, DatasetEvaluators) else [evaluator]
    expected = [WiderFaceEvaluator] + [FaceLandmarkEvaluator] * ("landmarks" in cfg.TEST.EVALUATORS)
    assert [type(e) for e in evaluators] == expected
    for e in evaluators:
        assert e._dataset_name == "twin_faces_val"
        assert e._output_dir == str(tmp_path / "inference")

    model = torch.nn.Linear(2, 2)
    lazy.optimizer.params.model = model
    optimizer = instantiate(lazy.optimizer)
    group = optimizer.param_groups[0]
    assert (group["lr"], group["momentum"], group["weight_decay"]) == (
        cfg.SOLVER.BASE_LR, cfg.SOLVER.MOMENTUM, cfg.SOLVER.WEIGHT_DECAY)
    multiplier = instantiate(lazy.lr_multiplier)
    yacs_scheduler = build_lr_scheduler(cfg, torch.optim.SGD(model.parameters(), lr=1.0))
    yacs_factor = yacs_scheduler._multiplier
    for it in [0, 1, cfg.SOLVER.WARMUP_ITERS // 2, cfg.SOLVER.WARMUP_ITERS,
               *cfg.SOLVER.STEPS, cfg.SOLVER.MAX_ITER - 1]:
        where = it / cfg.SOLVER.MAX_ITER
        assert multiplier(where) == pytest.approx(yacs_factor(where), rel=1e-9), it
