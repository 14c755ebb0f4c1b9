"""Intra-op parallelism: the independent pieces of one kernel run on several threads at once.

NumPy releases the GIL inside its loops, copies and BLAS calls, so a kernel that cuts its work
into a few long pieces (bands of output rows, slabs of channels) overlaps them on several cores.
``ConfigProto.intra_op_parallelism_threads`` sizes it as in TF1 (0: one thread per core); with one
thread ``map`` is a plain loop, so single-threaded sessions pay nothing. Pieces pay only when
each NumPy call in them is long: a GIL hand-off between threads waits for a sleeping thread to
wake (tens of microseconds on the VMs measured), which is why default sessions time plans with and
without pieces before keeping either (``Session._tuning_run``).

This module also holds ``BLAS``, which shares BLAS threads between whatever runs at once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any


class BlasThreads:
    """Splits BLAS threads between concurrently running ops (parallel runs, intra-op pieces).

    Two scheduler threads each calling a multi-threaded OpenBLAS on the same cores oversubscribe
    them and can slow a step down 10x; while any parallel run is in flight, each BLAS call gets
    ``cores // inter_op_threads`` threads (at least 1), restored when the last run ends. Setting
    the count costs about a microsecond, so it is done per parallel run.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = 0
        self._saved: list[tuple[Any, int]] | None = None
        self._controllers: list | None = None

    def _blas(self) -> list:
        if self._controllers is None:
            try:
                from threadpoolctl import ThreadpoolController

                self._controllers = [c for c in ThreadpoolController().lib_controllers if c.user_api == "blas"]
            except Exception:  # noqa: BLE001 - no threadpoolctl or an unknown BLAS: leave threads alone
                self._controllers = []
        return self._controllers

    def enter(self, share: int) -> None:
        with self._lock:
            self._active += 1
            if self._active == 1 and share > 1:
                blas = self._blas()
                self._saved = [(c, c.num_threads) for c in blas]
                for c, n in self._saved:
                    c.set_num_threads(max(1, n // share))

    def exit(self) -> None:
        with self._lock:
            self._active -= 1
            if self._active == 0 and self._saved:
                for c, n in self._saved:
                    c.set_num_threads(n)
                self._saved = None


BLAS = BlasThreads()

#: A share that caps every BLAS library at one thread (``blas_shared_by`` divides their counts by it).
ONE_BLAS_THREAD = 1 << 16


class blas_shared_by:  # noqa: N801 - used as a context manager
    __slots__ = ("share",)

    def __init__(self, share: int) -> None:
        self.share = share

    def __enter__(self) -> None:
        BLAS.enter(self.share)

    def __exit__(self, *exc: Any) -> None:
        BLAS.exit()


_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()

#: Below this much work (multiply-adds, or element visits times ``ELEMENT_WORK``) per piece a
#: hand-off does not pay: waking a pool thread took 50-90 us on the 2-vCPU machines measured, and
#: LeNet-5's kernels at batch 64 ran 1.2-2x slower in two pieces than whole.
MIN_WORK = 1 << 21


def _pool(workers: int) -> ThreadPoolExecutor:
    """One process-wide pool per size; its threads only ever run pieces, never wait for others."""
    with _POOLS_LOCK:
        pool = _POOLS.get(workers)
        if pool is None:
            pool = _POOLS[workers] = ThreadPoolExecutor(workers, thread_name_prefix="flowgraph-intra-op")
        return pool


class IntraOp:
    """Runs a kernel's pieces on ``threads`` threads (the calling thread is one of them)."""

    __slots__ = ("enabled", "threads")

    def __init__(self, threads: int = 0) -> None:
        self.threads = int(threads) if threads and threads > 0 else (os.cpu_count() or 1)
        #: Switched per run by the session: off while inter-op threads hold the cores, or where its
        #: measurement found pieces no faster (a busy machine's second core).
        self.enabled = True

    def ways(self, work: int) -> int:
        """How many pieces a kernel of ``work`` multiply-adds should cut itself into (1: don't)."""
        if self.threads <= 1 or not self.enabled:
            return 1
        return max(1, min(self.threads, work // MIN_WORK))

    def map(self, fn: Callable[[Any], Any], parts: Sequence) -> list:
        """``[fn(p) for p in parts]``, the parts dealt round-robin to the threads (deterministic)."""
        n = self.threads if self.enabled else 1
        if n <= 1 or len(parts) <= 1:
            return [fn(p) for p in parts]
        groups = [list(parts[i::n]) for i in range(min(n, len(parts)))]

        def run_group(group: list) -> list:
            return [fn(p) for p in group]

        BLAS.enter(len(groups))  # the pieces' GEMMs share the cores instead of each taking them all
        try:
            futures = [_pool(n - 1).submit(run_group, g) for g in groups[1:]]
            try:
                done = [run_group(groups[0])]
            finally:
                for f in futures:  # every piece has finished before the kernel returns or raises
                    f.exception()
        finally:
            BLAS.exit()
        done.extend(f.result() for f in futures)
        out: list = [None] * len(parts)
        for i, group in enumerate(done):
            out[i::n] = group
        return out


#: The single-threaded instance kernels fall back to when their runtime carries none.
SERIAL = IntraOp(1)


def of(rt: Any) -> IntraOp:
    """The runtime's intra-op pool (``SERIAL`` for runtimes without one)."""
    return getattr(rt, "intra_op", SERIAL)


def slabs(n: int, ways: int) -> list[slice]:
    """``ways`` near-equal contiguous slices of ``range(n)`` (fewer when n is small)."""
    ways = max(1, min(ways, n))
    bounds = [n * i // ways for i in range(ways + 1)]
    return [slice(bounds[i], bounds[i + 1]) for i in range(ways) if bounds[i + 1] > bounds[i]]


#: An element-wise pass costs about this many multiply-adds of a GEMM per element (memory bound);
#: a 300k-element ReLU ran faster whole (106 us) than in two pieces (157 us), 3.2M elements 1.3x
#: faster in two.
ELEMENT_WORK = 4


def outer_axis(a: Any) -> int:
    """The axis with the largest stride among those longer than 1: slabs along it are contiguous."""
    best, best_stride = 0, -1
    for i, (n, st) in enumerate(zip(a.shape, a.strides)):
        if n > 1 and abs(st) > best_stride:
            best, best_stride = i, abs(st)
    return best


def elementwise(intra: IntraOp, fn: Callable, out: Any, *arrays: Any, axis: int | None = None) -> Any:
    """``fn(out_slab, *array_slabs)`` over slabs of ``out``'s outermost memory axis (or ``axis``).

    ``arrays`` are shaped like ``out``; with a single way it is one call on the whole arrays.
    """
    ways = intra.ways(out.size * ELEMENT_WORK)
    if ways == 1 or out.ndim == 0:
        fn(out, *arrays)
        return out
    ax = outer_axis(out) if axis is None else axis
    lead = (slice(None),) * ax

    def piece(sl: slice) -> None:
        idx = (*lead, sl)
        fn(out[idx], *(a[idx] for a in arrays))

    intra.map(piece, slabs(out.shape[ax], ways))
    return out

