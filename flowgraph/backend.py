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
            except Exception:  # noqa: BLE001 - any failure means "no usable GPU"
                _cupy_state["module"] = None
                _cupy_state["reason"] = "no CuPy installed: pip install 'flowgraph[gpu]'"
                return None
            try:
                if cupy.cuda.runtime.getDeviceCount() < 1:
                    raise RuntimeError("no device")
                _cupy_state["module"] = cupy
                _cupy_state["reason"] = None
            except Exception:  # noqa: BLE001 - any failure means "no usable GPU"
                _cupy_state["module"] = None
                _cupy_state["reason"] = "no CUDA device"
        return _cupy_state["module"]


def cupy_unavailable_reason() -> str | None:
    """Why ``cupy_module()`` is None ("no CuPy installed: ..." or "no CUDA device"); None when usable."""
    cupy_module()
    return _cupy_state.get("reason")


class CupyBackend(Backend):
    """CuPy on CUDA device ``device_id``: kernels bound to it run with that device current."""

    name = "gpu"

    def __init__(self, device_id: int = 0) -> None:
        cp = cupy_module()
        if cp is None:
            raise RuntimeError(f"No CUDA GPU is usable ({cupy_unavailable_reason()}).")
        self.xp = cp
        self.device_id = int(device_id)
        self._device = cp.cuda.Device(self.device_id)

    def to_device(self, value: Any) -> Any:
        if isinstance(value, np.ndarray) and value.dtype != object:
            with self._device:
                return self.xp.asarray(value)
        if isinstance(value, np.generic) and not isinstance(value, np.object_ | np.bytes_ | np.str_):
            with self._device:
                return self.xp.asarray(value)
        xp_nd = self.xp.ndarray
        if isinstance(value, xp_nd) and value.device.id != self.device_id:
            with self._device:
                return self.xp.asarray(value)  # a peer copy from another GPU
        return value

    def to_host(self, value: Any) -> Any:
        return to_host(value)


def to_host(value: Any) -> Any:
    """A CuPy array as a NumPy array (0-d: a NumPy scalar); anything else unchanged."""
    if hasattr(value, "__cuda_array_interface__") and hasattr(value, "get"):
        out = value.get()
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
    """CuPy on GPU 0 when CuPy and a CUDA device are present, else NumPy."""
    tune_allocator()
    if cupy_module() is not None:
        return CupyBackend(0)
    return NumpyBackend()
