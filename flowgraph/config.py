"""Devices: TF1 device strings, the devices this process can use, and where an op runs.

A device string is parsed into ``(device_type, index)``; ``""`` is unplaced (the session's default
device). Accepted forms: ``/cpu:0``, ``/GPU:0``, ``/device:GPU:0``, ``gpu:1``,
``/job:localhost/replica:0/task:0/device:CPU:0`` (job/replica/task parts are accepted and ignored).
"""

from __future__ import annotations

import re
from typing import Any

from flowgraph import backend as _backend

CPU = "CPU"
GPU = "GPU"

_DEVICE = re.compile(r"^(cpu|gpu)(?::(\d+|\*))?$", re.IGNORECASE)


def parse_device(spec: Any) -> tuple[str | None, int | None]:
    """``(device_type, index)`` of a device string; ``(None, None)`` when unplaced.

    The index is None when the string names no index (``/gpu``, ``/gpu:*``): the first device of
    that type. Raises ``ValueError`` for anything that is not a CPU or GPU device string.
    """
    if spec is None:
        return None, None
    if not isinstance(spec, str):
        to_string = getattr(spec, "to_string", None)
        if to_string is None:
            raise ValueError(f"Device must be a string, got {spec!r}")
        spec = to_string()
    s = spec.strip()
    if not s:
        return None, None
    dev_type: str | None = None
    index: int | None = None
    for part in s.removeprefix("/").split("/"):
        if not part:
            raise ValueError(f"Invalid device string {spec!r}: empty component.")
        low = part.lower()
        if low.startswith(("job:", "replica:", "task:")):
            continue
        if low.startswith("device:"):
            part = part[len("device:"):]
        m = _DEVICE.match(part)
        if m is None or dev_type is not None:
            raise ValueError(
                f"Invalid device string {spec!r}: expected forms like '/cpu:0', '/gpu:0', '/device:GPU:0' "
                "or '/job:localhost/replica:0/task:0/device:CPU:0'."
            )
        dev_type = m.group(1).upper()
        if m.group(2) not in (None, "*"):
            index = int(m.group(2))
    if dev_type is None:
        return None, None  # only job/replica/task: unplaced on this single-process runtime
    return dev_type, index


def device_name(device_type: str, index: int = 0) -> str:
    """The canonical short name, ``/device:GPU:0``."""
    return f"/device:{device_type}:{index}"


def canonical_device(spec: Any) -> str:
    """``spec`` in the canonical short form (``''`` stays ``''``)."""
    t, i = parse_device(spec)
    return "" if t is None else device_name(t, i or 0)


class LogicalDevice:
    """One device this process can run ops on (``name`` such as ``/device:GPU:0``)."""

    def __init__(self, name: str, device_type: str) -> None:
        self.name = name
        self.device_type = device_type

    def __repr__(self) -> str:
        return f"LogicalDevice(name={self.name!r}, device_type={self.device_type!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LogicalDevice) and (self.name, self.device_type) == (other.name, other.device_type)

    def __hash__(self) -> int:
        return hash((self.name, self.device_type))


def gpu_count() -> int:
    """How many CUDA devices CuPy sees (0 without CuPy or a device)."""
    cp = _backend.cupy_module()
    if cp is None:
        return 0
    try:
        return int(cp.cuda.runtime.getDeviceCount())
    except Exception:  # noqa: BLE001 - a broken driver means no usable GPU
        return 0


def gpu_unavailable_reason() -> str | None:
    """Why no GPU can be used, None when one can."""
    if gpu_count() > 0:
        return None
    return _backend.cupy_unavailable_reason() or "no CUDA device"


def list_devices(device_type: str | None = None) -> list[LogicalDevice]:
    """The CPU and every CUDA GPU this process can use, optionally only those of ``device_type``."""
    devices = [LogicalDevice(device_name(CPU, 0), CPU)]
    devices += [LogicalDevice(device_name(GPU, i), GPU) for i in range(gpu_count())]
    if device_type is not None:
        devices = [d for d in devices if d.device_type == device_type.upper()]
    return devices


def list_physical_devices(device_type: str | None = None) -> list[LogicalDevice]:
    return list_devices(device_type)


def list_logical_devices(device_type: str | None = None) -> list[LogicalDevice]:
    return list_devices(device_type)
