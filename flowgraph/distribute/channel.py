"""A collective op's own communicators, and the watch kept over every wait on them.

Each collective op duplicates the world communicator when it is created (every rank builds the
same graph in the same order), so collectives running at once on the parallel scheduler's threads
never mix their messages. A wait blocks inside MPI (or on the op's CUDA stream) with the GIL
released: it costs what a bare mpi4py call costs, and the other scheduler threads keep running.
A blocking call cannot watch the clock, so one watchdog thread per process keeps the promises
about waits that last:

- a wait longer than ``notice_after`` tells the other ranks that this rank has arrived, and from
  then on looks for a failure message another rank sent before aborting;
- a wait longer than the collective timeout aborts the job with a message naming the ranks that
  have not arrived (there is no way to give up one blocking MPI call and go on).

A collective answered quickly sends nothing but itself: no notices, no polling.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import threading
import time
import weakref
import zlib
from typing import Any

import numpy as np

from flowgraph.distribute import comm as _comm
from flowgraph.errors import InvalidArgumentError

_TICK = 0.05  # seconds between the watchdog's looks at the waits in progress


def collective_timeout() -> float:
    """Seconds a collective waits for the other ranks (``FLOWGRAPH_COLLECTIVE_TIMEOUT``, default 600)."""
    return _settings["timeout"]


def set_collective_timeout(seconds: float) -> None:
    """Waits longer than ``seconds`` abort the job, naming the ranks that have not arrived."""
    if seconds <= 0:
        raise ValueError(f"timeout must be positive, got {seconds}")
    _settings["timeout"] = float(seconds)


_settings = {"timeout": float(os.environ.get("FLOWGRAPH_COLLECTIVE_TIMEOUT", "600"))}


def _notice_after(timeout: float) -> float:
    return min(1.0, timeout / 4)


class Channel:
    """One op's communicator, its agreement check, and its watched waits."""

    def __init__(self, op_name: str) -> None:
        self.MPI = _comm.mpi()
        self.comm = _comm.world().Dup()
        self.op_name = op_name
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        self.seq = 0  # collectives finished or started on this channel, equal on every rank
        self.arrived = [0] * self.size
        self.checked = False
        self.notes: list = []  # arrival notices in flight (request, buffer)
        self.nccl: NcclLink | None = None

    # -- waiting ------------------------------------------------------------------------------
    def call(self, what: str, blocking: Any, *args: Any) -> Any:
        """``blocking(*args)`` (an MPI call or a stream synchronize), watched by the watchdog."""
        self.seq += 1
        if self.size == 1:
            return blocking(*args)
        active = _watchdog.active
        active[self] = (what, time.monotonic())  # a dict store is atomic under the GIL: no lock
        if _watchdog.thread is None:
            _watchdog.start()
        try:
            return blocking(*args)
        finally:
            del active[self]

    def announce(self, seq: int) -> None:
        MPI = self.MPI
        note = np.array([seq], dtype=np.int64)
        for r in range(self.size):
            if r != self.rank:
                self.notes.append((self.comm.Isend([note, MPI.INT64_T], dest=r, tag=_comm.TAG_ARRIVE), note))

    def drain_arrivals(self) -> None:
        MPI = self.MPI
        status = MPI.Status()
        buf = np.empty(1, dtype=np.int64)
        while self.comm.Iprobe(source=MPI.ANY_SOURCE, tag=_comm.TAG_ARRIVE, status=status):
            src = status.Get_source()
            self.comm.Recv([buf, MPI.INT64_T], source=src, tag=_comm.TAG_ARRIVE)
            self.arrived[src] = max(self.arrived[src], int(buf[0]))
        self.notes = [(req, note) for req, note in self.notes if not req.Test()]

    # -- agreement ----------------------------------------------------------------------------
    def needs_check(self, every_call: bool) -> bool:
        """Static signatures are compared once; dynamic ones (unknown dims) on every call."""
        return self.size > 1 and (every_call or not self.checked)

    def check_agreement(self, kind: str, tensors: list, every_call: bool, transport: str = "mpi") -> None:
        """Every rank must run the same collective on the same names, shapes and dtypes.

        The first call compares the full descriptions. An op whose static shapes leave dimensions
        unknown compares an 8-byte digest on every later call and the full descriptions only when
        the digests differ, so disagreeing ranks are named, never left in mismatched collectives.
        """
        mine = json.dumps({"kind": kind, "tensors": tensors, "every_call": every_call, "transport": transport})
        if self.checked:
            digest = np.array([zlib.crc32(mine.encode())], dtype=np.int64)
            digests = np.empty(self.size, dtype=np.int64)
            MPI = self.MPI
            self.call(f"{kind} (shape check)", self.comm.Allgather, [digest, MPI.INT64_T], [digests, MPI.INT64_T])
            if (digests == digests[0]).all():
                return
        views = self._gather_text(mine, kind)
        self.checked = True
        if any(v != views[0] for v in views):
            detail = "; ".join(f"rank {r}: {json.dumps(v['tensors'])} on {v['transport']}" for r, v in enumerate(views))
            raise InvalidArgumentError(
                None,
                None,
                f"Ranks disagree on collective '{self.op_name}' ({kind}): every rank must reduce tensors with the "
                f"same names, shapes and dtypes. {detail}",
            )

    def _gather_text(self, text: str, kind: str) -> list:
        MPI = self.MPI
        data = np.frombuffer(text.encode(), dtype=np.uint8)
        lengths = np.empty(self.size, dtype=np.int64)
        mine = np.array([data.size], dtype=np.int64)
        self.call(f"{kind} (agreement check)", self.comm.Allgather, [mine, MPI.INT64_T], [lengths, MPI.INT64_T])
        out = np.empty(int(lengths.sum()), dtype=np.uint8)
        displs = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        recv = [out, (lengths, displs), MPI.BYTE]
        self.call(f"{kind} (agreement check)", self.comm.Allgatherv, [data, MPI.BYTE], recv)
        return [json.loads(out[d : d + n].tobytes().decode()) for d, n in zip(displs, lengths)]

    # -- NCCL ---------------------------------------------------------------------------------
    def nccl_link(self, xp: Any) -> NcclLink:
        """This channel's NCCL communicator and stream, made on first use (a collective)."""
        if self.nccl is None:
            self.nccl = NcclLink(self, xp)
        return self.nccl


