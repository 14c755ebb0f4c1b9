"""Session: fetch structures, feeds, subgraph execution, plan caching, errors, threads, tracing."""

from __future__ import annotations

import collections
import inspect
import threading

import numpy as np
import pytest

import flowgraph as tf
from flowgraph import errors


@pytest.fixture(autouse=True)
def fresh_graph():
    with tf.Graph().as_default() as g:
        yield g


def _line() -> int:
    return inspect.currentframe().f_back.f_lineno


Pair = collections.namedtuple("Pair", "first second")


# ---------------------------------------------------------------------------------------------
# Fetches
# ---------------------------------------------------------------------------------------------
def test_fetch_kinds_and_value_types():
    a = tf.constant(2.0, name="a")
    b = tf.constant([1, 2], name="b")
    with tf.Session() as sess:
        v = sess.run(a)
        assert v == 2.0 and type(v) is np.float32  # scalars come back as NumPy scalars, as in TF1
        arr = sess.run(b)
        assert type(arr) is np.ndarray and arr.dtype == np.int32 and arr.tolist() == [1, 2]
        assert sess.run(a.op) is None
        assert sess.run("a:0") == 2.0 and sess.run("a") is None
        assert type(sess.run(tf.constant(True))) is np.bool_


def test_nested_fetch_structures_round_trip():
    a = tf.constant(1.0)
    b = tf.constant(2.0)
    with tf.Session() as sess:
        out = sess.run({"x": [a, (b, a.op)], "y": Pair(a, {"z": b}), "n": "Const_1:0"})
        assert out == {"x": [1.0, (2.0, None)], "y": Pair(1.0, {"z": 2.0}), "n": 2.0}
        assert isinstance(out["y"], Pair) and isinstance(out["x"][1], tuple)
        dd = sess.run(collections.defaultdict(list, {"k": a}))
        assert isinstance(dd, collections.defaultdict) and dd.default_factory is list and dd["k"] == 1.0
        od = sess.run(collections.OrderedDict([("p", b), ("q", a)]))
        assert type(od) is collections.OrderedDict and list(od.items()) == [("p", 2.0), ("q", 1.0)]
        assert sess.run([a, a, b]) == [1.0, 1.0, 2.0]
        assert sess.run((a,)) == (1.0,)
        assert sess.run([]) == [] and sess.run({}) == {} and sess.run(()) == ()


def test_variable_fetch_reads_its_value():
    v = tf.Variable([1.0, 2.0], name="v")
    with tf.Session() as sess:
        sess.run(v.initializer)
        assert sess.run(v).tolist() == [1.0, 2.0]
        assert sess.run("v:0").tolist() == [1.0, 2.0]  # the variable's state tensor, by name


@pytest.mark.parametrize(
    "fetch, exc, message",
    [
        (None, TypeError, "Fetch argument None has invalid type"),
        ([1.0], TypeError, "Fetch argument 1.0 has invalid type <class 'float'>"),
        ("nope:0", ValueError, "Fetch argument 'nope:0' cannot be interpreted as a Tensor.*'nope', does not exist"),
        ("nope", ValueError, "Fetch argument 'nope' cannot be interpreted.*not in the graph"),
    ],
)
def test_bad_fetches_name_the_culprit(fetch, exc, message):
    tf.constant(1.0)
    with tf.Session() as sess, pytest.raises(exc, match=message):
        sess.run(fetch)


def test_fetch_from_another_graph_is_refused():
    with tf.Graph().as_default():
        other = tf.constant(1.0, name="elsewhere")
    with tf.Session() as sess:
        with pytest.raises(ValueError, match="elsewhere:0.*is not an element of this graph"):
            sess.run(other)
        with pytest.raises(TypeError, match="Cannot interpret feed_dict key as Tensor.*elsewhere:0.*not an element"):
            sess.run(tf.constant(2.0), {other: 1.0})


