"""A training hook that says in the log when the loss rises for a long stretch after
the warm-up: a diverged run otherwise trains to the end without a word."""
import logging
import statistics
from typing import List, Optional, Sequence, Tuple

from detectron2.engine import HookBase

logger = logging.getLogger(__name__)


def loss_rise(losses: Sequence[Tuple[int, float]], warmup_iters: int, window: int = 20,
              patience: int = 5, rise: float = 0.2) -> Optional[str]:
    """A message when, after ``warmup_iters``, the median loss of each of the last
    ``patience`` windows of ``window`` iterations was more than ``rise`` above the lowest
    window median before them; else None.

    losses: (iteration, total loss) in iteration order.
    """
    windows: List[Tuple[int, float]] = []  # (first iteration, median) of complete windows
    for start in range(0, len(losses) - window + 1, window):
        chunk = losses[start:start + window]
        windows.append((chunk[0][0], statistics.median(v for _, v in chunk)))
    if len(windows) <= patience:
        return None
    recent, before = windows[-patience:], windows[:-patience]
    if recent[0][0] < warmup_iters:
        return None
    best_at, best = min(before, key=lambda w: w[1])
    if all(median > best * (1 + rise) for _, median in recent):
        last = losses[-1][0]
        return (f"the training loss has risen for {last - recent[0][0] + 1} iterations after the "
                f"warm-up: median {recent[-1][1]:.3g} at iterations {recent[-1][0]}-{last}, against "
                f"{best:.3g} at {best_at}-{best_at + window - 1}. The run may have diverged: check "
                "SOLVER.BASE_LR, SOLVER.CLIP_GRADIENTS and MODEL.FFP.PSI_INIT.")
    return None


class LossRiseWarning(HookBase):
    """Checks ``total_loss`` every ``window`` iterations with :func:`loss_rise`; warns once
    per rising stretch."""

    def __init__(self, warmup_iters: int, window: int = 20, patience: int = 5, rise: float = 0.2):
        self.warmup_iters, self.window, self.patience, self.rise = warmup_iters, window, patience, rise
        self.losses: List[Tuple[int, float]] = []
        self.warned = False

    def after_step(self):
        storage = self.trainer.storage
        if "total_loss" not in storage.histories():
            return
        self.losses.append((self.trainer.iter, storage.history("total_loss").latest()))
        if (self.trainer.iter + 1) % self.window:
            return
        message = loss_rise(self.losses, self.warmup_iters, self.window, self.patience, self.rise)
        if message and not self.warned:
            logger.warning(message)
        self.warned = message is not None
