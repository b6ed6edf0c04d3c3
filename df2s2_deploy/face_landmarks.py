"""The five facial landmarks of RetinaFace and SCRFD, and their anchor encoding.

Order (RetinaFace's ``label.txt``): the eye centre with the smaller x on an upright
frontal face, the other eye centre, the nose tip, the mouth corner with the smaller x,
the other mouth corner. A horizontal flip swaps the two eyes and the two mouth corners.

Encoding (RetinaFace's ``encode_landm``): a point p on an anchor with centre c and size
(w, h) is ((p_x - c_x) / (VARIANCE * w), (p_y - c_y) / (VARIANCE * h)). The functions
use only arithmetic and indexing, so they take numpy arrays and torch tensors alike.
"""

NUM_LANDMARKS = 5
LANDMARK_NAMES = ("eye_1", "eye_2", "nose", "mouth_1", "mouth_2")
# Detectron2 metadata: pairs swapped by a horizontal flip.
LANDMARK_FLIP_MAP = (("eye_1", "eye_2"), ("mouth_1", "mouth_2"))
LANDMARK_FLIP_INDICES = (1, 0, 2, 4, 3)
VARIANCE = 0.1  # RetinaFace's variance[0], for centre offsets

# Third value of a point (Detectron2's / COCO's keypoint convention).
NOT_LABELLED, LABELLED_HIDDEN, VISIBLE = 0, 1, 2

__all__ = [
    "NUM_LANDMARKS",
    "LANDMARK_NAMES",
    "LANDMARK_FLIP_MAP",
    "LANDMARK_FLIP_INDICES",
    "VARIANCE",
    "NOT_LABELLED",
    "LABELLED_HIDDEN",
    "VISIBLE",
    "encode_landmarks",
    "decode_landmarks",
]


def _centres_and_sizes(anchors):
    """(R, 4) XYXY anchors -> centres (R, 1, 2) and sizes (R, 1, 2)."""
    sizes = anchors[:, 2:] - anchors[:, :2]
    centres = anchors[:, :2] + 0.5 * sizes
    return centres[:, None, :], sizes[:, None, :]


def encode_landmarks(points, anchors, variance: float = VARIANCE):
    """points: (R, 5, 2) x, y in pixels; anchors: (R, 4) XYXY -> (R, 10) targets
    (x0, y0, x1, y1, ...)."""
    centres, sizes = _centres_and_sizes(anchors)
    return ((points - centres) / (variance * sizes)).reshape(len(points), 2 * NUM_LANDMARKS)


def decode_landmarks(encoded, anchors, variance: float = VARIANCE):
    """encoded: (R, 10); anchors: (R, 4) XYXY -> (R, 5, 2) x, y in pixels."""
    centres, sizes = _centres_and_sizes(anchors)
    return encoded.reshape(len(encoded), NUM_LANDMARKS, 2) * (variance * sizes) + centres