class _Watchdog:
    """One daemon thread that looks at the waits in progress every ``_TICK`` seconds.

    ``active`` maps each channel waiting now to ``(what, start)``; the channel's ``seq`` names the
    collective it waits in (one wait per channel at a time: its collectives run in order).
    """

    def __init__(self) -> None:
        self.active: dict[Channel, tuple[str, float]] = {}
        self.noticed: weakref.WeakKeyDictionary[Channel, int] = weakref.WeakKeyDictionary()  # seq last announced
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()

    def start(self) -> None:
        with self.lock:
            if self.thread is None:
                self.thread = threading.Thread(target=self._loop, name="flowgraph-collective-watchdog", daemon=True)
                self.thread.start()

    def _loop(self) -> None:
        while True:
            time.sleep(_TICK)
            now = time.monotonic()
            for ch, (what, start) in list(self.active.items()):
                try:
                    self._look(ch, ch.seq, what, now - start)
                except Exception as e:  # noqa: BLE001 - the watchdog must never die silently
                    sys.stderr.write(f"[flowgraph.distribute] watchdog: {type(e).__name__}: {e}\n")

    def _look(self, ch: Channel, seq: int, what: str, age: float) -> None:
        timeout = collective_timeout()
        notice_after = _notice_after(timeout)
        if age < notice_after:
            return
        if self.noticed.get(ch) != seq:
            self.noticed[ch] = seq
            ch.announce(seq)
        ch.drain_arrivals()
        msg = _comm.remote_error()
        if msg is not None:
            _comm.abort_quietly(f"rank {ch.rank} stops in {what} '{ch.op_name}': another rank failed.\n{msg}")
        # Ranks that arrived just before the deadline announce themselves within notice_after:
        # wait that long past the deadline so only ranks really missing are named.
        if age > timeout + notice_after + 2 * _TICK:
            ch.drain_arrivals()
            missing = [r for r in range(ch.size) if r != ch.rank and ch.arrived[r] < seq]
            _comm.abort_with(
                f"DeadlineExceededError: {what} '{ch.op_name}' timed out after {timeout:g} s on rank {ch.rank}: "
                f"ranks {missing} have not arrived (set FLOWGRAPH_COLLECTIVE_TIMEOUT or "
                "flowgraph.distribute.set_collective_timeout to wait longer)."
            )


_watchdog = _Watchdog()


