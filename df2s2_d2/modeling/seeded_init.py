"""Per-module random streams, so that variants built under one seed are paired.

Detectron2 initialises every module from the global torch stream in build order, so a
module's initial weights depend on which modules were built before it: adding a seg
predictor or swapping FPN for the FFP would change the weights of every module built
later. Under :func:`module_rng` a module draws from a generator seeded by the config's
``SEED`` and the module's name alone: two variants share the initial weights of every
module they have in common, whatever else they build.
"""
import contextlib
import hashlib
from typing import Iterator, Optional

import torch


def derived_seed(seed: int, name: str) -> int:
    """A 63-bit seed that depends only on ``seed`` and ``name``."""
    digest = hashlib.sha256(f"{seed}/{name}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


@contextlib.contextmanager
def module_rng(seed: Optional[int], name: str) -> Iterator[None]:
    """Inside, CPU torch draws come from a stream seeded by ``(seed, name)``; the global
    stream is left as it was. ``seed`` None or < 0 (Detectron2's "random seed"): the
    global stream, as Detectron2 does."""
    if seed is None or seed < 0:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derived_seed(seed, name))
        yield
