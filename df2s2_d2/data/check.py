"""Check registered datasets before training: find bad files now, not at hour ten.

    python -m df2s2_d2.data.check wider_face_train wider_face_val
    python -m df2s2_d2.data.check --config-file configs/WIDER-FACE/df2s2_R_50.yaml

Every image is decoded fully (truncated, empty and corrupt files fail), its decoded
size is compared with the dict's ``height`` / ``width``, it is checked to survive the
training and test resizes of the config (no side rounding to 0 px), and every box goes
through the validation the training mapper uses (``box_validation``). A progress bar,
then a summary table and the problems by file. Exit status 0 when every dataset is
clean, 1 when something is wrong, 2 for a usage error.

Importing ``df2s2_d2`` registers ``wider_face_*`` and ``synth_faces_*``; without dataset
names the config's ``DATASETS.TRAIN`` and ``DATASETS.TEST`` are checked.
"""

import argparse
import collections
import sys
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import tqdm
from detectron2.data import DatasetCatalog
from tabulate import tabulate

from ..config import get_df2s2_cfg
from .box_validation import DROP_REASONS, validate_annotations
from .image_reading import BadImageError, read_image
from .transforms import CheckedResizeShortestEdge, DegenerateImageError, fit_to_square_transform

__all__ = ["DatasetReport", "check_dataset", "main"]

IMAGE_PROBLEMS = {
    "unreadable": "image cannot be read (missing, empty, truncated, not an image)",
    "size_mismatch": "decoded size differs from the dict's height / width",
    "too_thin": "a side rounds to 0 px when resized",
}


@dataclass
class DatasetReport:
    """What :func:`check_dataset` found in one dataset.

    problems: kind (a key of ``IMAGE_PROBLEMS`` or ``boxes_<reason>``) -> messages
    naming the file; error: why the dataset could not be loaded at all.
    """

    name: str
    images: int = 0
    boxes: int = 0
    problems: Dict[str, List[str]] = field(default_factory=lambda: collections.defaultdict(list))
    error: Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.error is None and not any(self.problems.values())

    def count(self, kind: str) -> int:
        return len(self.problems.get(kind, []))


def _check_resizes(image, cfg, file_name: str) -> Optional[str]:
    """Why ``image`` cannot go through the train / test resizes of ``cfg``, or None."""
    h, w = image.shape[:2]
    try:
        test_resize = CheckedResizeShortestEdge(cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TEST)
        test_resize.get_transform(image)
        fit_to_square_transform(h, w, cfg.INPUT.FACE_AUG.TRAIN_SIZE, 0.0)
    except DegenerateImageError as e:
        return f"{file_name}: {e}"
    return None


def check_dataset(name: str, cfg, progress: bool = True) -> DatasetReport:
    """Decode every image of dataset ``name`` and validate its dicts (see module doc)."""
    report = DatasetReport(name)
    try:
        dicts = DatasetCatalog.get(name)
    except KeyError:
        report.error = (
            f"'{name}' is not a registered dataset (registered: {', '.join(DatasetCatalog.list())})"
        )
        return report
    except (OSError, ValueError) as e:  # a format error names the file and line
        report.error = f"cannot be loaded: {e}"
        return report
    for d in tqdm.tqdm(dicts, desc=name, unit="img", disable=not progress):
        report.images += 1
        file_name = d.get("file_name", "<no file_name>")
        height, width = d.get("height"), d.get("width")
        try:
            image = read_image(file_name, format=cfg.INPUT.FORMAT)
        except BadImageError as e:
            report.problems["unreadable"].append(str(e))
            image = None
        if image is not None:
            decoded = image.shape[:2]
            if height is not None and width is not None and (height, width) != decoded:
                report.problems["size_mismatch"].append(
                    f"{file_name}: decoded {decoded[1]} x {decoded[0]} (width x height), "
                    f"the dict says {width} x {height}"
                )
            height, width = decoded
            problem = _check_resizes(image, cfg, file_name)
            if problem:
                report.problems["too_thin"].append(problem)
        annotations = d.get("annotations", [])
        report.boxes += len(annotations)
        if height is None or width is None:
            continue  # unreadable and no size in the dict: the boxes cannot be placed
        _, dropped = validate_annotations(annotations, height, width)
        for reason, n in dropped.items():
            report.problems[f"boxes_{reason}"].append(
                f"{file_name}: {n} box(es) {DROP_REASONS[reason]}"
            )
    return report


def summary_table(reports: Sequence[DatasetReport]) -> str:
    kinds = list(IMAGE_PROBLEMS) + [f"boxes_{r}" for r in DROP_REASONS]
    headers = ["dataset", "images", "boxes"] + kinds + ["status"]
    rows = []
    for r in reports:
        status = "OK" if r.ok else ("NOT LOADED" if r.error else "PROBLEMS")
        rows.append([r.name, r.images, r.boxes] + [r.count(k) for k in kinds] + [status])
    return tabulate(rows, headers=headers, tablefmt="pipe")


def _print_problems(reports: Sequence[DatasetReport], max_list: int) -> None:
    descriptions = dict(
        IMAGE_PROBLEMS, **{f"boxes_{r}": f"boxes dropped: {d}" for r, d in DROP_REASONS.items()}
    )
    for r in reports:
        if r.error:
            print(f"\n{r.name}: {r.error}")
        for kind, messages in r.problems.items():
            if not messages:
                continue
            print(f"\n{r.name}: {len(messages)} x {descriptions[kind]}")
            for message in messages[:max_list]:
                print(f"  {message}")
            if len(messages) > max_list:
                print(f"  ... and {len(messages) - max_list} more")


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m df2s2_d2.data.check", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("datasets", nargs="*", metavar="DATASET", help="registered dataset names")
    parser.add_argument(
        "--config-file",
        metavar="FILE",
        help="config whose INPUT sizes / format (and, without "
        "DATASET, DATASETS.TRAIN / TEST) are used; default: the project's defaults",
    )
    parser.add_argument("--max-list", type=int, default=20, help="problems listed per kind")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--opts", nargs=argparse.REMAINDER, default=[], help="config options: KEY VALUE pairs"
    )
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = get_parser()
    args = parser.parse_args(argv)
    try:
        cfg = get_df2s2_cfg(args.config_file, args.opts)
    except (OSError, ValueError) as e:
        parser.exit(2, f"error: {e}\n")
    names = list(args.datasets) or list(cfg.DATASETS.TRAIN) + list(cfg.DATASETS.TEST)
    if not names:
        parser.exit(2, "error: name at least one DATASET, or a --config-file with DATASETS\n")
    reports = [check_dataset(name, cfg, progress=not args.no_progress) for name in names]
    print(summary_table(reports))
    _print_problems(reports, args.max_list)
    bad = [r.name for r in reports if not r.ok]
    print(f"\n{'Problems in: ' + ', '.join(bad) if bad else 'All datasets are clean.'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
