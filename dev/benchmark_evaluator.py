#!/usr/bin/env python
"""Time the WIDER FACE evaluator against the algorithm of the popular Python port.

On the real val ground truth, writes a seeded, realistic prediction set (jittered
ground-truth boxes plus random false positives, about 150k detections) to a
temporary folder in the official format, then evaluates it with

- ours: `df2s2_deploy.evaluation.wider_face.evaluate_prediction_dir` (official protocol);
- port: a re-implementation, in this file, of the algorithm of the widely used
  Python port of the official MATLAB code (wondervictor/WiderFace-Evaluation):
  images keyed by event and line-1 name, float64 score normalisation from
  max 0 / min 1, rows left unsorted, float IoU with (x2 - x1 + 1) areas and the
  best-IoU gt, a per-threshold Python loop per image, and its voc_ap.

Runs alternate (ours, port, ours, port, ...) and the medians are reported, with
both results, as a markdown table.

    python dev/benchmark_evaluator.py [--gt GT_DIR] [--repeats 3] [--unsorted]

`--end-to-end` instead times whole command runs on the same set: `wider-face-eval`
(torch-free) and `python -m df2s2_d2.evaluation.wider_face` (the same code, imported
through the Detectron2 package), alternating, each under `/usr/bin/time -v`; it reports
the median wall time and the median peak resident memory. `--save-predictions DIR`
writes the prediction set to DIR (which must not exist yet) for use elsewhere.
"""

import argparse
import logging
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import scipy.io

from df2s2_deploy.evaluation.wider_face import evaluate_prediction_dir
from df2s2_deploy.evaluation.wider_face_ground_truth import SUBSETS, load_wider_face_ground_truth
from df2s2_deploy.evaluation.wider_face_predictions import write_prediction_file


def make_predictions(gt, seed: int, false_positives_per_image: float, unsorted: bool) -> dict:
    """(event, name) -> (n, 5) rows: ~90% of faces found with jitter, plus random false positives.

    Rows are sorted by score as detectors write them, unless `unsorted`.
    """
    rng = np.random.default_rng(seed)
    predictions = {}
    for key, boxes in zip(gt.image_keys, gt.boxes):
        boxes = boxes.astype(np.float64)
        sizes = np.maximum(boxes[:, 2:4], 1)
        found = rng.random(len(boxes)) < 0.9
        jitter = rng.normal(0, 0.08, (len(boxes), 4)) * np.concatenate([sizes, sizes], axis=1)
        hits = (boxes + jitter)[found]
        hit_scores = rng.beta(5, 1.5, len(hits)) * np.clip(np.sqrt(sizes[found, 0]) / 6, 0.3, 1)
        extent = (
            np.maximum(boxes[:, :2].max(axis=0) + sizes.max(axis=0), 256)
            if len(boxes)
            else np.array([1024, 768])
        )
        n_fp = rng.poisson(false_positives_per_image)
        fp_size = np.exp(rng.uniform(np.log(4), np.log(300), n_fp))[:, None] * rng.uniform(
            0.8, 1.25, (n_fp, 2)
        )
        fp_xy = rng.random((n_fp, 2)) * extent
        fps = np.concatenate([fp_xy, fp_size], axis=1)
        rows = np.concatenate(
            [np.column_stack([hits, hit_scores]), np.column_stack([fps, rng.beta(1, 6, n_fp)])]
        )
        rows[:, :4] = np.round(rows[:, :4], 1)
        rows[:, 4] = np.round(rows[:, 4], 6)
        order = rng.permutation(len(rows)) if unsorted else np.argsort(-rows[:, 4], kind="stable")
        predictions[key] = rows[order]
    return predictions


def write_predictions(pred_dir: str, predictions: dict) -> None:
    for (event, name), rows in predictions.items():
        os.makedirs(os.path.join(pred_dir, event), exist_ok=True)
        write_prediction_file(os.path.join(pred_dir, event, name + ".txt"), name, rows)


# ---- the Python port's algorithm (re-implemented from its description) ----


def port_read_predictions(pred_dir: str) -> dict:
    """{event: {name from line 1: (n, 5) rows in file order}}."""
    predictions = {}
    for event in os.listdir(pred_dir):
        images = {}
        for file_name in os.listdir(os.path.join(pred_dir, event)):
            with open(os.path.join(pred_dir, event, file_name)) as f:
                lines = f.readlines()
            name = lines[0].rstrip("\n\r").split("/")[-1]
            if name.endswith(".jpg"):
                name = name[:-4]
            rows = [[float(v) for v in line.rstrip("\r\n").split(" ")] for line in lines[2:]]
            images[name] = np.array(rows, dtype=np.float64).reshape(-1, 5)
        predictions[event] = images
    return predictions


def port_norm_score(predictions: dict) -> None:
    max_score, min_score = 0.0, 1.0
    for images in predictions.values():
        for rows in images.values():
            if len(rows):
                max_score = max(max_score, rows[:, -1].max())
                min_score = min(min_score, rows[:, -1].min())
    for images in predictions.values():
        for rows in images.values():
            if len(rows):
                rows[:, -1] = (rows[:, -1] - min_score) / (max_score - min_score)


