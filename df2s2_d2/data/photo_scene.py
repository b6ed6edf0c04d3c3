"""Photo-like face scenes: real face crops and procedural heads on people-free photos.

A scene is a background photo (a random crop, flipped and colour-shifted) or a
procedural background; non-faces (LFW's non-face crops, patches of other photos, the
cartoon distractors); people: a body, a head (skin, ears, hair) and, on it, a face:
one of LFW's real face crops, coloured with a skin tone, or a procedural face drawn by
:mod:`.synthetic_scene`. Then each face's nuisances (blur, occlusion by a piece of
another photo, extreme light) and the whole image's (grey, colour cast, motion blur,
noise, JPEG artefacts). The faces, their attribute codes and the event styles are
those of :mod:`.synthetic_scene`.

Boxes follow WIDER FACE's convention, brow to chin and cheek to cheek, not the whole
head: the placed box is the face, and the head is drawn around it (taller, and
reaching above the brow). A real face has no landmarks (its points are not known); a
procedural face has its five.

Everything comes from one ``np.random.Generator``: the same state gives the same image.
"""
from dataclasses import dataclass
from typing import List, Optional, Tuple

import cv2
import numpy as np

from .photo_sources import LFW_FACE_BOX, PhotoSources
from .synthetic_scene import (
    EventStyle,
    SceneFace,
    _draw_body,
    _draw_distractor,
    _draw_head,
    _ellipse,
    _Look,
    _place_faces,
    background,
    head_landmarks,
    light_gain,
    random_look,
)

# The LFW faces of the val split are never drawn in train: the generated val set is a
# held-out check of real face appearance.
VAL_FACES = 20


@dataclass(frozen=True)
class PhotoRecipe:
    """What a photo-like scene is made of; each field is one ingredient of the study
    (``dev/photo_ingredients.py``)."""

    real_faces: float = 0.75  # fraction of faces that are LFW crops; the rest procedural
    real_backgrounds: float = 0.85  # fraction of images on a background photo
    hard_negatives: bool = True  # LFW non-face crops and photo patches pasted as non-faces
    photometric: bool = True  # grey, colour cast, motion blur, JPEG of the whole image


def _background(rng, sources: PhotoSources, height: int, width: int) -> np.ndarray:
    """(H, W, 3) uint8: a random crop of a background photo, resized, flipped, colour-shifted."""
    _, photo = sources.backgrounds[rng.integers(len(sources.backgrounds))]
    ph, pw = photo.shape[:2]
    scale = min(ph / height, pw / width) * rng.uniform(0.35, 1.0)
    ch, cw = max(8, int(height * scale)), max(8, int(width * scale))
    y0, x0 = rng.integers(0, ph - ch + 1), rng.integers(0, pw - cw + 1)
    img = cv2.resize(photo[y0 : y0 + ch, x0 : x0 + cw], (width, height), interpolation=cv2.INTER_AREA)
    if rng.random() < 0.5:
        img = img[:, ::-1]
    gain = rng.uniform(0.6, 1.3) * rng.uniform(0.85, 1.15, 3)
    return np.clip(img * gain + rng.uniform(-20, 20), 0, 255).astype(np.uint8)


def _paste(img, patch: np.ndarray, mask: np.ndarray, x0: int, y0: int) -> None:
    """Alpha-blend ``patch`` (h, w, 3) with ``mask`` (h, w) in [0, 1] at (x0, y0), clipped."""
    H, W = img.shape[:2]
    h, w = mask.shape
    xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + w, W), min(y0 + h, H)
    if xa >= xb or ya >= yb:
        return
    p = patch[ya - y0 : yb - y0, xa - x0 : xb - x0].astype(np.float32)
    m = mask[ya - y0 : yb - y0, xa - x0 : xb - x0, None]
    region = img[ya:yb, xa:xb].astype(np.float32)
    img[ya:yb, xa:xb] = np.clip(m * p + (1 - m) * region, 0, 255).astype(np.uint8)


