"""DF2S2, ResNet-50 (paper, Table 4): df2s2_R_50.yaml as a LazyConfig.

    python tools/lazyconfig_train_net.py --config-file configs/WIDER-FACE/df2s2_R_50.py --num-gpus 4
"""
from ..common.data.wider_face import dataloader
from ..common.models.df2s2 import model
from ..common.schedule import lr_multiplier, optimizer, train

train.output_dir = "./output/df2s2_R_50"
