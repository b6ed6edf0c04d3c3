"""The Detectron2 this project runs on: imports, and the fixes it needs on this stack."""
import importlib
import json

import PIL
import pytest
import torch

from tests.common import PYTHON_ONLY_DETECTRON2, needs_compiled_ops

needs_fallback = pytest.mark.skipif(
    not PYTHON_ONLY_DETECTRON2,
    reason="checks the v0.6 Python-only fallback; this Detectron2 has its compiled ops")


def test_everything_the_project_uses_imports():
    for name in ["detectron2.data", "detectron2.modeling", "detectron2.evaluation",
                 "detectron2.engine", "detectron2.checkpoint", "df2s2_d2"]:
        importlib.import_module(name)
    from detectron2.export import TracingAdapter  # noqa: F401

    assert tuple(int(x) for x in PIL.__version__.split(".")[:2]) >= (10, 3)


def test_map_dataset_falls_back_when_the_mapper_returns_none():
    from detectron2.data.common import MapDataset

    dataset = MapDataset(list(range(5)), lambda x: None if x == 2 else x * 10)
    assert dataset[2] in {0, 10, 30, 40}
    assert [dataset[i] for i in (0, 1, 3, 4)] == [0, 10, 30, 40]


def test_default_setup_runs(tmp_path):
    from detectron2.config import get_cfg
    from detectron2.engine import default_argument_parser, default_setup

    cfg = get_cfg()
    cfg.OUTPUT_DIR = str(tmp_path)
    args = default_argument_parser().parse_args([])
    default_setup(cfg, args)
    assert (tmp_path / "config.yaml").exists()


@needs_fallback
def test_compiled_op_call_names_the_op_and_how_to_get_it():
    from detectron2.layers import ROIAlignRotated
    from detectron2.layers.nms import nms_rotated
    from detectron2.layers.rotated_boxes import pairwise_iou_rotated

    pooler = ROIAlignRotated((2, 2), spatial_scale=1.0, sampling_ratio=0)
    rois = torch.tensor([[0.0, 2.0, 2.0, 2.0, 2.0, 0.0]])
    with pytest.raises(ImportError, match="roi_align_rotated_forward.*Build Detectron2 from"):
        pooler(torch.rand(1, 1, 5, 5), rois)
    boxes = torch.tensor([[5.0, 5.0, 4.0, 4.0, 0.0]])
    with pytest.raises(ImportError, match="nms_rotated"):
        nms_rotated(boxes, torch.ones(1), 0.5)
    with pytest.raises(ImportError, match="box_iou_rotated"):
        pairwise_iou_rotated(boxes, boxes)


@needs_fallback
def test_coco_evaluation_uses_the_python_cocoeval():
    from pycocotools.cocoeval import COCOeval

    from detectron2.evaluation import coco_evaluation

    assert coco_evaluation.COCOeval_opt is COCOeval


@needs_compiled_ops
def test_compiled_ops_run():
    from detectron2 import _C
    from detectron2.layers import ROIAlignRotated
    from detectron2.layers.nms import nms_rotated
    from detectron2.layers.rotated_boxes import pairwise_iou_rotated

    assert not hasattr(_C, "PYTHON_ONLY")
    pooler = ROIAlignRotated((2, 2), spatial_scale=1.0, sampling_ratio=0)
    rois = torch.tensor([[0.0, 2.0, 2.0, 2.0, 2.0, 0.0]])
    assert pooler(torch.rand(1, 1, 5, 5), rois).shape == (1, 1, 2, 2)
    boxes = torch.tensor([[5.0, 5.0, 4.0, 4.0, 0.0], [5.0, 5.0, 4.0, 4.0, 0.0]])
    assert nms_rotated(boxes, torch.tensor([1.0, 0.5]), 0.5).tolist() == [0]
    assert pairwise_iou_rotated(boxes[:1], boxes).tolist() == [[1.0, 1.0]]


@needs_compiled_ops
def test_coco_evaluation_uses_the_fast_cocoeval():
    from detectron2.evaluation import coco_evaluation
    from detectron2.evaluation.fast_eval_api import COCOeval_opt

    assert coco_evaluation.COCOeval_opt is COCOeval_opt


def _all_reduce_worker(out_dir):
    import torch.distributed as dist

    from detectron2.utils import comm

    value = torch.tensor([float(comm.get_rank() + 1)])
    dist.all_reduce(value)
    (out_dir / f"rank{comm.get_rank()}.json").write_text(
        json.dumps({"sum": float(value), "world": comm.get_world_size(),
                    "backend": dist.get_backend()})
    )
    # A process that exits with its gloo group alive aborts now and then
    # ("terminate called without an active exception"): close it first.
    dist.barrier()
    dist.destroy_process_group()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU (gloo) launch")
def test_two_process_launch_on_cpu_all_reduces(tmp_path):
    from detectron2.engine import launch

    launch(_all_reduce_worker, num_gpus_per_machine=2, dist_url="auto", args=(tmp_path,))
    results = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert results == [{"sum": 3.0, "world": 2, "backend": "gloo"}] * 2
