"""tf.gradients: the backprop driver (naming, unconnected and integer paths, stops, registry hooks)."""

from __future__ import annotations

import numpy as np
import pytest

import flowgraph as tf
from flowgraph.registry import get_gradient_function


@pytest.fixture(autouse=True)
def fresh_graph():
    with tf.Graph().as_default() as g:
        yield g


def _run(fetches, feed=None):
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        return sess.run(fetches, feed)


def test_gradient_values_and_names():
    x = tf.placeholder(tf.float32, [2], name="x")
    y = x * x + 3.0 * x
    (g,) = tf.gradients(y, x)
    assert g.name.startswith("gradients/") and g.dtype == tf.float32 and g.shape.as_list() == [2]
    assert tf.gradients(y, [x])[0].name.startswith("gradients_1/")
    assert _run(g, {x: [1.0, 2.0]}).tolist() == [5.0, 7.0]
    (gg,) = tf.gradients(g, x)  # gradients are graph ops: second order
    assert _run(gg, {x: [1.0, 2.0]}).tolist() == [2.0, 2.0]


def test_sum_over_ys_and_grad_ys():
    x = tf.placeholder(tf.float64, [3])
    g = tf.gradients([x * 2.0, x * x], x)[0]
    assert _run(g, {x: [1.0, 2.0, 3.0]}).tolist() == [4.0, 6.0, 8.0]
    g2 = tf.gradients(x * x, x, grad_ys=tf.constant([1.0, 0.0, 2.0], tf.float64))[0]
    assert _run(g2, {x: [1.0, 2.0, 3.0]}).tolist() == [2.0, 0.0, 12.0]
    with pytest.raises(ValueError, match="Length mismatch. Passed 1 grad_ys for 2 ys"):
        tf.gradients([x, x], x, grad_ys=[tf.ones([3], tf.float64)])


def test_matmul_and_reduction_gradients_through_broadcasting():
    x = tf.placeholder(tf.float64, [2, 3])
    w = tf.constant(np.arange(12.0).reshape(3, 4))
    b = tf.constant(np.ones(4))
    loss = tf.reduce_mean(tf.matmul(x, w) + b)
    gx, gb = tf.gradients(loss, [x, b])
    xv = np.ones((2, 3))
    got_x, got_b = _run([gx, gb], {x: xv})
    np.testing.assert_allclose(got_x, np.full((2, 4), 1 / 8) @ np.arange(12.0).reshape(3, 4).T)
    np.testing.assert_allclose(got_b, np.full(4, 2 / 8))


def test_variable_gradients():
    v = tf.Variable([1.0, 2.0])
    (g,) = tf.gradients(tf.reduce_sum(v * v), v)
    assert _run(g).tolist() == [2.0, 4.0]


def test_unconnected_gradients():
    x = tf.placeholder(tf.float32, [2])
    z = tf.placeholder(tf.float32, [2], name="z")
    y = x * 2.0
    gx, gz = tf.gradients(y, [x, z])
    assert gz is None and gx is not None
    (zero,) = tf.gradients(y, [z], unconnected_gradients="zero")
    assert zero.name == "zeros_like:0" and _run(zero, {z: [1.0, 1.0]}).tolist() == [0.0, 0.0]


def test_integer_paths_carry_no_gradient():
    i = tf.placeholder(tf.int32, name="i")
    x = tf.placeholder(tf.float32, name="x")
    assert tf.gradients(i * 2, i) == [None]
    assert tf.gradients(tf.cast(i, tf.float32) * 2.0, i) == [None]
    assert tf.gradients(tf.cast(x, tf.int32), x) == [None]
    assert tf.gradients(i * 2, i, grad_ys=tf.constant(1)) == [None]
    gi, gx = tf.gradients([i * 2, x * 2.0], [i, x])
    assert gi is None and _run(gx, {x: 1.0}) == 2.0
    (g,) = tf.gradients(x * tf.cast(tf.cast(x, tf.int32), tf.float32), x)  # the integer side is constant
    assert _run(g, {x: 2.5}) == 2.0


def test_stop_gradients_and_stop_gradient_op():
    x = tf.placeholder(tf.float32)
    h = x * x
    y = h * 3.0
    assert tf.gradients(y, x, stop_gradients=[h]) == [None]
    (g,) = tf.gradients(tf.stop_gradient(h) * x, x)
    assert _run(g, {x: 2.0}) == 4.0


def test_gradients_of_another_graph_build_there(fresh_graph):
    other = tf.Graph()
    with other.as_default():
        z = tf.placeholder(tf.float32, name="z")
        y = z * 3.0
    (g,) = tf.gradients(y, z)
    assert g.graph is other and fresh_graph.get_operations() == []
    with tf.Session(graph=other) as sess:
        assert sess.run(g, {z: 1.0}) == 3.0
    with pytest.raises(ValueError, match="must share one graph"):
        tf.gradients(y, tf.constant(1.0))


def test_registered_gradients_and_overrides(fresh_graph):
    @tf.RegisterGradient("TestDoubleGrad")
    def _double(op, grad):
        return [grad * 2.0]

    x = tf.placeholder(tf.float32)
    with fresh_graph.gradient_override_map({"Identity": "TestDoubleGrad"}):
        y = tf.identity(x)
    (g,) = tf.gradients(y * 1.0, x)
    assert get_gradient_function(y.op) is _double and _run(g, {x: 1.0}) == 2.0
    with pytest.raises(KeyError, match="Registering two gradient with name 'TestDoubleGrad'"):
        tf.RegisterGradient("TestDoubleGrad")(lambda op, grad: [grad])
    with pytest.raises(TypeError, match="op_type must be a string"):
        tf.RegisterGradient(3)


def test_not_differentiable_and_missing_gradients(fresh_graph):
    tf.NotDifferentiable("TestNoGrad")
    x = tf.placeholder(tf.float32)
    with fresh_graph.gradient_override_map({"Identity": "TestNoGrad"}):
        y = tf.identity(x)
    assert tf.gradients(y, x) == [None]
    with fresh_graph.gradient_override_map({"Identity": "TestUnknownGrad"}):
        z = tf.identity(x)
    with pytest.raises(
        LookupError, match=r"No gradient defined for operation 'Identity_1' \(op type: TestUnknownGrad\)"
    ):
        tf.gradients(z, x)


def test_gradients_of_multiple_xs_share_work():
    x = tf.placeholder(tf.float32)
    w = tf.placeholder(tf.float32)
    y = (x * w) * (x * w)
    gx, gw = tf.gradients(y, [x, w])
    assert _run([gx, gw], {x: 2.0, w: 3.0}) == [36.0, 24.0]
