"""Save WIDER FACE precision-recall curves: a PNG (three subsets, AP in the legend) and JSON."""

import json
import math
from typing import Mapping

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .wider_face_protocol import THRESHOLDS, WiderFacePRCurve

__all__ = ["pr_curves_to_dict", "save_pr_curves_json", "save_pr_curves_png"]


def _finite_or_none(values):
    return [v if math.isfinite(v) else None for v in map(float, values)]


def pr_curves_to_dict(curves: Mapping[str, WiderFacePRCurve]) -> dict:
    """JSON-ready dict: thresholds, then per subset AP (fraction), faces and the (1000,) curves.

    NaN precisions (thresholds without proposals) become null.
    """
    result = {"thresholds": THRESHOLDS.tolist()}
    for subset, curve in curves.items():
        result[subset] = {
            "ap": curve.ap if math.isfinite(curve.ap) else None,
            "num_faces": curve.num_faces,
            "precision": _finite_or_none(curve.precision),
            "recall": _finite_or_none(curve.recall),
            "proposals": curve.proposals.tolist(),
            "true_positives": curve.true_positives.tolist(),
        }
    return result


def save_pr_curves_json(curves: Mapping[str, WiderFacePRCurve], path: str) -> None:
    with open(path, "w") as f:
        json.dump(pr_curves_to_dict(curves), f)


def save_pr_curves_png(
    curves: Mapping[str, WiderFacePRCurve], path: str, title: str = "WIDER FACE val"
) -> None:
    """One panel per subset, precision against recall, AP (percent) in the legend."""
    figure = Figure(figsize=(4 * len(curves), 4), dpi=100)
    FigureCanvasAgg(figure)
    for k, (subset, curve) in enumerate(curves.items()):
        axes = figure.add_subplot(1, len(curves), k + 1)
        axes.plot(curve.recall, curve.precision, label=f"AP {100 * curve.ap:.1f}")
        axes.set(
            xlim=(0, 1),
            ylim=(0, 1.01),
            xlabel="Recall",
            ylabel="Precision",
            title=f"{title}: {subset}",
        )
        axes.grid(True, alpha=0.3)
        axes.legend(loc="lower left")
    figure.tight_layout()
    figure.savefig(path)
