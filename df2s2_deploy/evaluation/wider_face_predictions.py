"""WIDER FACE prediction files: read them as the official `read_pred.m` does, write them.

One file per image, `<pred_dir>/<event>/<name>.txt`:

    <name>            line 1, ignored by the official reader
    <N>               line 2
    x y w h score     N lines (x, y top-left; w, h size)

The official reader reads exactly N rows after the count and takes the first
five numbers of each. A missing file, N = 0, or a file it cannot parse (a
count that is not a whole number, fewer than N rows, a row with fewer than
five numbers) gives the image no detections. This module does the same and
records each such case in a `PredictionReport`, naming the file and the line.
"""

import logging
import os
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional, Tuple

import numpy as np

from ..output_paths import replace_file
from .wider_face_ground_truth import ImageKey

__all__ = [
    "Issue",
    "PredictionReport",
    "row_problems",
    "read_prediction_file",
    "read_prediction_dir",
    "write_prediction_file",
    "write_prediction_dir",
    "image_key",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Issue:
    """Something the reader could not use or found odd.

    where: the file (or image); line: 1-based line in that file, if any.
    """

    where: str
    message: str
    line: Optional[int] = None

    def __str__(self) -> str:
        return (
            f"{self.where}:{self.line}: {self.message}"
            if self.line
            else f"{self.where}: {self.message}"
        )


@dataclass
class PredictionReport:
    """What reading predictions could not use, by kind.

    missing: images of the ground truth without a prediction file (no detections).
    unreadable: files the official reader rejects (the image gets no detections).
    unexpected: files or images that are not in the ground truth (ignored).
    warnings: files read, with something odd (extra rows, NaN/inf, negative sizes, ...).
    """

    missing: List[Issue] = field(default_factory=list)
    unreadable: List[Issue] = field(default_factory=list)
    unexpected: List[Issue] = field(default_factory=list)
    warnings: List[Issue] = field(default_factory=list)

    def counts(self) -> Dict[str, int]:
        return {
            kind: len(getattr(self, kind))
            for kind in ("missing", "unreadable", "unexpected", "warnings")
        }

    def log(self, log: logging.Logger = logger, max_per_kind: int = 20) -> None:
        """Log every kind: each issue up to `max_per_kind`, then how many more."""
        headers = {
            "missing": "images without a prediction file (no detections, as the official reader)",
            "unreadable": "prediction files rejected (no detections, as the official reader)",
            "unexpected": "predictions of images not in the ground truth (ignored)",
            "warnings": "prediction warnings",
        }
        for kind, header in headers.items():
            issues = getattr(self, kind)
            if not issues:
                continue
            log.warning("%d %s", len(issues), header)
            for issue in issues[:max_per_kind]:
                log.warning("  %s", issue)
            if len(issues) > max_per_kind:
                log.warning("  ... and %d more", len(issues) - max_per_kind)


def row_problems(rows: np.ndarray, where: str, first_line: Optional[int] = None) -> List[Issue]:
    """Issues of (n, 5) rows x, y, w, h, score: non-finite values, negative sizes.

    The rows are kept (the official code uses them); row k is at line
    `first_line + k` of its file when `first_line` is given.
    """
    if np.isfinite(rows).all() and (rows[:, 2:4] >= 0).all():
        return []  # the common case, in one pass
    issues = []
    checks = (
        (
            ~np.isfinite(rows[:, 4]),
            "score is NaN or inf (kept as the official code does: NaN sorts first and "
            "passes no threshold)",
        ),
        (
            ~np.isfinite(rows[:, :4]).all(axis=1),
            "non-finite coordinate (this detection can match no face)",
        ),
        (
            (rows[:, 2] < 0) | (rows[:, 3] < 0),
            "negative width or height (kept, as the official code does)",
        ),
    )
    for bad, message in checks:
        for k in np.flatnonzero(bad):
            line = first_line + int(k) if first_line is not None else None
            detail = "" if line is not None else f"detection {int(k)}: "
            issues.append(
                Issue(where, f"{detail}{message}: {' '.join(map(repr, rows[k].tolist()))}", line)
            )
    return issues


def _numbers(text: str) -> List[float]:
    """Numbers of one line as MATLAB `str2num` reads a list (spaces, tabs or commas)."""
    tokens = text.replace(",", " ").split()
    # Python's float() also reads '1_0', and digits of other scripts ('٣', '３'): MATLAB does not.
    if any("_" in token or not token.isascii() for token in tokens):
        raise ValueError(text)
    return [float(token) for token in tokens]


def _regular_rows(rows: List[str]) -> Optional[np.ndarray]:
    """(n, 5) float64 values of n rows that are each five numbers without commas; else None.

    The fast path of `read_prediction_file`: one conversion for the whole file. Any
    other file goes through its line-by-line reading, which reports what is wrong.
    """
    text = "\n".join(rows)
    # Python's float() also takes non-ASCII digits, which MATLAB's reader rejects.
    if not text.isascii() or "," in text or "_" in text or any(len(line.split()) != 5 for line in rows):
        return None
    try:
        return np.array(list(map(float, text.split())), dtype=np.float64).reshape(-1, 5)
    except ValueError:
        return None


def read_prediction_file(path: str, report: PredictionReport) -> np.ndarray:
    """Rows of one prediction file, in file order: (n, 5) float64 x, y, w, h, score.

    An empty (0, 5) array where the official reader gives no detections;
    every rejected or odd file adds its issues to `report`.
    """
    empty = np.zeros((0, 5))

    def reject(line: Optional[int], message: str) -> np.ndarray:
        report.unreadable.append(Issue(path, message, line))
        return empty

    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", errors="replace").split("\n")
    except OSError as e:
        return reject(None, f"cannot be read ({type(e).__name__}: {e.strerror or e})")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline ends the last line; it starts none
    lines = [line[:-1] if line.endswith("\r") else line for line in lines]

    if len(lines) < 2:
        return reject(None, f"expected a name line and a count line, found {len(lines)} line(s)")
    try:
        count = _numbers(lines[1])
    except ValueError:
        count = []
    if len(count) != 1 or not np.isfinite(count[0]) or count[0] != int(count[0]):
        return reject(
            2,
            "expected the number of detections (a whole number in ASCII digits), "
            f"found {lines[1]!r}",
        )
    count = int(count[0])
    if count < 0:
        report.warnings.append(Issue(path, f"negative count {count}: no detections", 2))
        return empty
    rows = lines[2 : 2 + count]
    if len(rows) < count:
        return reject(
            2, f"the count line says {count} detections, the file has {len(rows)} row(s) after it"
        )
    regular = _regular_rows(rows)
    values = np.empty((count, 5)) if regular is None else regular
    for k, line in enumerate(rows if regular is None else ()):
        try:
            numbers = _numbers(line)
        except ValueError:
            return reject(k + 3, f"expected numbers 'x y w h score', found {line!r}")
        if len(numbers) < 5:
            return reject(
                k + 3, f"expected 5 numbers 'x y w h score', found {len(numbers)}: {line!r}"
            )
        if len(numbers) > 5:
            report.warnings.append(
                Issue(
                    path,
                    f"{len(numbers)} numbers; the first 5 are used, as the official reader does",
                    k + 3,
                )
            )
        values[k] = numbers[:5]
    extra = [k for k, line in enumerate(lines[2 + count :]) if line.strip()]
    if extra:
        report.warnings.append(
            Issue(
                path,
                f"{len(extra)} row(s) after the {count} the count line announces; "
                "ignored, as the official reader does",
                3 + count + extra[0],
            )
        )
    report.warnings.extend(row_problems(values, path, first_line=3))
    return values


def read_prediction_dir(
    pred_dir: str, image_keys: Iterable[ImageKey]
) -> Tuple[Dict[ImageKey, np.ndarray], PredictionReport]:
    """Read `<pred_dir>/<event>/<name>.txt` for every (event, name) of the ground truth.

    Returns (event, name) -> (n, 5) float64 rows in file order (images whose
    file is missing or rejected are absent), and the report of what could not
    be used, including files that belong to no ground-truth image.
    """
    if not os.path.isdir(pred_dir):
        raise FileNotFoundError(f"{pred_dir}: prediction folder not found")
    image_keys = list(image_keys)
    expected = {(event, name + ".txt") for event, name in image_keys}
    report = PredictionReport()
    present, folders = _list_files(pred_dir, report)
    predictions = {}
    for event, name in image_keys:
        path = os.path.join(pred_dir, event, name + ".txt")
        if (event, name + ".txt") in folders:
            report.unreadable.append(
                Issue(path, "a folder, not a prediction file: the image gets no detections")
            )
            continue
        if (event, name + ".txt") not in present:
            report.missing.append(Issue(path, "no such file"))
            continue
        rows = read_prediction_file(path, report)
        if len(rows):
            predictions[(event, name)] = rows
    for event, file_name in sorted(folders - expected):
        report.unexpected.append(
            Issue(os.path.join(pred_dir, event, file_name), "a folder, not a prediction file")
        )
    for event, file_name in sorted(present - expected):
        report.unexpected.append(
            Issue(os.path.join(pred_dir, event, file_name), "not an image of the ground truth")
        )
    return predictions, report


def _list_files(pred_dir: str, report: PredictionReport) -> Tuple[set, set]:
    """{(event, file name)} of the files one folder down, and of the folders there whose
    name ends in .txt (reported where an image expects its file); anything else is reported."""
    files, txt_folders = set(), set()
    for entry in sorted(os.scandir(pred_dir), key=lambda e: e.name):
        if not entry.is_dir():
            report.unexpected.append(Issue(entry.path, "expected only event folders here"))
            continue
        for item in sorted(os.scandir(entry.path), key=lambda e: e.name):
            if item.is_file():
                files.add((entry.name, item.name))
            elif item.is_dir() and item.name.endswith(".txt"):
                txt_folders.add((entry.name, item.name))
            else:
                report.unexpected.append(Issue(item.path, "expected only prediction files here"))
    return files, txt_folders


def write_prediction_file(path: str, name: str, rows: np.ndarray) -> None:
    """Write (n, 5) rows x, y, w, h, score in the official format.

    Values are written as the shortest text that reads back to the same
    float64, so the files evaluate exactly as the rows they came from. The file is
    replaced, never written through a link.
    """
    rows = np.asarray(rows, dtype=np.float64).reshape(-1, 5)
    lines = [name, str(len(rows))] + [" ".join(map(repr, row)) for row in rows.tolist()]
    text = "\n".join(lines) + "\n"

    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            f.write(text)

    replace_file(path, write)  # a link at `path` is replaced, never written through


def write_prediction_dir(out_dir: str, predictions: Mapping[ImageKey, np.ndarray]) -> None:
    """Write `<out_dir>/<event>/<name>.txt` for every (event, name) -> (n, 5) rows."""
    for event in sorted({event for event, _ in predictions}):
        os.makedirs(os.path.join(out_dir, event), exist_ok=True)
    for (event, name), rows in predictions.items():
        write_prediction_file(os.path.join(out_dir, event, name + ".txt"), name, rows)


def image_key(file_name: str) -> ImageKey:
    """(event, name) of `.../<event>/<name>.jpg`: the prediction file `<event>/<name>.txt`."""
    event = os.path.basename(os.path.dirname(file_name))
    name = os.path.splitext(os.path.basename(file_name))[0]
    return event, name
