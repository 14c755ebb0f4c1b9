"""Batch-split runs: a forked worker computes part of the batch; results must equal one process's."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

import flowgraph as tf
from flowgraph.runtime import split_process

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="batch-split runs fork a worker (POSIX only)")


@pytest.fixture(autouse=True)
def two_cores(monkeypatch):
    """Default sessions consider splitting only with several cores: pretend to have two."""
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.delenv("FLOWGRAPH_BATCH_SPLIT", raising=False)


def _cnn(seed: int = 0, lr_fed: bool = False):
    """A small CNN with an SGD step, built like the MNIST tutorials (batch axis left open)."""
    rng = np.random.default_rng(seed)
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 12, 12, 1], name="x")
        y = tf.placeholder(tf.int64, [None], name="y")
        w1 = tf.Variable(rng.normal(0, 0.3, (3, 3, 1, 4)).astype(np.float32), name="w1")
        b1 = tf.Variable(np.zeros(4, np.float32), name="b1")
        w2 = tf.Variable(rng.normal(0, 0.2, (6 * 6 * 4, 10)).astype(np.float32), name="w2")
        b2 = tf.Variable(np.zeros(10, np.float32), name="b2")
        h = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, w1, [1, 1, 1, 1], "SAME"), b1))
        h = tf.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
        logits = tf.matmul(tf.reshape(h, [-1, 6 * 6 * 4]), w2) + b2
        temp = None
        if lr_fed:  # a fed scalar the per-example steps read
            temp = tf.placeholder(tf.float32, [], name="temperature")
            logits = logits / temp
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        lr = tf.placeholder(tf.float32, [], name="lr") if lr_fed else 0.1
        train = tf.train.GradientDescentOptimizer(lr).minimize(loss)
        init = tf.global_variables_initializer()
    return g, dict(x=x, y=y, logits=logits, loss=loss, train=train, init=init, lr=lr, temp=temp,
                   vars=[w1, b1, w2, b2])


def _batch(n: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    return rng.random((n, 12, 12, 1), dtype=np.float32), rng.integers(0, 10, n)


def _split_plan(sess, fetches, feed):
    """Compiles ``fetches`` for ``feed`` and switches the plan to split runs (skipping the tuning)."""
    plan = sess._prepare(fetches, feed, None).plan
    assert plan.split_program is not None, "the plan should be splittable"
    plan.intra_pieces = plan.parallel = False
    plan.batch_split = plan.tuned = True
    return plan


def _train(split: bool, steps: int, n: int = 32, **kw):
    g, t = _cnn(**kw)
    x, y = _batch(n)
    feed = {t["x"]: x, t["y"]: y}
    if kw.get("lr_fed"):
        feed[t["lr"]] = 0.1
        feed[t["temp"]] = 2.0
    sess = tf.Session(graph=g)
    sess.run(t["init"])
    fetches = [t["loss"], t["logits"], t["train"]]
    plan = _split_plan(sess, fetches, feed) if split else None
    losses = []
    for _ in range(steps):
        loss, logits, _ = sess.run(fetches, feed)
        losses.append(loss)
    weights = sess.run(t["vars"])
    return sess, plan, losses, logits, weights


def test_split_training_matches_one_process():
    s1, _, want_losses, want_logits, want_w = _train(False, 6)
    s2, plan, losses, logits, weights = _train(True, 6)
    try:
        assert plan.split_runner is not None and plan.split_runner.pid > 0  # a worker really ran
        assert _worker_errors(plan) == 0
        np.testing.assert_allclose(losses, want_losses, rtol=1e-5)
        np.testing.assert_allclose(logits, want_logits, rtol=1e-4, atol=1e-5)  # fetched whole, stacked
        for a, b in zip(weights, want_w):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
        assert logits.shape == (32, 10) and logits.flags.c_contiguous
    finally:
        s1.close()
        s2.close()


@pytest.mark.parametrize("cores, n, workers", [(3, 48, 2), (4, 70, 3)])
def test_several_workers_on_larger_machines(monkeypatch, cores, n, workers):
    """One worker per further core while each process keeps 16 rows; uneven rows; same numbers."""
    s1, _, want_losses, want_logits, want_w = _train(False, 4, n=n)
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    s2, plan, losses, logits, weights = _train(True, 4, n=n)
    try:
        assert plan.split_runner.workers == workers and len(set(plan.split_runner.pids)) == workers
        assert _worker_errors(plan) == 0
        np.testing.assert_allclose(losses, want_losses, rtol=1e-5)
        np.testing.assert_allclose(logits, want_logits, rtol=1e-4, atol=1e-5)
        for a, b in zip(weights, want_w):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
        pids = plan.split_runner.pids
    finally:
        s1.close()
        s2.close()
    assert all(_gone(p) for p in pids)


def test_an_error_in_the_last_workers_rows(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 3)
    g, t, sess, x, y, plan = _loss_session(n=48)
    bad = y.copy()
    bad[-1] = 99  # in the second worker's rows only
    try:
        sess.run(t["loss"], {t["x"]: x, t["y"]: y})
        assert plan.split_runner.workers == 2
        with pytest.raises(tf.errors.InvalidArgumentError, match="99"):
            sess.run(t["loss"], {t["x"]: x, t["y"]: bad})
        assert plan.split_runner.error_seq(1) == plan.split_runner.seq and plan.split_runner.error_seq(0) == 0
        sess.run(t["loss"], {t["x"]: x, t["y"]: y})
        assert plan.split_runner.seq == 2
    finally:
        sess.close()


def test_split_run_with_a_fed_learning_rate_and_an_odd_batch():
    s1, _, want, _, want_w = _train(False, 3, n=33, lr_fed=True)
    s2, plan, got, _, weights = _train(True, 3, n=33, lr_fed=True)
    try:
        assert len(plan.split_program.sent_feeds) == 1  # the temperature goes to the worker, not the rate
        np.testing.assert_allclose(got, want, rtol=1e-5)
        for a, b in zip(weights, want_w):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    finally:
        s1.close()
        s2.close()


def _loss_session(n: int = 16):
    """A session of the small CNN whose loss plan runs split (its first run will fork the worker)."""
    g, t = _cnn()
    sess = tf.Session(graph=g)
    sess.run(t["init"])
    x, y = _batch(n)
    return g, t, sess, x, y, _split_plan(sess, t["loss"], {t["x"]: x, t["y"]: y})


def test_batches_that_cannot_split_run_whole():
    g, t, sess, x, y, plan = _loss_session()
    try:
        base = sess.run(t["loss"], {t["x"]: x, t["y"]: y})  # sizes the regions for 16 rows
        runner = plan.split_runner
        assert runner is not None
        seq = runner.seq
        one = sess.run(t["loss"], {t["x"]: x[:1], t["y"]: y[:1]})  # one row: nothing to split
        bigger_x, bigger_y = _batch(40)
        big = sess.run(t["loss"], {t["x"]: bigger_x, t["y"]: bigger_y})  # beyond the regions
        assert runner.seq == seq  # neither went to the worker
        with tf.Session(graph=g) as ref:
            ref.run(t["init"])
            assert one == pytest.approx(ref.run(t["loss"], {t["x"]: x[:1], t["y"]: y[:1]}), rel=1e-6)
            assert big == pytest.approx(ref.run(t["loss"], {t["x"]: bigger_x, t["y"]: bigger_y}), rel=1e-6)
            assert base == pytest.approx(ref.run(t["loss"], {t["x"]: x, t["y"]: y}), rel=1e-5)
        assert sess.run(t["loss"], {t["x"]: x, t["y"]: y}) == pytest.approx(base, rel=1e-5)
        assert runner.seq == seq + 1
        assert _worker_errors(plan) == 0
    finally:
        sess.close()


def test_ops_without_a_rule_see_whole_values():
    """A max over the batch, a gather by fed indices and a stateful counter: all need whole values."""
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 8, 8, 1])
        idx = tf.placeholder(tf.int32, [None])
        w = tf.constant(np.random.default_rng(0).random((3, 3, 1, 2), dtype=np.float32))
        c = tf.nn.relu(tf.nn.conv2d(x, w, [1, 1, 1, 1], "SAME"))
        flat = tf.reshape(c, [-1, 128])
        top = tf.reduce_max(flat, axis=0)  # no rule: merged by max, not by sum
        picked = tf.gather(flat, idx)  # rows by index: needs the whole batch
        counter = tf.Variable(0.0)
        count = tf.assign_add(counter, tf.reduce_sum(c))  # stateful: main process only
        shape = tf.shape(c)  # a local shape made whole for the fetch
        init = tf.global_variables_initializer()
    rng = np.random.default_rng(2)
    xv = rng.random((20, 8, 8, 1), dtype=np.float32)
    iv = np.array([19, 0, 7, 12, 19, 3, 3, 1, 0, 10, 11, 2, 5, 6, 8, 9, 4, 13, 14, 15], np.int32)
    fetches = [top, picked, count, shape]
    feed = {x: xv, idx: iv}
    with tf.Session(graph=g) as ref:
        ref.run(init)
        want = [ref.run(fetches, feed) for _ in range(2)][-1]
    with tf.Session(graph=g) as sess:
        sess.run(init)
        plan = _split_plan(sess, fetches, feed)
        got = [sess.run(fetches, feed) for _ in range(2)][-1]  # the first forks, the second splits
        assert plan.split_runner.seq == 1 and _worker_errors(plan) == 0
    np.testing.assert_allclose(got[0], want[0], rtol=1e-6)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-6)
    assert got[2] == pytest.approx(want[2], rel=1e-5)
    np.testing.assert_array_equal(got[3], [20, 8, 8, 2])


def test_an_error_in_the_workers_rows_is_the_error_of_one_process():
    """Out-of-range labels only in the worker's half: the run is redone whole and raises TF's error."""
    g, t = _cnn()
    sess = tf.Session(graph=g)
    sess.run(t["init"])
    x, y = _batch(16)
    bad = y.copy()
    bad[-1] = 99
    before = sess.run(t["vars"])
    plan = _split_plan(sess, t["train"], {t["x"]: x, t["y"]: y})
    try:
        sess.run(t["train"], {t["x"]: x, t["y"]: y})  # sizes the regions, forks
        sess.run(t["train"], {t["x"]: x, t["y"]: y})
        after_good = sess.run(t["vars"])
        assert _worker_errors(plan) == 0
        with pytest.raises(tf.errors.InvalidArgumentError, match="99"):
            sess.run(t["train"], {t["x"]: x, t["y"]: bad})
        assert _worker_errors(plan) == plan.split_runner.seq  # the worker's half failed, and said so
        for a, b in zip(sess.run(t["vars"]), after_good):  # the failed step changed nothing
            np.testing.assert_array_equal(a, b)
        assert any(not np.array_equal(a, b) for a, b in zip(after_good, before))
        sess.run(t["train"], {t["x"]: x, t["y"]: y})  # and the worker serves the next run
    finally:
        sess.close()


@pytest.mark.parametrize("asleep", [False, True])
def test_a_dead_worker_falls_back_to_one_process(monkeypatch, asleep):
    monkeypatch.setattr(split_process, "IDLE_SPIN", 0.001 if asleep else 60.0)
    g, t, sess, x, y, plan = _loss_session()
    feed = {t["x"]: x, t["y"]: y}
    try:
        want = sess.run(t["loss"], feed)
        runner = plan.split_runner
        if asleep:  # killed in its sleep: the wake-up finds its pipe closed
            _wait_until(runner.sleeping)
        os.kill(runner.pid, signal.SIGKILL)
        time.sleep(0.05)
        assert sess.run(t["loss"], feed) == pytest.approx(want, rel=1e-5)  # redone in one process
        assert plan.batch_split is False and plan.split_runner is None
        assert sess.run(t["loss"], feed) == pytest.approx(want, rel=1e-5)
    finally:
        sess.close()


def test_concurrent_runs_share_the_worker_one_at_a_time():
    """Session.run from several threads (TF1 allows it): one split run at a time, the others whole."""
    import threading

    g, t = _cnn()
    sess = tf.Session(graph=g)
    sess.run(t["init"])
    batches = [_batch(16, seed=s) for s in range(4)]
    plan = _split_plan(sess, t["logits"], {t["x"]: batches[0][0]})
    try:
        with tf.Session(graph=g) as ref:
            ref.run(t["init"])
            want = [ref.run(t["logits"], {t["x"]: x}) for x, _ in batches]
        sess.run(t["logits"], {t["x"]: batches[0][0]})  # forks the worker
        errors = []

        def loop(k: int) -> None:
            try:
                for _ in range(25):
                    np.testing.assert_allclose(sess.run(t["logits"], {t["x"]: batches[k][0]}), want[k], rtol=1e-4,
                                               atol=1e-5)
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=loop, args=(k,)) for k in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert not errors, errors[0]
        assert plan.split_runner.seq > 1 and _worker_errors(plan) == 0
    finally:
        sess.close()


def test_no_worker_where_fork_fails(monkeypatch):
    def no_fork():
        raise OSError(12, "Cannot allocate memory")

    monkeypatch.setattr(os, "fork", no_fork)
    g, t = _cnn()
    x, y = _batch(16)
    feed = {t["x"]: x, t["y"]: y}
    with tf.Session(graph=g) as sess:
        sess.run(t["init"])
        plan = _split_plan(sess, t["loss"], feed)
        got = [sess.run(t["loss"], feed) for _ in range(3)]
        assert plan.batch_split is False and plan.split_runner is None
    with tf.Session(graph=g) as ref:
        ref.run(t["init"])
        assert got == [pytest.approx(ref.run(t["loss"], feed), rel=1e-6)] * 3


_ORPHAN_SCRIPT = """
import os, sys
import numpy as np
import flowgraph as tf
sys.path.insert(0, os.path.dirname(sys.argv[1]))
os.cpu_count = lambda: 2
import test_split_process as T
g, t = T._cnn()
x, y = T._batch(16)
sess = tf.Session(graph=g)
sess.run(t["init"])
plan = T._split_plan(sess, t["loss"], {t["x"]: x, t["y"]: y})
for _ in range(2):
    sess.run(t["loss"], {t["x"]: x, t["y"]: y})
