"""Write a synthetic face data set: the cartoon faces (:mod:`.synthetic_dataset`) or the
photo-like ones (:mod:`.photo_dataset`, ``--kind photo``)::

    python -m df2s2_d2.data.synthetic --out datasets/synth_faces \\
        --num-train 600 --num-val 150 --seed 0 --image-size 384
    python -m df2s2_d2.data.synthetic --kind photo --out datasets/photo_faces \\
        --num-train 1000 --num-val 150
"""

import argparse
import os

from .photo_dataset import generate_photo_dataset
from .synthetic_dataset import (
    DEFAULT_IMAGE_SIZE,
    SUBSET_LIMITS,
    generate_synthetic_dataset,
    in_subset,
)


def main(argv=None) -> None:
    root = os.getenv("DETECTRON2_DATASETS", "datasets")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kind", choices=("cartoon", "photo"), default="cartoon")
    parser.add_argument("--out", help=f"output folder (default {root}/synth_faces or {root}/photo_faces)")
    parser.add_argument("--num-train", type=int, default=600)
    parser.add_argument("--num-val", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--image-size", type=int, default=DEFAULT_IMAGE_SIZE, help="long side, pixels"
    )
    args = parser.parse_args(argv)
    if args.out is None:
        args.out = os.path.join(root, "photo_faces" if args.kind == "photo" else "synth_faces")
    generate = generate_photo_dataset if args.kind == "photo" else generate_synthetic_dataset
    result = generate(args.out, args.num_train, args.num_val, args.seed, args.image_size)
    for split, images in result.items():
        faces = [f for _, _, fs in images for f in fs]
        print(
            f"{split}: {len(images)} images, {len(faces)} faces "
            f"({sum(f.invalid for f in faces)} invalid) -> {args.out}"
        )
    val_faces = [f for _, _, fs in result["val"] for f in fs]
    print(
        "val subsets: "
        + ", ".join(f"{s} {sum(in_subset(f, s) for f in val_faces)}" for s in SUBSET_LIMITS)
    )


if __name__ == "__main__":
    main()
