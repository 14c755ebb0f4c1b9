"""Shards of an epoch: disjoint, covering, equal length on every rank, seeded."""

import numpy as np
import pytest

from flowgraph.distribute.sharding import shard_batches, shard_indices


@pytest.mark.parametrize("size", [1, 2, 3, 4])
def test_shards_are_disjoint_cover_and_equal(size):
    n = 103
    shards = [shard_indices(n, epoch=2, seed=5, rank=r, size=size) for r in range(size)]
    assert len({len(s) for s in shards}) == 1
    allidx = np.concatenate(shards)
    assert len(set(allidx.tolist())) == len(allidx) == (n // size) * size
    assert set(allidx.tolist()) <= set(range(n))


def test_epochs_differ_and_seeds_repeat():
    a = shard_indices(50, epoch=0, seed=1, rank=0, size=2)
    b = shard_indices(50, epoch=1, seed=1, rank=0, size=2)
    c = shard_indices(50, epoch=0, seed=1, rank=0, size=2)
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(a, c)


def test_bad_rank_and_too_few_examples():
    with pytest.raises(ValueError, match="rank 2"):
        shard_indices(10, 0, 0, rank=2, size=2)
    with pytest.raises(ValueError, match="3 examples"):
        shard_indices(3, 0, 0, rank=0, size=4)


def test_shard_batches_same_count_per_rank():
    x = np.arange(70).reshape(35, 2)
    y = np.arange(35)
    counts = [len(list(shard_batches(x, y, 4, 0, 0, r, 2))) for r in range(2)]
    assert counts == [4, 4]
    xb, yb = next(shard_batches(x, y, 4, 0, 0, 1, 2))
    np.testing.assert_array_equal(xb[:, 0] // 2, yb)