print(plan.split_runner.pid, flush=True)
os._exit(0)  # no session close, no finalizers: as if the process were killed
"""


def test_the_worker_ends_when_the_main_process_dies():
    import subprocess
    import sys

    here = os.path.abspath(__file__)
    out = subprocess.run([sys.executable, "-c", _ORPHAN_SCRIPT, here], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(os.path.dirname(here)))})
    assert out.returncode == 0, out.stderr
    pid = int(out.stdout.split()[-1])
    _wait_until(lambda: _gone(pid), seconds=10)


def test_a_process_forked_by_the_user_leaves_the_workers_alone():
    """A child of the user's inherits the runner: it runs whole, and its exit stops no worker."""
    g, t, sess, x, y, plan = _loss_session()
    feed = {t["x"]: x, t["y"]: y}
    try:
        want = sess.run(t["loss"], feed)
        sess.run(t["loss"], feed)
        runner = plan.split_runner
        pid = os.fork()
        if pid == 0:  # the user's child: use the session, then exit through the exit handlers
            code = 0
            try:
                seq = runner.seq
                ok = sess.run(t["loss"], feed) == pytest.approx(want, rel=1e-5) and runner.seq == seq
                code = 0 if ok else 3
            except BaseException:  # noqa: BLE001 - reported through the exit code
                code = 4
            finally:
                import atexit

                atexit._run_exitfuncs()  # what a plain sys.exit would run, finalizers included
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        seq = runner.seq
        assert sess.run(t["loss"], feed) == pytest.approx(want, rel=1e-5)
        assert runner.seq == seq + 1 and runner.failed is None and not _gone(runner.pid)
    finally:
        sess.close()


