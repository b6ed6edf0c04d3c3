#!/usr/bin/env python
"""Does the seg branch learn, and what does its loss do to the features? Per level.

    python -m dev.seg_diagnosis --config-file configs/Synth/df2s2_R_18_photo.yaml \\
        --weights init output/quickstart/train/model_0000249.pth output/quickstart/train/model_final.pth \\
        --batches 4 --output results/seg_diagnosis

For the model of the config at init (``init``: its seeded init) and at each checkpoint, on
the first ``--batches`` batches of the config's training loader (the same batches for
every checkpoint: they depend on ``SEED`` only):

- the seg map's pixel AP per level (P2 ... P7): the sigmoid of the seg logits ranked
  against the box-mask targets, ignored cells left out, all-point AP; and the fraction of
  foreground cells, the chance level of that AP;
- per loss term (``loss_cls``, ``loss_box_reg``, ``loss_seg``, each as trained, lambda2
  included), after its own backward pass: the gradient norm at each output level
  (P2 ... P7, the features the head reads), into the shared tower (``head.cls_subnet``)
  and into the F-blocks' Psi.

The losses are normalised by each batch's foreground count (RetinaNet's running
normaliser is not in a checkpoint), so the gradients compare between terms and
checkpoints, not with a training log. Writes ``seg_diagnosis.json``, ``seg_diagnosis.md``
and ``seg_diagnosis.png`` to ``--output``.
"""
import df2s2_d2  # noqa: F401  first: hides Detectron2's known import-time warnings
import json
import os
from itertools import islice
from typing import Dict, List

import numpy as np
import torch

from detectron2.checkpoint import DetectionCheckpointer
from detectron2.modeling import build_model
from detectron2.utils.events import EventStorage

from df2s2_d2 import get_df2s2_cfg
from df2s2_d2.argument_parser import config_argument_parser
from df2s2_d2.data import WiderFaceDatasetMapper, build_face_train_loader
from df2s2_deploy.evaluation.box_ap import all_point_ap

TERMS = ("loss_cls", "loss_box_reg", "loss_seg")


def pixel_ap(logits: torch.Tensor, target: torch.Tensor) -> Dict[str, float]:
    """AP of (N, 1, H, W) seg logits against (N, H, W) targets in {-1, 0, 1} (-1 ignored)."""
    valid = target >= 0
    scores = logits[:, 0][valid].detach().float().numpy()
    labels = (target[valid] > 0).numpy()
    if labels.sum() == 0:
        return {"ap": float("nan"), "foreground": 0.0}
    order = np.argsort(-scores, kind="stable")
    return {"ap": all_point_ap(labels[order], int(labels.sum())), "foreground": float(labels.mean())}


def _norm(tensors) -> float:
    grads = [t.grad for t in tensors if t.grad is not None]
    return float(torch.sqrt(sum((g.float() ** 2).sum() for g in grads))) if grads else 0.0


def diagnose(model, batch) -> Dict:
    """Pixel AP per level and the gradient norms of each loss term, on one batch."""
    captured = {}
    original_seg_loss = model.seg_loss

    def capture(seg_logits, targets):
        captured["logits"], captured["targets"] = seg_logits, targets
        return original_seg_loss(seg_logits, targets)

    levels = {}

    def level_hook(module, inputs, output):
        for key, value in output.items():
            value.retain_grad()
            levels[key] = value

    hook = model.backbone.register_forward_hook(level_hook)
    model.seg_loss = capture
    model.train()
    if hasattr(model, "loss_normalizer_momentum"):
        model.loss_normalizer_momentum = 0.0
    try:
        with EventStorage(0):
            losses = model(batch)
    finally:
        hook.remove()
        del model.seg_loss
    tower = list(model.head.cls_subnet.parameters())
    psi = [p for name, p in model.backbone.named_parameters() if ".psi." in name]
    gradients = {}
    for k, term in enumerate(TERMS):
        model.zero_grad()
        for value in levels.values():
            value.grad = None
        losses[term].backward(retain_graph=k < len(TERMS) - 1)
        gradients[term] = {"loss": float(losses[term].detach()), "tower": _norm(tower), "psi": _norm(psi),
                           **{name: _norm([value]) for name, value in levels.items()}}
    seg = {name: pixel_ap(logits, target) for name, logits, target in
           zip(model.head_in_features, captured["logits"], captured["targets"])}
    return {"pixel_ap": seg, "gradients": gradients}


