"""DF2S2*, ResNet-101 (paper, Table 4): df2s2_R_101.yaml as a LazyConfig."""
from ..common.data.wider_face import dataloader
from ..common.models.df2s2 import model
from ..common.schedule import lr_multiplier, optimizer, train

model.backbone.bottom_up.stages.depth = 101
train.init_checkpoint = "detectron2://ImageNetPretrained/MSRA/R-101.pkl"
train.output_dir = "./output/df2s2_R_101"
