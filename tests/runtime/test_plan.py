"""Execution plans: pruning, ordering, slots, freeing, variable reads, serial/parallel choice."""

from __future__ import annotations

import numpy as np
import pytest

import flowgraph as tf
from flowgraph import errors
from flowgraph.runtime.plan import TINY_ELEMENTS, build_plan, prune


@pytest.fixture(autouse=True)
def fresh_graph():
    with tf.Graph().as_default() as g:
        yield g


@pytest.fixture
def rt():
    sess = tf.Session()
    yield sess._rt
    sess.close()


def _names(steps):
    return [st.op.name for st in steps]


def test_prune_keeps_only_what_targets_need_in_creation_order(fresh_graph):
    x = tf.placeholder(tf.float32, name="x")
    a = tf.identity(x, name="a")
    tf.identity(x, name="unused")
    b = tf.identity(a, name="b")
    with tf.control_dependencies([tf.no_op(name="first")]):
        c = tf.identity(b, name="c")
    assert [op.name for op in prune(fresh_graph, [c.op], set())] == ["x", "a", "b", "first", "c"]
    assert [op.name for op in prune(fresh_graph, [c.op], {a})] == ["b", "first", "c"]  # a feed cuts the graph


def test_cycles_are_reported(fresh_graph, rt):
    a = tf.identity(tf.constant(1.0), name="a")
    b = tf.identity(a, name="b")
    a.op._add_control_input(b.op)
    with pytest.raises(errors.InvalidArgumentError, match="The graph has a cycle and cannot be run: (a -> b|b -> a)"):
        build_plan(fresh_graph, [b], [], rt, 1)


def test_missing_feeds_are_found_before_anything_runs(fresh_graph, rt):
    x = tf.placeholder(tf.float32, [2], name="x")
    with pytest.raises(errors.InvalidArgumentError, match="must feed a value for placeholder tensor 'x'"):
        build_plan(fresh_graph, [x * 2.0], [], rt, 1)
    plan = build_plan(fresh_graph, [x], [x], rt, 1)  # fetching a fed tensor runs nothing
    assert plan.steps == [] and plan.fetch_slots == plan.feed_slots == (0,)


def test_slots_constants_and_frees(fresh_graph, rt):
    x = tf.placeholder(tf.float32, name="x")
    h = x * 2.0
    y = (h + 1.0) * h
    z = -y
    plan = build_plan(fresh_graph, [z, h], [x], rt, 1)
    assert _names(plan.steps) == ["mul", "add", "mul_1", "Neg"]
    assert plan.feed_slots == (0,) and len(plan.const_slots) == 2
    for v in plan.const_slots.values():
        assert type(v) is np.float32  # 0-d constants become NumPy scalars
    mul, add, mul1, neg = plan.steps
    assert mul.in_slots[0] == 0
    # y's slot is freed after Neg reads it; h is fetched and x fed, so neither is ever freed.
    assert neg.frees == mul1.out_slots and mul1.frees == add.out_slots
    assert not any(s in plan.keep_slots for st in plan.steps for s in st.frees)
    assert plan.fetch_slots == (neg.out_slots[0], mul.out_slots[0])
    assert [st.n_deps for st in plan.steps] == [0, 1, 2, 1]
    assert mul.consumers == [1, 2] and neg.consumers == []


def test_variable_reads_are_placed_before_each_consumer(fresh_graph, rt):
    v = tf.Variable(1.0, name="v")
    inc = v.assign_add(1.0)
    with tf.control_dependencies([inc]):
        y = v * 3.0
    plan = build_plan(fresh_graph, [y], [], rt, 1)
    # v/read (an Identity of the variable) is not run: the Mul reads the variable itself, after inc.
    assert _names(plan.steps) == ["AssignAdd", "v", "mul"]
    read = plan.steps[1]
    assert read.for_op is y.op and read.out_slots == plan.steps[2].in_slots[:1]
    assert plan.steps[0].consumers == [1, 2]


def test_fetched_variables_are_read_at_the_end(fresh_graph, rt):
    v = tf.Variable(1.0, name="v")
    inc = v.assign_add(1.0)
    other = tf.constant(2.0) * 2.0
    plan = build_plan(fresh_graph, [inc, v.value(), other], [], rt, 3)
    assert _names(plan.steps) == ["AssignAdd", "mul", "v"]
    end = plan.steps[-1]
    assert end.at_end and end.n_deps == 2  # waits for every other step


