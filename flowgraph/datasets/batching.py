"""Small NumPy helpers for feeding training loops.

The tools here are a mini-batch iterator with reproducible shuffling, pixel
normalization, and random-translation augmentation. They work on NumPy arrays
only, so their output can go straight into ``Session.run(feed_dict=...)``.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

__all__ = [
    "BatchIterator",
    "normalize",
    "shift_images",
    "random_shift",
    "MNIST_MEAN",
    "MNIST_STD",
]

#: Mean and standard deviation of the MNIST training pixels after scaling to [0, 1].
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081


class BatchIterator:
    """Iterate ``(x_batch, y_batch)`` pairs over one epoch per ``iter()``.

    Each ``iter()`` call starts the next epoch. With ``shuffle=True``, each
    epoch uses a new permutation that depends only on ``(seed, epoch)``, so a
    run can be reproduced, or resumed by setting :attr:`epoch`, without
    replaying earlier epochs. With ``seed=None``, a random seed is drawn once,
    and the epochs still differ from each other. Unshuffled batches are views
    of ``x`` and ``y``, not copies.

    Example::

        batches = BatchIterator(x_train, y_train, batch_size=128, seed=0)
        for epoch in range(10):
            for xb, yb in batches:
                sess.run(train_op, {x: xb, y: yb})
    """

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        batch_size: int,
        shuffle: bool = True,
        seed: int | None = None,
        drop_remainder: bool = False,
    ) -> None:
        self.x = np.asarray(x)
        self.y = np.asarray(y)
        if len(self.x) != len(self.y):
            raise ValueError(f"x has {len(self.x)} examples but y has {len(self.y)}")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_remainder = drop_remainder
        self.seed = int(np.random.SeedSequence(seed).entropy)  # fixed even when seed is None
        #: Index of the epoch the next ``iter()`` call will produce.
        self.epoch = 0

    def __len__(self) -> int:
        """Batches per epoch."""
        full, rest = divmod(len(self.x), self.batch_size)
        return full + (1 if rest and not self.drop_remainder else 0)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        # Advance the counter now, not lazily, so an epoch that is abandoned
        # early still counts and the next ``iter()`` gets a fresh order.
        epoch, self.epoch = self.epoch, self.epoch + 1
        return self.batches(epoch)

    def order(self, epoch: int) -> np.ndarray:
        """The example indices visited in ``epoch``, in visiting order."""
        n = len(self.x)
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng([self.seed, int(epoch)]).permutation(n)

    def batches(self, epoch: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield the batches of a given epoch. This does not change :attr:`epoch`."""
        order = self.order(epoch) if self.shuffle else None
        for b in range(len(self)):
            sl = slice(b * self.batch_size, (b + 1) * self.batch_size)
            if order is None:
                yield self.x[sl], self.y[sl]
            else:
                idx = order[sl]
                yield self.x[idx], self.y[idx]

    def epochs(self, n: int) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """Yield ``(epoch, x_batch, y_batch)`` for the next ``n`` epochs.

        This gives a step-based loop a single flat ``for`` loop.
        """
        for _ in range(n):
            epoch = self.epoch
            for xb, yb in self:
                yield epoch, xb, yb


def normalize(
    images: np.ndarray, mean: float | None = None, std: float | None = None
) -> np.ndarray:
    """Return ``images`` as float32, with uint8 values scaled to [0, 1].

    If ``mean`` and/or ``std`` are given (in the [0, 1] scale, e.g.
    :data:`MNIST_MEAN`, :data:`MNIST_STD`), the result is standardized as
    ``(x - mean) / std``. Centered inputs of unit scale make SGD converge
    faster. Float inputs are taken to be in [0, 1] already and are not rescaled.
    """
    images = np.asarray(images)
    out = images.astype(np.float32)
    if images.dtype == np.uint8:
        out /= 255.0
    if mean is not None:
        out -= np.float32(mean)
    if std is not None:
        if np.any(np.asarray(std) <= 0):
            raise ValueError(f"std must be positive, got {std}")
        out /= np.float32(std)
    return out


def _check_image_batch(images: np.ndarray) -> None:
    if images.ndim not in (3, 4):
        raise ValueError(f"expected an NHW or NHWC batch, got shape {images.shape}")


def shift_images(images: np.ndarray, dy: np.ndarray, dx: np.ndarray) -> np.ndarray:
    """Translate each image by its own ``(dy[i], dx[i])`` pixels, filling with zeros.

    A positive ``dy`` moves the content down and a positive ``dx`` moves it
    right: ``out[i, r, c] = images[i, r - dy[i], c - dx[i]]``. The shift is a
    single gather from a zero-padded copy, with no Python loop.
    """
    images = np.asarray(images)
    _check_image_batch(images)
    n, h, w = images.shape[:3]
    dy = np.broadcast_to(np.asarray(dy, dtype=np.intp), (n,))
    dx = np.broadcast_to(np.asarray(dx, dtype=np.intp), (n,))
    pad = int(max(np.abs(dy).max(initial=0), np.abs(dx).max(initial=0)))
    if pad == 0:
        return images.copy()
    widths = [(0, 0), (pad, pad), (pad, pad)] + [(0, 0)] * (images.ndim - 3)
    padded = np.pad(images, widths)
    rows = np.arange(h)[None, :] - dy[:, None] + pad  # (n, h)
    cols = np.arange(w)[None, :] - dx[:, None] + pad  # (n, w)
    return padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]


def random_shift(
    images: np.ndarray,
    max_shift: int = 2,
    rng: np.random.Generator | int | None = None,
) -> np.ndarray:
    """Shift each image by a random whole number of pixels in ``[-max_shift, max_shift]``.

    Small translations are a cheap augmentation that helps a classifier
    tolerate off-center digits. Empty borders are filled with zeros. The
    offsets ``dy`` and then ``dx`` are drawn with ``rng.integers``, so a seeded
    ``rng`` gives repeatable results.
    """
    images = np.asarray(images)
    _check_image_batch(images)
    if max_shift < 0:
        raise ValueError(f"max_shift must be >= 0, got {max_shift}")
    rng = np.random.default_rng(rng)
    n = images.shape[0]
    dy = rng.integers(-max_shift, max_shift + 1, size=n)
    dx = rng.integers(-max_shift, max_shift + 1, size=n)
    return shift_images(images, dy, dx)
