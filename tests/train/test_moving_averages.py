"""tf.train.ExponentialMovingAverage against its closed forms, TF1's names, and a Saver round trip."""

import numpy as np
import pytest

import flowgraph as tf
from flowgraph import train
from flowgraph.train.moving_averages import assign_moving_average

W0 = np.array([[0.5, -1.5, 2.0], [1.0, 0.25, -0.75]])
DELTAS = [np.array([[0.3, -0.2, 0.1], [-0.4, 0.6, 0.05]]) * (k + 1) for k in range(5)]


def f32(x):
    """A Python decay as TF1 sees it: a float32 constant (then cast to the variable's dtype)."""
    return float(np.float32(x))


@pytest.fixture
def graph():
    with tf.Graph().as_default() as g:
        yield g


def run_updates(var, delta, apply_op, shadow, steps):
    """Moves ``var`` by each of ``steps`` deltas, then runs ``apply_op``; returns the shadow after each step."""
    out = []
    move = tf.assign_add(var, delta)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        out.append(sess.run(shadow))
        for d in steps:
            sess.run(move, {delta: d})
            sess.run(apply_op)
            out.append(sess.run(shadow))
    return out


def test_shadow_follows_the_closed_form(graph):
    w = tf.Variable(W0, name="w")
    delta = tf.placeholder(tf.float64, W0.shape)
    ema = train.ExponentialMovingAverage(0.9)
    apply_op = ema.apply([w])
    got = run_updates(w, delta, apply_op, ema.average(w), DELTAS)
    d = f32(0.9)
    value, shadow, want = W0.copy(), W0.copy(), [W0.copy()]
    for step in DELTAS:
        value = value + step
        shadow = shadow - (1 - d) * (shadow - value)
        want.append(shadow)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_num_updates_caps_the_decay(graph):
    w = tf.Variable(W0, name="w")
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    delta = tf.placeholder(tf.float64, W0.shape)
    ema = train.ExponentialMovingAverage(0.99, num_updates=step)
    with tf.control_dependencies([ema.apply([w])]):
        apply_op = tf.assign_add(step, 1)
    got = run_updates(w, delta, apply_op, ema.average(w), DELTAS)
    value, shadow, want = W0.copy(), W0.copy(), [W0.copy()]
    for n, d_step in enumerate(DELTAS):
        value = value + d_step
        decay = f32(min(f32(0.99), f32((1.0 + n) / (10.0 + n))))  # 0.1, 0.1818..., 0.25, ... below 0.99
        shadow = shadow - (1 - decay) * (shadow - value)
        want.append(shadow)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_tensor_average_starts_at_zero_and_zero_debias_removes_the_bias(graph):
    x = tf.placeholder(tf.float32, [2], name="x")
    values = [np.array([1.0, -2.0]), np.array([3.0, 0.5]), np.array([-1.0, 4.0])]
    plain = train.ExponentialMovingAverage(0.8, name="plain")
    debiased = train.ExponentialMovingAverage(0.8, zero_debias=True, name="debiased")
    ops = [plain.apply([x]), debiased.apply([x])]
    assert plain.average(x).op.name == "x/plain" and debiased.average(x).op.name == "x/debiased"
    names = {v.op.name for v in tf.global_variables()}
    assert {"x/debiased/biased", "x/debiased/local_step"} <= names
    assert tf.moving_average_variables() == []  # only variables go there, not tensors
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_array_equal(sess.run(plain.average(x)), [0.0, 0.0])
        got_plain, got_debiased = [], []
        for v in values:
            sess.run(ops, {x: v})
            got_plain.append(sess.run(plain.average(x)))
            got_debiased.append(sess.run(debiased.average(x)))
    d = f32(0.8)
    avg = np.zeros(2)
    for t, v in enumerate(values, start=1):
        avg = avg - (1 - d) * (avg - v)
        np.testing.assert_allclose(got_plain[t - 1], avg, rtol=1e-5)
        np.testing.assert_allclose(got_debiased[t - 1], avg / (1 - d**t), rtol=1e-5)
    # One update of a debiased average is the value itself.
    np.testing.assert_allclose(got_debiased[0], values[0], rtol=1e-6)


