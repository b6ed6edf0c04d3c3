"""The paper's training recipe (section 3.4) as a LazyConfig: optimizer, schedule, train.

SGD momentum 0.9, weight decay 1e-4, batch 32, lr 4e-3 for 80 epochs, then 4e-4 and
4e-5 for 20 epochs each (WIDER FACE train: 402.5 iterations an epoch), 500 warm-up
iterations. ``train`` holds what Detectron2's tools/lazyconfig_train_net.py reads.
"""
import torch

from detectron2.config import LazyCall as L
from detectron2.solver import WarmupParamScheduler
from detectron2.solver.build import get_default_optimizer_params
from fvcore.common.param_scheduler import MultiStepParamScheduler

optimizer = L(torch.optim.SGD)(
    # params.model is set to the model before the optimizer is instantiated.
    params=L(get_default_optimizer_params)(weight_decay_norm=0.0),
    lr=0.004,
    momentum=0.9,
    weight_decay=1e-4,
)

lr_multiplier = L(WarmupParamScheduler)(
    scheduler=L(MultiStepParamScheduler)(
        values=[1.0, 0.1, 0.01], milestones=[32200, 40250], num_updates="${train.max_iter}"),
    warmup_length=500 / 48300,
    warmup_method="linear",
    warmup_factor=0.001,
)

train = dict(
    output_dir="./output",
    init_checkpoint="detectron2://ImageNetPretrained/MSRA/R-50.pkl",
    max_iter=48300,
    amp=dict(enabled=False),
    ddp=dict(broadcast_buffers=False, find_unused_parameters=False, fp16_compression=False),
    checkpointer=dict(period=4025, max_to_keep=100),
    # 0: evaluate once, after the last iteration.
    eval_period=0,
    log_period=20,
    device="cuda",
)
