"""Batch-split runs: forked worker processes compute parts of the batch beside the caller.

Threads cannot share a CNN step on these machines: its hundred-odd NumPy calls of 10-100 us each
serialise on the GIL, and every GIL hand-off waits for a sleeping thread to wake (measured 1.04-1.2x
on two threads, ``runtime/intra_op.py``). Two processes have no GIL between them. The worker is
forked from the session's process once per plan, so it holds the same bound kernels; it runs the
plan's per-example steps (``batch_split.analyse``) on its rows of the batch while the main process
runs them on its own rows plus every other step, and they meet only where values cross (one
worker on two cores; up to one per further core on larger machines, each with at least
``MIN_ROWS`` rows):

- replicated values worker steps read (weights, the learning rate) go main -> worker;
- partial sums (weight gradients, the loss) and split values the main process needs whole go
  worker -> main, and are added to or stacked under the main process's own.

Values cross through one anonymous shared mapping made before the fork, each in a region sized on
the plan's first run; a flag per region carries the run's sequence number. Both sides spin on the
flags (a wake-up through the kernel costs 50-90 us on these VMs, a whole convolution 100-800 us),
and the worker goes to sleep on a pipe after ``IDLE_SPIN`` seconds without a run, as OpenMP's
worker threads do. The worker never runs stateful ops: variables and their updates stay in the
main process, which is why a split run changes nothing a single-process run would not.
"""

from __future__ import annotations

import mmap
import os
import select
import signal
import sys
import threading
import time
import warnings
import weakref
from typing import Any

import numpy as np

from flowgraph.runtime import split_programs
from flowgraph.runtime.batch_split import Rows, S, SplitProgram
from flowgraph.runtime.executor import StepFailure

#: Seconds the worker spins for the next run before it sleeps on its pipe.
IDLE_SPIN = 0.02

#: Fewest batch rows per process when choosing how many workers to fork (the batch-minor
#: convolutions want runs of at least 16 images).
MIN_ROWS = 16

# Header words (int64) of the shared mapping: a few for the run, then a group per worker.
_RUN, _ABORT, _QUIT, _TOTAL = range(4)
_GLOBAL_WORDS = 8
_DONE, _ERROR, _SLEEPING, _START, _END = range(5)  # offsets in a worker's group
_WORKER_WORDS = 8
_CHANNEL_WORDS = 12  # flag, dtype char, ndim, up to 9 dims
_MAX_NDIM = 9
_ERROR_BYTES = 4096
_ALIGN = 64


class WorkerFailed(RuntimeError):
    """A worker process failed or died during a run (the message says which op or how).

    ``rerun``: no stateful op had run yet, so the whole run can be done again in one process
    (which then raises the error a single-process run raises, with its usual message).
    """

    rerun = False


class _Channel:
    """One value's region in the shared mapping: header words at ``word``, data at ``offset``."""

    __slots__ = ("capacity", "offset", "seen", "view", "word")

    def __init__(self, word: int, offset: int, capacity: int) -> None:
        self.word = word
        self.offset = offset
        self.capacity = capacity
        self.view: Any = None  # the writer's view for the last shape and dtype written
        self.seen: Any = None  # the reader's (header words, read-only view) of the last one read


def _round_up(n: int) -> int:
    return (n + _ALIGN - 1) // _ALIGN * _ALIGN


