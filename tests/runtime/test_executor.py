"""Executors: the generated serial function, the traced loop, and the threaded ready queue."""

from __future__ import annotations

import _thread
import threading
import time
import weakref

import numpy as np
import pytest

import flowgraph as tf
from flowgraph import errors
from flowgraph.ops import math as fg_math
from flowgraph.runtime.executor import StepFailure, WorkerPool, compile_serial, run_loop, run_parallel
from flowgraph.runtime.plan import build_plan


@pytest.fixture(autouse=True)
def fresh_graph():
    with tf.Graph().as_default() as g:
        yield g


@pytest.fixture
def sess():
    s = tf.Session(config=tf.ConfigProto(inter_op_parallelism_threads=3))
    yield s
    s.close()


@pytest.fixture
def pool():
    p = WorkerPool(2)
    yield p
    p.shutdown()


def _wide(branches: int = 6, depth: int = 3, n: int = 48):
    rng = np.random.default_rng(1)
    x = tf.placeholder(tf.float32, [n, n], name="x")
    outs = []
    for b in range(branches):
        h = x
        for _ in range(depth):
            h = tf.matmul(h, tf.constant(rng.standard_normal((n, n)).astype(np.float32) * 0.2)) - float(b)
        outs.append(h)
    return x, tf.add_n(outs), rng.standard_normal((n, n)).astype(np.float32)


def test_serial_function_matches_the_loop(fresh_graph, sess):
    x, y, xv = _wide()
    plan = build_plan(fresh_graph, [y, x], [x], sess._rt, 1)
    fn, line_step = compile_serial(plan)
    got = fn(xv)
    want = run_loop(plan, (xv,), None)
    assert np.array_equal(got[0], want[0]) and got[1] is xv
    assert len(line_step) > len(plan.steps)  # one line per step plus the frees


def test_serial_function_without_fetches(fresh_graph, sess):
    plan = build_plan(fresh_graph, [], [], sess._rt, 1)
    assert compile_serial(plan)[0]() == ()
    v = tf.Variable(2.0)
    plan = build_plan(fresh_graph, [v.initializer], [], sess._rt, 1)
    assert compile_serial(plan)[0]() == (None,)


def test_loop_traces_and_measures(fresh_graph, sess):
    x, y, xv = _wide(branches=2, depth=1)
    plan = build_plan(fresh_graph, [y], [x], sess._rt, 1)
    trace, measured = [], []
    run_loop(plan, (xv,), trace, measured)
    assert [op.name for op, *_ in trace] == [st.op.name for st in plan.steps]
    assert all(t1 >= t0 and tid == threading.get_ident() for _, t0, t1, tid in trace)
    assert measured == [48 * 48] * len(plan.steps)


def test_loop_wraps_kernel_failures(fresh_graph, sess):
    a = tf.placeholder(tf.float32, [None, None])
    m = tf.matmul(a, a)
    plan = build_plan(fresh_graph, [m], [a], sess._rt, 1)
    with pytest.raises(StepFailure) as info:
        run_loop(plan, (np.ones((2, 3), np.float32),), None)
    assert info.value.step.op is m.op and info.value.inputs[0].shape == (2, 3)


def test_parallel_matches_serial_bit_for_bit(fresh_graph, sess, pool):
    x, y, xv = _wide()
    plan = build_plan(fresh_graph, [y], [x], sess._rt, 3)
    assert plan.parallel
    serial = compile_serial(plan)[0](xv)[0]
    trace: list = []
    for _ in range(5):
        assert np.array_equal(run_parallel(plan, (xv,), pool, trace)[0], serial)
    assert sorted(op.name for op, *_ in trace[: len(plan.steps)]) == sorted(st.op.name for st in plan.steps)


def test_parallel_runs_honour_variable_reads_and_control_edges(fresh_graph, sess, pool):
    v = tf.Variable(np.zeros((200, 200), np.float32))
    bumps = []
    for _ in range(4):
        with tf.control_dependencies(bumps[-1:]):
            bumps.append(v.assign_add(np.ones((200, 200), np.float32)).op)
    with tf.control_dependencies(bumps[-1:]):
        total = tf.reduce_sum(v * 1.0) + tf.reduce_sum(-v)
    plan = build_plan(fresh_graph, [total, v.value()], [], sess._rt, 3)
    assert plan.parallel
    sess.run(v.initializer)
    for k in range(1, 4):
        got_total, got_v = run_parallel(plan, (), pool, None)
        assert got_total == 0.0 and np.all(got_v == 4 * k)  # the fetched value is read after every bump
        assert sess.run(tf.reduce_sum(v)) == 4 * k * 200 * 200


