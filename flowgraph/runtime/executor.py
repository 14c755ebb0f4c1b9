"""Running a plan: a generated straight-line function (serial) or a ready-queue thread pool.

The serial path compiles each plan into one Python function whose lines are kernel calls on
local variables, so a scalar graph pays about one function call per op. The parallel path is a
dependency-count ready queue (no level barriers): a finishing op readies its consumers, runs the
tiny ones itself and hands heavy ones to idle pool threads; the calling thread works too.
"""

from __future__ import annotations

import collections
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from flowgraph.runtime.plan import Plan, Step


# ---------------------------------------------------------------------------------------------
# Serial: generated code
# ---------------------------------------------------------------------------------------------
def compile_serial(plan: Plan) -> tuple[Callable, list[int]]:
    """Returns ``fn(*feed_values) -> tuple(fetch values)`` and the line -> step index map."""
    env: dict[str, Any] = {}
    feed_args = ", ".join(f"s{s}" for s in plan.feed_slots)
    lines = [f"def _plan({feed_args}):"]
    line_step = [-1, -1]  # line numbers are 1-based; line 1 is the def
    for s, v in plan.const_slots.items():
        env[f"c{s}"] = v
    for i, st in enumerate(plan.steps):
        env[f"k{i}"] = st.kernel
        args = ", ".join(_slot_ref(s, plan) for s in st.in_slots)
        outs = st.out_slots
        if not outs:
            lines.append(f"    k{i}({args})")
        elif len(outs) == 1:
            lines.append(f"    {_target(outs[0])} = k{i}({args})")
        else:
            lines.append(f"    {', '.join(_target(s) for s in outs)}, = k{i}({args})")
        line_step.append(i)
        for s in st.frees:
            lines.append(f"    s{s} = None")
            line_step.append(i)
    fetches = "".join(("None" if s < 0 else _slot_ref(s, plan)) + ", " for s in plan.fetch_slots)
    lines.append(f"    return ({fetches})")
    code = compile("\n".join(lines) + "\n", "<flowgraph plan>", "exec")
    exec(code, env)  # noqa: S102 - code generated from our own plan, no user strings
    return env["_plan"], line_step


def _slot_ref(s: int, plan: Plan) -> str:
    return f"c{s}" if s in plan.const_slots else f"s{s}"


def _target(s: int) -> str:
    return "_" if s < 0 else f"s{s}"


# ---------------------------------------------------------------------------------------------
# Generic loop (used when tracing a serial plan)
# ---------------------------------------------------------------------------------------------
class StepFailure(Exception):
    """A kernel raised; carries the step and its input values for the error message."""

    def __init__(self, step: Step, inputs: list, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.step = step
        self.inputs = inputs
        self.cause = cause


def _store(st: Step, vals: list, result: Any) -> None:
    outs = st.out_slots
    if len(outs) == 1:
        if outs[0] >= 0:
            vals[outs[0]] = result
    elif outs:
        for s, r in zip(outs, result):
            if s >= 0:
                vals[s] = r


def initial_values(plan: Plan, feeds: tuple) -> list:
    vals: list = [None] * plan.n_slots
    for s, v in zip(plan.feed_slots, feeds):
        vals[s] = v
    for s, v in plan.const_slots.items():
        vals[s] = v
    return vals


def run_loop(plan: Plan, feeds: tuple, trace: list | None, measured: list | None = None,
             slot_bytes: dict | None = None) -> tuple:
    """Runs the steps one by one; ``trace`` gets (op, start, end, thread), ``measured`` output sizes,
    ``slot_bytes`` each output slot's size in bytes."""
    vals = initial_values(plan, feeds)
    tid = threading.get_ident()
    clock = time.perf_counter_ns
    for st in plan.steps:
        args = [vals[s] for s in st.in_slots]
        t0 = clock()
        try:
            r = st.kernel(*args)
        except BaseException as e:
            raise StepFailure(st, args, e) from e
        if trace is not None:
            trace.append((st.op, t0, clock(), tid))
        if measured is not None:
            measured.append(_size(r, len(st.out_slots)))
        _store(st, vals, r)
        if slot_bytes is not None:
            for s in st.out_slots:
                if s >= 0:
                    slot_bytes[s] = int(getattr(vals[s], "nbytes", 8))
        for s in st.frees:
            vals[s] = None
    return tuple(None if s < 0 else vals[s] for s in plan.fetch_slots)


def _size(result: Any, n_outputs: int) -> int:
    values = result if n_outputs > 1 else (result,)
    return max((int(getattr(v, "size", 1)) for v in values), default=0) if n_outputs else 0


# ---------------------------------------------------------------------------------------------
# Parallel: ready queue over a persistent pool
# ---------------------------------------------------------------------------------------------
class WorkerPool:
    """``n`` daemon threads taking callables from one queue (TF1's inter-op pool, less the caller)."""

    def __init__(self, n: int) -> None:
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"flowgraph-inter-op-{i}", daemon=True) for i in range(n)
        ]
        for t in self._threads:
            t.start()

    def _work(self) -> None:
        while True:
            task = self._q.get()
            if task is None:
                return
            task()

    def submit(self, task: Callable) -> None:
        self._q.put(task)

    def shutdown(self) -> None:
        for _ in self._threads:
            self._q.put(None)