def _worker_errors(plan) -> int:
    """The last run the worker reported an error for (0: none), from the shared header."""
    return max(plan.split_runner.error_seq(w) for w in range(plan.split_runner.workers))


def _wait_until(cond, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def _gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie no one has reaped yet counts as exited)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def test_closing_the_session_ends_the_worker():
    g, t, sess, x, y, plan = _loss_session()
    sess.run(t["loss"], {t["x"]: x, t["y"]: y})
    pid = plan.split_runner.pid
    assert not _gone(pid)
    sess.close()
    assert _gone(pid)


def test_the_worker_sleeps_when_idle_and_wakes_for_a_run(monkeypatch):
    monkeypatch.setattr(split_process, "IDLE_SPIN", 0.001)  # read by the worker, forked after this
    g, t = _cnn()
    with tf.Session(graph=g) as sess:
        sess.run(t["init"])
        x, y = _batch(16)
        feed = {t["x"]: x, t["y"]: y}
        plan = _split_plan(sess, t["loss"], feed)
        want = sess.run(t["loss"], feed)
        runner = plan.split_runner
        _wait_until(runner.sleeping)
        seq = runner.seq
        assert sess.run(t["loss"], feed) == pytest.approx(want, rel=1e-6)
        assert runner.seq == seq + 1


