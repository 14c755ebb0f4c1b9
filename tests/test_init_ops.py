"""Initializers: values, statistics against the closed-form variances, fans, seeds, argument checks."""

import math

import numpy as np
import pytest

import flowgraph as tf
from flowgraph import init_ops
from flowgraph.init_ops import _compute_fans


def value_of(init, shape, dtype=None, seed=None):
    with tf.Graph().as_default():
        if seed is not None:
            tf.set_random_seed(seed)
        t = init(shape, dtype=dtype) if dtype is not None else init(shape)
        with tf.Session() as sess:
            return t, sess.run(t)


def test_zeros_ones_and_constant():
    _, z = value_of(init_ops.zeros_initializer(), [2, 3])
    assert z.dtype == np.float32 and z.shape == (2, 3) and not z.any()
    _, o = value_of(init_ops.ones_initializer(dtype=tf.int32), (4,))
    np.testing.assert_array_equal(o, np.ones(4, np.int32))
    _, o64 = value_of(init_ops.ones_initializer(), [3], dtype=tf.float64)
    assert o64.dtype == np.float64
    _, c = value_of(init_ops.constant_initializer(0.5), [2, 2])
    np.testing.assert_array_equal(c, np.full((2, 2), 0.5, np.float32))
    _, lst = value_of(init_ops.constant_initializer([1, 2, 3, 4]), [2, 2])
    np.testing.assert_array_equal(lst, [[1, 2], [3, 4]])
    _, padded = value_of(init_ops.constant_initializer([1, 2]), [4])
    np.testing.assert_array_equal(padded, [1, 2, 2, 2])  # TF1 pads with the last value
    with pytest.raises(TypeError, match="Expected Tensor's shape"):
        value_of(init_ops.constant_initializer([1, 2], verify_shape=True), [4])
    with pytest.raises(TypeError, match="Invalid type for initial value"):
        init_ops.constant_initializer({"a": 1})


def test_large_constant_is_stored_once():
    with tf.Graph().as_default():
        t = init_ops.constant_initializer(0.25)([1000, 1000])
        assert t.op.attrs["value"].strides == (0, 0)  # one cell, not a million
        v = tf.Variable(t, name="v")
        with tf.Session() as sess:
            sess.run(v.initializer)
            stored = sess._rt.variables[v.op]
            assert stored.flags.owndata and stored.shape == (1000, 1000) and stored[999, 999] == 0.25


def test_random_normal_and_truncated_normal_statistics():
    _, x = value_of(init_ops.random_normal_initializer(mean=1.0, stddev=2.0, seed=1), [200000])
    assert abs(x.mean() - 1.0) < 0.03 and abs(x.std() - 2.0) < 0.03
    _, y = value_of(init_ops.truncated_normal_initializer(mean=-1.0, stddev=0.5, seed=2), [200000])
    assert y.min() >= -2.0 and y.max() <= 0.0  # within two stddev of the mean
    assert abs(y.std() - 0.5 * 0.87962566103423978) < 0.005


def test_random_uniform_ranges():
    _, u = value_of(init_ops.random_uniform_initializer(seed=3), [50000])
    assert u.min() >= 0.0 and u.max() < 1.0 and abs(u.mean() - 0.5) < 0.01
    _, v = value_of(init_ops.random_uniform_initializer(-3.0, -1.0, seed=4, dtype=tf.float64), [50000])
    assert v.dtype == np.float64 and v.min() >= -3.0 and v.max() < -1.0
    _, i = value_of(init_ops.random_uniform_initializer(0, 5, seed=5, dtype=tf.int32), [1000])
    assert i.dtype == np.int32 and set(np.unique(i)) == {0, 1, 2, 3, 4}
    with pytest.raises(ValueError, match="maxval"):
        value_of(init_ops.random_uniform_initializer(dtype=tf.int32), [3])


def test_compute_fans():
    assert _compute_fans([]) == (1, 1)
    assert _compute_fans([7]) == (7, 7)
    assert _compute_fans([3, 5]) == (3, 5)
    assert _compute_fans([5, 5, 6, 16]) == (150, 400)  # receptive field 25 times in/out channels
    assert _compute_fans([2, 3, 3, 4, 8]) == (72, 144)


@pytest.mark.parametrize("shape", [[400, 300], [5, 5, 16, 32]])
def test_glorot_uniform_limit(shape):
    fan_in, fan_out = _compute_fans(shape)
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    _, w = value_of(init_ops.glorot_uniform_initializer(seed=7), shape)
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.99 * limit
    assert abs(w.std() - limit / math.sqrt(3)) < 0.02 * limit


