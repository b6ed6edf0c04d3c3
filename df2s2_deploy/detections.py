"""The detections of one image: boxes and scores in the input image's pixels."""
from dataclasses import dataclass

import numpy as np

__all__ = ["Detections"]


@dataclass
class Detections:
    """boxes: (N, 4) float32 x1, y1, x2, y2 in input pixels; scores: (N,) float32, descending."""

    boxes: np.ndarray
    scores: np.ndarray

    def __post_init__(self):
        self.boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
        self.scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        if len(self.boxes) != len(self.scores):
            raise ValueError(f"{len(self.boxes)} boxes but {len(self.scores)} scores")

    def __len__(self) -> int:
        return len(self.scores)

    def to_dict(self) -> dict:
        """JSON-ready: {"boxes": [[x1, y1, x2, y2], ...], "scores": [...]}."""
        return {"boxes": self.boxes.tolist(), "scores": self.scores.tolist()}

    def to_wider_face_rows(self) -> np.ndarray:
        """(N, 5) float64 rows x, y, w, h, score of the WIDER FACE prediction files."""
        boxes = self.boxes.astype(np.float64)
        return np.column_stack([boxes[:, :2], boxes[:, 2:] - boxes[:, :2], self.scores])