def _soft_ellipse(h: int, w: int, feather: float) -> np.ndarray:
    """(h, w) float32 mask: an ellipse filling the rectangle, edges blurred by ``feather`` px."""
    mask = np.zeros((h, w), np.float32)
    cv2.ellipse(mask, (w // 2, h // 2), (max(1, int(0.47 * w)), max(1, int(0.49 * h))), 0, 0, 360, 1.0, -1)
    return cv2.GaussianBlur(mask, (0, 0), max(feather, 0.5))


def _real_face_patch(rng, crop: np.ndarray, w: int, h: int, skin: np.ndarray) -> np.ndarray:
    """An LFW crop (25, 25) as a (h, w, 3) uint8 colour face: flipped, turned in the image
    plane, squeezed towards one side (a head turned a little), contrast and gamma changed,
    sharpened (a 25 px crop blown up is softer than a real face of that size), tinted with
    ``skin`` (BGR), with fine noise."""
    grey = crop[:, ::-1] if rng.random() < 0.5 else crop
    rot = cv2.getRotationMatrix2D((12.0, 12.0), rng.uniform(-12, 12), 1.0)
    grey = cv2.warpAffine(grey, rot, (25, 25), borderMode=cv2.BORDER_REFLECT)
    if rng.random() < 0.4:  # yaw: one side narrower than the other
        near, far = 1.0, rng.uniform(0.7, 0.9)
        src = np.float32([[0, 0], [24, 0], [24, 24], [0, 24]])
        dst = np.float32([[0, 12 * (1 - near)], [24, 12 * (1 - far)], [24, 12 + 12 * far], [0, 12 + 12 * near]])
        if rng.random() < 0.5:
            dst[:, 0] = 24 - dst[:, 0]
            dst = dst[[1, 0, 3, 2]]
        grey = cv2.warpPerspective(grey, cv2.getPerspectiveTransform(src, dst), (25, 25),
                                   borderMode=cv2.BORDER_REFLECT)
    grey = np.clip((grey - grey.mean()) * rng.uniform(0.8, 1.3) + grey.mean(), 0, 1) ** rng.uniform(0.7, 1.4)
    grey = cv2.resize(grey, (w, h), interpolation=cv2.INTER_CUBIC)
    if w > 30:
        soft = cv2.GaussianBlur(grey, (0, 0), w / 40)
        grey = np.clip(grey + rng.uniform(0.3, 1.2) * (grey - soft), 0, 1)
    centre = grey[h // 4 : 3 * h // 4 + 1, w // 4 : 3 * w // 4 + 1]
    tone = grey[..., None] / max(float(centre.mean()), 0.05)
    saturation = rng.uniform(0.5, 1.1)  # towards grey: LFW's light is not the scene's
    colour = skin * saturation + skin.mean() * (1 - saturation)
    face = tone * colour + rng.normal(0, rng.uniform(1, 5), (h, w, 1))
    return np.clip(face, 0, 255).astype(np.uint8)


def _draw_clothed_body(img, rng, sources: PhotoSources, cx, cy, w, h, skin) -> None:
    """Neck and shoulders below a head of size (w, h), the shoulders in the texture of a
    piece of a background photo (clothes are rarely one flat colour)."""
    _draw_body(img, rng, cx, cy, w, h, skin)
    bw, bh = max(2, int(2.1 * w)), max(2, int(1.6 * h))
    x0, y0 = int(cx - bw / 2), int(cy + 1.45 * h - bh / 2)
    _, photo = sources.backgrounds[rng.integers(len(sources.backgrounds))]
    side = int(rng.integers(16, max(17, min(photo.shape[:2]) // 2)))
    py, px = rng.integers(0, photo.shape[0] - side + 1), rng.integers(0, photo.shape[1] - side + 1)
    patch = cv2.resize(photo[py : py + side, px : px + side], (bw, bh)) * rng.uniform(0.5, 1.2, 3)
    mask = np.zeros((bh, bw), np.float32)
    cv2.ellipse(mask, (bw // 2, bh // 2), (max(1, bw // 2), max(1, bh // 2)), 0, 0, 360, 1.0, -1)
    _paste(img, np.clip(patch, 0, 255), mask * rng.uniform(0.5, 1.0), x0, y0)


def _head_around(face: SceneFace, real: bool) -> Tuple[float, float, float, float]:
    """(cx, cy, w, h) of the head ellipse whose face is ``face``'s box: the face box is brow
    to chin (chin at the head's bottom), cheek to cheek."""
    if real:
        w, h = 1.25 * face.w, 1.3 * face.h
    else:  # _draw_head's face spans 0.84 of its width, brow (0.14 above the centre) to chin
        w, h = face.w / 0.84, face.h / 0.64
    return face.x + face.w / 2, face.y + face.h + 0.02 * face.h - h / 2, w, h


def _draw_real_face(img, rng, face: SceneFace, crop: np.ndarray, look: _Look) -> None:
    """A head (ears, skin, hair) and on it the LFW crop, its face box on ``face``'s box."""
    cx, cy, w, h = _head_around(face, real=True)
    if look.has_hair:
        _ellipse(img, cx, cy - 0.08 * h, 0.53 * w, 0.5 * h, look.hair)
    for side in (-1, 1):
        _ellipse(img, cx + side * 0.47 * w, cy + 0.05 * h, 0.07 * w, 0.12 * h, look.skin * 0.8)
    _ellipse(img, cx, cy + 0.04 * h, 0.46 * w, 0.46 * h, look.skin * 0.9)
    if look.has_hair:
        _ellipse(img, cx, cy - 0.3 * h, 0.45 * w, 0.2 * h, look.hair, start=180, end=360)
    x0f, y0f, x1f, y1f = LFW_FACE_BOX
    cw = max(3, int(round(face.w / (x1f - x0f))))
    ch = max(3, int(round(face.h / (y1f - y0f))))
    x0 = int(round(face.x - x0f * cw))
    y0 = int(round(face.y - y0f * ch))
    patch = _real_face_patch(rng, crop, cw, ch, look.skin)
    _paste(img, patch, _soft_ellipse(ch, cw, 0.06 * cw), x0, y0)


def _draw_procedural_face(img, face: SceneFace, look: _Look) -> SceneFace:
    """A procedural head around ``face``'s box, shaded darker towards its sides; returns the
    head's box (what :func:`.synthetic_scene.head_landmarks` takes)."""
    cx, cy, w, h = _head_around(face, real=False)
    _draw_head(img, cx, cy, w, h, look)
    x0, y0 = int(cx - w / 2), int(cy - h / 2)
    shade = 1 - 0.35 * np.abs(np.linspace(-1, 1, max(1, int(w))))[None, :] ** 2
    mask = _soft_ellipse(max(1, int(h)), max(1, int(w)), 0.05 * w)
    H, W = img.shape[:2]
    xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + int(w), W), min(y0 + int(h), H)
    if xa < xb and ya < yb:
        m = mask[ya - y0 : yb - y0, xa - x0 : xb - x0] * (1 - shade[:, xa - x0 : xb - x0])
        img[ya:yb, xa:xb] = (img[ya:yb, xa:xb] * (1 - m[..., None])).astype(np.uint8)
    return SceneFace(int(round(cx - w / 2)), int(round(cy - h / 2)), int(round(w)), int(round(h)),
                     expression=face.expression)


def _draw_non_face(img, rng, sources: PhotoSources, short: int, event: EventStyle) -> None:
    """A non-face of face size: an LFW non-face crop, tinted, or a patch of another photo."""
    s = float(np.exp(rng.uniform(np.log(12), np.log(max(event.scale[1] * short, 16)))))
    w, h = max(3, int(s / 1.15)), max(3, int(s * 1.15))
    x0, y0 = int(rng.uniform(-0.2 * w, img.shape[1] - 0.8 * w)), int(rng.uniform(-0.2 * h, img.shape[0] - 0.8 * h))
    if rng.random() < 0.6:
        grey = cv2.resize(sources.non_faces[rng.integers(len(sources.non_faces))], (w, h))
        patch = np.clip(grey[..., None] * rng.uniform(80, 300, 3), 0, 255).astype(np.uint8)
    else:
        _, photo = sources.backgrounds[rng.integers(len(sources.backgrounds))]
        py, px = rng.integers(0, photo.shape[0] - 8), rng.integers(0, photo.shape[1] - 8)
        side = int(rng.integers(8, max(9, min(photo.shape[:2]) // 3)))
        patch = cv2.resize(photo[py : py + side, px : px + side], (w, h))
    mask = _soft_ellipse(h, w, 0.06 * w) if rng.random() < 0.5 else np.ones((h, w), np.float32)
    _paste(img, patch, mask, x0, y0)


def _occlude(img, rng, sources: PhotoSources, face: SceneFace, fraction: float):
    """A piece of a background photo covering ``fraction`` of the face from one side; returns
    its rectangle ((x0, y0), (x1, y1))."""
    x, y, w, h = face.x, face.y, face.w, face.h
    side = rng.integers(4)
    m = 0.1
    if side == 0:
        p, q = (x - m * w, y - m * h), (x + fraction * w, y + (1 + m) * h)
    elif side == 1:
        p, q = (x + (1 - fraction) * w, y - m * h), (x + (1 + m) * w, y + (1 + m) * h)
    elif side == 2:
        p, q = (x - m * w, y + (1 - fraction) * h), (x + (1 + m) * w, y + (1 + m) * h)
    else:
        p, q = (x - m * w, y - m * h), (x + (1 + m) * w, y + fraction * h)
    x0, y0, x1, y1 = int(p[0]), int(p[1]), max(int(q[0]), int(p[0]) + 1), max(int(q[1]), int(p[1]) + 1)
    _, photo = sources.backgrounds[rng.integers(len(sources.backgrounds))]
    patch = cv2.resize(photo[: photo.shape[0] // 2, : photo.shape[1] // 2], (x1 - x0, y1 - y0))
    _paste(img, patch, np.ones((y1 - y0, x1 - x0), np.float32), x0, y0)
    return p, q


def _blur_region(img, face: SceneFace, sigma: float) -> None:
    """Blur the face's head region with ``sigma`` px, blended in by a soft ellipse."""
    margin = 0.5 * max(face.w, face.h) + 3 * sigma + 2
    H, W = img.shape[:2]
    x0, y0 = max(int(face.x - margin), 0), max(int(face.y - margin), 0)
    x1, y1 = min(int(face.x + face.w + margin) + 1, W), min(int(face.y + face.h + margin) + 1, H)
    if x0 >= x1 or y0 >= y1:
        return
    region = img[y0:y1, x0:x1]
    blurred = cv2.GaussianBlur(region, (0, 0), sigma)
    mask = _soft_ellipse(y1 - y0, x1 - x0, sigma)
    _paste(img, blurred, mask, x0, y0)


def _whole_image(img, rng) -> np.ndarray:
    """Camera and light: grey, colour cast, motion blur, sensor noise, JPEG artefacts."""
    if rng.random() < 0.12:
        img = cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    if rng.random() < 0.3:
        img = np.clip(img * rng.uniform(0.75, 1.25, 3), 0, 255).astype(np.uint8)
    if rng.random() < 0.1:
        k = int(rng.integers(3, 9))
        kernel = np.zeros((k, k), np.float32)
        kernel[k // 2] = 1.0 / k
        rot = cv2.getRotationMatrix2D((k / 2 - 0.5, k / 2 - 0.5), rng.uniform(0, 180), 1.0)
        img = cv2.filter2D(img, -1, cv2.warpAffine(kernel, rot, (k, k)))
    if rng.random() < 0.3:
        ok, data = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(25, 80))])
        img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return img


def render_photo_scene(
    rng: np.random.Generator,
    height: int,
    width: int,
    event: EventStyle,
    sources: PhotoSources,
    recipe: PhotoRecipe = PhotoRecipe(),
    with_faces: bool = True,
    face_ids: Optional[np.ndarray] = None,
) -> Tuple[np.ndarray, List[SceneFace]]:
    """Draw one scene. Returns a (H, W, 3) uint8 BGR image and its faces, small to large.

    ``face_ids``: the indices of ``sources.faces`` this scene may draw (a split's faces).
    """
    face_ids = np.arange(len(sources.faces)) if face_ids is None else face_ids
    if rng.random() < recipe.real_backgrounds:
        img = np.ascontiguousarray(_background(rng, sources, height, width))
    else:
        img = background(rng, height, width)
    short = min(height, width)
    for _ in range(rng.integers(event.distractors[0], event.distractors[1] + 1)):
        if recipe.hard_negatives and rng.random() < 0.7:
            _draw_non_face(img, rng, sources, short, event)
        else:
            _draw_distractor(img, rng, short, event.scale)
    faces = _place_faces(rng, height, width, event) if with_faces else []
    people = []
    for face in faces:  # every body first: a body never covers a face drawn before it
        gain = light_gain(rng, face, (0.8, 1.15))
        real = bool(rng.random() < recipe.real_faces)
        look = random_look(rng, face, gain)
        cx, cy, w, h = _head_around(face, real)
        _draw_clothed_body(img, rng, sources, cx, cy, w, h, look.skin)
        people.append((face, real, look))
    for face, real, look in people:
        if real:
            if face.pose:  # a real crop cannot turn: a typical pose instead
                face.pose = 0
            _draw_real_face(img, rng, face, sources.faces[face_ids[rng.integers(len(face_ids))]], look)
            head = None
        else:
            head = _draw_procedural_face(img, face, look)
        sigma = (0.0, 0.04 * face.scale + 0.6, 0.1 * face.scale + 1.2)[face.blur]
        if face.invalid:
            face.blur, sigma = 2, 0.3 * face.scale + 1.5
        if sigma > 0:
            _blur_region(img, face, sigma)
        occluder = None
        if face.occlusion:
            fraction = rng.uniform(0.15, 0.4) if face.occlusion == 1 else rng.uniform(0.4, 0.7)
            occluder = _occlude(img, rng, sources, face, fraction)
        if head is not None and not face.invalid:
            face.landmarks = head_landmarks(head, look.yaw, occluder)
    if recipe.photometric:
        img = _whole_image(img, rng)
    noise = rng.normal(0, rng.uniform(1, 4), img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8), faces