# ---------------------------------------------------------------------------------------------
# NCCL (CuPy device graphs)
# ---------------------------------------------------------------------------------------------
def nccl_mode() -> str:
    """``FLOWGRAPH_NCCL``: ``auto`` (default: NCCL for GPU tensors when it is there), ``on``, ``off``."""
    mode = os.environ.get("FLOWGRAPH_NCCL", "auto").strip().lower()
    aliases = {"1": "on", "true": "on", "yes": "on", "0": "off", "false": "off", "no": "off", "": "auto"}
    mode = aliases.get(mode, mode)
    if mode not in ("auto", "on", "off"):
        raise ValueError(f"FLOWGRAPH_NCCL must be auto, on or off, got {os.environ['FLOWGRAPH_NCCL']!r}")
    return mode


def nccl_module(xp: Any) -> tuple[Any, str | None]:
    """``(nccl, None)`` for the array module's NCCL binding, or ``(None, why not)``."""
    if getattr(xp, "__name__", "numpy") == "numpy":
        return None, "the tensors live in host memory (NumPy)"
    try:
        nccl = importlib.import_module(f"{xp.__name__}.cuda.nccl")
    except ImportError as e:
        return None, f"{xp.__name__}.cuda.nccl cannot be imported ({e})"
    if not getattr(nccl, "available", False):
        return None, f"{xp.__name__} was built without NCCL"
    return nccl, None


def choose_transport(rt: Any, kind: str) -> str:
    """``"nccl"`` for a collective placed on a GPU when NCCL is there (and not turned off), else ``"mpi"``.

    MPI stages GPU tensors through host memory and works with every MPI build. ``FLOWGRAPH_NCCL=on``
    turns a missing NCCL into an error instead of that fallback.
    """
    mode = nccl_mode()
    on_gpu = getattr(rt.backend, "name", "cpu") == "gpu"
    if mode == "off" or (not on_gpu and mode == "auto"):
        return "mpi"
    nccl, why = nccl_module(rt.xp) if on_gpu else (None, "the collective runs on the CPU")
    if nccl is None:
        if mode == "on":
            raise RuntimeError(f"FLOWGRAPH_NCCL=on but {kind} cannot use NCCL: {why}. Install CuPy with NCCL "
                               "(pip install 'cupy-cuda12x' and 'nvidia-nccl-cu12') or set FLOWGRAPH_NCCL=auto.")
        return "mpi"
    return "nccl"


_NCCL_TYPES = ("float16", "float32", "float64", "int8", "uint8", "int32", "uint32", "int64", "uint64")


def nccl_dtype(nccl: Any, dtype: Any) -> int | None:
    """NCCL's code for a NumPy/CuPy dtype, or None where NCCL has none (bool, complex, int16)."""
    name = np.dtype(dtype).name
    return getattr(nccl, f"NCCL_{name.upper()}", None) if name in _NCCL_TYPES else None


class NcclLink:
    """An NCCL communicator over one channel's ranks, with a CUDA stream of its own.

    Rank 0 draws the unique id and broadcasts it over the channel's MPI communicator. Each channel
    has its own communicator and stream because NCCL needs the calls on one communicator (and one
    stream) in the same order on every rank, and the parallel scheduler may start two collectives
    in different orders on different ranks.
    """

    def __init__(self, channel: Channel, xp: Any) -> None:
        nccl, why = nccl_module(xp)
        if nccl is None:
            raise RuntimeError(f"collective '{channel.op_name}' cannot use NCCL: {why}")
        self.nccl = nccl
        self.xp = xp
        self.channel = channel
        uid = np.zeros(128, dtype=np.int8)
        if channel.rank == 0:
            uid[:] = np.array(nccl.get_unique_id(), dtype=np.int64).astype(np.int8)
        channel.call("NCCL setup", channel.comm.Bcast, [uid, channel.MPI.SIGNED_CHAR], 0)
        self.comm = nccl.NcclCommunicator(channel.size, tuple(int(v) for v in uid), channel.rank)
        self.stream = xp.cuda.Stream(non_blocking=True)

    def run(self, enqueue: Any, what: str) -> None:
        """Enqueues ``enqueue(stream_ptr)`` after the work already queued for its inputs; waits for it."""
        ready = self.xp.cuda.get_current_stream().record()
        self.stream.wait_event(ready)
        enqueue(self.stream.ptr)
        self.channel.call(what, self.stream.synchronize)
