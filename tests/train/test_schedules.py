"""Learning-rate schedules against their closed forms, and the global-step helpers."""

import math

import numpy as np
import pytest

import flowgraph as tf
from flowgraph import train

STEPS = [0, 1, 5, 10, 11, 25, 99, 100, 150]


def evaluate(make, dtype=tf.int64, steps=STEPS):
    """Values of ``make(step_placeholder)`` at each step."""
    with tf.Graph().as_default():
        step = tf.placeholder(dtype, [])
        out = make(step)
        with tf.Session() as sess:
            return out, [float(sess.run(out, {step: s})) for s in steps]


def test_exponential_decay():
    out, got = evaluate(lambda s: train.exponential_decay(0.1, s, 10, 0.5))
    assert out.op.name == "ExponentialDecay" and out.dtype == tf.float32
    np.testing.assert_allclose(got, [0.1 * 0.5 ** (s / 10) for s in STEPS], rtol=1e-6)
    _, stairs = evaluate(lambda s: train.exponential_decay(0.1, s, 10, 0.5, staircase=True))
    np.testing.assert_allclose(stairs, [0.1 * 0.5 ** (s // 10) for s in STEPS], rtol=1e-6)


def test_exponential_decay_keeps_a_float64_rate():
    # As in TF1, a Python decay_rate becomes a float32 constant before the cast to the rate's dtype.
    _, got = evaluate(lambda s: train.exponential_decay(tf.constant(0.1, tf.float64), s, 3, 0.9))
    np.testing.assert_allclose(got, [0.1 * float(np.float32(0.9)) ** (s / 3) for s in STEPS], rtol=1e-14)


def test_natural_exp_and_inverse_time_decay():
    _, nat = evaluate(lambda s: train.natural_exp_decay(0.2, s, 10, 0.3))
    np.testing.assert_allclose(nat, [0.2 * math.exp(-0.3 * s / 10) for s in STEPS], rtol=1e-6)
    _, inv = evaluate(lambda s: train.inverse_time_decay(0.2, s, 10, 0.3, staircase=True))
    np.testing.assert_allclose(inv, [0.2 / (1 + 0.3 * (s // 10)) for s in STEPS], rtol=1e-6)


def test_polynomial_decay():
    def closed(s, cycle, power=2.0, lr=0.1, end=0.01, n=100):
        if cycle:
            n = n * max(1, math.ceil(s / n))
        else:
            s = min(s, n)
        return (lr - end) * (1 - s / n) ** power + end

    _, got = evaluate(lambda s: train.polynomial_decay(0.1, s, 100, 0.01, power=2.0))
    np.testing.assert_allclose(got, [closed(s, False) for s in STEPS], rtol=1e-5)
    _, cyc = evaluate(lambda s: train.polynomial_decay(0.1, s, 100, 0.01, power=2.0, cycle=True))
    np.testing.assert_allclose(cyc, [closed(s, True) for s in STEPS], rtol=1e-5)


def test_cosine_decay():
    _, got = evaluate(lambda s: train.cosine_decay(0.1, s, 100, alpha=0.1))
    want = [0.1 * (0.9 * 0.5 * (1 + math.cos(math.pi * min(s, 100) / 100)) + 0.1) for s in STEPS]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-8)


def test_schedules_require_a_global_step():
    for fn in (train.exponential_decay, train.natural_exp_decay, train.inverse_time_decay):
        with pytest.raises(ValueError, match="global_step is required"):
            fn(0.1, None, 10, 0.5)
    with pytest.raises(ValueError, match="global_step is required"):
        train.polynomial_decay(0.1, None, 10)
    with pytest.raises(ValueError, match="global_step is required"):
        train.cosine_decay(0.1, None, 10)


def test_piecewise_constant_boundaries_are_inclusive_on_the_left_piece():
    xs = [0, 10, 11, 20, 21, 1000]
    out, got = evaluate(lambda s: train.piecewise_constant(s, [10, 20], [1.0, 0.5, 0.1]), steps=xs)
    assert out.op.name == "PiecewiseConstant"
    assert got == [1.0, 1.0, np.float32(0.5), np.float32(0.5), np.float32(0.1), np.float32(0.1)]
    _, single = evaluate(lambda s: train.piecewise_constant(s, [5], [3.0, 4.0]), dtype=tf.int32, steps=[5, 6])
    assert single == [3.0, 4.0]


def test_piecewise_constant_argument_checks():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.int64, [])
        with pytest.raises(ValueError, match="1 less than the length of values"):
            train.piecewise_constant(x, [1, 2], [1.0, 2.0])
        with pytest.raises(ValueError, match="same dtype as x"):
            train.piecewise_constant(x, [1.5], [1.0, 2.0])
        with pytest.raises(ValueError, match="all with the same dtype"):
            train.piecewise_constant(x, [1], [1.0, 2])


def test_schedule_drives_training_through_the_global_step():
    with tf.Graph().as_default():
        gs = train.get_or_create_global_step()
        lr = train.piecewise_constant(gs, [1], [1.0, 0.0])
        w = tf.Variable(0.0, name="w")
        op = train.GradientDescentOptimizer(lr).minimize(-w, global_step=gs)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            values = []
            for _ in range(4):
                sess.run(op)
                values.append(sess.run(w))
    assert values == [1.0, 2.0, 2.0, 2.0]  # steps 0 and 1 use lr 1, later steps lr 0


# -- global step --------------------------------------------------------------------------------
def test_get_or_create_global_step():
    with tf.Graph().as_default() as g:
        assert train.get_global_step() is None
        gs = train.get_or_create_global_step()
        assert gs.name == "global_step:0" and gs.dtype == tf.int64 and gs.shape.as_list() == []
        assert not gs.trainable
        assert g.get_collection(tf.GraphKeys.GLOBAL_STEP) == [gs]
        assert gs in tf.global_variables() and gs not in tf.trainable_variables()
        assert train.get_or_create_global_step() is gs
        assert train.get_global_step(g) is gs
        with pytest.raises(ValueError, match="already exists"):
            train.create_global_step()
        with tf.Session() as sess:
            sess.run(gs.initializer)
            assert train.global_step(sess, gs) == 0
            assert isinstance(train.global_step(sess, gs), int)


def test_global_step_found_by_name_and_validated():
    with tf.Graph().as_default():
        v = tf.Variable(np.int64(5), name="global_step")
        found = train.get_global_step()
        assert found.name == "global_step:0"
        with tf.Session() as sess:
            sess.run(v.initializer)
            assert train.global_step(sess, found) == 5
    with tf.Graph().as_default():
        tf.Variable(1.5, name="global_step")
        with pytest.raises(TypeError, match="does not have integer type"):
            train.get_global_step()
    with tf.Graph().as_default():
        tf.add_to_collection(tf.GraphKeys.GLOBAL_STEP, tf.Variable([1, 2], name="gs"))
        with pytest.raises(TypeError, match="is not scalar"):
            train.get_global_step()
    with pytest.raises(TypeError, match="must be a Variable or Tensor"):
        train.assert_global_step(3)


def test_create_global_step_ignores_name_scopes_and_control_dependencies():
    with tf.Graph().as_default():
        c = tf.no_op()
        with tf.name_scope("outer"), tf.control_dependencies([c]):
            gs = train.create_global_step()
        assert gs.op.name == "global_step" and not gs.initializer.control_inputs