@pytest.mark.parametrize(
    "threads, shape, parallel",
    [(2, [256, 256], True), (1, [256, 256], False), (2, [8, 8], False)],
)
def test_independent_heavy_steps_make_a_plan_parallel(fresh_graph, rt, threads, shape, parallel):
    x = tf.placeholder(tf.float32, shape)
    a = tf.reduce_sum(-x)
    b = tf.reduce_sum(x * 2.0)
    plan = build_plan(fresh_graph, [a + b], [x], rt, threads)
    assert plan.parallel is parallel
    heavy = {st.op.type: st.heavy for st in plan.steps}
    assert heavy["Neg"] is heavy["Mul"] is (shape[0] * shape[1] > TINY_ELEMENTS)
    assert not heavy["Sum"] and not heavy["AddV2"]


def test_a_chain_of_heavy_steps_stays_serial(fresh_graph, rt):
    x = tf.placeholder(tf.float32, [256, 256])
    y = x
    for _ in range(4):
        y = tf.matmul(y, y)
    plan = build_plan(fresh_graph, [y], [x], rt, 4)
    assert all(st.heavy for st in plan.steps) and not plan.parallel and not plan.calibrate


def test_unknown_sizes_are_measured_on_the_first_run():
    x = tf.placeholder(tf.float32, [None, None])
    y = tf.reduce_sum(-x) + tf.reduce_sum(x * 2.0)
    for side, parallel in ((2, False), (200, True)):
        with tf.Session(config=tf.ConfigProto(inter_op_parallelism_threads=2)) as sess:
            plan = build_plan(sess.graph, [y], [x], sess._rt, 2)
            assert plan.calibrate and not plan.parallel  # unknown sizes: guessed tiny, to be measured
            assert sess.run(y, {x: np.ones((side, side))}) == side * side
            plan = next(iter(sess._plans.values())).plan
            assert not plan.calibrate and plan.parallel is parallel
            assert sess.run(y, {x: np.ones((side, side))}) == side * side


def test_plan_for_an_op_without_outputs(fresh_graph, rt):
    v = tf.Variable(0.0)
    plan = build_plan(fresh_graph, [tf.group(v.initializer)], [], rt, 1)
    assert _names(plan.steps)[-1] == "group_deps" and plan.fetch_slots == (-1,)


# ---------------------------------------------------------------------------------------------
# Donated gradient buffers
# ---------------------------------------------------------------------------------------------
def _sgd_graph():
    x = tf.constant(np.arange(6.0).reshape(2, 3))
    w = tf.Variable(np.ones((3, 2)), name="w")
    loss = tf.reduce_sum(tf.matmul(x, w) ** 2)
    (g,) = tf.gradients(loss, [w])
    return x, w, g, tf.train.GradientDescentOptimizer(0.1).apply_gradients([(g, w)])


def _want_after_one_step():
    x, w = np.arange(6.0).reshape(2, 3), np.ones((3, 2))
    g = x.T @ (2 * (x @ w))
    return w - 0.1 * g, g


def _kernel_of(plan, op_type):
    return next(st.kernel for st in plan.steps if st.op.type == op_type)


def test_sgd_update_builds_the_new_weights_in_a_gradient_buffer_only_it_reads(fresh_graph, rt):
    _, w, g, train = _sgd_graph()
    plan = build_plan(fresh_graph, [train], [], rt, 1)
    kernel = _kernel_of(plan, "ApplyGradientDescent")
    assert kernel.__name__ == "apply_in_gradient_buffer"  # the donating variant replaced the plain one
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train)
        np.testing.assert_allclose(sess.run(w), _want_after_one_step()[0], rtol=1e-7)  # lr is float32 0.1


def test_a_fetched_or_shared_gradient_is_never_overwritten(fresh_graph, rt):
    _, w, g, train = _sgd_graph()
    doubled = g * 2.0  # a second reader of g
    for fetches in ([train, g], [train, doubled]):
        plan = build_plan(fresh_graph, fetches, [], rt, 1)
        assert _kernel_of(plan, "ApplyGradientDescent").__name__ == "apply"
    want_w, want_g = _want_after_one_step()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        _, got_g, got_doubled = sess.run([train, g, doubled])
        np.testing.assert_allclose(got_g, want_g, rtol=1e-12)
        np.testing.assert_allclose(got_doubled, 2 * want_g, rtol=1e-12)
        np.testing.assert_allclose(sess.run(w), want_w, rtol=1e-7)


def test_a_gradient_that_is_a_view_of_other_state_is_not_donated(fresh_graph, rt):
    w = tf.Variable(np.ones(3), name="w")
    g = tf.identity(tf.constant(np.full(3, 2.0)))  # Identity may hand over its input itself
    train = tf.train.GradientDescentOptimizer(0.5).apply_gradients([(g, w)])
    plan = build_plan(fresh_graph, [train], [], rt, 1)
    assert _kernel_of(plan, "ApplyGradientDescent").__name__ == "apply"
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train)
        sess.run(train)
        np.testing.assert_allclose(sess.run(w), np.full(3, -1.0))  # the constant stayed 2