# ---------------------------------------------------------------------------------------------
# Feeds
# ---------------------------------------------------------------------------------------------
def test_feed_values_are_converted_to_the_tensors_dtype():
    x = tf.placeholder(tf.float32, name="x")
    i = tf.placeholder(tf.int32, [None, 2], name="i")
    with tf.Session() as sess:
        assert sess.run(x * 2.0, {x: 3}) == 6.0
        out = sess.run(x + 0.0, {x: np.array([1.5, 2.5], dtype=np.float64)})
        assert out.dtype == np.float32 and out.tolist() == [1.5, 2.5]
        assert sess.run(i, {i: [[1.9, -1.9]]}).tolist() == [[1, -1]]  # numeric conversion, as TF1
        assert sess.run(i, {i: [[True, False]]}).tolist() == [[1, 0]]
        assert sess.run(x, {"x:0": 4.0}) == 4.0  # by name
        assert sess.run(x + 1.0, {x: np.float64(1.0)}) == 2.0


def test_bad_feeds_name_the_tensor_and_where_it_was_created():
    here = _line() + 1
    x = tf.placeholder(tf.float32, [2], name="x")
    s = tf.placeholder(tf.string, name="s")
    with tf.Session() as sess:
        with pytest.raises(
            ValueError,
            match=rf"Cannot feed value of shape \(3,\) for Tensor 'x:0', which has shape \(2,\) "
            rf"\(created at {__file__}:{here}\)",
        ):
            sess.run(x, {x: [1.0, 2.0, 3.0]})
        with pytest.raises(ValueError, match=r"Cannot feed value of shape \(\) for Tensor 'x:0'"):
            sess.run(x, {x: 1.0})
        with pytest.raises(TypeError, match="Cannot feed value 'abc' for Tensor 'x:0' of dtype float32"):
            sess.run(x, {x: "abc"})
        with pytest.raises(
            TypeError, match=r"The value of a feed cannot be a tf.Tensor object \(Const:0 fed for x:0\)"
        ):
            sess.run(x, {x: tf.constant([1.0, 2.0])})
        with pytest.raises(TypeError, match="Cannot interpret feed_dict key 'nope:0' as a Tensor.*does not exist"):
            sess.run(x, {"nope:0": 1.0})
        with pytest.raises(TypeError, match="Cannot interpret feed_dict key 'x' as a Tensor.*Operation"):
            sess.run(x, {"x": [1.0, 2.0]})
        with pytest.raises(TypeError, match="Cannot feed value 1099511627776 for Tensor 'i:0' of dtype int32"):
            sess.run(tf.placeholder(tf.int32, name="i"), {"i:0": 2**40})
        assert sess.run(s, {s: ["a", b"b"]}).tolist() == [b"a", b"b"]


def test_missing_feed_names_the_placeholder_and_its_line():
    here = _line() + 1
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    y = tf.reduce_sum(x * 2.0)
    with tf.Session() as sess:
        with pytest.raises(
            errors.InvalidArgumentError,
            match=rf"You must feed a value for placeholder tensor 'x' with dtype float32 and shape \[\?,3\] "
            rf"\(created at {__file__}:{here}\)",
        ) as info:
            sess.run(y)
        assert info.value.op is x.op and info.value.error_code == errors.INVALID_ARGUMENT


def test_any_tensor_may_be_fed_overriding_its_computation():
    x = tf.placeholder(tf.float32, name="x")
    c = tf.constant(5.0)
    h = x * 2.0
    y = h + c
    with tf.Session() as sess:
        assert sess.run(y, {x: 1.0}) == 7.0
        assert sess.run(y, {h: 10.0}) == 15.0  # feeding an intermediate cuts x out: no feed needed
        assert sess.run(y, {c: 1.0, x: 1.0}) == 3.0  # constants too
        assert sess.run(h, {h: 4.0}) == 4.0  # fetching a fed tensor returns the feed
        pwd = tf.placeholder_with_default(tf.constant([1.0, 2.0]), [2])
        assert sess.run(pwd).tolist() == [1.0, 2.0] and sess.run(pwd, {pwd: [3.0, 4.0]}).tolist() == [3.0, 4.0]


