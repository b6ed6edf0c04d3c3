#!/usr/bin/env python
"""FLOPs, parameters, activations and structure of a model of this project's configs.

    python tools/analyze_model.py --config-file configs/WIDER-FACE/df2s2_R_50.yaml \\
        --tasks flop parameter --size 512 640

Detectron2's own ``tools/analyze_model.py`` (and its other stock tools) start from a
bare ``get_cfg()`` and never import this package, so they can neither read the
``MODEL.FFP`` / ``MODEL.DF2S2`` / ``INPUT.FACE_AUG`` keys nor find the registered
DF2S2 and FFP. This project ships its own entry points instead (this file,
``demo.py``, ``export.py``, ``benchmark.py`` and ``train_net.py``), rather than
LazyConfig mirrors of its yaml configs; each calls ``add_df2s2_config``.

The model is analysed in eval mode: the graph that runs at test time, in which DF2S2's
training-only segmentation branch never runs. Inputs are ``--num-inputs`` random images
of ``--size H W`` (batch 1, not resized), or with ``--use-dataset`` the first images of
``DATASETS.TEST[0]`` resized as at test time. FLOPs are fvcore's (a fused multiply-add
counts as one), averaged over the inputs.
"""
import df2s2_d2  # noqa: F401  first: hides Detectron2's known import-time warnings
import argparse
import logging
from typing import Dict, List

import numpy as np
import torch
from fvcore.nn import ActivationCountAnalysis, FlopCountAnalysis, flop_count_table, parameter_count_table
from torch import nn

from detectron2.checkpoint import DetectionCheckpointer
from detectron2.data import build_detection_test_loader
from detectron2.export import TracingAdapter
from detectron2.modeling import build_model
from detectron2.utils.logger import setup_logger

from df2s2_d2 import get_df2s2_cfg
from df2s2_d2.argument_parser import config_argument_parser

TASKS = ("flop", "parameter", "activation", "structure")
logger = logging.getLogger("df2s2_d2.analyze_model")


def get_parser() -> argparse.ArgumentParser:
    parser = config_argument_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", choices=TASKS, default=["flop", "parameter"])
    parser.add_argument("--num-inputs", type=int, default=1,
                        help="images to average flops / activations over")
    parser.add_argument("--size", nargs=2, type=int, default=[512, 640], metavar=("H", "W"),
                        help="size of the random input images")
    parser.add_argument("--use-dataset", action="store_true",
                        help="use the first images of DATASETS.TEST[0] instead of random ones")
    return parser


def setup_cfg(args):
    cfg = get_df2s2_cfg(args.config_file, args.opts)
    cfg.DATALOADER.NUM_WORKERS = 0
    cfg.freeze()
    return cfg


def random_inputs(height: int, width: int, num_inputs: int) -> List[List[Dict[str, torch.Tensor]]]:
    """``num_inputs`` batches of one seeded random uint8 (3, H, W) image."""
    rng = np.random.default_rng(0)
    return [
        [{"image": torch.from_numpy(rng.integers(0, 256, (3, height, width), dtype=np.uint8))}]
        for _ in range(num_inputs)
    ]


def dataset_inputs(cfg, num_inputs: int) -> List[List[Dict]]:
    """The first ``num_inputs`` batches of the test loader of ``DATASETS.TEST[0]``."""
    loader = build_detection_test_loader(cfg, cfg.DATASETS.TEST[0])
    batches = []
    for batch in loader:
        if len(batches) == num_inputs:
            break
        batches.append(batch)
    return batches


def analyses(analysis_cls, model: nn.Module, batches) -> list:
    """One fvcore ``analysis_cls`` (FlopCountAnalysis, ActivationCountAnalysis) per batch."""
    result = []
    for batch in batches:
        adapter = TracingAdapter(model, batch, allow_non_tensor=True)
        analysis = analysis_cls(adapter, adapter.flattened_inputs)
        result.append(analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False))
    return result


def mean_total(per_batch: list) -> float:
    return float(np.mean([a.total() for a in per_batch]))


def main(argv=None) -> Dict[str, object]:
    """Runs the tasks; returns {task: value} (total flops, parameters, activations; structure text)."""
    parser = get_parser()
    args = parser.parse_args(argv)
    if args.num_inputs < 1:
        parser.error(f"--num-inputs must be at least 1, got {args.num_inputs}")
    setup_logger(name="fvcore")
    setup_logger()
    setup_logger(name="df2s2_d2")
    logger.info(f"Arguments: {args}")
    cfg = setup_cfg(args)
    model = build_model(cfg)
    DetectionCheckpointer(model).load(cfg.MODEL.WEIGHTS)
    model.eval()
    if args.use_dataset:
        batches = dataset_inputs(cfg, args.num_inputs)
    else:
        batches = random_inputs(*args.size, args.num_inputs)
    results = {}
    with torch.no_grad():
        for task in args.tasks:
            if task == "flop":
                flops = analyses(FlopCountAnalysis, model, batches)
                results[task] = mean_total(flops)
                logger.info("Flops table of the first input:\n" + flop_count_table(flops[0], max_depth=4))
                logger.info(f"Average GFlops over {len(batches)} inputs: {results[task] / 1e9:.3f}")
            elif task == "activation":
                results[task] = mean_total(analyses(ActivationCountAnalysis, model, batches))
                mega = results[task] / 1e6
                logger.info(f"Average (mega) activations over {len(batches)} inputs: {mega:.3f}")
            elif task == "parameter":
                results[task] = sum(p.numel() for p in model.parameters())
                logger.info("Parameter count:\n" + parameter_count_table(model, max_depth=5))
            else:
                results[task] = str(model)
                logger.info("Model structure:\n" + results[task])
    return results


if __name__ == "__main__":
    main()
