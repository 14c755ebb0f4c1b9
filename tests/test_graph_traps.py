"""TF1's classic traps, caught: graphs growing in a loop, finalize, late initializers."""

import warnings

import pytest

import flowgraph as tf


def test_growth_warning_names_the_line_once():
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, name="x")
        y = x * 2.0
        with tf.Session() as sess, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for i in range(20):
                z = y + float(i)  # the trap: a new op on every step
                sess.run(z, {x: 1.0})
        growth = [w for w in caught if issubclass(w.category, tf.GraphGrowthWarning)]
        assert len(growth) == 1, [str(w.message) for w in growth]
        w = growth[0]
        assert w.filename == __file__
        import inspect

        src = inspect.getsource(test_growth_warning_names_the_line_once).splitlines()
        line_offset = next(i for i, s in enumerate(src) if "the trap" in s)
        assert w.lineno == test_growth_warning_names_the_line_once.__code__.co_firstlineno + line_offset
        assert "new ops" in str(w.message)


def test_fixed_graph_never_warns():
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, name="x")
        y = (x + 1.0) * 2.0
        with tf.Session() as sess, warnings.catch_warnings():
            warnings.simplefilter("error")
            for i in range(2000):
                sess.run(y, {x: float(i)})


def test_one_off_ops_after_training_do_not_warn():
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, name="x")
        y = x * 3.0
        with tf.Session() as sess, warnings.catch_warnings():
            warnings.simplefilter("error")
            for _ in range(10):
                sess.run(y, {x: 1.0})
            extra = [y + 1.0, y - 1.0, y * y]  # built once after training: fine
            sess.run(extra, {x: 1.0})


def test_finalize_blocks_op_creation_and_names_the_line():
    g = tf.Graph()
    with g.as_default():
        tf.constant(1.0)
        g.finalize()
        assert g.finalized
        with pytest.raises(RuntimeError, match=r"finalized.*test_graph_traps\.py:\d+"):
            tf.constant(2.0)


def test_variable_created_after_initializer_gets_a_clear_error():
    g = tf.Graph()
    with g.as_default():
        a = tf.Variable(1.0, name="early")
        init = tf.global_variables_initializer()
        b = tf.Variable(2.0, name="late")
        with tf.Session() as sess:
            sess.run(init)
            assert sess.run(a) == 1.0
            with pytest.raises(tf.errors.FailedPreconditionError) as e:
                sess.run(b)
    msg = str(e.value)
    assert "late" in msg and "global_variables_initializer() was built" in msg and "before this variable" in msg