def test_a_variable_may_be_fed_for_one_run():
    v = tf.Variable(3.0, name="v")
    with tf.Session() as sess:
        assert sess.run(v * 2.0, {v: 1.0}) == 2.0  # feeds v/read; the variable stays uninitialized
        assert sess.run(v * 2.0, {"v:0": 1.5}) == 3.0  # feeds its state tensor
        assert sess.run("v:0", {"v:0": 5.0}) == 5.0
        with pytest.raises(errors.FailedPreconditionError, match="uninitialized value v"):
            sess.run(v)


# ---------------------------------------------------------------------------------------------
# Only what the fetches need runs
# ---------------------------------------------------------------------------------------------
def test_only_the_needed_subgraph_runs():
    v = tf.Variable(0.0)
    bump = v.assign_add(1.0)
    x = tf.placeholder(tf.float32)
    doomed = tf.matmul(tf.placeholder(tf.float32, [None, 2]), tf.placeholder(tf.float32, [None, 3]))
    unrelated = doomed + x
    z = tf.constant(1.0) + 1.0
    with tf.Session() as sess:
        sess.run(v.initializer)
        assert sess.run(z) == 2.0  # no placeholder is needed, the assign does not run
        assert sess.run(v) == 0.0
        sess.run(bump)
        assert sess.run(v) == 1.0
    del unrelated


def test_control_dependencies_run_first():
    v = tf.Variable(0.0)
    inc = v.assign_add(1.0)
    with tf.control_dependencies([inc]):
        after = tf.identity(v)  # TF1's idiom: reads the value after the increment
        later = v.read_value()
        scaled = v * 10.0
    with tf.Session() as sess:
        sess.run(v.initializer)
        assert sess.run(after) == 1.0
        assert sess.run(later) == 2.0
        assert sess.run(scaled) == 30.0
        assert sess.run([after, later]) == [4.0, 4.0]  # one increment per run, both read after it
        # A fetched variable value is read at the end of the run, as TF1's refs are copied out then.
        assert sess.run([inc, v]) == [5.0, 5.0]
        assert sess.run({"v": v, "state": "Variable:0", "inc": inc.op}) == {"v": 6.0, "state": 6.0, "inc": None}


# ---------------------------------------------------------------------------------------------
# Plan caching
# ---------------------------------------------------------------------------------------------
def test_plans_are_built_once_per_signature():
    x = tf.placeholder(tf.float32, name="x")
    y = x * 2.0
    z = y + 1.0
    with tf.Session() as sess:
        assert sess.plans_built == 0
        for i in range(3):
            assert sess.run(y, {x: float(i)}) == 2.0 * i
        assert sess.plans_built == 1
        sess.run([y, z], {x: 1.0})
        sess.run([y, z], {x: 2.0})
        assert sess.plans_built == 2
        sess.run(y, {"x:0": 1.0})  # the same plan reached through a feed name
        sess.run("mul:0", {x: 1.0})
        assert sess.plans_built == 2
        sess.run(y, {y: 1.0})  # another feed set: another plan
        assert sess.plans_built == 3


def test_plan_is_rebuilt_when_a_control_input_is_added_later():
    v = tf.Variable(0.0)
    inc = v.assign_add(1.0)
    out = tf.identity(v)
    with tf.Session() as sess:
        sess.run(v.initializer)
        assert sess.run(out) == 0.0
        out.op._add_control_input(inc.op)
        assert sess.run(out) == 1.0 and sess.plans_built == 3


# ---------------------------------------------------------------------------------------------
# Run-time errors
# ---------------------------------------------------------------------------------------------
def test_failing_kernel_names_op_input_shapes_and_user_line():
    a = tf.placeholder(tf.float32, [None, 3], name="a")
    b = tf.placeholder(tf.float32, [None, 2], name="b")
    here = _line() + 1
    m = tf.matmul(a, b, name="mm")
    with tf.Session() as sess:
        with pytest.raises(errors.InvalidArgumentError) as info:
            sess.run(m, {a: np.ones((2, 3)), b: np.ones((2, 2))})
    msg = str(info.value)
    assert "while running op 'mm' (type MatMul)" in msg
    assert "a:0: shape [2, 3] float32, b:0: shape [2, 2] float32" in msg
    assert f"created at {__file__}:{here}" in msg
    assert info.value.op is m.op and isinstance(info.value.__cause__, ValueError)


