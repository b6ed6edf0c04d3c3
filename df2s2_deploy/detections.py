"""The detections of one image: boxes, scores and (for a model with them) five landmarks,
in the input image's pixels."""
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .face_landmarks import NUM_LANDMARKS

__all__ = ["Detections"]


@dataclass
class Detections:
    """boxes: (N, 4) float32 x1, y1, x2, y2 in input pixels; scores: (N,) float32, descending;
    landmarks: (N, 5, 2) float32 x, y in input pixels (order: ``face_landmarks.LANDMARK_NAMES``),
    or None for a model without landmarks."""

    boxes: np.ndarray
    scores: np.ndarray
    landmarks: Optional[np.ndarray] = None

    def __post_init__(self):
        self.boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
        self.scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        if len(self.boxes) != len(self.scores):
            raise ValueError(f"{len(self.boxes)} boxes but {len(self.scores)} scores")
        if self.landmarks is not None:
            points = np.asarray(self.landmarks, dtype=np.float32)
            self.landmarks = points.reshape(-1, NUM_LANDMARKS, 2)
            if len(self.landmarks) != len(self.scores):
                raise ValueError(f"landmarks of {len(self.landmarks)} faces but {len(self.scores)} scores")

    def __len__(self) -> int:
        return len(self.scores)

    def to_dict(self) -> dict:
        """JSON-ready: {"boxes": [[x1, y1, x2, y2], ...], "scores": [...]}, and with landmarks
        "landmarks": [[[x, y] x 5], ...]."""
        result = {"boxes": self.boxes.tolist(), "scores": self.scores.tolist()}
        if self.landmarks is not None:
            result["landmarks"] = self.landmarks.tolist()
        return result

    def to_wider_face_rows(self) -> np.ndarray:
        """(N, 5) float64 rows x, y, w, h, score of the WIDER FACE prediction files."""
        boxes = self.boxes.astype(np.float64)
        return np.column_stack([boxes[:, :2], boxes[:, 2:] - boxes[:, :2], self.scores])
