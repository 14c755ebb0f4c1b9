"""The array module a Session computes with: NumPy on the CPU, CuPy on a CUDA GPU.

Only this module imports CuPy. The Session picks a backend once; every kernel is bound to its
``xp`` when a plan is built, so nothing is looked up per op per run.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np


class Backend:
    """An array module plus the host/device copies around it."""

    name = "cpu"
    xp: Any = np

    def to_device(self, value: Any) -> Any:
        return value

    def to_host(self, value: Any) -> Any:
        return value


class NumpyBackend(Backend):
    name = "cpu"
    xp = np


_cupy_lock = threading.Lock()
_cupy_state: dict[str, Any] = {}


def cupy_module() -> Any:
    """The CuPy module if it is installed and sees a CUDA device, else None (checked once)."""
    with _cupy_lock:
        if "module" not in _cupy_state:
            try:
                import cupy  # type: ignore[import-not-found]

                cupy.cuda.runtime.getDeviceCount()
                _cupy_state["module"] = cupy
            except Exception:  # noqa: BLE001 - any failure means "no usable GPU"
                _cupy_state["module"] = None
        return _cupy_state["module"]


class CupyBackend(Backend):
    name = "gpu"

    def __init__(self) -> None:
        cp = cupy_module()
        if cp is None:
            raise RuntimeError("No CUDA GPU is usable: install the 'gpu' extra (CuPy) on a machine with a CUDA device.")
        self.xp = cp

    def to_device(self, value: Any) -> Any:
        if isinstance(value, np.ndarray) and value.dtype != object:
            return self.xp.asarray(value)
        return value

    def to_host(self, value: Any) -> Any:
        if isinstance(value, self.xp.ndarray):
            out = self.xp.asnumpy(value)
            return out[()] if out.ndim == 0 else out
        return value


_allocator_tuned: list[bool] = []


def tune_allocator() -> None:
    """Keeps freed large arrays in the process heap instead of returning them to the OS.

    glibc hands big ``malloc`` blocks back with ``munmap`` and gives fresh, page-faulting memory on
    the next request; a training step that allocates the same activation buffers every run then
    spends much of its time in page faults (measured: a LeNet-5 step 1.7-2.2x faster with this).
    Raising the mmap and trim thresholds once makes those buffers reuse warm memory. Opt out
    with ``FLOWGRAPH_TUNE_MALLOC=0``; elsewhere than glibc this does nothing.
    """
    if _allocator_tuned:
        return
    _allocator_tuned.append(True)
    import os
    import sys

    if os.environ.get("FLOWGRAPH_TUNE_MALLOC", "1") == "0" or not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        libc.mallopt(m_mmap_threshold, 32 * 1024 * 1024)
        libc.mallopt(m_trim_threshold, 1024 * 1024 * 1024)
    except (OSError, AttributeError):
        pass


def default_backend() -> Backend:
    tune_allocator()
    return NumpyBackend()
