"""Tests for flowgraph.datasets.batching."""

from __future__ import annotations

import numpy as np
import pytest

from flowgraph.datasets.batching import (
    MNIST_MEAN,
    MNIST_STD,
    BatchIterator,
    normalize,
    random_shift,
    shift_images,
)


def toy(n: int = 10):
    x = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    y = np.arange(n) * 10
    return x, y


# --------------------------------------------------------------------------- #
# BatchIterator
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("shuffle", [True, False])
def test_every_example_exactly_once_per_epoch(shuffle):
    x, y = toy(10)
    it = BatchIterator(x, y, batch_size=3, shuffle=shuffle, seed=0)
    assert len(it) == 4
    for _ in range(3):
        batches = list(it)
        assert [len(yb) for _, yb in batches] == [3, 3, 3, 1]
        ys = np.concatenate([yb for _, yb in batches])
        assert sorted(ys.tolist()) == list(range(0, 100, 10))
        for xb, yb in batches:  # x and y stay paired
            np.testing.assert_array_equal(xb[:, 0], yb / 5)


def test_unshuffled_order_is_sequential():
    x, y = toy(5)
    it = BatchIterator(x, y, batch_size=2, shuffle=False)
    assert [yb.tolist() for _, yb in it] == [[0, 10], [20, 30], [40]]


def test_new_permutation_each_epoch():
    x, y = toy(50)
    it = BatchIterator(x, y, batch_size=50, seed=3)
    orders = [next(iter(it))[1].tolist() for _ in range(3)]
    assert it.epoch == 3
    assert orders[0] != orders[1] != orders[2]
    assert orders[0] != list(range(0, 500, 10))


def test_deterministic_per_seed_and_epoch():
    x, y = toy(20)
    a = BatchIterator(x, y, batch_size=7, seed=42)
    b = BatchIterator(x, y, batch_size=7, seed=42)
    c = BatchIterator(x, y, batch_size=7, seed=43)
    ep_a = [[yb.tolist() for _, yb in a] for _ in range(2)]
    ep_b = [[yb.tolist() for _, yb in b] for _ in range(2)]
    ep_c = [[yb.tolist() for _, yb in c] for _ in range(2)]
    assert ep_a == ep_b
    assert ep_a != ep_c
    # Epoch 1 can be reproduced directly, without replaying epoch 0.
    fresh = BatchIterator(x, y, batch_size=7, seed=42)
    assert [yb.tolist() for _, yb in fresh.batches(1)] == ep_a[1]
    np.testing.assert_array_equal(fresh.order(1) * 10, np.concatenate(ep_a[1]))
    assert fresh.epoch == 0


def test_seed_none_is_random_but_epochs_still_differ():
    x, y = toy(30)
    it = BatchIterator(x, y, batch_size=30)
    assert not np.array_equal(it.order(0), it.order(1))
    np.testing.assert_array_equal(it.order(0), it.order(0))  # stable within one iterator


def test_abandoned_epoch_still_advances():
    x, y = toy(10)
    it = BatchIterator(x, y, batch_size=2, seed=1)
    first = next(iter(it))[1]
    assert it.epoch == 1
    second = next(iter(it))[1]
    np.testing.assert_array_equal(first, it.order(0)[:2] * 10)
    np.testing.assert_array_equal(second, it.order(1)[:2] * 10)


def test_drop_remainder():
    x, y = toy(10)
    it = BatchIterator(x, y, batch_size=4, seed=0, drop_remainder=True)
    assert len(it) == 2
    batches = list(it)
    assert [len(yb) for _, yb in batches] == [4, 4]
    assert len(set(np.concatenate([yb for _, yb in batches]).tolist())) == 8
    assert len(BatchIterator(x, y, batch_size=5, drop_remainder=True)) == 2
    assert len(BatchIterator(x, y, batch_size=11, drop_remainder=True)) == 0
    assert len(BatchIterator(x, y, batch_size=11)) == 1


def test_epochs_flat_loop():
    x, y = toy(5)
    it = BatchIterator(x, y, batch_size=2, seed=7)
    steps = list(it.epochs(3))
    assert [e for e, _, _ in steps] == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert it.epoch == 3
    for epoch in range(3):
        ys = np.concatenate([yb for e, _, yb in steps if e == epoch])
        np.testing.assert_array_equal(ys, it.order(epoch) * 10)


def test_works_on_nhwc_images():
    x = np.zeros((6, 4, 4, 1), np.uint8)
    y = np.arange(6)
    xb, yb = next(iter(BatchIterator(x, y, batch_size=4, seed=0)))
    assert xb.shape == (4, 4, 4, 1) and yb.shape == (4,)


def test_validation_errors():
    x, y = toy(4)
    with pytest.raises(ValueError, match="x has 4 examples but y has 3"):
        BatchIterator(x, y[:3], batch_size=2)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        BatchIterator(x, y, batch_size=0)


