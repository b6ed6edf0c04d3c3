"""The quick DF2S2 with five facial landmarks: df2s2_R_18_quick_landmarks.yaml as a LazyConfig.

Trains on the synthetic faces' RetinaFace-format landmarks; evaluates the val split by
the WIDER FACE protocol and by the landmarks' normalised mean error.
"""
from detectron2.config import LazyCall as L
from detectron2.evaluation import DatasetEvaluators

from df2s2_d2.evaluation import FaceLandmarkEvaluator, WiderFaceEvaluator

from .df2s2_R_18_quick import dataloader, lr_multiplier, model, optimizer, train

model.head.landmarks = True
model.landmark_loss_weight = 0.05

dataloader.train.dataset.names = "synth_faces_train_landmarks"
dataloader.test.dataset.names = "synth_faces_val_landmarks"
dataloader.evaluator = L(DatasetEvaluators)(evaluators=[
    L(WiderFaceEvaluator)(dataset_name="${....test.dataset.names}", output_dir="${train.output_dir}/inference"),
    L(FaceLandmarkEvaluator)(dataset_name="${....test.dataset.names}", output_dir="${train.output_dir}/inference"),
])
train.output_dir = "./output/df2s2_R_18_quick_landmarks"