def test_bias_add_and_relu_reuse_a_fresh_buffer_only_when_nothing_else_sees_it(fresh_graph, rt):
    rng = np.random.default_rng(0)
    x_val, w_val, b_val = rng.standard_normal((4, 3)), rng.standard_normal((3, 5)), rng.standard_normal(5)
    x = tf.placeholder(tf.float64, [4, 3])
    m = tf.matmul(x, tf.constant(w_val))
    a = m + tf.constant(b_val)
    r = tf.nn.relu(a)
    want_m = x_val @ w_val
    want_a = want_m + b_val
    alone = build_plan(fresh_graph, [r], [x], rt, 1)
    kinds = {st.op.type: getattr(st.kernel, "__name__", "") for st in alone.steps}
    assert kinds["AddV2"] == "add_into_a" and kinds["Relu"] == "relu_in_place"
    seen = build_plan(fresh_graph, [m, a, r], [x], rt, 1)  # fetched values are never overwritten
    assert {st.op.type: getattr(st.kernel, "__name__", "") for st in seen.steps}["AddV2"] != "add_into_a"
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(r, {x: x_val}), np.maximum(want_a, 0), rtol=1e-12)
        got_m, got_a, got_r = sess.run([m, a, r], {x: x_val})
    np.testing.assert_allclose(got_m, want_m, rtol=1e-12)
    np.testing.assert_allclose(got_a, want_a, rtol=1e-12)
    np.testing.assert_allclose(got_r, np.maximum(want_a, 0), rtol=1e-12)


def test_relu_grad_of_a_pool_gradient_it_alone_reads_is_folded_into_it(fresh_graph, rt):
    rng = np.random.default_rng(2)
    x_val, c_val = rng.standard_normal((2, 4, 4, 3)), rng.standard_normal((2, 2, 2, 3))
    x = tf.placeholder(tf.float64, x_val.shape)
    h = tf.nn.relu(x)
    pooled = tf.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
    (dx,) = tf.gradients(tf.reduce_sum(pooled * tf.constant(c_val)), [x])
    plan = build_plan(fresh_graph, [dx], [x], rt, 1)
    assert {st.op.type: getattr(st.kernel, "__name__", "") for st in plan.steps}["ReluGrad"] == "_passes_first"
    h_val = np.maximum(x_val, 0)
    windows = h_val.reshape(2, 2, 2, 2, 2, 3).transpose(0, 1, 3, 5, 2, 4).reshape(2, 2, 2, 3, 4)
    first = windows.argmax(-1)  # ties (zeros after the ReLU) go to the first maximum, as in TF
    want = np.zeros((2, 2, 2, 3, 4))
    np.put_along_axis(want, first[..., None], c_val[..., None], axis=-1)
    want = want.reshape(2, 2, 2, 3, 2, 2).transpose(0, 1, 4, 2, 5, 3).reshape(2, 4, 4, 3) * (x_val > 0)
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(dx, {x: x_val}), want, rtol=1e-12)


@pytest.mark.parametrize("ksize, stride, padding", [(2, 2, "VALID"), (3, 2, "SAME"), (2, 1, "VALID")])
def test_relu_gradient_folds_into_the_max_pool_gradient(ksize, stride, padding):
    """ReluGrad(MaxPoolGrad(x, y, g), x) is computed as MaxPoolGrad(x, y, g * (y > 0)): same numbers,
    ties and negative windows included (compared with the same graph where the fold cannot apply)."""
    rng = np.random.default_rng(0)
    value = rng.integers(-3, 3, (16, 9, 9, 3)).astype(np.float32)  # many ties, zeros, all-negative windows
    weights = None
    grads = []
    for blocked in (False, True):
        g = tf.Graph()
        with g.as_default():
            x = tf.placeholder(tf.float32, [16, 9, 9, 3])
            h = tf.nn.relu(x * 1.5)
            pool_in = tf.identity(h) if blocked else h  # another tensor: the fold's condition fails
            y = tf.nn.max_pool(pool_in, [1, ksize, ksize, 1], [1, stride, stride, 1], padding)
            if weights is None:
                weights = rng.normal(size=y.shape.as_list()).astype(np.float32)
            w = tf.constant(weights)
            (dx,) = tf.gradients(tf.reduce_sum(y * w), [x])
        with tf.Session(graph=g) as sess:
            grads.append(sess.run(dx, {x: value}))
            plan = sess._prepare(dx, {x: value}, None).plan
            folded = [st.kernel.__name__ == "_passes_first" for st in plan.steps if st.op.type == "ReluGrad"]
            assert folded == [not blocked]
    np.testing.assert_array_equal(grads[0], grads[1])
    assert np.count_nonzero(grads[0]) > 0