def mean_over_batches(rows: List[Dict]) -> Dict:
    """The per-batch dicts averaged (nan-aware for the pixel AP of levels without foreground)."""
    out = {"pixel_ap": {}, "gradients": {}}
    for level in rows[0]["pixel_ap"]:
        aps = [r["pixel_ap"][level]["ap"] for r in rows if not np.isnan(r["pixel_ap"][level]["ap"])]
        out["pixel_ap"][level] = {"ap": float(np.mean(aps)) if aps else float("nan"),
                                  "foreground": float(np.mean([r["pixel_ap"][level]["foreground"] for r in rows]))}
    for term in TERMS:
        out["gradients"][term] = {k: float(np.mean([r["gradients"][term][k] for r in rows]))
                                  for k in rows[0]["gradients"][term]}
    return out


def markdown(results: Dict[str, Dict], levels: List[str]) -> str:
    lines = ["# The seg branch along training: pixel AP and gradients per level", "",
             "Written by `python -m dev.seg_diagnosis`; means over the same training batches.", "",
             "## Seg map pixel AP (chance: the foreground fraction)", "",
             "| checkpoint | " + " | ".join(levels) + " |", "|---|" + "---|" * len(levels)]
    for name, r in results.items():
        lines.append(f"| {name} | " + " | ".join(
            f"{r['pixel_ap'][lv]['ap']:.3f} ({r['pixel_ap'][lv]['foreground']:.3f})" for lv in levels) + " |")
    lines += ["", "## Gradient norm each loss term sends (after its own backward pass)", "",
              "| checkpoint | term | loss | tower | Psi | " + " | ".join(levels) + " |",
              "|---|---|---|---|---|" + "---|" * len(levels)]
    for name, r in results.items():
        for term in TERMS:
            g = r["gradients"][term]
            lines.append(f"| {name} | {term} | {g['loss']:.4f} | {g['tower']:.3g} | {g['psi']:.3g} | "
                         + " | ".join(f"{g[lv]:.3g}" for lv in levels) + " |")
    lines += ["", "![gradients and pixel AP](seg_diagnosis.png)"]
    return "\n".join(lines) + "\n"


def plot(results: Dict[str, Dict], levels: List[str], out_png: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results) + 1, figsize=(4 * (len(results) + 1), 3.2))
    x = np.arange(len(levels))
    for ax, (name, r) in zip(axes, results.items()):
        for term in TERMS:
            ax.semilogy(x, [max(r["gradients"][term][lv], 1e-12) for lv in levels], "o-", label=term)
        ax.set_xticks(x, levels)
        ax.set_title(f"{name}: gradient norm at each level", fontsize=8)
    axes[0].legend(fontsize=7)
    for name, r in results.items():
        axes[-1].plot(x, [r["pixel_ap"][lv]["ap"] for lv in levels], "o-", label=name)
    axes[-1].set_xticks(x, levels)
    axes[-1].set_ylim(0, 1)
    axes[-1].set_title("seg map pixel AP", fontsize=8)
    axes[-1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out_png, dpi=80)


def main() -> None:
    parser = config_argument_parser(__doc__.splitlines()[1])
    parser.add_argument("--weights", nargs="+", default=["init"], help="'init' or checkpoint files")
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--output", default="results/seg_diagnosis")
    args = parser.parse_args()
    cfg = get_df2s2_cfg(args.config_file, ["DATALOADER.NUM_WORKERS", 0, *args.opts])
    loader = build_face_train_loader(cfg, mapper=WiderFaceDatasetMapper(cfg, is_train=True))
    batches = list(islice(iter(loader), args.batches))
    results = {}
    for weights in args.weights:
        torch.manual_seed(cfg.SEED)
        model = build_model(cfg)
        if weights != "init":
            DetectionCheckpointer(model).load(weights)
        name = "init" if weights == "init" else os.path.basename(weights)
        results[name] = mean_over_batches([diagnose(model, batch) for batch in batches])
        print(name, json.dumps(results[name]["pixel_ap"]), flush=True)
    levels = list(cfg.MODEL.RETINANET.IN_FEATURES)
    os.makedirs(args.output, exist_ok=True)
    with open(os.path.join(args.output, "seg_diagnosis.json"), "w") as f:
        json.dump({"config": args.config_file, "opts": args.opts, "batches": args.batches,
                   "checkpoints": results}, f, indent=1)
    with open(os.path.join(args.output, "seg_diagnosis.md"), "w") as f:
        f.write(markdown(results, levels))
    plot(results, levels, os.path.join(args.output, "seg_diagnosis.png"))


if __name__ == "__main__":
    main()
