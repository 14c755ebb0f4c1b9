"""Batch-split runs: a forked worker process computes the second part of the batch beside the caller.

Threads cannot share a CNN step on these machines: its hundred-odd NumPy calls of 10-100 us each
serialise on the GIL, and every GIL hand-off waits for a sleeping thread to wake (measured 1.04-1.2x
on two threads, ``runtime/intra_op.py``). Two processes have no GIL between them. The worker is
forked from the session's process once per plan, so it holds the same bound kernels; it runs the
plan's per-example steps (``batch_split.analyse``) on its rows of the batch while the main process
runs them on its own rows plus every other step, and the two meet only where values cross:

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
import weakref
from typing import Any

import numpy as np

from flowgraph.runtime.batch_split import P, R, Rows, S, SplitProgram
from flowgraph.runtime.executor import StepFailure, _store

#: Seconds the worker spins for the next run before it sleeps on its pipe.
IDLE_SPIN = 0.005

# Header words (int64) of the shared mapping.
_RUN, _ABORT, _DONE, _ERROR, _SLEEPING, _TOTAL, _MAIN_ROWS, _QUIT = range(8)
_HEADER_WORDS = 16
_CHANNEL_WORDS = 12  # flag, dtype char, ndim, up to 9 dims
_MAX_NDIM = 9
_ERROR_BYTES = 4096
_ALIGN = 64


class WorkerFailed(RuntimeError):
    """The worker process failed or died during a run (the message says which op or how).

    ``rerun``: no stateful op had run yet, so the whole run can be done again in one process
    (which then raises the error a single-process run raises, with its usual message).
    """

    rerun = False


class _Channel:
    """One value's region in the shared mapping: header words at ``word``, data at ``offset``."""

    __slots__ = ("word", "offset", "capacity", "view", "seen")

    def __init__(self, word: int, offset: int, capacity: int) -> None:
        self.word = word
        self.offset = offset
        self.capacity = capacity
        self.view: Any = None  # the writer's view for the last shape and dtype written
        self.seen: Any = None  # the reader's (header words, read-only view) of the last one read


def _round_up(n: int) -> int:
    return (n + _ALIGN - 1) // _ALIGN * _ALIGN


