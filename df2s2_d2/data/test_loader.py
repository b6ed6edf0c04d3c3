"""A test loader that keeps unusable images away from the model, naming and counting them.

:class:`WiderFaceDatasetMapper` maps an image it cannot use (unreadable, truncated,
too thin to resize, ...) at test time to a dict with ``skipped`` (the reason) and no
``image``; :class:`SkipBadImages` drops those dicts from the batches, logs each one
and the total at the end. An evaluator then sees no output for that image: the WIDER
FACE evaluator counts it as an image without detections and says so.
"""

import logging
from typing import Dict, Iterator, List

from detectron2.data import build_detection_test_loader

from .dataset_mapper import WiderFaceDatasetMapper

__all__ = ["SkipBadImages", "build_face_test_loader"]

logger = logging.getLogger(__name__)


class SkipBadImages:
    """Iterate ``loader``'s batches (lists of dicts) without the ``skipped`` dicts.

    ``skipped``: (file name, reason) of every dict left out, in loader order.
    """

    def __init__(self, loader):
        self.loader = loader
        self.skipped: List[tuple] = []

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[List[Dict]]:
        self.skipped = []
        for batch in self.loader:
            kept = []
            for item in batch:
                if "skipped" in item:
                    self.skipped.append((item.get("file_name"), item["skipped"]))
                else:
                    kept.append(item)
            if kept:
                yield kept
        if self.skipped:
            logger.warning(
                f"{len(self.skipped)} images skipped (unusable); evaluators count them as "
                "images without detections: "
                + ", ".join(str(name) for name, _ in self.skipped[:20])
                + (f" and {len(self.skipped) - 20} more" if len(self.skipped) > 20 else "")
            )


def build_face_test_loader(cfg, dataset_name: str) -> SkipBadImages:
    """Detectron2's test loader of ``dataset_name`` with the face mapper (test mode),
    unusable images skipped (or an error, with ``INPUT.BAD_INPUT.FAIL_FAST``)."""
    mapper = WiderFaceDatasetMapper(cfg, is_train=False)
    return SkipBadImages(build_detection_test_loader(cfg, dataset_name, mapper=mapper))