def port_box_overlaps(boxes: np.ndarray, query: np.ndarray) -> np.ndarray:
    """(n, k) float IoU of x1, y1, x2, y2 boxes with (x2 - x1 + 1) areas."""
    iw = (
        np.minimum(boxes[:, None, 2], query[None, :, 2])
        - np.maximum(boxes[:, None, 0], query[None, :, 0])
        + 1
    )
    ih = (
        np.minimum(boxes[:, None, 3], query[None, :, 3])
        - np.maximum(boxes[:, None, 1], query[None, :, 1])
        + 1
    )
    area = (boxes[:, 2] - boxes[:, 0] + 1) * (boxes[:, 3] - boxes[:, 1] + 1)
    query_area = (query[:, 2] - query[:, 0] + 1) * (query[:, 3] - query[:, 1] + 1)
    inter = iw * ih
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = inter / (area[:, None] + query_area[None, :] - inter)
    iou[(iw <= 0) | (ih <= 0)] = 0
    return iou


def port_image_eval(pred, gt, ignore, iou_thresh=0.5):
    pred, gt = pred.copy(), gt.copy()
    pred_recall = np.zeros(pred.shape[0])
    recall_list = np.zeros(gt.shape[0])
    proposal_list = np.ones(pred.shape[0])
    pred[:, 2] += pred[:, 0]
    pred[:, 3] += pred[:, 1]
    gt[:, 2] += gt[:, 0]
    gt[:, 3] += gt[:, 1]
    overlaps = port_box_overlaps(pred[:, :4], gt)
    for h in range(pred.shape[0]):
        gt_overlap = overlaps[h]
        max_overlap, max_idx = gt_overlap.max(), gt_overlap.argmax()
        if max_overlap >= iou_thresh:
            if ignore[max_idx] == 0:
                recall_list[max_idx] = -1
                proposal_list[h] = -1
            elif recall_list[max_idx] == 0:
                recall_list[max_idx] = 1
        pred_recall[h] = len(np.where(recall_list == 1)[0])
    return pred_recall, proposal_list


def port_img_pr_info(thresh_num, pred_info, proposal_list, pred_recall):
    pr_info = np.zeros((thresh_num, 2))
    for t in range(thresh_num):
        thresh = 1 - (t + 1) / thresh_num
        r_index = np.where(pred_info[:, 4] >= thresh)[0]
        if len(r_index):
            r_index = r_index[-1]
            pr_info[t, 0] = len(np.where(proposal_list[: r_index + 1] == 1)[0])
            pr_info[t, 1] = pred_recall[r_index]
    return pr_info


def port_voc_ap(rec, prec):
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    for i in range(mpre.size - 1, 0, -1):
        mpre[i - 1] = np.maximum(mpre[i - 1], mpre[i])
    i = np.where(mrec[1:] != mrec[:-1])[0]
    return np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1])


def port_evaluation(pred_dir: str, gt_dir: str) -> dict:
    predictions = port_read_predictions(pred_dir)
    port_norm_score(predictions)
    mat = scipy.io.loadmat(os.path.join(gt_dir, "wider_face_val.mat"))
    events, files, face_boxes = mat["event_list"], mat["file_list"], mat["face_bbx_list"]
    thresh_num = 1000
    aps = {}
    for subset in SUBSETS:
        gt_list = scipy.io.loadmat(os.path.join(gt_dir, f"wider_{subset}_val.mat"))["gt_list"]
        count_face = 0
        pr_curve = np.zeros((thresh_num, 2))
        for i in range(len(events)):
            event = str(events[i][0][0])
            image_list = files[i][0]
            event_predictions = predictions.get(event, {})
            for j in range(len(image_list)):
                pred_info = event_predictions.get(str(image_list[j][0][0]), np.zeros((0, 5)))
                gt_boxes = face_boxes[i][0][j][0].astype(np.float64)
                keep_index = gt_list[i][0][j][0]
                count_face += len(keep_index)
                if len(gt_boxes) == 0 or len(pred_info) == 0:
                    continue
                ignore = np.zeros(gt_boxes.shape[0])
                if len(keep_index):
                    ignore[keep_index - 1] = 1
                pred_recall, proposal_list = port_image_eval(pred_info, gt_boxes, ignore)
                pr_curve += port_img_pr_info(thresh_num, pred_info, proposal_list, pred_recall)
        with np.errstate(divide="ignore", invalid="ignore"):
            precision = pr_curve[:, 1] / pr_curve[:, 0]
        aps[subset] = float(port_voc_ap(pr_curve[:, 1] / count_face, precision))
    return aps


# ---- benchmark ----


def ours(pred_dir: str, gt_dir: str) -> dict:
    curves, _, _ = evaluate_prediction_dir(pred_dir, gt_dir)
    return {subset: curves[subset].ap for subset in SUBSETS}


