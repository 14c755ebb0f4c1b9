"""Random ops: seeding rules (graph vs op seed), per-run and per-session streams, sample statistics."""

import numpy as np
import pytest

import flowgraph as tf
from flowgraph import random_seed
from flowgraph.ops import random as rnd


def run_twice(build, graph_seed=None):
    """Builds ``build()`` in a fresh graph and returns two successive runs of one Session."""
    g = tf.Graph()
    with g.as_default():
        if graph_seed is not None:
            random_seed.set_random_seed(graph_seed)
        t = build()
    with tf.Session(graph=g) as sess:
        return sess.run(t), sess.run(t)


def test_op_seed_reproducible_across_graphs_and_new_per_run():
    a1, a2 = run_twice(lambda: rnd.random_normal([4, 3], seed=7))
    b1, b2 = run_twice(lambda: rnd.random_normal([4, 3], seed=7))
    np.testing.assert_array_equal(a1, b1)
    np.testing.assert_array_equal(a2, b2)
    assert not np.array_equal(a1, a2)
    c1, _ = run_twice(lambda: rnd.random_normal([4, 3], seed=8))
    assert not np.array_equal(a1, c1)


def test_fresh_session_restarts_the_stream():
    g = tf.Graph()
    with g.as_default():
        t = rnd.random_uniform([5], seed=3)
    with tf.Session(graph=g) as s1:
        first = [s1.run(t) for _ in range(3)]
    with tf.Session(graph=g) as s2:
        again = [s2.run(t) for _ in range(3)]
    np.testing.assert_array_equal(np.stack(first), np.stack(again))


def test_graph_seed_gives_distinct_ops_and_reproducible_program():
    def program():
        return [rnd.random_normal([6]), rnd.random_normal([6]), rnd.random_uniform([6]), rnd.truncated_normal([6])]

    (a, b, c, d), _ = run_twice(program, graph_seed=1234)
    (a2, b2, c2, d2), _ = run_twice(program, graph_seed=1234)
    for x, y in ((a, a2), (b, b2), (c, c2), (d, d2)):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a, b)
    (a3, *_), _ = run_twice(program, graph_seed=4321)
    assert not np.array_equal(a, a3)


def test_seed_attrs_follow_tf1_rules():
    g = tf.Graph()
    with g.as_default():
        only_op = rnd.random_normal([2], seed=5)
        assert (only_op.op.inputs[0].op.type, only_op.op.type) == ("Mul", "AddV2")
        normal = g.get_operation_by_name("random_normal/RandomStandardNormal")
        assert (normal.get_attr("seed"), normal.get_attr("seed2")) == (random_seed.DEFAULT_GRAPH_SEED, 5)
        none = rnd.random_uniform([2])
        uni = g.get_operation_by_name("random_uniform/RandomUniform")
        assert (uni.get_attr("seed"), uni.get_attr("seed2")) == (0, 0)
        assert none.name == "random_uniform:0"
        random_seed.set_random_seed(11)
        s1, s2 = random_seed.get_seed(None)
        assert s1 == 11 and s2 == len(g.get_operations())
        assert random_seed.get_seed(3) == (11, 3)
        random_seed.set_random_seed(0)
        assert random_seed.get_seed(0) == (0, 2**31 - 1)


def test_no_seed_is_nondeterministic():
    a, _ = run_twice(lambda: rnd.random_normal([8]))
    b, _ = run_twice(lambda: rnd.random_normal([8]))
    assert not np.array_equal(a, b)


def test_normal_moments():
    x, _ = run_twice(lambda: rnd.random_normal([200000], mean=2.0, stddev=3.0, seed=1))
    assert x.dtype == np.float32
    assert abs(x.mean() - 2.0) < 0.03 and abs(x.std() - 3.0) < 0.03


def test_truncated_normal_range_and_moments():
    x, _ = run_twice(lambda: rnd.truncated_normal([200000], mean=1.0, stddev=2.0, dtype=tf.float64, seed=2))
    assert x.dtype == np.float64
    assert x.min() >= 1.0 - 4.0 and x.max() <= 1.0 + 4.0
    # The standard normal truncated to [-2, 2] has standard deviation 0.8796.
    assert abs(x.mean() - 1.0) < 0.02 and abs(x.std() / 2.0 - 0.8796) < 0.01


def test_uniform_range_and_moments():
    x, _ = run_twice(lambda: rnd.random_uniform([100000], minval=-1.0, maxval=3.0, seed=4))
    assert x.min() >= -1.0 and x.max() < 3.0
    assert abs(x.mean() - 1.0) < 0.02 and abs(x.var() - 16 / 12) < 0.03
    h, _ = run_twice(lambda: rnd.random_uniform([100000], dtype=tf.float16, seed=4))
    assert h.dtype == np.float16 and h.max() < 1.0 and h.min() >= 0.0


