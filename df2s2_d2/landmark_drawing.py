"""Five facial landmarks drawn on a Detectron2 ``Visualizer``: predictions (the demo) and
annotations (``tools/visualize_data.py``) alike."""
import numpy as np
from detectron2.utils.visualizer import Visualizer

from df2s2_deploy.face_landmarks import LANDMARK_NAMES

# RGB in [0, 1] (matplotlib's, as the Visualizer draws) of each landmark, by LANDMARK_NAMES:
# eyes cyan, nose yellow, mouth corners magenta.
_PART_COLORS = {"eye": (0.0, 0.9, 1.0), "nose": (1.0, 0.85, 0.0), "mouth": (1.0, 0.2, 0.8)}
LANDMARK_COLORS = tuple(_PART_COLORS[name.split("_")[0]] for name in LANDMARK_NAMES)


def draw_landmarks(visualizer: Visualizer, points: np.ndarray, boxes: np.ndarray) -> None:
    """Filled circles at the (N, 5, 2) `points` in `LANDMARK_COLORS`, radius 4 % of the
    face's shorter box side, between 1.5 and 4 px. (N, 5, 3) points (x, y, v): those with
    v <= 0 (not labelled) are left out."""
    sides = np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    for face, side in zip(points, sides):
        radius = float(np.clip(0.04 * side, 1.5, 4.0))
        for point, color in zip(face, LANDMARK_COLORS):
            if len(point) == 3 and point[2] <= 0:
                continue
            visualizer.draw_circle((float(point[0]), float(point[1])), color=color, radius=radius)
