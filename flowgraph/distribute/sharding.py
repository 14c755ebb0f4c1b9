"""Which examples each rank reads: disjoint shards of a seeded per-epoch permutation."""

from __future__ import annotations

import numpy as np


def shard_indices(num_examples: int, epoch: int, seed: int, rank: int, size: int, shuffle: bool = True) -> np.ndarray:
    """This rank's indices for ``epoch``: every rank gets the same count, shards are disjoint.

    All ranks draw the same permutation (same ``seed`` and ``epoch``), drop the remainder so the
    epoch has equal length everywhere, and take every ``size``-th element from ``rank``.
    """
    if size < 1 or not 0 <= rank < size:
        raise ValueError(f"rank {rank} is not in a job of size {size}")
    if num_examples < size:
        raise ValueError(f"{num_examples} examples cannot be split over {size} ranks")
    order = np.random.default_rng([seed, epoch]).permutation(num_examples) if shuffle else np.arange(num_examples)
    usable = (num_examples // size) * size
    return order[:usable][rank::size]


def shard_batches(x: np.ndarray, y: np.ndarray, batch_size: int, epoch: int, seed: int, rank: int, size: int):
    """Yields this rank's (x, y) batches for one epoch (the same number of batches on every rank)."""
    idx = shard_indices(len(x), epoch, seed, rank, size)
    n = len(idx) // batch_size
    for b in range(n):
        sel = idx[b * batch_size : (b + 1) * batch_size]
        yield x[sel], y[sel]
