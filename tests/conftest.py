"""Fixtures shared across test folders."""

from __future__ import annotations

import pytest


class FakeBlas:
    """A BLAS library controller (threadpoolctl's interface) that records every thread-count change."""

    def __init__(self, threads: int) -> None:
        self.num_threads = threads
        self.calls: list[int] = []

    def set_num_threads(self, n: int) -> None:
        self.calls.append(n)
        self.num_threads = n


@pytest.fixture
def fake_blas(monkeypatch):
    """Stands in for the process's BLAS libraries in ``runtime.intra_op.BLAS``; starts at 2 threads."""
    from flowgraph.runtime import intra_op

    fake = FakeBlas(2)
    monkeypatch.setattr(intra_op.BLAS, "_controllers", [fake])
    return fake
