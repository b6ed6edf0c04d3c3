"""WIDER FACE data loaders and evaluator, as a LazyConfig (configs/Base-DF2S2.yaml's).

Training: random square face crop -> 640 x 640 -> flip, batch 32, with the seg
targets of ``model.anchor_generator``; test: shorter side 800 (at most 4000); the
official WIDER FACE protocol. Photometric distortion (this project's addition, off
by default): append ``L(RandomPhotometricDistortion)(image_format="BGR")`` to
``dataloader.train.mapper.augmentations``.
"""
from detectron2.config import LazyCall as L
from detectron2.data import build_detection_test_loader, build_detection_train_loader
from detectron2.data import get_detection_dataset_dicts
from detectron2.data import transforms as T

from df2s2_d2.data import RandomSquareFaceCrop, WiderFaceDatasetMapper
from df2s2_d2.evaluation import WiderFaceEvaluator
from df2s2_d2.modeling import BoxMaskTargets

# Crops are padded with the mean of the model's pixel mean (BGR).
_PAD_VALUE = (103.530 + 116.280 + 123.675) / 3

dataloader = dict(
    train=L(build_detection_train_loader)(
        # WIDER FACE has images without faces; they are negatives, keep them.
        dataset=L(get_detection_dataset_dicts)(names="wider_face_train", filter_empty=False),
        mapper=L(WiderFaceDatasetMapper)(
            is_train=True,
            augmentations=[
                L(RandomSquareFaceCrop)(
                    scales=[0.3, 0.45, 0.6, 0.8, 1.0], max_tries=50, pad_value=_PAD_VALUE),
                L(T.Resize)(shape=(640, 640)),
                L(T.RandomFlip)(horizontal=True, vertical=False),
            ],
            image_format="BGR",
            # The model's anchor grid; the backbone pads to its coarsest stride, 128.
            box_mask_targets=L(BoxMaskTargets)(
                anchor_generator="${model.anchor_generator}", size_divisibility=128),
            min_face_size=0.0,
        ),
        total_batch_size=32,
        num_workers=4,
    ),
    test=L(build_detection_test_loader)(
        dataset=L(get_detection_dataset_dicts)(names="wider_face_val", filter_empty=False),
        mapper=L(WiderFaceDatasetMapper)(
            is_train=False,
            # Single-scale test: shorter side 800, aspect ratio kept (paper, section 4).
            augmentations=[L(T.ResizeShortestEdge)(
                short_edge_length=800, max_size=4000, sample_style="choice")],
            image_format="BGR",
        ),
        num_workers=4,
    ),
    evaluator=L(WiderFaceEvaluator)(
        dataset_name="${..test.dataset.names}",
        output_dir="${train.output_dir}/inference",
    ),
)