class SplitRunner:
    """Runs one plan split across this process and a forked worker (see the module docstring)."""

    def __init__(self, plan: Any, program: SplitProgram, sizes: dict[int, int], feed_sizes: list[int],
                 batch: int, intra: Any = None) -> None:
        self.plan = plan
        self.intra = intra
        self.program = program
        #: The largest batch the regions were sized for (the first run's).
        self.batch = batch
        self.worker_set = frozenset(program.worker_steps)
        self.send = frozenset(program.send)
        self.publish = frozenset(program.gather) | frozenset(program.merge)
        self.feed_split = frozenset(plan.feed_slots[i] for i in program.split_feeds)
        self.feed_sent = frozenset(plan.feed_slots[i] for i in program.sent_feeds)
        self.rows = Rows()
        #: One split run at a time: a caller that finds it taken runs in one process instead.
        self.lock = threading.Lock()
        self.seq = 0
        self.pid = 0
        self.failed: str | None = None
        # Regions: one per crossing value, fed or computed.
        channels: dict[Any, _Channel] = {}
        word = _HEADER_WORDS
        offset = 0
        keys: list[tuple[Any, int]] = [(("feed", i), feed_sizes[i]) for i in program.split_feeds + program.sent_feeds]
        keys += [(s, sizes.get(s, 0)) for s in sorted(self.send | self.publish)]
        for key, nbytes in keys:
            channels[key] = _Channel(word, offset, max(nbytes, 8))
            word += _CHANNEL_WORDS
            offset += _round_up(max(nbytes, 8))
        self.channels = channels
        header_bytes = _round_up(word * 8)
        self.error_at = header_bytes
        self.data_at = header_bytes + _ERROR_BYTES
        self.mm = mmap.mmap(-1, self.data_at + max(offset, _ALIGN))
        self.h = memoryview(self.mm)[: word * 8].cast("q")
        self.wake_r, self.wake_w = os.pipe()
        self._programs()
        self._start()
        self._finalizer = weakref.finalize(self, _stop, self.h, self.wake_w, self.pid, self.mm)

    # -- the worker ------------------------------------------------------------------------------
    def _start(self) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        parent = self.parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the worker: serve runs until told to quit or the parent is gone
            code = 0
            try:
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
                os.close(self.wake_w)
                _worker_setup(self.intra)
                self._serve(parent)
            except BaseException:  # noqa: BLE001 - nothing may escape a forked child
                code = 1
            finally:
                os._exit(code)
        os.close(self.wake_r)
        self.pid = pid

    def _serve(self, parent: int) -> None:
        h = self.h
        last = 0
        yield_ = os.sched_yield
        while True:
            t0 = time.perf_counter()
            while h[_RUN] == last and not h[_QUIT]:
                yield_()  # a thread of the main process (OpenBLAS's) may want this core
                if time.perf_counter() - t0 > IDLE_SPIN:
                    self._sleep(parent, last)
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
            h[_DONE] = last

    def _sleep(self, parent: int, last: int) -> None:
        h = self.h
        h[_SLEEPING] = 1
        timeout = 0.02
        while h[_RUN] == last and not h[_QUIT]:
            ready, _, _ = select.select([self.wake_r], [], [], timeout)
            if ready and not os.read(self.wake_r, 64):
                h[_QUIT] = 1  # the main process closed its end: it is gone
            if os.getppid() != parent:
                h[_QUIT] = 1
            timeout = min(timeout * 2, 1.0)
        h[_SLEEPING] = 0

    def _report(self, seq: int, e: BaseException) -> None:
        op = getattr(e, "_flowgraph_op", None)
        text = f"{type(e).__name__}: {e}"
        if op is not None:
            text = f"op '{op}': {text}"
        data = text.encode("utf-8", "replace")[: _ERROR_BYTES - 8]
        self.mm[self.error_at : self.error_at + 8] = len(data).to_bytes(8, "little")
        self.mm[self.error_at + 8 : self.error_at + 8 + len(data)] = data
        self.h[_ERROR] = seq

    def _worker_run(self, seq: int) -> None:
        h, rows = self.h, self.rows
        total = h[_TOTAL]
        rows.n, rows.total = total - h[_MAIN_ROWS], total
        try:
            self.worker_fn(seq)
        except (_Aborted, WorkerFailed):
            raise
        except BaseException as e:
            step = _failed_step(e, _WORKER_FILE, self.worker_lines, self.plan.steps)
            if step is not None:
                e._flowgraph_op = step.op.name  # type: ignore[attr-defined]
            raise

    def _programs(self) -> None:
        """Generates each side's run as one straight-line function (as ``compile_serial`` does).

        The main process runs every step, per-example ones on its own rows; a step that needs a
        split, partial or local value whole gets it (``w<slot>``) the first time one needs it.
        """
        plan, prog = self.plan, self.program
        kind, consts = prog.kind, plan.const_slots
        env: dict[str, Any] = {
            "put": self._put, "take": self._take, "rows": self.rows, "R_": self, "np": np,
            "gather": lambda local, key, seq: np.concatenate((np.asarray(local), self._take(key, seq)), axis=0),
            "merge": lambda local, key, seq: np.add(local, self._take(key, seq)),
            "widen": _widen,
        }
        for c, v in consts.items():
            env[f"c{c}"] = v

        def ref(slot: int) -> str:
            return f"c{slot}" if slot in consts else f"s{slot}"

        def target(outs: tuple) -> str:
            names = ["_" if o < 0 else f"s{o}" for o in outs]
            return names[0] if len(names) == 1 else ", ".join(names) + ","

        def call(i: int, st: Any, args: str) -> str:
            env[f"k{i}"] = st.kernel
            fix = prog.adjust.get(i)
            if fix is None:
                return f"k{i}({args})"
            env[f"fx{i}"] = fix
            return f"fx{i}(k{i}({args}), rows)"

        # The worker.
        feed_pos = {plan.feed_slots[i]: i for i in range(len(plan.feed_slots))}
        lines, line_step = ["def _worker(seq):"], [-1, -1]
        for i in prog.split_feeds + prog.sent_feeds:
            env[f"K{i}"] = ("feed", i)
            lines.append(f"    s{plan.feed_slots[i]} = take(K{i}, seq)")
            line_step.append(-1)
        got = set(consts) | {plan.feed_slots[i] for i in prog.split_feeds + prog.sent_feeds}
        for i in prog.worker_steps:
            st = plan.steps[i]
            for r in dict.fromkeys(st.in_slots):
                if r not in got:  # a replicated value from the main process
                    got.add(r)
                    lines.append(f"    s{r} = take({r}, seq)")
                    line_step.append(i)
            body = call(i, st, ", ".join(ref(x) for x in st.in_slots))
            lines.append(f"    {target(st.out_slots)} = {body}" if st.out_slots else f"    {body}")
            line_step.append(i)
            got.update(st.out_slots)
            for o in st.out_slots:
                if o in self.publish:
                    lines.append(f"    put({o}, s{o}, seq)")
                    line_step.append(i)
            for f in prog.worker_frees.get(i, ()):
                lines.append(f"    s{f} = None")
                line_step.append(i)
        lines.append("    return None")
        self.worker_fn, self.worker_lines = _compiled(lines, env, "_worker", _WORKER_FILE), line_step

        # The main process.
        n_feeds = len(plan.feed_slots)
        lines, line_step = ["def _main(feeds, mine, seq):"], [-1, -1]
        if n_feeds:
            lines.append("    " + ", ".join(f"f{i}" for i in range(n_feeds)) + ", = feeds")
            line_step.append(-1)
        whole: set[int] = set()
        for s_, i in feed_pos.items():
            if s_ in self.feed_split:
                lines.append(f"    s{s_} = f{i}[:mine]")
                lines.append(f"    w{s_} = f{i}")
                whole.add(s_)
                line_step += [-1, -1]
            else:
                lines.append(f"    s{s_} = f{i}")
                line_step.append(-1)

        def whole_ref(slot: int, i: int) -> str:
            k = kind.get(slot, R)
            if k == R:
                return ref(slot)
            if slot not in whole:
                whole.add(slot)
                how = {S: "gather", P: "merge"}.get(k)
                expr = f"widen(s{slot}, rows)" if how is None else f"{how}(s{slot}, {slot}, seq)"
                lines.append(f"    w{slot} = {expr}")
                line_step.append(i)
            return f"w{slot}"

        for i, st in enumerate(plan.steps):
            local = i in self.worker_set or i in prog.main_local
            args = ", ".join(ref(x) if local else whole_ref(x, i) for x in st.in_slots)
            if st.for_op is None and st.op._opdef.stateful:  # from here on a failed run cannot be redone
                lines.append("    R_.touched = True")
                line_step.append(i)
            body = call(i, st, args)
            lines.append(f"    {target(st.out_slots)} = {body}" if st.out_slots else f"    {body}")
            line_step.append(i)
            for o in st.out_slots:
                if o in self.send:
                    lines.append(f"    put({o}, s{o}, seq)")
                    line_step.append(i)
            for f in st.frees:
                lines.append(f"    s{f} = None")
                line_step.append(i)
                if f in whole:
                    lines.append(f"    w{f} = None")
                    line_step.append(i)
        fetches = "".join(("None" if f < 0 else whole_ref(f, -1)) + ", " for f in plan.fetch_slots)
        lines.append(f"    return ({fetches})")
        self.main_fn, self.main_lines = _compiled(lines, env, "_main", _MAIN_FILE), line_step

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
            for k, d in enumerate(a.shape):
                h[w + 3 + k] = d
        np.copyto(view, a)
        self.h[ch.word] = seq  # after the data: the reader trusts the data once it sees the flag

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
        when the worker reports an error in run ``seq`` (``errors``) or is gone."""
        h = self.h
        main = self.pid != 0
        spins = 0
        yield_ = os.sched_yield
        while h[word] != seq:
            spins += 1
            if spins > 64:
                # The other process may share this core (with OpenBLAS's idle threads spinning on the
                # other one for 0.1 s after each multi-threaded call): give it the core.
                yield_()
            if spins & 255:
                continue
            if main:
                if errors and h[_ERROR] == seq:
                    raise WorkerFailed(self._error_text())
                if spins & 4095 == 0 and not self._alive():
                    raise WorkerFailed(f"the batch-split worker process (pid {self.pid}) died: {self.failed}")
            elif h[_ABORT] == seq or h[_QUIT]:
                raise _Aborted
            elif spins & 4095 == 0 and os.getppid() != self.parent:  # the main process died mid-run
                h[_QUIT] = 1
                raise _Aborted

    def _error_text(self) -> str:
        n = int.from_bytes(self.mm[self.error_at : self.error_at + 8], "little")
        return "the batch-split worker process failed: " + self.mm[self.error_at + 8 : self.error_at + 8 + n].decode(
            "utf-8", "replace"
        )

    def _alive(self) -> bool:
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            pid, status = self.pid, 0
        if pid == 0:
            return True
        self.failed = f"exit status {os.waitstatus_to_exitcode(status)}"
        return False

    # -- the main process's side ---------------------------------------------------------------
    def fits(self, feeds: tuple) -> bool:
        """Whether this run can be split: one common batch of at least two rows, within the regions."""
        if self.failed is not None:
            return False
        n = batch_of(self.program, feeds)
        if n is None or n > self.batch:
            return False
        return all(np.asarray(feeds[i]).nbytes <= self.channels[("feed", i)].capacity for i in self.program.sent_feeds)

    def run(self, feeds: tuple) -> tuple:
        """One split run (``fits(feeds)`` and ``lock`` held); returns the fetches like ``run_loop``."""
        prog, h = self.program, self.h
        if h[_DONE] != self.seq:  # the previous run's worker side is still finishing (an abort)
            self._wait(_DONE, self.seq, errors=False)
        seq = self.seq + 1
        total = int(np.shape(feeds[prog.split_feeds[0]])[0])
        mine = total // 2
        rows = self.rows
        rows.n, rows.total = mine, total
        h[_TOTAL], h[_MAIN_ROWS] = total, mine
        for i in prog.split_feeds:
            self._put(("feed", i), feeds[i][mine:], seq)
        for i in prog.sent_feeds:
            self._put(("feed", i), feeds[i], seq)
        self.seq = seq
        h[_RUN] = seq
        self.touched = False
        if h[_SLEEPING]:
            try:
                os.write(self.wake_w, b"!")
            except OSError:  # the worker's end is closed: it is gone
                if self._alive():
                    self.failed = "it closed its end of the wake-up pipe"
                e = WorkerFailed(f"the batch-split worker process (pid {self.pid}) died: {self.failed}")
                e.rerun = True
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
            step = _failed_step(e, _MAIN_FILE, self.main_lines, self.plan.steps)
            if step is None:
                raise
            frame = _frame_of(e, _MAIN_FILE)
            names = frame.f_locals if frame is not None else {}
            inputs = [names.get(f"s{s}", self.plan.const_slots.get(s)) for s in step.in_slots]
            raise StepFailure(step, inputs, e) from e

    def close(self) -> None:
        self._finalizer()


class _Aborted(Exception):
    """The main process abandoned the run the worker is in."""


_MAIN_FILE = "<flowgraph split run>"
_WORKER_FILE = "<flowgraph split worker>"


def _compiled(lines: list[str], env: dict, name: str, filename: str) -> Any:
    exec(compile("\n".join(lines) + "\n", filename, "exec"), env)  # noqa: S102 - code from our own plan
    return env[name]


def _frame_of(exc: BaseException, filename: str) -> Any:
    """The generated function's frame in ``exc``'s traceback (None if it did not pass through it)."""
    tb, frame = exc.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            frame = tb.tb_frame
        tb = tb.tb_next
    return frame


def _failed_step(exc: BaseException, filename: str, line_step: list[int], steps: list) -> Any:
    """The plan step whose line of generated code raised ``exc`` (None if none did)."""
    tb, line = exc.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    if line is None or line >= len(line_step) or line_step[line] < 0:
        return None
    return steps[line_step[line]]


def _widen(shape: Any, rows: Rows) -> Any:
    """A local shape made whole: the batch's rows at index 0."""
    v = np.array(shape, copy=True)
    v[0] = rows.total
    return v