class _Run:
    """The mutable state of one parallel run of a plan.

    Heavy steps a thread does not keep for itself go to the run's shared ``ready`` deque; every
    participating thread, the caller included, takes from it when its own work runs out, so no
    thread idles while another holds a backlog. Each push also wakes one pool thread.
    """

    __slots__ = ("plan", "vals", "pending", "readers", "lock", "remaining", "done", "failure", "trace", "pool",
                 "ready", "wake")

    def __init__(self, plan: Plan, feeds: tuple, pool: WorkerPool, trace: list | None) -> None:
        self.plan = plan
        self.vals = initial_values(plan, feeds)
        self.pending = [s.n_deps for s in plan.steps]
        self.readers = list(plan.slot_readers)
        self.lock = threading.Lock()
        self.remaining = len(plan.steps)
        self.done = threading.Event()
        self.failure: BaseException | None = None
        self.trace = trace
        self.pool = pool
        self.ready: collections.deque[int] = collections.deque()
        self.wake = threading.Event()  # set when work is pushed or the run ends
        if not plan.steps:
            self.done.set()

    def dispatch(self, ready: list[int], own: list[int]) -> None:
        """Keeps tiny steps and one heavy step for this thread; shares the other heavy ones."""
        steps = self.plan.steps
        kept_heavy = any(steps[i].heavy for i in own)
        for i in ready:
            if steps[i].heavy:
                if kept_heavy:
                    self.ready.append(i)
                    self.wake.set()
                    self.pool.submit(self.help)
                else:
                    kept_heavy = True
                    own.append(i)
            else:
                own.append(i)

    def help(self) -> None:
        """A pool thread's share: takes shared steps until there are none."""
        while self.failure is None:
            try:
                i = self.ready.popleft()
            except IndexError:
                return
            self.work(i)

    def finish(self) -> None:
        self.done.set()
        self.wake.set()

    def work(self, first: int) -> None:
        todo = [first]
        steps = self.plan.steps
        vals = self.vals
        keep = self.plan.keep_slots
        tid = threading.get_ident()
        clock = time.perf_counter_ns
        while todo:
            if self.failure is not None:
                return
            # Tiny steps first: they are cheap and may ready more work for the pool.
            pick = next((k for k, j in enumerate(todo) if not steps[j].heavy), len(todo) - 1)
            i = todo.pop(pick)
            st = steps[i]
            args = [vals[s] for s in st.in_slots]
            t0 = clock()
            try:
                r = st.kernel(*args)
            except BaseException as e:  # noqa: BLE001 - reported to the caller thread
                with self.lock:
                    if self.failure is None:
                        self.failure = StepFailure(st, args, e)
                self.finish()
                return
            if self.trace is not None:
                self.trace.append((st.op, t0, clock(), tid))
            del args
            _store(st, vals, r)
            del r
            ready = []
            with self.lock:
                pending = self.pending
                for c in st.consumers:
                    pending[c] -= 1
                    if pending[c] == 0:
                        ready.append(c)
                readers = self.readers
                for s in st.in_slots:
                    readers[s] -= 1
                    if readers[s] == 0 and s not in keep:
                        vals[s] = None
                self.remaining -= 1
                finished = self.remaining == 0
            if finished:
                self.finish()
                return
            if ready:
                self.dispatch(ready, todo)


def run_parallel(plan: Plan, feeds: tuple, pool: WorkerPool, trace: list | None) -> tuple:
    """Runs a plan on the calling thread plus ``pool``; the caller works until the run is done."""
    run = _Run(plan, feeds, pool, trace)
    roots = [i for i, s in enumerate(plan.steps) if s.n_deps == 0]
    own: list[int] = []
    run.dispatch(roots, own)
    try:
        for i in own:
            run.work(i)
            if run.failure is not None:
                break
        while not run.done.is_set() and run.failure is None:
            try:
                i = run.ready.popleft()
            except IndexError:
                run.wake.clear()
                if not run.ready and not run.done.is_set():
                    run.wake.wait(0.05)  # short, so Ctrl-C is seen promptly
                continue
            run.work(i)
    except KeyboardInterrupt:
        run.failure = KeyboardInterrupt()
        run.finish()
        raise
    if run.failure is not None:
        raise run.failure
    vals = run.vals
    return tuple(None if s < 0 else vals[s] for s in plan.fetch_slots)