def workers_for(batch: int) -> int:
    """How many workers to fork for batches of ``batch`` rows: one per further core, while each
    process keeps ``MIN_ROWS`` rows (always at least one)."""
    return max(1, min((os.cpu_count() or 2) - 1, batch // MIN_ROWS - 1))


def blas_threads(workers: int = 1) -> int:
    """BLAS threads for each of the ``workers + 1`` processes: their share of the cores."""
    return max(1, (os.cpu_count() or 2) // (workers + 1))


class SplitRunner:
    """Runs one plan split across this process and forked workers (see the module docstring)."""

    def __init__(self, plan: Any, program: SplitProgram, sizes: dict[int, int], feed_sizes: list[int],
                 batch: int, intra: Any = None, workers: int | None = None) -> None:
        self.plan = plan
        self.intra = intra
        self.program = program
        #: The largest batch the regions were sized for (the first run's).
        self.batch = batch
        self.workers = k = workers if workers is not None else workers_for(batch)
        self.worker_set = frozenset(program.worker_steps)
        self.send = frozenset(program.send)
        self.publish = frozenset(program.gather) | frozenset(program.merge)
        self.feed_split = frozenset(plan.feed_slots[i] for i in program.split_feeds)
        self.rows = Rows()
        #: One split run at a time: a caller that finds it taken runs in one process instead.
        self.lock = threading.Lock()
        self.seq = 0
        self.pids: list[int] = []
        self.index = -1  # in a worker: which one (0-based); -1 in the main process
        self.failed: str | None = None
        # Regions: one per crossing value and reader; a split value's hold a worker's rows only.
        most_rows = -(-batch // (k + 1)) + 1

        def rows_of(nbytes: int) -> int:
            return -(-nbytes // batch) * most_rows

        keys: list[tuple[Any, int]] = []
        for i in program.split_feeds:
            keys += [(("feed", i, w), rows_of(feed_sizes[i])) for w in range(k)]
        keys += [(("feed", i), feed_sizes[i]) for i in program.sent_feeds]
        keys += [(s, sizes.get(s, 0)) for s in sorted(self.send)]
        for s in sorted(self.publish):
            n = sizes.get(s, 0)
            keys += [((s, w), rows_of(n) if program.kind.get(s) == S else n) for w in range(k)]
        word = _GLOBAL_WORDS + _WORKER_WORDS * k
        offset = 0
        channels: dict[Any, _Channel] = {}
        for key, nbytes in keys:
            channels[key] = _Channel(word, offset, max(nbytes, 8))
            word += _CHANNEL_WORDS
            offset += _round_up(max(nbytes, 8))
        self.channels = channels
        self.error_at = _round_up(word * 8)
        self.data_at = self.error_at + _ERROR_BYTES * k
        self.mm = mmap.mmap(-1, self.data_at + max(offset, _ALIGN))
        self.h = memoryview(self.mm)[: word * 8].cast("q")
        self.pipes = [os.pipe() for _ in range(k)]
        self.main_fn, self.main_lines = split_programs.main_function(self)
        self._start()
        self._finalizer = weakref.finalize(
            self, _stop, self.h, [w for _, w in self.pipes], list(self.pids), self.parent
        )

    @property
    def pid(self) -> int:
        """The first worker's process id."""
        return self.pids[0]

    def word(self, w: int, what: int) -> int:
        """Index of header word ``what`` (``_DONE``, ``_ERROR``, ...) of worker ``w``."""
        return _GLOBAL_WORDS + _WORKER_WORDS * w + what

    def error_seq(self, w: int = 0) -> int:
        """The last run worker ``w`` reported an error in (0: none)."""
        return self.h[self.word(w, _ERROR)]

    def sleeping(self, w: int = 0) -> bool:
        return bool(self.h[self.word(w, _SLEEPING)])

    # -- the workers -----------------------------------------------------------------------------
    def _start(self) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        self.parent = os.getpid()
        try:
            for w in range(self.workers):
                with warnings.catch_warnings():
                    # Python 3.12+ warns about forking a process with threads (the session's pools,
                    # OpenBLAS's): the worker only runs kernels, whose locks (malloc's, OpenBLAS's)
                    # their libraries reset at fork, and never the other threads' Python code.
                    warnings.simplefilter("ignore", DeprecationWarning)
                    pid = os.fork()
                if pid == 0:  # a worker: serve runs until told to quit or the parent is gone
                    self._child(w)
                self.pids.append(pid)
        except BaseException:
            _stop(self.h, [wfd for _, wfd in self.pipes], list(self.pids), self.parent)
            raise
        finally:
            for r, _ in self.pipes:
                os.close(r)

    def _child(self, w: int) -> None:
        code = 0
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
            for i, (r, wfd) in enumerate(self.pipes):
                os.close(wfd)
                if i != w:
                    os.close(r)
            self.index = w
            self.wake_r = self.pipes[w][0]
            self.worker_fn, self.worker_lines = split_programs.worker_function(self, w)
            _worker_setup(self.intra, self.workers)
            self._serve()
        except BaseException:  # noqa: BLE001 - nothing may escape a forked child
            code = 1
        finally:
            os._exit(code)

    def _serve(self) -> None:
        h, me = self.h, self.index
        run_done = self.word(me, _DONE)
        last = 0
        yield_ = os.sched_yield
        while True:
            t0 = time.perf_counter()
            while h[_RUN] == last and not h[_QUIT]:
                yield_()  # a thread of the main process (OpenBLAS's) may want this core
                if time.perf_counter() - t0 > IDLE_SPIN:
                    self._sleep(last)
                    t0 = time.perf_counter()
            if h[_QUIT]:
                return
            last = h[_RUN]
            try:
                self._worker_run(last)
            except _Aborted:
                pass
            except BaseException as e:  # noqa: BLE001 - reported to the main process
                self._report(last, e)
            h[run_done] = last

    def _sleep(self, last: int) -> None:
        h = self.h
        flag = self.word(self.index, _SLEEPING)
        h[flag] = 1
        timeout = 0.02
        while h[_RUN] == last and not h[_QUIT]:
            ready, _, _ = select.select([self.wake_r], [], [], timeout)
            if ready and not os.read(self.wake_r, 64):
                h[_QUIT] = 1  # the main process closed its end: it is gone
            if os.getppid() != self.parent:
                h[_QUIT] = 1
            timeout = min(timeout * 2, 1.0)
        h[flag] = 0

    def _report(self, seq: int, e: BaseException) -> None:
        op = getattr(e, "_flowgraph_op", None)
        text = f"{type(e).__name__}: {e}"
        if op is not None:
            text = f"op '{op}': {text}"
        data = text.encode("utf-8", "replace")[: _ERROR_BYTES - 8]
        at = self.error_at + _ERROR_BYTES * self.index
        self.mm[at : at + 8] = len(data).to_bytes(8, "little")
        self.mm[at + 8 : at + 8 + len(data)] = data
        self.h[self.word(self.index, _ERROR)] = seq

    def _worker_run(self, seq: int) -> None:
        h, rows, me = self.h, self.rows, self.index
        rows.n, rows.total = h[self.word(me, _END)] - h[self.word(me, _START)], h[_TOTAL]
        try:
            self.worker_fn(seq)
        except (_Aborted, WorkerFailed):
            raise
        except BaseException as e:
            step = split_programs.failed_step(e, split_programs.WORKER_FILE, self.worker_lines, self.plan.steps)
            if step is not None:
                e._flowgraph_op = step.op.name  # type: ignore[attr-defined]
            raise

    # -- crossing values ---------------------------------------------------------------------------
    def _put(self, key: Any, value: Any, seq: int) -> None:
        ch = self.channels[key]
        a = value if type(value) is np.ndarray else np.asarray(value)
        view = ch.view
        if view is None or view.shape != a.shape or view.dtype != a.dtype:
            if a.dtype.hasobject or a.ndim > _MAX_NDIM:
                raise WorkerFailed(f"cannot share a value of dtype {a.dtype} and rank {a.ndim} between processes")
            if a.nbytes > ch.capacity:
                raise WorkerFailed(
                    f"a value of {a.nbytes} bytes exceeds the {ch.capacity} bytes sized on the first run"
                )
            view = ch.view = np.ndarray(a.shape, a.dtype, buffer=self.mm, offset=self.data_at + ch.offset)
            h, w = self.h, ch.word
            h[w + 1] = ord(a.dtype.char)
            h[w + 2] = a.ndim
            for d_i, d in enumerate(a.shape):
                h[w + 3 + d_i] = d
        np.copyto(view, a)
        self.h[ch.word] = seq  # after the data: a reader trusts the data once it sees the flag

    def _take(self, key: Any, seq: int) -> Any:
        """The value in ``key``'s region for run ``seq`` (a read-only view), waiting for it."""
        ch = self.channels[key]
        h, w = self.h, ch.word
        if h[w] != seq:
            self._wait(w, seq)
        header = tuple(h[w + 1 : w + 3 + h[w + 2]])
        seen = ch.seen
        if seen is not None and seen[0] == header:
            return seen[1]
        view = np.ndarray(header[2:], np.dtype(chr(header[0])), buffer=self.mm, offset=self.data_at + ch.offset)
        view.flags.writeable = False
        ch.seen = (header, view)
        return view

    def _wait(self, word: int, seq: int, errors: bool = True) -> None:
        """Spins until header word ``word`` reads ``seq``; in the main process raises ``WorkerFailed``
        when a worker reports an error in run ``seq`` (``errors``) or is gone."""
        h = self.h
        main = self.index < 0
        spins = 0
        yield_ = os.sched_yield
        while h[word] != seq:
            spins += 1
            if spins > 64:
                # Another process may share this core (with OpenBLAS's idle threads spinning for
                # 0.1 s after each multi-threaded call): give it the core.
                yield_()
            if spins & 255:
                continue
            if main:
                if errors:
                    for w in range(self.workers):
                        if h[self.word(w, _ERROR)] == seq:
                            raise WorkerFailed(self._error_text(w))
                if spins & 4095 == 0 and not self._alive():
                    raise WorkerFailed(f"a batch-split worker process died: {self.failed}")
            elif h[_ABORT] == seq or h[_QUIT]:
                raise _Aborted
            elif spins & 4095 == 0 and os.getppid() != self.parent:  # the main process died mid-run
                h[_QUIT] = 1
                raise _Aborted

    def _error_text(self, w: int) -> str:
        at = self.error_at + _ERROR_BYTES * w
        n = int.from_bytes(self.mm[at : at + 8], "little")
        text = self.mm[at + 8 : at + 8 + n].decode("utf-8", "replace")
        return f"the batch-split worker process {self.pids[w]} failed: {text}"

    def _alive(self) -> bool:
        """False (and ``failed`` set) once any worker has exited."""
        for pid in self.pids:
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done, status = pid, 0
            if done:
                self.failed = f"process {pid}, exit status {os.waitstatus_to_exitcode(status)}"
                return False
        return True

    # -- the main process's side ---------------------------------------------------------------
    def fits(self, feeds: tuple) -> bool:
        """Whether this run can be split: one common batch with a row for every process, within
        the regions."""
        if self.failed is not None or os.getpid() != self.parent:  # (a process forked by the user)
            return False
        n = batch_of(self.program, feeds)
        if n is None or n > self.batch or n < self.workers + 1:
            return False
        return all(np.asarray(feeds[i]).nbytes <= self.channels[("feed", i)].capacity for i in self.program.sent_feeds)

    def run(self, feeds: tuple) -> tuple:
        """One split run (``fits(feeds)`` and ``lock`` held); returns the fetches like ``run_loop``."""
        prog, h, k = self.program, self.h, self.workers
        for w in range(k):  # the previous run's worker side may still be finishing (an abort)
            if h[self.word(w, _DONE)] != self.seq:
                self._wait(self.word(w, _DONE), self.seq, errors=False)
        seq = self.seq + 1
        total = int(np.shape(feeds[prog.split_feeds[0]])[0])
        bounds = [total * p // (k + 1) for p in range(k + 2)]
        mine = bounds[1]
        rows = self.rows
        rows.n, rows.total = mine, total
        h[_TOTAL] = total
        for w in range(k):
            h[self.word(w, _START)], h[self.word(w, _END)] = bounds[w + 1], bounds[w + 2]
            for i in prog.split_feeds:
                self._put(("feed", i, w), feeds[i][bounds[w + 1] : bounds[w + 2]], seq)
        for i in prog.sent_feeds:
            self._put(("feed", i), feeds[i], seq)
        self.seq = seq
        h[_RUN] = seq
        self.touched = False
        for w in range(k):
            if h[self.word(w, _SLEEPING)]:
                try:
                    os.write(self.pipes[w][1], b"!")
                except OSError:  # the worker's end is closed: it is gone
                    if self._alive():
                        self.failed = f"process {self.pids[w]} closed its end of the wake-up pipe"
                    e = WorkerFailed(f"a batch-split worker process died: {self.failed}")
                    e.rerun = True
                    h[_ABORT] = seq
                    raise e from None
        try:
            return self._main_run(feeds, seq, mine)
        except BaseException as e:
            h[_ABORT] = seq
            if isinstance(e, WorkerFailed):
                e.rerun = not self.touched
            raise

    def _main_run(self, feeds: tuple, seq: int, mine: int) -> tuple:
        try:
            return self.main_fn(feeds, mine, seq)
        except WorkerFailed:
            raise
        except BaseException as e:
            step = split_programs.failed_step(e, split_programs.MAIN_FILE, self.main_lines, self.plan.steps)
            if step is None:
                raise
            frame = split_programs.frame_of(e, split_programs.MAIN_FILE)
            names = frame.f_locals if frame is not None else {}
            inputs = [names.get(f"s{s}", self.plan.const_slots.get(s)) for s in step.in_slots]
            raise StepFailure(step, inputs, e) from e

    def close(self) -> None:
        self._finalizer()


class _Aborted(Exception):
    """The main process abandoned the run the worker is in."""


def _worker_setup(intra: Any, workers: int) -> None:
    """In a forked worker: its share of the cores' BLAS threads, no intra-op pieces."""
    from flowgraph.runtime.intra_op import BLAS

    for c in BLAS._blas():
        try:
            c.set_num_threads(blas_threads(workers))
        except Exception:  # noqa: BLE001 - an unknown BLAS keeps its threads
            pass
    if intra is not None:
        intra.enabled = False
        intra.threads = 1


def _stop(h: Any, wake_fds: list[int], pids: list[int], parent: int) -> None:
    """Tells the workers to quit and reaps them (a session's close, or the runner's collection).

    Only in the process that forked them: a process the user forks later inherits the runner
    (and its exit handlers), and must leave the workers to their parent.
    """
    if os.getpid() != parent:
        return
    try:
        h[_QUIT] = 1
    except (ValueError, TypeError):
        pass
    for fd in wake_fds:
        try:
            os.write(fd, b"!")
        except OSError:
            pass
    deadline = time.monotonic() + 2.0
    for pid in pids:
        try:
            while True:
                done, _ = os.waitpid(pid, os.WNOHANG)
                if done or time.monotonic() > deadline:
                    break
                time.sleep(0.001)
            if not done:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
        except (ChildProcessError, ProcessLookupError, OSError):
            pass
    for fd in wake_fds:
        try:
            os.close(fd)
        except OSError:
            pass


def batch_of(program: SplitProgram, feeds: tuple) -> int | None:
    """The batch the split feeds share (None: they disagree, or it has fewer than two rows)."""
    n = None
    for i in program.split_feeds:
        shape = getattr(feeds[i], "shape", None)
        if not shape:
            return None
        if n is None:
            n = shape[0]
        elif shape[0] != n:
            return None
    return n if n is not None and n >= 2 else None


#: Per-example work (seconds a run, measured on a plan's first split attempt) below which a default
#: session does not fork a worker to share it: crossing values and waking cost 0.1-0.3 ms a run.
MIN_WORK_SECONDS = 0.0005


def measure_run(plan: Any, feeds: tuple, program: SplitProgram) -> tuple[tuple, dict[int, int], float]:
    """A plain serial run that also records each slot's size in bytes (to size the regions) and
    the seconds the per-example steps took (whether a worker could pay)."""
    from flowgraph.runtime.executor import run_loop

    trace: list = []
    sizes: dict[int, int] = {}
    results = run_loop(plan, feeds, trace, slot_bytes=sizes)
    per_example = frozenset(program.worker_steps)
    work = sum(t1 - t0 for i, (_, t0, t1, _) in enumerate(trace) if i in per_example) / 1e9
    return results, sizes, work


def forced() -> bool:
    """``FLOWGRAPH_BATCH_SPLIT=on``: split every plan that can be, without timing the ways first."""
    return os.environ.get("FLOWGRAPH_BATCH_SPLIT", "auto").lower() in ("1", "on", "yes", "true")


def available() -> bool:
    """Whether this process may fork a worker: Linux, several cores, a BLAS whose threads survive a
    fork (OpenBLAS's pthreads do; an OpenMP runtime may hang in a forked child), not under MPI, and
    not switched off by ``FLOWGRAPH_BATCH_SPLIT=off``."""
    if os.environ.get("FLOWGRAPH_BATCH_SPLIT", "auto").lower() in ("0", "off", "no", "false"):
        return False
    if not sys.platform.startswith("linux") or not hasattr(os, "fork") or (os.cpu_count() or 1) < 2:
        return False
    mpi = sys.modules.get("mpi4py.MPI")
    if mpi is not None and mpi.Is_initialized():
        return False
    from flowgraph.runtime.intra_op import BLAS

    return all(getattr(c, "threading_layer", "pthreads") != "openmp" for c in BLAS._blas())