def _worker_setup(intra: Any) -> None:
    """In the forked worker: half the cores' BLAS threads (the main process has the others), no pieces."""
    from flowgraph.runtime.intra_op import BLAS

    for c in BLAS._blas():
        try:
            c.set_num_threads(blas_threads())
        except Exception:  # noqa: BLE001 - an unknown BLAS keeps its threads
            pass
    if intra is not None:
        intra.enabled = False
        intra.threads = 1


def _stop(h: Any, wake_w: int, pid: int, mm: Any) -> None:
    """Tells the worker to quit and reaps it (a session's close, or the runner's collection)."""
    try:
        h[_QUIT] = 1
        try:
            os.write(wake_w, b"!")
        except OSError:
            pass
        deadline = time.monotonic() + 2.0
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
    finally:
        try:
            os.close(wake_w)
        except OSError:
            pass


def blas_threads() -> int:
    """BLAS threads for each of the two processes: half the cores (one on a 2-core machine)."""
    return max(1, (os.cpu_count() or 2) // 2)


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


def measure_run(plan: Any, feeds: tuple) -> tuple[tuple, dict[int, int]]:
    """A plain serial run that also records each slot's size in bytes (to size the regions)."""
    from flowgraph.runtime.executor import initial_values

    vals = initial_values(plan, feeds)
    sizes: dict[int, int] = {}
    for st in plan.steps:
        args = [vals[s] for s in st.in_slots]
        try:
            r = st.kernel(*args)
        except BaseException as e:
            raise StepFailure(st, args, e) from e
        _store(st, vals, r)
        for s in st.out_slots:
            if s >= 0:
                sizes[s] = int(np.asarray(vals[s]).nbytes)
        for s in st.frees:
            vals[s] = None
    return tuple(None if s < 0 else vals[s] for s in plan.fetch_slots), sizes


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

