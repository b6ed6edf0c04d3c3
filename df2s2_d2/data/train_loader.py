"""A training loader whose batches depend only on ``SEED``: not on the model built
before it, nor on the number of data-loader workers.

Detectron2's loader draws the augmentations of each worker from a seed taken from the
torch stream after the model is built, and each worker fills whole batches from its own
share of the samples: the same ``SEED`` then gives other batches when the model or
``DATALOADER.NUM_WORKERS`` changes, and ablation variants do not see the same data.
Here sample ``k`` of a process's stream is augmented with ``np.random`` seeded by
``(SEED, rank, k)`` (all of the mapper's randomness is ``np.random``), and batch ``b``
is made by worker ``b % num_workers``, which the loader returns in order.
"""

import itertools
import logging
from typing import Callable, Dict, Iterator, List, Optional, Sequence

import numpy as np
import torch.utils.data as torchdata

from detectron2.data import DatasetFromList, MetadataCatalog, get_detection_dataset_dicts
from detectron2.data.samplers import TrainingSampler
from detectron2.utils import comm

from ..modeling.seeded_init import derived_seed

__all__ = ["SeededBatches", "build_face_train_loader"]

logger = logging.getLogger(__name__)


def _unbatched(batch):
    return batch


class SeededBatches(torchdata.IterableDataset):
    """Batches (lists of mapped dicts) of ``dataset[i]`` for ``i`` in ``sampler``.

    Sample ``k`` of this process's stream is mapped under ``np.random`` seeded by
    ``(seed, rank, k)``; a sample the mapper skips (returns None) is replaced by an
    index drawn from the same seed, so the stream stays the same for any worker count.
    """

    def __init__(self, dataset: Sequence[Dict], sampler, mapper: Callable, batch_size: int,
                 seed: int, rank: int = 0):
        self.dataset, self.sampler, self.mapper = dataset, sampler, mapper
        self.batch_size, self.seed, self.rank = batch_size, seed, rank

    def _map(self, position: int, index: int) -> Dict:
        state = np.random.get_state()
        try:
            for attempt in itertools.count():
                np.random.seed(derived_seed(self.seed, f"data/{self.rank}/{position}/{attempt}") % 2**32)
                if attempt:  # the mapper skipped the image (named and counted there)
                    index = int(np.random.randint(len(self.dataset)))
                mapped = self.mapper(self.dataset[index])
                if mapped is not None:
                    return mapped
        finally:
            np.random.set_state(state)

    def __iter__(self) -> Iterator[List[Dict]]:
        info = torchdata.get_worker_info()
        worker, num_workers = (info.id, info.num_workers) if info else (0, 1)
        indices = iter(self.sampler)
        for b in itertools.count():
            batch = list(itertools.islice(indices, self.batch_size))
            if b % num_workers == worker:
                first = b * self.batch_size
                yield [self._map(first + i, index) for i, index in enumerate(batch)]


def data_seed(cfg) -> int:
    """``SEED`` when it is set, else one random seed shared by all processes."""
    return cfg.SEED if cfg.SEED >= 0 else comm.shared_random_seed()


def check_landmark_data(cfg) -> None:
    """A landmark model must train on data with landmarks (metadata ``keypoint_names``):
    otherwise its landmark loss would be 0 for the whole run, without a word."""
    if not cfg.MODEL.DF2S2.LANDMARKS:
        return
    missing = [n for n in cfg.DATASETS.TRAIN if not MetadataCatalog.get(n).get("keypoint_names")]
    if missing:
        raise ValueError(
            f"MODEL.DF2S2.LANDMARKS is True, but DATASETS.TRAIN {missing} have no landmarks "
            "(no 'keypoint_names' in their metadata): train on a landmark data set such as "
            "wider_face_train_landmarks or synth_faces_train_landmarks, or set MODEL.DF2S2.LANDMARKS False"
        )


def build_face_train_loader(cfg, mapper: Callable, dataset: Optional[Sequence[Dict]] = None):
    """The training loader of ``cfg.DATASETS.TRAIN`` (Detectron2's dataset, filtering and
    ``TrainingSampler``) whose batches depend only on ``SEED``: see :class:`SeededBatches`.
    Every training image has the same square size, so no aspect-ratio grouping is needed.
    """
    if cfg.DATALOADER.SAMPLER_TRAIN != "TrainingSampler":
        raise ValueError(f"DATALOADER.SAMPLER_TRAIN: the face training loader supports 'TrainingSampler'; "
                         f"got {cfg.DATALOADER.SAMPLER_TRAIN!r}")
    world_size = comm.get_world_size()
    if cfg.SOLVER.IMS_PER_BATCH % world_size:
        raise ValueError(f"SOLVER.IMS_PER_BATCH ({cfg.SOLVER.IMS_PER_BATCH}) must be divisible by the "
                         f"number of processes ({world_size})")
    seed = data_seed(cfg)
    if dataset is None:
        check_landmark_data(cfg)
        dataset = get_detection_dataset_dicts(cfg.DATASETS.TRAIN,
                                              filter_empty=cfg.DATALOADER.FILTER_EMPTY_ANNOTATIONS)
    dataset = DatasetFromList(dataset, copy=False)
    sampler = TrainingSampler(len(dataset), shuffle=True, seed=seed)
    batches = SeededBatches(dataset, sampler, mapper, cfg.SOLVER.IMS_PER_BATCH // world_size,
                            seed, comm.get_rank())
    num_workers = cfg.DATALOADER.NUM_WORKERS
    return torchdata.DataLoader(batches, batch_size=None, num_workers=num_workers,
                                collate_fn=_unbatched, persistent_workers=num_workers > 0)
