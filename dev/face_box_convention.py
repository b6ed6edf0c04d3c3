#!/usr/bin/env python
"""The face-box convention of the photo-like set against WIDER FACE's, as a picture.

    python -m dev.face_box_convention --wider-face ../shared/wider_face \\
        --output docs/images/face_box_convention.png

Left: generated faces (LFW crops and procedural heads) with their box (green) and a box
of WIDER FACE val's median height / width on the same width and chin (orange). Right:
the height / width of the boxes of WIDER FACE val, of the generated train split and of
``real_photos_dev`` (faces at least 16 px wide, valid ones only).
"""
import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from df2s2_d2.data import PhotoRecipe, load_photo_sources, parse_wider_face_txt
from df2s2_d2.data.photo_scene import _draw_procedural_face, _draw_real_face
from df2s2_d2.data.synthetic_scene import SceneFace, _Look

SKIN, HAIR = np.array([120.0, 150, 200]), np.array([30.0, 35, 50])


def aspects(rows) -> np.ndarray:
    """h / w of the valid boxes at least 16 px wide of parsed WIDER-format rows."""
    boxes = np.array([f for _, _, faces in rows for f in faces], np.float64).reshape(-1, 10)
    boxes = boxes[(boxes[:, 7] == 0) & (boxes[:, 2] >= 16)]
    return boxes[:, 3] / boxes[:, 2]


def face_tile(sources, real: bool, wider_aspect: float, seed: int) -> np.ndarray:
    """(240, 200, 3): one generated face on grey, its box and WIDER's median box."""
    image = np.full((240, 200, 3), 170, np.uint8)
    face = SceneFace(55, 80, 90, 112)
    look = _Look(skin=SKIN, hair=HAIR, has_hair=True, glasses=False, yaw=0.0, expression=0)
    if real:
        _draw_real_face(image, np.random.default_rng(seed), face, sources.faces[seed], look)
    else:
        _draw_procedural_face(image, face, look)
    cv2.rectangle(image, (face.x, face.y), (face.x + face.w, face.y + face.h), (0, 200, 0), 2)
    top = int(round(face.y + face.h - wider_aspect * face.w))
    for x in range(face.x, face.x + face.w, 8):  # dashed
        cv2.line(image, (x, top), (min(x + 4, face.x + face.w), top), (0, 140, 255), 2)
    return image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wider-face", default="../shared/wider_face")
    parser.add_argument("--generated", default="datasets/photo_faces")
    parser.add_argument("--real-photos", default="../shared/real_photos/real_photos_dev.json")
    parser.add_argument("--output", default="docs/images/face_box_convention.png")
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    split = "wider_face_split/{}_bbx_gt.txt"
    series = {
        "WIDER FACE val": aspects(parse_wider_face_txt(str(Path(args.wider_face) / split.format("wider_face_val")))),
        "generated train": aspects(parse_wider_face_txt(str(Path(args.generated) / split.format("wider_face_train")))),
    }
    real = json.loads(Path(args.real_photos).read_text())["annotations"]
    series["real_photos_dev"] = np.array([a["bbox"][3] / a["bbox"][2] for a in real])
    wider_median = float(np.median(series["WIDER FACE val"]))
    sources = load_photo_sources()
    tiles = [face_tile(sources, real, wider_median, seed) for real, seed in ((True, 3), (True, 41), (False, 0))]
    fig, axes = plt.subplots(1, 4, figsize=(13, 3.4), gridspec_kw={"width_ratios": [1, 1, 1, 1.7]})
    for ax, tile, title in zip(axes, tiles, ("LFW crop", "LFW crop", "procedural")):
        ax.imshow(tile[:, :, ::-1])
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    bins = np.linspace(0.6, 2.2, 33)
    for name, values in series.items():
        axes[3].hist(values, bins=bins, density=True, histtype="step", linewidth=1.5,
                     label=f"{name}: median {np.median(values):.2f} (n={len(values)})")
    axes[3].set_xlabel("box height / width")
    axes[3].legend(fontsize=7)
    fig.suptitle(f"green: generated face box (brow to chin, cheek to cheek); orange dashes: top of a box "
                 f"of WIDER FACE val's median height/width {wider_median:.2f} on the same width and chin",
                 fontsize=8)
    fig.tight_layout()
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.output, dpi=80)
    print({k: round(float(np.median(v)), 3) for k, v in series.items()}, "->", args.output)


if __name__ == "__main__":
    main()