def test_failing_kernel_in_a_threaded_run_reports_the_same(monkeypatch):
    a = tf.placeholder(tf.float32, [None, 3], name="a")
    b = tf.placeholder(tf.float32, [None, 2], name="b")
    m = tf.matmul(a, b, name="mm")
    big = tf.matmul(tf.ones([200, 200]), tf.ones([200, 200]))
    with tf.Session(config=tf.ConfigProto(inter_op_parallelism_threads=2)) as sess:
        with pytest.raises(errors.InvalidArgumentError, match=r"while running op 'mm' \(type MatMul\)"):
            sess.run([m, big], {a: np.ones((2, 3)), b: np.ones((2, 2))})
        assert sess._plans[next(iter(sess._plans))].plan.parallel
        assert sess.run(big).shape == (200, 200)  # the session is still usable


def test_closed_session_refuses_to_run():
    a = tf.constant(1.0)
    sess = tf.Session()
    assert sess.run(a) == 1.0
    sess.close()
    sess.close()  # idempotent
    with pytest.raises(RuntimeError, match="Attempted to use a closed Session"):
        sess.run(a)


# ---------------------------------------------------------------------------------------------
# Default session, eval, run, InteractiveSession
# ---------------------------------------------------------------------------------------------
def test_session_context_manager_is_the_default(fresh_graph):
    a = tf.constant(3.0)
    v = tf.Variable(1.0)
    with tf.Session() as sess:
        assert tf.get_default_session() is sess and sess.graph is fresh_graph
        tf.global_variables_initializer().run()
        assert a.eval() == 3.0 and v.eval() == 1.0
        x = tf.placeholder(tf.float32)
        assert (x * 2.0).eval({x: 2.0}) == 4.0
    assert tf.get_default_session() is None
    with pytest.raises(ValueError, match="No default session is registered"):
        a.eval()


def test_eval_with_explicit_session_and_graph_checks():
    a = tf.constant(3.0)
    sess = tf.Session()
    assert a.eval(session=sess) == 3.0
    other = tf.Session(graph=tf.Graph())
    with pytest.raises(ValueError, match="the tensor's graph is different from the session's graph"):
        a.eval(session=other)
    sess.close()
    other.close()


def test_session_on_an_explicit_graph_and_as_default():
    g = tf.Graph()
    with g.as_default():
        c = tf.constant(7.0)
    sess = tf.Session(graph=g)
    with sess.as_default():
        assert tf.get_default_session() is sess and tf.get_default_graph() is g and c.eval() == 7.0
    with pytest.raises(TypeError, match="graph must be a tf.Graph"):
        tf.Session(graph="nope")
    sess.close()


def test_interactive_session_installs_itself():
    a = tf.constant(2.0)
    sess = tf.InteractiveSession()
    try:
        assert tf.get_default_session() is sess and a.eval() == 2.0
    finally:
        sess.close()
    assert tf.get_default_session() is None


def test_make_callable():
    x = tf.placeholder(tf.float32)
    y = x * 3.0
    with tf.Session() as sess:
        f = sess.make_callable(y, [x])
        assert f(2.0) == 6.0 and f(1.0) == 3.0


# ---------------------------------------------------------------------------------------------
# Concurrency and parallel execution
# ---------------------------------------------------------------------------------------------
def test_many_threads_running_one_session():
    x = tf.placeholder(tf.float32, [None], name="x")
    y = tf.reduce_sum(x * 2.0 + 1.0)
    w = tf.matmul(tf.reshape(x, [1, -1]), tf.reshape(x, [-1, 1]))
    failures = []
    with tf.Session(config=tf.ConfigProto(inter_op_parallelism_threads=3)) as sess:

        def worker(k: int) -> None:
            try:
                for i in range(40):
                    v = np.arange(k + i, dtype=np.float32)
                    got_y, got_w = sess.run([y, w], {x: v})
                    if got_y != np.float32(np.sum(v * 2 + 1)) or got_w[0, 0] != np.float32(v @ v):
                        failures.append((k, i))
            except Exception as e:  # noqa: BLE001 - reported below
                failures.append(e)

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert failures == []


