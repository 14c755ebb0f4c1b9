"""minimize warns once when the train op skips UPDATE_OPS (batch norm's moving averages)."""

import warnings

import numpy as np

import flowgraph as tf
from flowgraph.train.optimizer import UpdateOpsNotRunWarning


def _model():
    x = tf.placeholder(tf.float32, [None, 3])
    h = tf.layers.batch_normalization(tf.layers.dense(x, 4), training=True)
    return x, tf.reduce_mean(tf.square(h))


def test_warns_once_naming_the_update_ops():
    with tf.Graph().as_default(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, loss = _model()
        tf.train.GradientDescentOptimizer(0.1).minimize(loss)
        tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    hits = [w for w in caught if issubclass(w.category, UpdateOpsNotRunWarning)]
    assert len(hits) == 1
    msg = str(hits[0].message)
    assert "UPDATE_OPS" in msg and "batch_normalization/AssignMovingAvg" in msg
    assert hits[0].filename == __file__


def test_silent_when_update_ops_are_control_dependencies():
    with tf.Graph().as_default(), warnings.catch_warnings():
        warnings.simplefilter("error", UpdateOpsNotRunWarning)
        x, loss = _model()
        with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
            train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            mm = [v for v in tf.global_variables() if "moving_mean" in v.name][0]
            before = sess.run(mm)
            sess.run(train, {x: np.random.rand(8, 3)})
            assert not np.allclose(before, sess.run(mm))


def test_silent_without_update_ops():
    with tf.Graph().as_default(), warnings.catch_warnings():
        warnings.simplefilter("error", UpdateOpsNotRunWarning)
        x = tf.placeholder(tf.float32, [None, 3])
        loss = tf.reduce_mean(tf.layers.dense(x, 2))
        tf.train.AdamOptimizer().minimize(loss)