def test_default_sessions_time_two_processes_and_keep_the_fastest():
    g, t = _cnn()
    x, y = _batch(32)
    feed = {t["x"]: x, t["y"]: y}
    with tf.Session(graph=g) as sess:
        sess.run(t["init"])
        for _ in range(200):
            sess.run(t["train"], feed)
            plan = sess._prepare(t["train"], feed, None).plan
            if getattr(plan, "tuned", False):
                break
        assert "two processes" in plan.tuning_modes and plan.tuned
        assert plan.batch_split in (True, False)
        assert (plan.split_runner is not None) == plan.batch_split  # a worker only where it is kept


def test_no_worker_for_little_per_example_work(monkeypatch):
    """A small MatMul is "heavy" but takes microseconds: the tuning never forks for it."""
    def no_runner(*a, **k):
        raise AssertionError("a worker was forked")

    monkeypatch.setattr(split_process, "SplitRunner", no_runner)
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 3])
        w = tf.Variable(np.ones((3, 2), np.float32))
        loss = tf.reduce_mean(tf.square(tf.matmul(x, w)))
        train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
        init = tf.global_variables_initializer()
    feed = {x: np.ones((8, 3), np.float32)}
    with tf.Session(graph=g) as sess:
        sess.run(init)
        plan = sess._prepare(train, feed, None).plan
        assert plan.split_program is not None and plan.batch_split is None
        for _ in range(200):
            sess.run(train, feed)
            if getattr(plan, "tuned", False):
                break
        assert plan.tuned and plan.batch_split is False and plan.split_runner is None