def commands(pred_dir: str, gt_dir: str) -> dict:
    """label -> argv of the two entry points of the same evaluation."""
    flags = ["--pred", pred_dir, "--gt", gt_dir, "--json"]
    script = shutil.which("wider-face-eval", path=os.path.dirname(sys.executable))
    if script is None:
        raise FileNotFoundError(
            f"wider-face-eval is not installed beside {sys.executable}: pip install -e ."
        )
    return {
        "wider-face-eval": [script, *flags],
        "python -m df2s2_d2.evaluation.wider_face": [
            sys.executable, "-m", "df2s2_d2.evaluation.wider_face", *flags
        ],
    }


def timed_run(argv) -> tuple:
    """(wall s, peak RSS MB, last stdout line) of one run under /usr/bin/time -v."""
    run = subprocess.run(
        ["/usr/bin/time", "-v", *argv], capture_output=True, text=True, check=True
    )
    wall = re.search(r"Elapsed \(wall clock\) time .*: (?:(\d+):)?(\d+):([\d.]+)", run.stderr)
    hours, minutes, seconds = wall.groups()
    rss_kb = re.search(r"Maximum resident set size \(kbytes\): (\d+)", run.stderr).group(1)
    elapsed = 3600 * int(hours or 0) + 60 * int(minutes) + float(seconds)
    return elapsed, int(rss_kb) / 1024, run.stdout.strip().splitlines()[-1]


def time_commands(pred_dir: str, gt_dir: str, repeats: int) -> None:
    """Alternate the two commands `repeats` times each; print medians as a markdown table."""
    runs = {label: [] for label in commands(pred_dir, gt_dir)}
    for _ in range(repeats):
        for label, argv in commands(pred_dir, gt_dir).items():
            runs[label].append(timed_run(argv))
    print(f"{repeats} interleaved runs each, medians (/usr/bin/time -v)\n")
    print("| command | wall (s) | peak RSS (MB) | APs (last line) |")
    print("| --- | --- | --- | --- |")
    for label, results in runs.items():
        wall = statistics.median(r[0] for r in results)
        rss = statistics.median(r[1] for r in results)
        print(f"| `{label}` | {wall:.2f} | {rss:.0f} | `{results[-1][2]}` |")


def main() -> None:
    default_gt = os.path.join(
        os.environ.get("WIDER_FACE_ANNOTATIONS", ""), "eval_tools", "ground_truth"
    )
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--gt", default=default_gt, help="folder of the official evaluation .mat files"
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed runs of each evaluator (interleaved)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--false-positives", type=float, default=34.0, help="mean random false positives per image"
    )
    parser.add_argument(
        "--unsorted", action="store_true", help="write each file's rows in random order"
    )
    parser.add_argument(
        "--end-to-end", action="store_true",
        help="time whole command runs (wall, peak memory) instead of the two algorithms",
    )
    parser.add_argument("--save-predictions", metavar="DIR", help="write the set to DIR and stop")
    args = parser.parse_args()
    # The generated set has a few negative sizes (jittered degenerate faces); the evaluator
    # reports them on every run. Keep the output to the table.
    logging.getLogger("df2s2_deploy").setLevel(logging.ERROR)

    gt = load_wider_face_ground_truth(args.gt)
    predictions = make_predictions(gt, args.seed, args.false_positives, args.unsorted)
    num_detections = sum(len(rows) for rows in predictions.values())
    if args.save_predictions:
        if os.path.exists(args.save_predictions):
            parser.error(f"{args.save_predictions} exists; give a new folder")
        write_predictions(args.save_predictions, predictions)
        print(f"Wrote {num_detections} detections of {len(predictions)} images to "
              f"{args.save_predictions}")
        return
    if args.end_to_end:
        with tempfile.TemporaryDirectory() as pred_dir:
            write_predictions(pred_dir, predictions)
            time_commands(pred_dir, args.gt, args.repeats)
        return
    with tempfile.TemporaryDirectory() as pred_dir:
        write_predictions(pred_dir, predictions)
        times = {"ours": [], "port": []}
        results = {}
        for _ in range(args.repeats):
            for label, evaluate in (("ours", ours), ("port", port_evaluation)):
                start = time.perf_counter()
                results[label] = evaluate(pred_dir, args.gt)
                times[label].append(time.perf_counter() - start)

    median = {label: statistics.median(values) for label, values in times.items()}
    num_faces = sum(len(b) for b in gt.boxes)
    order = "unsorted" if args.unsorted else "sorted"
    print(
        f"{len(gt.image_keys)} images, {num_faces} faces, {num_detections} detections"
        f" ({order} rows), {args.repeats} interleaved runs each, medians\n"
    )
    print("| evaluator | easy AP | medium AP | hard AP | time (s) |")
    print("| --- | --- | --- | --- | --- |")
    names = {"ours": "df2s2_deploy (official protocol)", "port": "Python port algorithm"}
    for label in ("ours", "port"):
        aps = " | ".join(f"{results[label][s]:.6f}" for s in SUBSETS)
        print(f"| {names[label]} | {aps} | {median[label]:.2f} |")
    print(f"\nspeed-up: {median['port'] / median['ours']:.1f}x")


if __name__ == "__main__":
    main()
