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
    windows = [window_median(losses[start:start + window])
               for start in range(0, len(losses) - window + 1, window)]
    return rising_windows(windows, losses[-1][0] if losses else 0, warmup_iters, window, patience, rise)


def window_median(chunk: Sequence[Tuple[int, float]]) -> Tuple[int, float]:
    """(first iteration, median loss) of one window."""
    return chunk[0][0], statistics.median(v for _, v in chunk)


def rising_windows(windows: Sequence[Tuple[int, float]], last: int, warmup_iters: int, window: int,
                   patience: int, rise: float) -> Optional[str]:
    """:func:`loss_rise` on the complete windows' (first iteration, median); ``last``: the
    last iteration seen."""
    if len(windows) <= patience:
        return None
    recent, before = windows[-patience:], windows[:-patience]
    if recent[0][0] < warmup_iters:
        return None
    best_at, best = min(before, key=lambda w: w[1])
    if all(median > best * (1 + rise) for _, median in recent):
        return (f"the training loss has risen for {last - recent[0][0] + 1} iterations after the "
                f"warm-up: median {recent[-1][1]:.3g} at iterations {recent[-1][0]}-{last}, against "
                f"{best:.3g} at {best_at}-{best_at + window - 1}. The run may have diverged: check "
                "SOLVER.BASE_LR, SOLVER.CLIP_GRADIENTS and MODEL.FFP.PSI_INIT.")
    return None


class LossRiseWarning(HookBase):
    """Checks ``total_loss`` every ``window`` iterations with :func:`loss_rise` (each window's
    median computed once); warns once per rising stretch."""

    def __init__(self, warmup_iters: int, window: int = 20, patience: int = 5, rise: float = 0.2):
        self.warmup_iters, self.window, self.patience, self.rise = warmup_iters, window, patience, rise
        self.chunk: List[Tuple[int, float]] = []  # the window being filled
        self.windows: List[Tuple[int, float]] = []  # (first iteration, median) of complete ones
        self.warned = False

    def after_step(self):
        storage = self.trainer.storage
        if "total_loss" not in storage.histories():
            return
        self.chunk.append((self.trainer.iter, storage.history("total_loss").latest()))
        if (self.trainer.iter + 1) % self.window:
            return
        if len(self.chunk) >= self.window:
            self.windows.append(window_median(self.chunk[-self.window:]))
        self.chunk = []
        message = rising_windows(self.windows, self.trainer.iter, self.warmup_iters, self.window,
                                 self.patience, self.rise)
        if message and not self.warned:
            logger.warning(message)
        self.warned = message is not None