def test_switched_off_by_the_environment(monkeypatch):
    monkeypatch.setenv("FLOWGRAPH_BATCH_SPLIT", "off")
    g, t = _cnn()
    x, y = _batch(32)
    with tf.Session(graph=g) as sess:
        plan = sess._prepare(t["train"], {t["x"]: x, t["y"]: y}, None).plan
        assert plan.split_program is None and plan.batch_split is False


def test_forced_by_the_environment(monkeypatch):
    monkeypatch.setenv("FLOWGRAPH_BATCH_SPLIT", "on")
    g, t = _cnn()
    x, y = _batch(32)
    feed = {t["x"]: x, t["y"]: y}
    with tf.Session(graph=g) as sess:
        sess.run(t["init"])
        plan = sess._prepare(t["loss"], feed, None).plan
        assert plan.batch_split is True and plan.tuned  # no timing runs
        for _ in range(2):
            sess.run(t["loss"], feed)
        assert plan.split_runner.seq == 1 and _worker_errors(plan) == 0


def test_single_core_sessions_do_not_split(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    g, t = _cnn()
    x, y = _batch(32)
    with tf.Session(graph=g) as sess:
        assert sess._prepare(t["train"], {t["x"]: x, t["y"]: y}, None).plan.split_program is None
    with tf.Session(graph=g, config=tf.ConfigProto(intra_op_parallelism_threads=1)) as sess:
        assert sess._prepare(t["train"], {t["x"]: x, t["y"]: y}, None).plan.split_program is None
