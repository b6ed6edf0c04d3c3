"""The photo-like face data set: :mod:`.photo_scene`'s scenes in the WIDER FACE layout,
written by the same code as the cartoon set (:mod:`.synthetic_dataset`), so the same
parser, mapper and evaluator read it. Command line: ``python -m df2s2_d2.data.synthetic
--kind photo``.

Its LFW faces are split by index: the last :data:`.photo_scene.VAL_FACES` crops appear
in val only, so the val split measures real faces the model never saw.
"""
import functools
from dataclasses import asdict
from typing import Dict, List

import numpy as np

from .photo_scene import VAL_FACES, PhotoRecipe, render_photo_scene
from .photo_sources import PhotoSources, load_photo_sources
from .synthetic_dataset import (
    DEFAULT_IMAGE_SIZE,
    SyntheticImage,
    ensure_synthetic_dataset,
    generate_synthetic_dataset,
)

# The data set of the quick start: more images than the cartoon set, since real faces
# vary more (generation time: docs/quickstart.md).
PHOTO_QUICKSTART_DATA = dict(num_train=1000, num_val=150, seed=0, image_size=DEFAULT_IMAGE_SIZE)
# Version of the scenes, in the stamp: a set drawn by an earlier version is drawn again.
SCENE_VERSION = 2


def _render(sources: PhotoSources, recipe: PhotoRecipe, rng, height, width, event, with_faces, split):
    num = len(sources.faces)
    ids = np.arange(num - VAL_FACES, num) if split == "val" else np.arange(num - VAL_FACES)
    return render_photo_scene(rng, height, width, event, sources, recipe, with_faces, ids)


def generate_photo_dataset(
    out_dir: str,
    num_train: int,
    num_val: int,
    seed: int = 0,
    image_size: int = DEFAULT_IMAGE_SIZE,
    recipe: PhotoRecipe = PhotoRecipe(),
    landmarks: bool = True,
) -> Dict[str, List[SyntheticImage]]:
    """Write the photo-like set under ``out_dir`` (the layout of
    :func:`.synthetic_dataset.generate_synthetic_dataset`). Every source is read and
    checked first: a missing one raises :class:`.photo_sources.MissingSourceError`
    before any file is written."""
    sources = load_photo_sources()
    render = functools.partial(_render, sources, recipe)
    return generate_synthetic_dataset(
        out_dir, num_train, num_val, seed, image_size, landmarks=landmarks, render=render
    )


def ensure_photo_dataset(out_dir: str, recipe: PhotoRecipe = PhotoRecipe(), **params) -> bool:
    """Generate the photo-like set under ``out_dir`` unless the one with ``params`` and
    ``recipe`` is there; returns whether it wrote."""
    params = {**PHOTO_QUICKSTART_DATA, **params}
    return ensure_synthetic_dataset(
        out_dir,
        generate=functools.partial(generate_photo_dataset, recipe=recipe),
        stamp_extra={"kind": "photo", "scene_version": SCENE_VERSION, "recipe": asdict(recipe)},
        **params,
    )
