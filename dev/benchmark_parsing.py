#!/usr/bin/env python
"""Time the WIDER FACE annotation parser: images/s and boxes/s, median of a few runs.

    python dev/benchmark_parsing.py [--annotations DIR] [--repeats 5]

DIR is a WIDER FACE root (or the annotation folder) holding ``wider_face_split/``;
default ``$WIDER_FACE_ANNOTATIONS``, else ``$DETECTRON2_DATASETS/widerface``. Each
annotation txt found there is timed twice: ``parse`` (rows as written) and ``load``
(Detectron2 dicts, images not opened).
"""

import argparse
import logging
import os
import statistics
import time

from df2s2_d2.data.wider_face import FaceCounts, load_wider_face_txt, parse_wider_face_txt

FILES = [
    "wider_face_val_bbx_gt.txt",
    "wider_face_train_bbx_gt.txt",
    "wider_face_train_bbx_gt.from_mat.txt",
]


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    default = os.getenv("WIDER_FACE_ANNOTATIONS") or os.path.join(
        os.getenv("DETECTRON2_DATASETS", "datasets"), "widerface"
    )
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--annotations", default=default)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    logging.getLogger("df2s2_d2.data.wider_face").setLevel(logging.WARNING)
    paths = [os.path.join(args.annotations, "wider_face_split", f) for f in FILES]
    paths = [p for p in paths if os.path.isfile(p)]
    if not paths:
        raise SystemExit(f"no annotation txt under {args.annotations}/wider_face_split")
    print("| file | step | images | boxes | median s | images/s | boxes/s |")
    print("|---|---|---|---|---|---|---|")
    for path in paths:
        counts = FaceCounts()
        load_wider_face_txt(path, "images", counts=counts)
        steps = {
            "parse": lambda: parse_wider_face_txt(path),
            "load": lambda: load_wider_face_txt(path, "images"),
        }
        for step, fn in steps.items():
            s = median_seconds(fn, args.repeats)
            print(
                f"| {os.path.basename(path)} | {step} | {counts.images} | {counts.total} | "
                f"{s:.3f} | {counts.images / s:,.0f} | {counts.total / s:,.0f} |"
            )


if __name__ == "__main__":
    main()
