"""Procedural face scenes: the images of the synthetic face data set.

A scene is a textured background, a few non-faces that look a little like faces
(skin blobs without features, heads seen from behind, eyes without a head, balls),
people (a body, then a head) and, per face, the nuisances that make WIDER FACE
hard: scale (6 px up to half the short side), crowds with perspective, pose
(turned heads are narrower, one eye hidden), blur, occlusion by a foreground
object, extreme illumination, exaggerated expression. Each face's annotation is
its head ellipse's bounding box with WIDER FACE's six attribute codes and, but for
invalid faces, its five landmarks (:func:`head_landmarks`).

Everything is drawn with OpenCV from one ``np.random.Generator``: the same
generator state gives the same image.
"""

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

from df2s2_deploy.face_landmarks import LABELLED_HIDDEN, VISIBLE

MIN_FACE_PX = 6  # smallest face, sqrt(w * h) in pixels
_SHIFT = 4  # fixed-point bits of cv2 drawing coordinates (sub-pixel accuracy)

# RGB tones, light to dark, stored as BGR.
SKIN_BGR = [
    c[::-1]
    for c in [
        (255, 224, 189),
        (241, 194, 125),
        (224, 172, 105),
        (198, 134, 66),
        (141, 85, 36),
        (92, 51, 23),
    ]
]
HAIR_BGR = [
    c[::-1]
    for c in [
        (20, 20, 20),
        (60, 40, 30),
        (100, 70, 40),
        (200, 170, 100),
        (160, 160, 160),
        (140, 60, 30),
    ]
]


@dataclass
class SceneFace:
    """One annotated face: box (x, y, w, h) in pixels and WIDER FACE attribute codes."""

    x: int
    y: int
    w: int
    h: int
    blur: int = 0  # 0 clear, 1 normal, 2 heavy
    expression: int = 0  # 0 typical, 1 exaggerate
    illumination: int = 0  # 0 normal, 1 extreme
    invalid: int = 0  # 1: unrecognisable; an ignored face
    occlusion: int = 0  # 0 none, 1 partial (15-40 % covered), 2 heavy (40-70 %)
    pose: int = 0  # 0 typical, 1 atypical (turned head)
    # The five landmarks (x, y, v), v VISIBLE or LABELLED_HIDDEN; None: not annotated.
    landmarks: Optional[List[Tuple[float, float, int]]] = None

    @property
    def scale(self) -> float:
        return float(np.sqrt(self.w * self.h))

    def row(self) -> List[int]:
        """x, y, w, h, blur, expression, illumination, invalid, occlusion, pose."""
        return [
            self.x,
            self.y,
            self.w,
            self.h,
            self.blur,
            self.expression,
            self.illumination,
            self.invalid,
            self.occlusion,
            self.pose,
        ]


@dataclass(frozen=True)
class EventStyle:
    """A kind of scene: its WIDER-style event folder and what it holds."""

    name: str  # "<k>--<Name>"
    faces: Tuple[int, int]  # number of faces, inclusive range
    scale: Tuple[float, float]  # face sqrt(w*h) as a fraction of the short side
    distractors: Tuple[int, int]  # number of non-faces, inclusive range
    perspective: bool = False  # faces grow towards the bottom (crowds)


EVENTS = (
    EventStyle("0--Portrait", (1, 3), (0.15, 0.5), (0, 2)),
    EventStyle("1--Group", (3, 10), (0.06, 0.2), (1, 4)),
    EventStyle("2--Crowd", (10, 40), (0.0, 0.09), (2, 6), perspective=True),
    EventStyle("3--Street", (1, 8), (0.0, 0.3), (3, 8)),
)


def _pt(x: float, y: float) -> Tuple[int, int]:
    return int(round(x * (1 << _SHIFT))), int(round(y * (1 << _SHIFT)))


def _ellipse(img, cx, cy, ax, ay, color, thickness=-1, start=0, end=360, angle=0.0):
    cv2.ellipse(
        img,
        _pt(cx, cy),
        _pt(max(ax, 0.5), max(ay, 0.5)),
        angle,
        start,
        end,
        tuple(float(c) for c in color),
        thickness,
        cv2.LINE_AA,
        _SHIFT,
    )


