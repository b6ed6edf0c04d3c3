#!/usr/bin/env python
"""The pyramid's state on one training batch: F-block gates, level scales, gradients.

    python dev/pyramid_stats.py --config-file configs/Synth/df2s2_R_18_quick.yaml \\
        [--weights model_0000099.pth ...] [--label NAME] [--out stats.json] [KEY VALUE ...]

For the model of the config (its own init, or each ``--weights`` checkpoint) on the first
batch of the config's training loader (the batches depend on ``SEED`` only):

- per F-block (res4, res3, res2 of a ResNet): the std of Psi's output and the fraction of
  positions where the gate (1 + Psi) is negative, i.e. flips the sign of the shallow
  feature;
- per output level (p2 ... p7): the std of the feature;
- the loss terms and, after one backward pass, the gradient norm at each output level and
  of each group of parameters (bottom-up, F-blocks, projections, head). The losses are
  normalised by this batch's foreground count (RetinaNet's running normaliser is not in a
  checkpoint), so they compare between rows, not with a training log.
"""
import df2s2_d2  # noqa: F401  first: hides Detectron2's known import-time warnings
import json
import os
from typing import Dict

import torch

from detectron2.checkpoint import DetectionCheckpointer
from detectron2.modeling import build_model
from detectron2.utils.events import EventStorage

from df2s2_d2 import get_df2s2_cfg
from df2s2_d2.argument_parser import config_argument_parser
from df2s2_d2.data import WiderFaceDatasetMapper, build_face_train_loader
from df2s2_d2.modeling.backbone.ffp import FBlock

PARAMETER_GROUPS = ("backbone.bottom_up", "backbone.fblocks", "backbone.projections", "head")


def pyramid_stats(model, batch) -> Dict:
    """The statistics above for ``model`` (train mode) on ``batch`` (mapped dicts)."""
    gates, features = {}, {}
    hooks = []
    fblocks = [m for m in model.backbone.modules() if isinstance(m, FBlock)]
    for name, fblock in zip(getattr(model.backbone, "top_down_features", ()), fblocks):
        def gate_hook(module, inputs, output, name=name):
            shallow = inputs[0]
            context = output[..., : shallow.shape[-2], : shallow.shape[-1]]
            context = context.detach()
            gates[name] = {"psi_std": float(context.std()), "negative_gate": float(((1 + context) < 0).float().mean())}
        hooks.append(fblock.psi.register_forward_hook(gate_hook))

    def level_hook(module, inputs, output):
        for key, value in output.items():
            value.retain_grad()
            features[key] = value
    hooks.append(model.backbone.register_forward_hook(level_hook))
    model.train()
    model.zero_grad()
    if hasattr(model, "loss_normalizer_momentum"):  # this batch's foreground count alone
        model.loss_normalizer_momentum = 0.0
    with EventStorage(0):
        losses = model(batch)
    sum(losses.values()).backward()
    for hook in hooks:
        hook.remove()
    grads = {}
    for group in PARAMETER_GROUPS:
        norms = [p.grad.norm() ** 2 for n, p in model.named_parameters() if n.startswith(group) and p.grad is not None]
        if norms:
            grads[group] = float(torch.stack(norms).sum().sqrt())
    return {
        "gates": gates,
        "level_std": {k: float(v.detach().std()) for k, v in features.items()},
        "level_grad_norm": {k: float(v.grad.norm()) if v.grad is not None else None for k, v in features.items()},
        "losses": {k: float(v.detach()) for k, v in losses.items()},
        "parameter_grad_norm": grads,
    }


def markdown(results: Dict) -> str:
    """One row per measured model: gate flips per F-block, level std, level grad norms, losses."""
    first = next(iter(results.values()))
    gates, levels = list(first["gates"]), list(first["level_std"])
    head = (["model"] + [f"(1+Psi)<0 {g}" for g in gates] + [f"std {p}" for p in levels]
            + [f"grad {p}" for p in levels] + list(first["losses"]))
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, r in results.items():
        cells = ([f"{100 * r['gates'][g]['negative_gate']:.1f} %" for g in gates]
                 + [f"{r['level_std'][p]:.3g}" for p in levels]
                 + [f"{r['level_grad_norm'][p]:.2g}" for p in levels]
                 + [f"{v:.3g}" for v in r["losses"].values()])
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = config_argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--weights", nargs="*", default=[], help="checkpoints to measure (default: the init)")
    parser.add_argument("--out", help="add the statistics to this JSON file (rows of other runs are kept) and "
                        "write the markdown table of all of them beside it (.md)")
    parser.add_argument("--label", help="name of the measured model in the output (default: the checkpoint)")
    args = parser.parse_args()
    cfg = get_df2s2_cfg(args.config_file, ["DATALOADER.NUM_WORKERS", 0, *args.opts])
    if cfg.SEED >= 0:
        torch.manual_seed(cfg.SEED)
    model = build_model(cfg)
    batch = next(iter(build_face_train_loader(cfg, WiderFaceDatasetMapper(cfg, is_train=True))))
    results = {}
    for weights in args.weights or ["(init)"]:
        if weights != "(init)":
            DetectionCheckpointer(model).load(weights)
        name = f"{args.label} {os.path.basename(weights)}" if args.label else weights
        results[name] = pyramid_stats(model, batch)
    print(markdown(results))
    if args.out:
        if os.path.exists(args.out):
            with open(args.out) as f:
                results = {**json.load(f), **results}
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)
        with open(os.path.splitext(args.out)[0] + ".md", "w") as f:
            f.write(markdown(results))


if __name__ == "__main__":
    main()