def test_uniform_int():
    x, _ = run_twice(lambda: rnd.random_uniform([50000], minval=-2, maxval=3, dtype=tf.int64, seed=5))
    assert x.dtype == np.int64
    counts = np.bincount(x + 2, minlength=5)
    assert set(np.unique(x)) == {-2, -1, 0, 1, 2}
    assert np.all(np.abs(counts / x.size - 0.2) < 0.01)


def test_uniform_int_errors():
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="Must specify maxval for integer dtype"):
            rnd.random_uniform([2], dtype=tf.int32)
        with pytest.raises(ValueError, match="Invalid dtype"):
            rnd.random_uniform([2], dtype=tf.bool)
        hi = tf.placeholder(tf.int32, [])
        t = rnd.random_uniform([2], minval=5, maxval=hi, dtype=tf.int32)
        with tf.Session() as sess, pytest.raises(tf.errors.InvalidArgumentError, match="Need minval < maxval: 5 >= 5"):
            sess.run(t, {hi: 5})


def test_shape_errors_name_the_problem():
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="negative"):
            rnd.random_normal([2, -3])
        with pytest.raises(TypeError, match="not in list of allowed values"):
            rnd.random_normal([2], dtype=tf.int32)


def test_shape_from_tensor():
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 3])
        t = rnd.random_normal(tf.shape(x), seed=1)
        assert t.shape.as_list() == [None, 3]
        known = rnd.random_uniform(tf.shape(tf.constant(np.zeros((2, 5)))))
        assert known.shape.as_list() == [2, 5]
    with tf.Session(graph=g) as sess:
        assert sess.run(t, {x: np.zeros((4, 3))}).shape == (4, 3)


def test_one_run_one_draw():
    g = tf.Graph()
    with g.as_default():
        t = rnd.random_normal([3], seed=1)
        u = t + 0.0
    with tf.Session(graph=g) as sess:
        a, b = sess.run([t, u])
    np.testing.assert_array_equal(a, b)


def test_shuffle_is_a_permutation_that_changes():
    x = np.arange(20).reshape(10, 2)
    g = tf.Graph()
    with g.as_default():
        t = rnd.random_shuffle(x, seed=9)
        s = rnd.random_shuffle(np.float32(3.0))
    with tf.Session(graph=g) as sess:
        runs = [sess.run(t) for _ in range(4)]
        assert sess.run(s) == 3.0
    for r in runs:
        np.testing.assert_array_equal(np.sort(r[:, 0]), x[:, 0])
        np.testing.assert_array_equal(r[:, 1], r[:, 0] + 1)  # rows move whole
    assert len({r.tobytes() for r in runs}) > 1


def test_shuffle_has_no_gradient_as_in_tf1():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [3])
        with pytest.raises(LookupError, match="RandomShuffle"):
            tf.gradients(tf.reduce_sum(rnd.random_shuffle(x)), x)


def test_random_ops_block_gradients_to_shape_but_pass_mean():
    with tf.Graph().as_default():
        m = tf.placeholder(tf.float32, [])
        y = rnd.random_normal([4], mean=m, seed=1)
        (gm,) = tf.gradients(tf.reduce_sum(y), m)
        with tf.Session() as sess:
            assert sess.run(gm, {m: 0.0}) == 4.0


def test_multinomial_frequencies():
    logits = np.log(np.array([[0.2, 0.5, 0.3], [0.7, 0.1, 0.2]]))
    s, _ = run_twice(lambda: rnd.multinomial(logits, 40000, seed=3))
    assert s.shape == (2, 40000) and s.dtype == np.int64
    for row, p in zip(s, np.exp(logits)):
        np.testing.assert_allclose(np.bincount(row, minlength=3) / row.size, p, atol=0.01)
    s32, _ = run_twice(lambda: rnd.multinomial(logits, 5, output_dtype=tf.int32))
    assert s32.dtype == np.int32


def test_categorical_is_multinomial_with_new_argument_order():
    with tf.Graph().as_default():
        c = rnd.categorical([[0.0, -1e9], [-1e9, 0.0]], 3, dtype=tf.int32, seed=1)
        assert c.op.name == "categorical/Multinomial" and c.dtype == tf.int32
        with tf.Session() as sess:
            np.testing.assert_array_equal(sess.run(c), [[0, 0, 0], [1, 1, 1]])
