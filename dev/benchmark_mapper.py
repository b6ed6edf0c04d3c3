#!/usr/bin/env python
"""Time the training mapper on one core: images/s, median of a few runs, on synthetic images.

    python dev/benchmark_mapper.py [--config-file FILE] [--image-size 1024]
        [--num-images 32] [--repeats 3] [KEY VALUE ...]

Writes ``--num-images`` synthetic val images with a long side of ``--image-size``
(1024 is WIDER FACE's width) to a temporary folder, then maps each of them ``--repeats``
times with ``WiderFaceDatasetMapper(cfg, is_train=True)``: read, crop, resize, flip,
photometric distortion, instances and box-mask targets.
"""

import logging
import statistics
import tempfile
import time

import cv2
import numpy as np
import torch

from df2s2_d2 import get_df2s2_cfg
from df2s2_d2.argument_parser import config_argument_parser
from df2s2_d2.data import WiderFaceDatasetMapper, generate_synthetic_dataset, load_wider_face_txt


def main():
    parser = config_argument_parser(__doc__.split("\n\n")[0], config_file_default="")
    parser.add_argument("--image-size", type=int, default=1024)
    parser.add_argument("--num-images", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    logging.getLogger("df2s2_d2").setLevel(logging.WARNING)
    cfg = get_df2s2_cfg(args.config_file, args.opts)
    with tempfile.TemporaryDirectory() as root:
        generate_synthetic_dataset(root, 0, args.num_images, seed=0, image_size=args.image_size)
        dicts = load_wider_face_txt(
            f"{root}/wider_face_split/wider_face_val_bbx_gt.txt",
            f"{root}/WIDER_val/images",
            check_images=True,
        )
        mapper = WiderFaceDatasetMapper(cfg, is_train=True)
        np.random.seed(0)
        rates = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            for d in dicts:
                mapper(d)
            rates.append(len(dicts) / (time.perf_counter() - start))
    aug = cfg.INPUT.FACE_AUG
    print(
        f"mapper, 1 thread, {len(dicts)} images of long side {args.image_size} -> "
        f"{aug.TRAIN_SIZE} (FACE_AUG.RANDOM_CROP={aug.RANDOM_CROP}, seg targets: "
        f"{mapper.box_mask_targets is not None}): median {statistics.median(rates):.1f} images/s "
        f"(runs: {', '.join(f'{r:.1f}' for r in rates)})"
    )


if __name__ == "__main__":
    main()