def test_every_thread_including_the_caller_shares_the_heavy_work(fresh_graph, monkeypatch):
    def kernel(self, op, rt):
        def slow(a, b):
            time.sleep(0.005)  # releases the GIL, as BLAS does
            return a

        return slow

    monkeypatch.setattr(fg_math.MatMul, "kernel", kernel)
    x = tf.placeholder(tf.float32, [128, 128])
    outs = []
    for _ in range(8):
        h = x
        for _ in range(4):
            h = tf.matmul(h, x)
        outs.append(h)
    md = tf.RunMetadata()
    with tf.Session(config=tf.ConfigProto(inter_op_parallelism_threads=2)) as s:
        s.run(
            tf.add_n(outs),
            {x: np.ones((128, 128), np.float32)},
            options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE),
            run_metadata=md,
        )
    by_thread: dict[int, int] = {}
    for n in md.step_stats.dev_stats[0].node_stats:
        if n.op_type == "MatMul":
            by_thread[n.thread_id] = by_thread.get(n.thread_id, 0) + 1
    assert threading.get_ident() in by_thread and len(by_thread) == 2
    assert min(by_thread.values()) >= 8  # neither thread idles while the other holds a backlog


def test_an_empty_plan_runs_in_parallel_mode(fresh_graph, sess, pool):
    plan = build_plan(fresh_graph, [], [], sess._rt, 3)
    assert run_parallel(plan, (), pool, None) == ()


def test_intermediates_are_freed_after_their_last_consumer(fresh_graph, monkeypatch):
    alive_when_called = []
    produced: list = []

    def kernel(self, op, rt):
        def neg(x):
            alive_when_called.append([r() is not None for r in produced[:-1]])
            out = np.negative(x)
            produced.append(weakref.ref(out))
            return out

        return neg

    monkeypatch.setattr(fg_math.Neg, "kernel", kernel)
    x = tf.placeholder(tf.float32, [300, 300])
    y = x
    for _ in range(5):
        y = -y
    for threads in (1, 3):
        produced.clear()
        alive_when_called.clear()
        with tf.Session(config=tf.ConfigProto(inter_op_parallelism_threads=threads)) as s:
            s.run(y, {x: np.ones((300, 300), np.float32)})
        # When step k runs, only its own input (made by step k-1) is still alive.
        assert alive_when_called == [[], [], [False], [False, False], [False, False, False]]


def test_a_failure_cancels_the_rest_promptly(fresh_graph, monkeypatch):
    ran = []

    def kernel(self, op, rt):
        if op.name.startswith("bad"):

            def fail(a, b):
                raise ValueError("kaputt")

            return fail

        def slow(a, b):
            ran.append(op.name)
            time.sleep(0.02)
            return np.matmul(a, b)

        return slow

    monkeypatch.setattr(fg_math.MatMul, "kernel", kernel)
    x = tf.placeholder(tf.float32, [64, 64])
    h = x
    for _ in range(40):
        h = tf.matmul(h, x)
    bad = tf.matmul(x, x, name="bad")
    with tf.Session(config=tf.ConfigProto(inter_op_parallelism_threads=2)) as s:
        with pytest.raises(errors.InvalidArgumentError, match="ValueError: kaputt\n\twhile running op 'bad'"):
            s.run([h, bad], {x: np.ones((64, 64), np.float32)})
        assert next(iter(s._plans.values())).plan.parallel
    assert len(ran) < 40


def test_keyboard_interrupt_stops_a_parallel_run(fresh_graph, monkeypatch):
    started = threading.Event()
    ran = []

    def kernel(self, op, rt):
        def slow(a, b):
            started.set()
            ran.append(op.name)
            time.sleep(0.01)
            return a

        return slow

    monkeypatch.setattr(fg_math.MatMul, "kernel", kernel)
    x = tf.placeholder(tf.float32, [200, 200])
    chains = []
    for _ in range(2):
        h = x
        for _ in range(300):
            h = tf.matmul(h, x)
        chains.append(h)
    with tf.Session(config=tf.ConfigProto(inter_op_parallelism_threads=2)) as s:
        threading.Thread(target=lambda: started.wait(10) and _thread.interrupt_main()).start()
        with pytest.raises(KeyboardInterrupt):
            s.run(chains, {x: np.ones((200, 200), np.float32)})
        assert len(ran) < 600
        # The session stays usable afterwards.
        assert s.run(tf.reduce_sum(x), {x: np.ones((200, 200), np.float32)}) == 40000.0


def test_worker_pool_runs_tasks_and_shuts_down():
    pool = WorkerPool(2)
    done = []
    event = threading.Event()
    pool.submit(lambda: done.append(threading.current_thread().name))
    pool.submit(event.set)
    assert event.wait(5)
    pool.shutdown()
    for t in pool._threads:
        t.join(5)
        assert not t.is_alive()
    assert done and done[0].startswith("flowgraph-inter-op-")