def test_parallel_and_serial_results_are_bit_identical():
    rng = np.random.default_rng(0)
    x = tf.placeholder(tf.float32, [64, 64])
    branches = []
    for k in range(6):
        h = x
        for _ in range(3):
            h = tf.matmul(h, tf.constant(rng.standard_normal((64, 64)).astype(np.float32) * 0.1)) + float(k)
        branches.append(tf.reduce_mean(h, axis=0))
    out = tf.add_n(branches)
    xv = rng.standard_normal((64, 64)).astype(np.float32)
    results = {}
    for threads in (1, 4):
        with tf.Session(config=tf.ConfigProto(inter_op_parallelism_threads=threads)) as sess:
            results[threads] = [sess.run(out, {x: xv}) for _ in range(3)]
            plan = next(iter(sess._plans.values())).plan
            assert plan.parallel is (threads > 1)
    for a, b in zip(results[1], results[4]):
        assert np.array_equal(a, b)


def test_run_metadata_full_trace_records_step_stats():
    x = tf.placeholder(tf.float32, [None, 4])
    y = tf.reduce_sum(tf.matmul(x, tf.ones([4, 4])) + x)
    md = tf.RunMetadata()
    with tf.Session() as sess:
        sess.run(y, {x: np.ones((3, 4))}, options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE), run_metadata=md)
        untraced = tf.RunMetadata()
        sess.run(y, {x: np.ones((3, 4))}, run_metadata=untraced)
    (dev,) = md.step_stats.dev_stats
    assert dev.device.endswith("CPU:0")
    names = [n.node_name for n in dev.node_stats]
    assert "MatMul" in names and "Sum" in names and "Placeholder" not in names
    for n in dev.node_stats:
        assert n.all_end_rel_micros >= 0 and n.thread_id > 0 and n.end_ns >= n.start_ns
        assert n.timeline_label.startswith(f"{n.node_name} = {n.op_type}(")
    starts = [n.all_start_micros for n in dev.node_stats]
    assert starts == sorted(starts)
    assert untraced.step_stats.dev_stats == []


def test_intra_op_threads_cap_blas():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with threadpoolctl.threadpool_limits(limits=None):  # restores the process's BLAS settings afterwards
        with tf.Session(config=tf.ConfigProto(intra_op_parallelism_threads=1)):
            blas = [p for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
            assert blas and all(p["num_threads"] == 1 for p in blas)


def test_config_proto_threads():
    cfg = tf.ConfigProto(inter_op_parallelism_threads=3, intra_op_parallelism_threads=1, allow_soft_placement=True)
    assert cfg.inter_op_parallelism_threads == 3 and cfg.allow_soft_placement
    with tf.Session(config=cfg) as sess:
        assert sess._inter_op == 3
    with tf.Session(config=tf.ConfigProto(inter_op_parallelism_threads=-1)) as sess:
        assert sess._inter_op == 1  # negative: run on the caller's thread
    with tf.Session() as sess:
        assert sess._inter_op >= 1


def test_default_session_times_both_executors_and_keeps_one():
    g = tf.Graph()
    with g.as_default():
        a = tf.placeholder(tf.float32, [256, 256])
        outs = [tf.tanh(tf.matmul(a, a)) for _ in range(2)]
        total = tf.add_n(outs)
    value = np.random.default_rng(0).random((256, 256), dtype=np.float32) / 256
    want = None
    with tf.Session(graph=g) as sess:
        for _ in range(4 * sess.TUNING_BLOCK * (1 + sess.TUNING_RUNS)):  # up to four ways, each timed TUNING_RUNS times
            got = sess.run(total, {a: value})
            want = got if want is None else want
            np.testing.assert_array_equal(got, want)  # either executor, same bits
        plans = [e.plan for e in sess._signatures.values()]
    assert any(getattr(p, "tuned", False) for p in plans)


def test_explicit_inter_op_threads_are_obeyed():
    g = tf.Graph()
    with g.as_default():
        a = tf.placeholder(tf.float32, [256, 256])
        total = tf.add_n([tf.matmul(a, a) for _ in range(2)])
    with tf.Session(graph=g, config=tf.ConfigProto(inter_op_parallelism_threads=2)) as sess:
        for _ in range(22):
            sess.run(total, {a: np.ones((256, 256), np.float32)})
        plans = [e.plan for e in sess._signatures.values()]
    assert all(p.parallel and not getattr(p, "tuned", False) for p in plans)


def _conv_graph():
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [16, 8, 8, 1])
        w = tf.constant(np.random.default_rng(0).random((3, 3, 1, 4), dtype=np.float32))
        y = tf.reduce_sum(tf.nn.conv2d(x, w, [1, 1, 1, 1], "SAME"))
    return g, x, y