def test_glorot_normal_and_he_lecun_variances():
    shape = [3, 3, 64, 128]
    fan_in, fan_out = _compute_fans(shape)
    cases = [
        (init_ops.glorot_normal_initializer(seed=1), math.sqrt(2.0 / (fan_in + fan_out)), True),
        (init_ops.he_normal(seed=2), math.sqrt(2.0 / fan_in), True),
        (init_ops.lecun_normal(seed=3), math.sqrt(1.0 / fan_in), True),
        (init_ops.he_uniform(seed=4), math.sqrt(2.0 / fan_in), False),
        (init_ops.lecun_uniform(seed=5), math.sqrt(1.0 / fan_in), False),
    ]
    for init, std, truncated in cases:
        _, w = value_of(init, shape)
        assert abs(w.std() - std) < 0.02 * std, type(init).__name__
        if truncated:  # stddev corrected by 0.8796...: values stop at 2 * std / 0.8796
            assert np.abs(w).max() <= 2 * std / 0.87962566103423978 + 1e-6
        else:
            assert np.abs(w).max() <= math.sqrt(3) * std


def test_variance_scaling_modes_and_distributions():
    shape = [200, 600]
    for mode, n in (("fan_in", 200), ("fan_out", 600), ("fan_avg", 400)):
        _, w = value_of(
            init_ops.variance_scaling_initializer(scale=3.0, mode=mode, distribution="untruncated_normal", seed=1),
            shape,
        )
        assert abs(w.std() - math.sqrt(3.0 / n)) < 0.02 * math.sqrt(3.0 / n), mode
    t, w = value_of(init_ops.variance_scaling_initializer(seed=2, dtype=tf.float64), shape)
    assert t.op.type in ("Add", "AddV2") and w.dtype == np.float64
    assert abs(w.std() - math.sqrt(1 / 200)) < 0.02 * math.sqrt(1 / 200)


def test_variance_scaling_uses_partition_full_shape():
    class Partition:
        full_shape = (100, 10)

    with tf.Graph().as_default():
        w = init_ops.variance_scaling_initializer(distribution="uniform", seed=1)([4, 10], partition_info=Partition())
        with tf.Session() as sess:
            v = sess.run(w)
    assert v.shape == (4, 10) and np.abs(v).max() <= math.sqrt(3.0 / 100)


def test_seeds_make_values_reproducible():
    init = init_ops.glorot_uniform_initializer(seed=11)
    _, a = value_of(init, [10, 10])
    _, b = value_of(init, [10, 10])
    np.testing.assert_array_equal(a, b)
    _, c = value_of(init_ops.glorot_uniform_initializer(seed=12), [10, 10])
    assert not np.array_equal(a, c)
    _, g1 = value_of(init_ops.truncated_normal_initializer(), [10], seed=5)  # graph seed only
    _, g2 = value_of(init_ops.truncated_normal_initializer(), [10], seed=5)
    np.testing.assert_array_equal(g1, g2)


def test_argument_checks():
    with pytest.raises(ValueError, match="`scale` must be positive"):
        init_ops.variance_scaling_initializer(scale=0.0)
    with pytest.raises(ValueError, match="Invalid `mode`"):
        init_ops.variance_scaling_initializer(mode="fan_sum")
    with pytest.raises(ValueError, match="Invalid `distribution`"):
        init_ops.variance_scaling_initializer(distribution="cauchy")
    with pytest.raises(ValueError, match="Expected floating point type"):
        init_ops.random_normal_initializer(dtype=tf.int32)
    with pytest.raises(ValueError, match="Expected floating point type"):
        init_ops.glorot_uniform_initializer(dtype=tf.int64)
    with pytest.raises(ValueError, match="fully defined"):
        value_of(init_ops.zeros_initializer(), [None, 3])


def test_get_config_round_trip():
    init = init_ops.variance_scaling_initializer(scale=2.0, mode="fan_out", distribution="uniform", seed=3)
    clone = init_ops.VarianceScaling.from_config(init.get_config())
    assert clone.get_config() == init.get_config()
    assert init_ops.glorot_uniform_initializer.from_config({"seed": 1}).get_config() == {"seed": 1, "dtype": "float32"}


def test_get_variable_initializers():
    with tf.Graph().as_default():
        w = tf.get_variable("w", [4, 6], initializer=init_ops.he_uniform(seed=1))
        d = tf.get_variable("d", [30, 20])  # default: glorot uniform
        b = tf.get_variable("b", [6], initializer=init_ops.zeros_initializer())
        step = tf.get_variable("n", [], dtype=tf.int64, initializer=init_ops.zeros_initializer())
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            wv, dv, bv, sv = sess.run([w, d, b, step])
    assert np.abs(wv).max() <= math.sqrt(6 / 4) and not bv.any() and sv == 0 and sv.dtype == np.int64
    assert np.abs(dv).max() <= math.sqrt(6 / 50)


def test_initializers_namespace():
    ns = init_ops.initializers
    assert ns.zeros is init_ops.zeros_initializer and ns.glorot_uniform is init_ops.glorot_uniform_initializer
    assert ns.he_normal is init_ops.he_normal and ns.global_variables is tf.global_variables_initializer
    assert set(init_ops.__all__) <= set(dir(init_ops))
