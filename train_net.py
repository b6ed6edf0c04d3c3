#!/usr/bin/env python
"""Train and evaluate DF2S2 (and the baselines) with Detectron2.

    python train_net.py --config-file configs/WIDER-FACE/df2s2_R_50.yaml --num-gpus 4
    python train_net.py --config-file ... --eval-only MODEL.WEIGHTS model_final.pth
    python train_net.py --config-file ... --resume
"""
import df2s2_d2  # noqa: F401  first: hides Detectron2's known import-time warnings
import contextlib
import logging
import os
from collections import OrderedDict

import detectron2.utils.comm as comm
from detectron2.engine import DefaultTrainer, default_argument_parser, default_setup, hooks, launch
from detectron2.engine import defaults as engine_defaults
from detectron2.evaluation import verify_results
import torch.distributed

from df2s2_d2 import get_df2s2_cfg
from df2s2_d2.amp import check_amp_training
from df2s2_d2.checkpoint import check_to_load, load_weights
from df2s2_d2.data import WiderFaceDatasetMapper, build_face_test_loader, build_face_train_loader
from df2s2_d2.evaluation import build_face_evaluator
from df2s2_d2.loss_watch import LossRiseWarning
from df2s2_d2.modeling.test_time_augmentation import DF2S2WithTTA
from df2s2_deploy.output_paths import check_output_dir


@contextlib.contextmanager
def cpu_distributed_data_parallel():
    """Let DefaultTrainer wrap a CPU model for multi-process (gloo) training.

    Detectron2's ``create_ddp_model`` always passes ``device_ids=[local_rank]``,
    which DistributedDataParallel rejects for a CPU model. While the trainer is
    built, a CPU model is wrapped with ``device_ids=None`` instead; GPU models
    are wrapped exactly as before.
    """
    original = engine_defaults.create_ddp_model

    def create_ddp_model(model, **kwargs):
        if next(model.parameters()).device.type == "cpu":
            kwargs.setdefault("device_ids", None)
        return original(model, **kwargs)

    engine_defaults.create_ddp_model = create_ddp_model
    try:
        yield
    finally:
        engine_defaults.create_ddp_model = original


class Trainer(DefaultTrainer):
    """DefaultTrainer with the face mapper and a training loader whose batches depend only
    on SEED (unusable images skipped, or an error with INPUT.BAD_INPUT.FAIL_FAST), a
    warning when the loss rises for long after the warm-up, the WIDER FACE evaluator
    and DF2S2 TTA."""

    def __init__(self, cfg):
        with cpu_distributed_data_parallel():
            super().__init__(cfg)

    def resume_or_load(self, resume=True):
        """Detectron2's, after checking the file it reads (MODEL.WEIGHTS, or the one
        OUTPUT_DIR/last_checkpoint names): a bad file is an error naming it."""
        check_to_load(self.checkpointer, self.cfg.MODEL.WEIGHTS, resume)
        super().resume_or_load(resume=resume)

    def state_dict(self):
        """Checkpointed trainer state, with the optimizer's (momentum buffers).

        Detectron2 v0.6's DefaultTrainer leaves the optimizer out, so a resumed
        run restarted SGD momentum from zero; upstream main saves it under the
        same key, so checkpoints are interchangeable.
        """
        state = super().state_dict()
        state["_trainer"] = self._trainer.state_dict()
        return state

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        if "_trainer" in state_dict:
            self._trainer.load_state_dict(state_dict["_trainer"])

    def build_hooks(self):
        hooks_ = super().build_hooks()
        # Before the writers, so that a warning lands in the log next to the losses.
        hooks_.insert(-1, LossRiseWarning(self.cfg.SOLVER.WARMUP_ITERS))
        return hooks_

    @classmethod
    def build_evaluator(cls, cfg, dataset_name, output_folder=None):
        if output_folder is None:
            output_folder = os.path.join(cfg.OUTPUT_DIR, "inference", dataset_name)
        return build_face_evaluator(cfg, dataset_name, output_folder)

    @classmethod
    def build_train_loader(cls, cfg):
        return build_face_train_loader(cfg, WiderFaceDatasetMapper(cfg, is_train=True))

    @classmethod
    def build_test_loader(cls, cfg, dataset_name):
        return build_face_test_loader(cfg, dataset_name)

    @classmethod
    def test_with_TTA(cls, cfg, model):
        logging.getLogger("detectron2.trainer").info("Running inference with test-time augmentation")
        model = DF2S2WithTTA(cfg, model)
        evaluators = [
            cls.build_evaluator(cfg, name, output_folder=os.path.join(cfg.OUTPUT_DIR, "inference_TTA", name))
            for name in cfg.DATASETS.TEST
        ]
        results = cls.test(cfg, model, evaluators)
        return OrderedDict({f"{k}_TTA": v for k, v in results.items()})


def setup(args):
    cfg = get_df2s2_cfg(args.config_file, args.opts)
    cfg.freeze()
    # before default_setup, which creates OUTPUT_DIR and writes its log there
    check_output_dir(cfg.OUTPUT_DIR, [args.config_file, cfg.MODEL.WEIGHTS], what="OUTPUT_DIR")
    if not args.eval_only:
        check_amp_training(cfg)
    default_setup(cfg, args)
    return cfg


def main(args):
    cfg = setup(args)
    if args.eval_only:
        model = Trainer.build_model(cfg)
        load_weights(model, cfg.MODEL.WEIGHTS, cfg.OUTPUT_DIR, resume=args.resume)
        res = Trainer.test(cfg, model)
        if cfg.TEST.AUG.ENABLED:
            res.update(Trainer.test_with_TTA(cfg, model))
        if comm.is_main_process():
            verify_results(cfg, res)
        return res

    trainer = Trainer(cfg)
    trainer.resume_or_load(resume=args.resume)
    if cfg.TEST.AUG.ENABLED:
        trainer.register_hooks(
            [hooks.EvalHook(0, lambda: trainer.test_with_TTA(cfg, trainer.model))]
        )
    return trainer.train()


def close_process_group():
    """Wait for every process, then close the process group of a multi-process run: a
    process that exits with its gloo group alive aborts now and then ("terminate called
    without an active exception"), failing a run that has finished."""
    if comm.get_world_size() > 1:
        comm.synchronize()
        torch.distributed.destroy_process_group()


def main_then_close(args):
    result = main(args)
    close_process_group()
    return result


if __name__ == "__main__":
    args = default_argument_parser().parse_args()
    print("Command Line Args:", args)
    launch(
        main_then_close,
        args.num_gpus,
        num_machines=args.num_machines,
        machine_rank=args.machine_rank,
        dist_url=args.dist_url,
        args=(args,),
    )
