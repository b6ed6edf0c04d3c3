"""The training log says so when the loss rises for a long stretch after the warm-up."""
import logging
import random

from df2s2_d2.loss_watch import LossRiseWarning, loss_rise


def falling(n, start=2.0, seed=0):
    rng = random.Random(seed)
    return [(i, start * 0.997 ** i * rng.uniform(0.85, 1.15)) for i in range(n)]


def test_a_loss_that_rises_after_the_warm_up_is_reported():
    # As the collapsed quick start: falls to ~1.0 by iteration 80, then climbs to ~1.4 and stays.
    losses = [(i, 2.0 - i / 80) for i in range(80)] + [(i, 1.4) for i in range(80, 300)]
    message = loss_rise(losses, warmup_iters=100)
    assert message and "has risen for 100 iterations after the warm-up" in message
    assert "1.4 at iterations 280-299" in message


def test_a_noisy_falling_loss_is_not_reported():
    assert loss_rise(falling(500), warmup_iters=100) is None


def test_a_rise_during_the_warm_up_or_a_short_bump_is_not_reported():
    warmup_rise = [(i, 1.0 + i / 100) for i in range(100)] + [(i, 1.0) for i in range(100, 140)]
    assert loss_rise(warmup_rise, warmup_iters=100) is None
    bump = falling(200) + [(i, 3.0) for i in range(200, 260)] + [(i, 0.8) for i in range(260, 300)]
    assert loss_rise(bump, warmup_iters=100) is None


class Storage:
    def __init__(self):
        self.value = None

    def histories(self):
        return {"total_loss": None}

    def history(self, name):
        storage = self

        class History:
            def latest(self):
                return storage.value
        return History()


class Trainer:
    def __init__(self):
        self.iter, self.storage = 0, Storage()


def test_the_hook_warns_once_per_rising_stretch(caplog):
    hook = LossRiseWarning(warmup_iters=100)
    hook.trainer = Trainer()
    losses = [2.0 - i / 80 for i in range(80)] + [1.4] * 300
    with caplog.at_level(logging.WARNING, logger="df2s2_d2.loss_watch"):
        for i, value in enumerate(losses):
            hook.trainer.iter, hook.trainer.storage.value = i, value
            hook.after_step()
    warnings = [r for r in caplog.records if "has risen" in r.getMessage()]
    assert len(warnings) == 1