def _spy_conv_pieces(monkeypatch):
    from flowgraph.ops import batch_minor
    from flowgraph.runtime import intra_op

    monkeypatch.setattr(intra_op.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(intra_op, "MIN_WORK", 1)
    seen = []
    real = batch_minor.conv_forward
    monkeypatch.setattr(
        batch_minor,
        "conv_forward",
        lambda xp, x, w, gh, gw, intra, **k: seen.append(intra.ways(10**6)) or real(xp, x, w, gh, gw, intra, **k),
    )
    return seen


def test_default_session_measures_whether_intra_op_pieces_pay(monkeypatch):
    seen = _spy_conv_pieces(monkeypatch)
    g, x, y = _conv_graph()
    value = np.random.default_rng(1).random((16, 8, 8, 1), dtype=np.float32)
    with tf.Session(graph=g) as sess:
        got = {float(sess.run(y, {x: value})) for _ in range(3 * sess.TUNING_BLOCK * (1 + sess.TUNING_RUNS))}
        plan = next(e.plan for e in sess._signatures.values())
        assert getattr(plan, "tuned", False) and plan.intra_pieces in (True, False)
        assert set(seen) == {1, 2}  # runs without pieces and runs in two pieces were both timed
        seen.clear()
        for _ in range(3):
            got.add(float(sess.run(y, {x: value})))
        assert seen == [2 if plan.intra_pieces else 1] * 3  # then the kept way, every run
    assert max(got) - min(got) <= 1e-5 * abs(max(got))  # the same sum either way (up to GEMM blocking)


def test_explicit_intra_op_threads_are_obeyed(monkeypatch):
    seen = _spy_conv_pieces(monkeypatch)
    g, x, y = _conv_graph()
    for threads, ways in ((2, 2), (1, 1)):
        with tf.Session(graph=g, config=tf.ConfigProto(intra_op_parallelism_threads=threads)) as sess:
            for _ in range(4):
                sess.run(y, {x: np.ones((16, 8, 8, 1), np.float32)})
            assert next(e.plan for e in sess._signatures.values()).intra_pieces is True
        assert seen == [ways] * 4
        seen.clear()


def test_a_plan_tuned_to_one_blas_thread_runs_with_blas_capped(monkeypatch, fake_blas):
    from flowgraph.runtime import intra_op

    monkeypatch.setattr(intra_op.os, "cpu_count", lambda: 2)
    calls = fake_blas.calls
    g, x, y = _conv_graph()
    value = np.ones((16, 8, 8, 1), np.float32)
    with tf.Session(graph=g) as sess:
        modes = None
        for _ in range(4 * sess.TUNING_BLOCK * (1 + sess.TUNING_RUNS)):
            sess.run(y, {x: value})
            plan = next(e.plan for e in sess._signatures.values())
            modes = getattr(plan, "tuning_modes", modes)
        assert "serial, one BLAS thread" in modes and getattr(plan, "tuned", False)
        assert 1 in calls and calls[-1] == 2  # capped while timed, restored after every run
        calls.clear()
        plan.blas_one = True
        sess.run(y, {x: value})
        assert calls == [1, 2]
        plan.blas_one, plan.intra_pieces = False, False
        calls.clear()
        sess.run(y, {x: value})
        assert calls == []