def _line(img, p, q, color, thickness):
    cv2.line(
        img,
        _pt(*p),
        _pt(*q),
        tuple(float(c) for c in color),
        max(1, int(round(thickness))),
        cv2.LINE_AA,
        _SHIFT,
    )


def _jitter(rng, color, amount=12.0) -> np.ndarray:
    return np.clip(np.asarray(color, np.float64) + rng.uniform(-amount, amount, 3), 0, 255)


def background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """(H, W, 3) uint8 BGR: a two-colour gradient, multi-scale value noise, rectangles and lines."""
    c1, c2 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    t = (
        np.linspace(0, 1, height)[:, None, None]
        if rng.random() < 0.6
        else np.linspace(0, 1, width)[None, :, None]
    )
    img = np.broadcast_to(c1 * (1 - t) + c2 * t, (height, width, 3)).astype(np.float32, order="C")
    for cells, amplitude in ((4, 30.0), (16, 18.0), (64, 8.0)):
        noise = rng.uniform(-amplitude, amplitude, (cells, cells, 3)).astype(np.float32)
        img += cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    img = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(rng.integers(3, 13)):
        x0, y0 = rng.integers(0, width), rng.integers(0, height)
        x1, y1 = x0 + rng.integers(8, width // 2 + 9), y0 + rng.integers(8, height // 2 + 9)
        cv2.rectangle(
            img, (int(x0), int(y0)), (int(x1), int(y1)), rng.uniform(0, 255, 3).tolist(), -1
        )
    for _ in range(rng.integers(0, 6)):
        p = rng.uniform(0, 1, 2) * (width, height)
        q = rng.uniform(0, 1, 2) * (width, height)
        _line(img, p, q, rng.uniform(0, 255, 3), rng.uniform(1, 4))
    return img


@dataclass
class _Look:
    """How one head is drawn (colours already include the illumination gain)."""

    skin: np.ndarray
    hair: np.ndarray
    has_hair: bool
    glasses: bool
    yaw: float  # -1..1, features shift to this side
    expression: int


Box = Tuple[Tuple[float, float], Tuple[float, float]]  # top-left and bottom-right corners


def head_landmarks(
    face: SceneFace, yaw: float, occluder: Optional[Box] = None
) -> List[Tuple[float, float, int]]:
    """The five landmarks of the head that :func:`_draw_head` draws in ``face``'s box with
    yaw ``yaw``, in ``LANDMARK_NAMES`` order: (x, y, v) in the drawing's coordinates
    (those of the box). Draws no random number.

    Eyes: the centres of the eye ellipses (the far eye of a head turned by more than
    0.55, which is not drawn, where it would be); nose: the tip; mouth: the two ends
    of the lips (the closed mouth's arc, or the open mouth's ellipse with an
    exaggerated expression). v is LABELLED_HIDDEN for the far eye of a turned head
    and for points under ``occluder`` (the rectangle drawn over the face), VISIBLE
    otherwise; blur and illumination do not hide a point.
    """
    t, w, h = yaw, face.w, face.h
    cx, cy = face.x + w / 2, face.y + h / 2
    eye_y, spread = cy - 0.04 * h, 0.2 * w * (1 - 0.35 * abs(t))
    eyes = [
        (cx + 0.22 * t * w + side * spread, eye_y, abs(t) > 0.55 and side * t > 0)
        for side in (-1, 1)
    ]
    mx, my, half = cx + 0.25 * t * w, cy + 0.27 * h, 0.16 * w * (1 - 0.3 * abs(t))
    mouth_y = my + 0.02 * h if face.expression else my - 0.03 * h
    points = eyes + [
        (cx + 0.32 * t * w, cy + 0.1 * h, False),
        (mx - half, mouth_y, False),
        (mx + half, mouth_y, False),
    ]
    landmarks = []
    for x, y, hidden in points:
        if occluder is not None:
            (x0, y0), (x1, y1) = occluder
            hidden = hidden or (x0 <= x <= x1 and y0 <= y <= y1)
        landmarks.append((x, y, LABELLED_HIDDEN if hidden else VISIBLE))
    return landmarks


def light_gain(rng, face: SceneFace, normal: Tuple[float, float]) -> float:
    """The colour gain of a face's light: dark or bright with extreme illumination, else
    uniform in ``normal``."""
    if face.illumination:
        return rng.uniform(0.3, 0.5) if rng.random() < 0.5 else rng.uniform(1.5, 2.0)
    return rng.uniform(*normal)


def random_look(rng, face: SceneFace, gain: float) -> _Look:
    """A random skin tone, hair, glasses and head turn (wide for an atypical pose) for ``face``."""
    skin = _jitter(rng, SKIN_BGR[rng.integers(len(SKIN_BGR))])
    return _Look(
        skin=np.clip(skin * gain, 0, 255),
        hair=np.clip(_jitter(rng, HAIR_BGR[rng.integers(len(HAIR_BGR))]) * gain, 0, 255),
        has_hair=bool(rng.random() < 0.8),
        glasses=bool(rng.random() < 0.1),
        yaw=float(
            rng.uniform(0.5, 0.9) * rng.choice([-1, 1]) if face.pose else rng.uniform(-0.25, 0.25)
        ),
        expression=face.expression,
    )


def _draw_head(img, cx, cy, w, h, look: _Look) -> None:
    """Head ellipse filling the box (w, h) centred at (cx, cy), with hair, eyes, nose, mouth."""
    t, skin, dark = look.yaw, look.skin, look.skin * 0.7
    if look.has_hair:
        _ellipse(img, cx - 0.06 * t * w, cy - 0.16 * h, 0.55 * w, 0.44 * h, look.hair)
    if abs(t) < 0.5:
        for side in (-1, 1):
            _ellipse(img, cx + side * 0.49 * w, cy + 0.02 * h, 0.08 * w, 0.13 * h, dark)
    _ellipse(img, cx, cy, 0.5 * w, 0.5 * h, skin)
    if look.has_hair:
        _ellipse(
            img, cx - 0.12 * t * w, cy - 0.3 * h, 0.47 * w, 0.2 * h, look.hair, start=180, end=360
        )
    eye_y, spread = cy - 0.04 * h, 0.2 * w * (1 - 0.35 * abs(t))
    for side in (-1, 1):
        if abs(t) > 0.55 and side * t > 0:
            continue  # the far eye of a turned head is hidden
        ex = cx + 0.22 * t * w + side * spread
        _ellipse(img, ex, eye_y, 0.085 * w, 0.045 * h, np.minimum(skin + 90, 245))
        _ellipse(img, ex + 0.03 * t * w, eye_y, 0.045 * w, 0.045 * h, (35, 25, 20))
        _line(
            img,
            (ex - 0.1 * w, eye_y - 0.1 * h),
            (ex + 0.1 * w, eye_y - 0.11 * h),
            look.hair * 0.8,
            0.035 * h,
        )
        if look.glasses:
            _ellipse(img, ex, eye_y, 0.13 * w, 0.09 * h, (30, 30, 30), max(1, int(0.02 * h)))
    _ellipse(img, cx + 0.32 * t * w, cy + 0.1 * h, 0.06 * w, 0.045 * h, dark)
    mx, my, half = cx + 0.25 * t * w, cy + 0.27 * h, 0.16 * w * (1 - 0.3 * abs(t))
    lips = (60, 50, 150)
    if look.expression:
        _ellipse(img, mx, my + 0.02 * h, half, 0.1 * h, (30, 20, 60))
    else:
        _ellipse(img, mx, my - 0.03 * h, half, 0.05 * h, lips, max(1, int(0.03 * h)), 0, 180)


def _draw_body(img, rng, cx, cy, w, h, skin) -> None:
    """Neck and shoulders below a head of size (w, h)."""
    _ellipse(img, cx, cy + 1.45 * h, 1.05 * w, 0.8 * h, rng.uniform(0, 255, 3))
    cv2.rectangle(
        img,
        _pt(cx - 0.18 * w, cy + 0.3 * h),
        _pt(cx + 0.18 * w, cy + 0.8 * h),
        tuple(float(c) for c in skin * 0.8),
        -1,
        cv2.LINE_AA,
        _SHIFT,
    )


def _draw_occluder(img, rng, face: SceneFace, fraction: float) -> Box:
    """A foreground object covering ``fraction`` of the face box, entering from one side;
    returns its rectangle."""
    x, y, w, h = face.x, face.y, face.w, face.h
    m = 0.1  # overhang beyond the box, perpendicular to the entry side
    side = rng.integers(4)
    if side == 0:  # from the left
        p, q = (x - m * w, y - m * h), (x + fraction * w, y + (1 + m) * h)
    elif side == 1:  # from the right
        p, q = (x + (1 - fraction) * w, y - m * h), (x + (1 + m) * w, y + (1 + m) * h)
    elif side == 2:  # from below
        p, q = (x - m * w, y + (1 - fraction) * h), (x + (1 + m) * w, y + (1 + m) * h)
    else:  # from above
        p, q = (x - m * w, y - m * h), (x + (1 + m) * w, y + fraction * h)
    color = rng.uniform(0, 255, 3)
    cv2.rectangle(img, _pt(*p), _pt(*q), tuple(float(c) for c in color), -1, cv2.LINE_AA, _SHIFT)
    # a stripe of texture, so the occluder is an object and not a flat hole
    _line(img, p, q, color * 0.6, max(1.0, 0.05 * min(w, h)))
    return p, q


def _paint_face(img, rng, face: SceneFace, look: _Look, sigma: float) -> None:
    """Draw the head of ``face``; blur it with ``sigma`` (pixels) blended in by a soft mask."""
    cx, cy = face.x + face.w / 2, face.y + face.h / 2
    if sigma <= 0:
        _draw_head(img, cx, cy, face.w, face.h, look)
        return
    H, W = img.shape[:2]
    margin = 0.4 * max(face.w, face.h) + 3 * sigma + 2
    x0, y0 = max(int(face.x - margin), 0), max(int(face.y - margin), 0)
    x1, y1 = min(int(face.x + face.w + margin) + 1, W), min(int(face.y + face.h + margin) + 1, H)
    region = img[y0:y1, x0:x1]
    patch = region.copy()
    _draw_head(patch, cx - x0, cy - y0, face.w, face.h, look)
    mask = np.zeros(patch.shape[:2], np.float32)
    _ellipse(mask, cx - x0, cy - y0, 0.56 * face.w, 0.56 * face.h, (1.0,))
    patch = cv2.GaussianBlur(patch, (0, 0), sigma)
    mask = cv2.GaussianBlur(mask, (0, 0), sigma)[..., None]
    region[:] = (mask * patch + (1 - mask) * region).astype(np.uint8)


def _draw_distractor(img, rng, short: int, scale: Tuple[float, float]) -> None:
    """One non-face: a featureless skin blob, a head from behind, a pair of eyes or a ball."""
    H, W = img.shape[:2]
    s = float(np.exp(rng.uniform(np.log(MIN_FACE_PX * 2), np.log(max(scale[1] * short, 13)))))
    cx, cy = rng.uniform(0, W), rng.uniform(0, H)
    kind = rng.integers(4)
    if kind == 0:
        _ellipse(
            img, cx, cy, 0.45 * s, 0.55 * s, _jitter(rng, SKIN_BGR[rng.integers(len(SKIN_BGR))])
        )
    elif kind == 1:
        _ellipse(
            img, cx, cy, 0.45 * s, 0.55 * s, _jitter(rng, SKIN_BGR[rng.integers(len(SKIN_BGR))])
        )
        _ellipse(
            img,
            cx,
            cy - 0.1 * s,
            0.5 * s,
            0.55 * s,
            _jitter(rng, HAIR_BGR[rng.integers(len(HAIR_BGR))]),
        )
    elif kind == 2:
        for side in (-1, 1):
            _ellipse(img, cx + side * 0.2 * s, cy, 0.085 * s, 0.05 * s, (235, 235, 235))
            _ellipse(img, cx + side * 0.2 * s, cy, 0.045 * s, 0.045 * s, (35, 25, 20))
    else:
        color = rng.uniform(0, 255, 3)
        _ellipse(img, cx, cy, 0.5 * s, 0.5 * s, color)
        _ellipse(img, cx - 0.15 * s, cy - 0.15 * s, 0.12 * s, 0.12 * s, np.minimum(color + 80, 255))


def _attributes(rng) -> dict:
    return dict(
        blur=int(rng.choice(3, p=[0.7, 0.2, 0.1])),
        expression=int(rng.random() < 0.15),
        illumination=int(rng.random() < 0.12),
        invalid=int(rng.random() < 0.03),
        occlusion=int(rng.choice(3, p=[0.75, 0.17, 0.08])),
        pose=int(rng.random() < 0.15),
    )


def _overlaps(box, boxes: Sequence[SceneFace], limit: float = 0.1) -> bool:
    """Whether ``box`` covers more than ``limit`` of the smaller of itself and any of ``boxes``."""
    x, y, w, h = box
    for b in boxes:
        iw = min(x + w, b.x + b.w) - max(x, b.x)
        ih = min(y + h, b.y + b.h) - max(y, b.y)
        if iw > 0 and ih > 0 and iw * ih > limit * min(w * h, b.w * b.h):
            return True
    return False


def _place_faces(rng, height: int, width: int, event: EventStyle) -> List[SceneFace]:
    """Face boxes inside the image, overlapping each other by at most 10 %."""
    short = min(height, width)
    lo = max(MIN_FACE_PX, event.scale[0] * short)
    hi = max(lo, min(event.scale[1] * short, short / 2))
    faces: List[SceneFace] = []
    for _ in range(rng.integers(event.faces[0], event.faces[1] + 1)):
        attributes = _attributes(rng)
        for _try in range(30):
            if event.perspective:
                depth = rng.uniform(0.1, 1.0)  # 0 far (top) .. 1 near (bottom)
                scale = lo * (hi / lo) ** (depth * rng.uniform(0.8, 1.0))
            else:
                scale = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
            aspect = rng.uniform(1.35, 1.7) if attributes["pose"] else rng.uniform(1.1, 1.35)
            w = max(2, int(round(scale / np.sqrt(aspect))))
            h = max(2, int(round(scale * np.sqrt(aspect))))
            if w >= width or h >= height:
                continue
            x = int(rng.integers(0, width - w + 1))
            y = (
                int(round(depth * (height - h)))
                if event.perspective
                else int(rng.integers(0, height - h + 1))
            )
            if not _overlaps((x, y, w, h), faces):
                faces.append(SceneFace(x, y, w, h, **attributes))
                break
    return sorted(faces, key=lambda f: f.w * f.h)


def render_scene(
    rng: np.random.Generator, height: int, width: int, event: EventStyle, with_faces: bool = True
) -> Tuple[np.ndarray, List[SceneFace]]:
    """Draw one scene. Returns a (H, W, 3) uint8 BGR image and its faces, small to large."""
    img = background(rng, height, width)
    short = min(height, width)
    for _ in range(rng.integers(event.distractors[0], event.distractors[1] + 1)):
        _draw_distractor(img, rng, short, event.scale)
    faces = _place_faces(rng, height, width, event) if with_faces else []
    looks = []
    for face in faces:
        look = random_look(rng, face, light_gain(rng, face, (0.9, 1.1)))
        looks.append(look)
        _draw_body(img, rng, face.x + face.w / 2, face.y + face.h / 2, face.w, face.h, look.skin)
    for face, look in zip(faces, looks):
        if face.invalid:
            face.blur, sigma = 2, 0.3 * face.scale + 1.5
        else:
            sigma = (0.0, 0.04 * face.scale + 0.6, 0.1 * face.scale + 1.2)[face.blur]
        _paint_face(img, rng, face, look, sigma)
        occluder = None
        if face.occlusion:
            fraction = rng.uniform(0.15, 0.4) if face.occlusion == 1 else rng.uniform(0.4, 0.7)
            occluder = _draw_occluder(img, rng, face, fraction)
        if not face.invalid:  # an unrecognisable face has no landmarks
            face.landmarks = head_landmarks(face, look.yaw, occluder)
    noise = rng.normal(0, rng.uniform(2, 6), img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8), faces