def test_assign_moving_average_zero_debias_default(graph):
    v = tf.Variable(np.zeros(3), name="v")
    x = tf.constant([2.0, 4.0, -6.0], tf.float64)
    update = assign_moving_average(v, x, 0.5)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_allclose(sess.run(update), [2.0, 4.0, -6.0])  # (0.5 * x) / (1 - 0.5)
        np.testing.assert_allclose(sess.run(update), [2.0, 4.0, -6.0])


def test_names_collections_and_ops(graph):
    w = tf.Variable(W0, name="w")
    b = tf.Variable(np.zeros(3), name="b")
    other = tf.Variable(1.0, trainable=False, name="other")
    ema = train.ExponentialMovingAverage(0.999)
    assert ema.name == "ExponentialMovingAverage"
    assert ema.average(w) is None
    assert ema.average_name(w) == "w/ExponentialMovingAverage"  # known before apply
    with tf.name_scope("outer"):
        apply_op = ema.apply()  # the trainable variables
    assert apply_op.name == "outer/ExponentialMovingAverage"
    avg_w = ema.average(w)
    assert avg_w.op.name == "w/ExponentialMovingAverage" and ema.average_name(b) == "b/ExponentialMovingAverage"
    assert not avg_w.trainable and avg_w in tf.global_variables()
    assert tf.trainable_variables() == [w, b]
    assert tf.moving_average_variables() == [w, b]
    assert ema.variables_to_restore() == {
        "w/ExponentialMovingAverage": w,
        "b/ExponentialMovingAverage": b,
        "other": other,
    }
    assert ema.variables_to_restore([w]) == {
        "w/ExponentialMovingAverage": w,
        "b": b,
        "b/ExponentialMovingAverage": ema.average(b),
        "other": other,
    }
    with pytest.raises(ValueError, match="already computed for: w:0"):
        ema.apply([w])
    with pytest.raises(TypeError, match="half, float, or double"):
        ema.apply([tf.Variable(3, name="count")])
    # A second average of the same variable gets the next free name.
    assert train.ExponentialMovingAverage(0.5).apply([w]) is not None
    assert [v.op.name for v in tf.global_variables() if v.op.name.startswith("w/")] == [
        "w/ExponentialMovingAverage",
        "w/ExponentialMovingAverage_1",
    ]


def test_shadow_starts_at_a_random_initial_value(graph):
    tf.set_random_seed(3)
    w = tf.Variable(tf.random_normal([4, 5]), name="w")
    ema = train.ExponentialMovingAverage(0.9)
    ema.apply([w])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        w_value, avg_value = sess.run([w, ema.average(w)])
    np.testing.assert_array_equal(w_value, avg_value)


def test_variables_to_restore_loads_the_averages(tmp_path):
    """Train-graph shadows restored into an evaluation graph's plain variables (TF1's eval pattern)."""
    with tf.Graph().as_default():
        w = tf.Variable(np.array([1.0, 2.0], np.float32), name="w")
        ema = train.ExponentialMovingAverage(0.5)
        apply_op = ema.apply([w])
        saver = tf.train.Saver()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(tf.assign(w, [3.0, 6.0]))
            sess.run(apply_op)  # shadow: [1, 2] + 0.5 * ([3, 6] - [1, 2]) = [2, 4]
            path = saver.save(sess, str(tmp_path / "model"))
    with tf.Graph().as_default():
        w = tf.Variable(np.zeros(2, np.float32), name="w")
        ema = train.ExponentialMovingAverage(0.5)
        restore = ema.variables_to_restore()
        assert restore == {"w/ExponentialMovingAverage": w}
        with tf.Session() as sess:
            tf.train.Saver(restore).restore(sess, path)
            np.testing.assert_allclose(sess.run(w), [2.0, 4.0])
