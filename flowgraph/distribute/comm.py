"""The MPI world as flowgraph sees it: lazy mpi4py import, rank/size, failure propagation.

mpi4py is the optional ``mpi`` extra. Outside ``mpiexec`` MPI starts as a singleton (size 1), so
the same script runs alone unchanged. A rank whose Python code raises tells the other ranks and
aborts the job, so a failure never leaves the others hanging in a collective.
"""

from __future__ import annotations

import os
import sys
import threading
import traceback
from typing import Any

_EXTRA_HINT = "Distributed training needs the 'mpi' extra: pip install 'flowgraph[mpi]' (installs mpi4py and mpich)."

TAG_ERROR = 31001
TAG_ARRIVE = 31002


class MPIMissingError(ImportError):
    """mpi4py (the ``mpi`` extra) is not installed."""


class _World:
    def __init__(self) -> None:
        self.MPI: Any = None
        self.comm: Any = None
        self.local_comm: Any = None
        self.lock = threading.Lock()


_world = _World()


def mpi() -> Any:
    """The ``mpi4py.MPI`` module, initialized once with full thread support."""
    if _world.MPI is None:
        with _world.lock:
            if _world.MPI is None:
                try:
                    import mpi4py

                    mpi4py.rc.thread_level = "multiple"
                    from mpi4py import MPI
                except ImportError as e:
                    raise MPIMissingError(f"{_EXTRA_HINT} ({e})") from None
                _world.MPI = MPI
                _world.comm = MPI.COMM_WORLD
                _world.local_comm = MPI.COMM_WORLD.Split_type(MPI.COMM_TYPE_SHARED)
    return _world.MPI


def world() -> Any:
    mpi()
    return _world.comm


def init(abort_on_error: bool = True) -> None:
    """Starts MPI (a singleton outside ``mpiexec``) and, with several ranks, makes an uncaught
    exception on any rank stop the whole job with that rank's error."""
    mpi()
    if abort_on_error and size() > 1:
        _install_excepthook()


def rank() -> int:
    return world().Get_rank()


def size() -> int:
    return world().Get_size()


def local_rank() -> int:
    mpi()
    return _world.local_comm.Get_rank()


def local_size() -> int:
    mpi()
    return _world.local_comm.Get_size()


def is_initialized() -> bool:
    return _world.MPI is not None


def _install_excepthook() -> None:
    previous = sys.excepthook

    def hook(exc_type, exc, tb):  # noqa: ANN001
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        abort_with(f"rank {rank()} failed:\n{text}")
        previous(exc_type, exc, tb)

    sys.excepthook = hook


def abort_with(message: str, code: int = 1) -> None:
    """Sends ``message`` to every other rank, prints it, and aborts the MPI job."""
    MPI = mpi()
    comm = _world.comm
    sys.stderr.write(f"[flowgraph.distribute] {message}\n")
    sys.stderr.flush()
    payload = message.encode()[:60000]
    import numpy as np

    buf = np.frombuffer(payload, dtype=np.uint8).copy()
    reqs = [comm.Isend([buf, MPI.BYTE], dest=r, tag=TAG_ERROR) for r in range(comm.Get_size()) if r != comm.Get_rank()]
    # Give the message a moment to reach ranks whose watchdog looks for it, then stop everything.
    _wait_briefly(reqs)
    _let_mpiexec_forward_output()
    comm.Abort(code)
    os._exit(code)


def abort_quietly(message: str, code: int = 1) -> None:
    """Prints ``message`` and aborts the job, sending nothing (for a failure another rank reported)."""
    mpi()
    sys.stderr.write(f"[flowgraph.distribute] {message}\n")
    sys.stderr.flush()
    _let_mpiexec_forward_output()
    _world.comm.Abort(code)
    os._exit(code)


def _let_mpiexec_forward_output(seconds: float = 0.3) -> None:
    """Waits a moment before ``MPI_Abort``: mpiexec kills every process on an abort and drops the
    output still on its way from them (measured: about one abort in ten printed nothing at all)."""
    import time

    sys.stdout.flush()
    time.sleep(seconds)


def _wait_briefly(reqs: list, seconds: float = 1.0) -> bool:
    """True once every request completed, False after ``seconds``."""
    import time

    MPI = mpi()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if MPI.Request.Testall(reqs):
            return True
        time.sleep(0.01)
    return False


def remote_error() -> str | None:
    """An error message another rank sent before aborting, if one is waiting."""
    MPI = mpi()
    comm = _world.comm
    status = MPI.Status()
    if comm.Iprobe(source=MPI.ANY_SOURCE, tag=TAG_ERROR, status=status):
        import numpy as np

        buf = np.empty(status.Get_count(MPI.BYTE), dtype=np.uint8)
        comm.Recv([buf, MPI.BYTE], source=status.Get_source(), tag=TAG_ERROR)
        return buf.tobytes().decode(errors="replace")
    return None
