"""Small DF2S2 for the CPU: df2s2_R_18_quick.yaml as a LazyConfig.

ResNet-18 from scratch (group norm) on the synthetic faces (``python -m
df2s2_d2.data.synthetic`` writes them), 500 iterations of 8 images at 256 x 256.
The yaml also clips gradient norms (SOLVER.CLIP_GRADIENTS), which a LazyConfig
optimizer has no key for: the quick start trains with the yaml.
"""
from ..common.data.wider_face import dataloader
from ..common.models.df2s2 import model
from ..common.schedule import lr_multiplier, optimizer, train

# No pretrained statistics to freeze: group norm (no per-process buffers, so
# multi-process CPU training keeps one identical model).
model.backbone.bottom_up.stem.norm = "GN"
model.backbone.bottom_up.stages = dict(model.backbone.bottom_up.stages, depth=18, norm="GN")
del model.backbone.bottom_up.stages.stride_in_1x1  # ResNet-18's basic blocks have no 1x1
model.backbone.bottom_up.freeze_at = 0
model.backbone.out_channels = 64
model.backbone.norm = "GN"
model.head.input_shape = [dict(shape, channels=64) for shape in model.head.input_shape]
model.head.conv_dims = [64, 64]

dataloader.train.dataset.names = "synth_faces_train"
dataloader.train.mapper.augmentations[1].shape = (256, 256)
dataloader.train.total_batch_size = 8
dataloader.train.num_workers = 1
dataloader.test.dataset.names = "synth_faces_val"
dataloader.test.mapper.augmentations[0].short_edge_length = 320
dataloader.test.mapper.augmentations[0].max_size = 640
dataloader.test.num_workers = 1

optimizer.lr = 0.01
lr_multiplier.scheduler.milestones = [400, 470]
lr_multiplier.warmup_length = 100 / 500
train.init_checkpoint = ""
train.max_iter = 500
train.checkpointer.period = 250
train.output_dir = "./output/df2s2_R_18_quick"
train.device = "cpu"
train.seed = 0