# --------------------------------------------------------------------------- #
# normalize
# --------------------------------------------------------------------------- #


def test_normalize_scales_uint8_to_unit_interval():
    images = np.array([[0, 51, 255]], dtype=np.uint8)
    out = normalize(images)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.0, 0.2, 1.0]], rtol=1e-6)
    assert images.dtype == np.uint8 and images[0, 1] == 51  # input untouched


def test_normalize_standardizes():
    images = np.array([0, 51, 255], dtype=np.uint8)
    out = normalize(images, mean=0.2, std=0.5)
    np.testing.assert_allclose(out, [-0.4, 0.0, 1.6], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(normalize(images, mean=0.2), [-0.2, 0.0, 0.8], atol=1e-7)
    np.testing.assert_allclose(
        normalize(images, MNIST_MEAN, MNIST_STD)[0], -MNIST_MEAN / MNIST_STD, rtol=1e-6
    )


def test_normalize_float_input_is_not_rescaled():
    out = normalize(np.array([0.5, 1.0], dtype=np.float64))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [0.5, 1.0])


def test_normalize_rejects_bad_std():
    with pytest.raises(ValueError, match="std must be positive"):
        normalize(np.zeros(3, np.uint8), std=0.0)


# --------------------------------------------------------------------------- #
# shift_images / random_shift
# --------------------------------------------------------------------------- #

TINY = np.array(
    [
        [1, 2, 3],
        [4, 5, 6],
        [7, 8, 9],
    ],
    dtype=np.uint8,
)


def test_shift_images_matches_hand_computed_shift():
    batch = np.stack([TINY, TINY, TINY])
    out = shift_images(batch, dy=[1, 0, -1], dx=[0, -1, 2])
    down_one = [[0, 0, 0], [1, 2, 3], [4, 5, 6]]
    left_one = [[2, 3, 0], [5, 6, 0], [8, 9, 0]]
    up_one_right_two = [[0, 0, 4], [0, 0, 7], [0, 0, 0]]
    np.testing.assert_array_equal(out, [down_one, left_one, up_one_right_two])
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(batch[0], TINY)  # input untouched


def test_shift_images_nhwc_moves_all_channels_together():
    img = np.stack([TINY, TINY * 10], axis=-1)  # (3, 3, 2)
    out = shift_images(img[None], dy=1, dx=1)
    expected = np.array([[0, 0, 0], [0, 1, 2], [0, 4, 5]])
    np.testing.assert_array_equal(out[0, :, :, 0], expected)
    np.testing.assert_array_equal(out[0, :, :, 1], expected * 10)


def test_shift_images_zero_and_out_of_range():
    np.testing.assert_array_equal(shift_images(TINY[None], 0, 0)[0], TINY)
    np.testing.assert_array_equal(shift_images(TINY[None], 5, 0)[0], np.zeros((3, 3)))


def test_random_shift_reproducible_and_matches_drawn_offsets():
    rng_images = np.random.default_rng(0)
    images = rng_images.integers(1, 256, (16, 5, 5), dtype=np.uint8)
    out = random_shift(images, max_shift=2, rng=123)
    np.testing.assert_array_equal(out, random_shift(images, max_shift=2, rng=123))
    draws = np.random.default_rng(123)
    dy = draws.integers(-2, 3, size=16)
    dx = draws.integers(-2, 3, size=16)
    assert len(set(zip(dy.tolist(), dx.tolist()))) > 1
    for i in range(16):  # reference: plain slicing, one image at a time
        ref = np.zeros((5, 5), np.uint8)
        top, left = max(0, dy[i]), max(0, dx[i])
        src = images[i, max(0, -dy[i]) : 5 - top, max(0, -dx[i]) : 5 - left]
        ref[top : top + src.shape[0], left : left + src.shape[1]] = src
        np.testing.assert_array_equal(out[i], ref)


def test_random_shift_single_pixel_stays_within_bounds():
    images = np.zeros((200, 9, 9, 1), np.float32)
    images[:, 4, 4, 0] = 1.0
    out = random_shift(images, max_shift=2, rng=np.random.default_rng(5))
    assert out.shape == images.shape and out.dtype == np.float32
    assert np.all(out.sum(axis=(1, 2, 3)) == 1.0)  # nothing lost, nothing duplicated
    rows, cols = np.nonzero(out[..., 0])[1:]
    assert set(rows.tolist()) == {2, 3, 4, 5, 6}
    assert set(cols.tolist()) == {2, 3, 4, 5, 6}


def test_random_shift_zero_max_shift_is_identity_copy():
    images = np.arange(18, dtype=np.uint8).reshape(2, 3, 3)
    out = random_shift(images, max_shift=0, rng=0)
    np.testing.assert_array_equal(out, images)
    assert out is not images


def test_shift_rejects_bad_input():
    with pytest.raises(ValueError, match="NHW or NHWC"):
        random_shift(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="max_shift must be >= 0"):
        random_shift(np.zeros((1, 3, 3)), max_shift=-1)
