"""The quick start's DF2S2: df2s2_R_18_photo.yaml as a LazyConfig.

df2s2_R_18_quick's model and recipe on the photo-like faces (``python -m
df2s2_d2.data.synthetic --kind photo`` writes them): real LFW face crops and procedural
heads on photos without people.
"""
from .df2s2_R_18_quick import dataloader, lr_multiplier, model, optimizer, train

dataloader.train.dataset.names = "photo_faces_train"
dataloader.test.dataset.names = "photo_faces_val"
train.output_dir = "./output/df2s2_R_18_photo"
