"""The batch-split rules: each op's kinds, and split runs equal whole runs whatever the ops do."""

from __future__ import annotations

import os

import numpy as np
import pytest

import flowgraph as tf
from flowgraph.runtime.batch_split import P, R, S, analyse

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="batch-split runs fork a worker (POSIX only)")

N = 10


@pytest.fixture(autouse=True)
def two_cores(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.delenv("FLOWGRAPH_BATCH_SPLIT", raising=False)


def _features():
    """A placeholder batch through a convolution (heavy, so plans are worth splitting)."""
    x = tf.placeholder(tf.float32, [None, 6, 6, 2], name="x")
    w = tf.constant(np.random.default_rng(0).normal(0, 0.5, (3, 3, 2, 4)).astype(np.float32))
    return x, tf.nn.conv2d(x, w, [1, 1, 1, 1], "SAME")


def _feed(x, n=N, seed=3):
    return {x: np.random.default_rng(seed).normal(0, 1, (n, 6, 6, 2)).astype(np.float32)}


def _kinds(fetch, x, feed):
    sess = tf.Session(graph=x.graph)
    plan = sess._prepare(fetch, feed, None).plan
    prog = plan.split_program
    by_op = {}
    if prog is not None:
        for st in plan.steps:
            for s, t in zip(st.out_slots, st.op.outputs):
                if s >= 0:
                    by_op[t.op.name if len(st.op.outputs) == 1 else t.name] = prog.kind.get(s)
    sess.close()
    return prog, by_op


def test_kinds_of_a_training_step():
    g = tf.Graph()
    with g.as_default():
        x, c = _features()
        y = tf.placeholder(tf.int64, [None])
        h = tf.reshape(tf.nn.max_pool(tf.nn.relu(c), [1, 2, 2, 1], [1, 2, 2, 1], "VALID"), [-1, 36], name="flat")
        w = tf.Variable(np.ones((36, 3), np.float32), name="w")
        logits = tf.matmul(h, w, name="logits")
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits), name="loss")
        (dw,) = tf.gradients(loss, [w])
    feed = {**_feed(x), y: np.zeros(N, np.int64)}
    prog, kind = _kinds([loss, dw], x, feed)
    assert prog is not None
    assert kind["Conv2D"] == kind["flat"] == kind["logits"] == S
    assert kind["loss"] == P  # a mean over the batch: each process's share
    assert kind[dw.op.name] == P  # h^T g sums over the rows
    assert kind["w"] == R
    assert prog.merge and not prog.gather  # the fetches are partial sums, nothing split is needed whole


@pytest.mark.parametrize(
    "why, build",
    [
        ("a replicated operand spanning the batch", lambda c: c + tf.ones([N, 6, 6, 4])),
        ("flattening the rows together", lambda c: tf.reshape(c, [-1])),
        ("a softmax across the batch", lambda c: tf.nn.softmax(tf.reshape(c, [-1, 144]), axis=0)),
        ("an integer mean (rounds)", lambda c: tf.reduce_mean(tf.cast(c > 0, tf.int32))),
        ("a max over the batch", lambda c: tf.reduce_max(c, axis=0)),
        ("a slice of the shape", lambda c: tf.shape(c)[0] * 2),
    ],
)
def test_ops_whose_rows_would_mix_get_whole_values(why, build):
    g = tf.Graph()
    with g.as_default():
        x, c = _features()
        out = build(c)
    _compare(x, [out])


@pytest.mark.parametrize(
    "build",
    [
        lambda c: tf.reduce_sum(c, axis=0),
        lambda c: tf.reduce_mean(c, axis=[1, 2]),
        lambda c: tf.reduce_mean(c),
        lambda c: tf.reduce_mean(c, axis=[0, 1, 2], keepdims=True),
        lambda c: tf.reduce_sum(c, axis=-1),
        lambda c: tf.matmul(tf.reshape(c, [-1, 144]), tf.reshape(c, [-1, 144]), transpose_a=True),
        lambda c: tf.nn.avg_pool(c, [1, 2, 2, 1], [1, 2, 2, 1], "VALID"),
        lambda c: tf.nn.softmax(tf.reshape(c, [-1, 144])),
        lambda c: tf.add_n([tf.reduce_sum(c, axis=0), tf.reduce_sum(c * c, axis=0)]),
        lambda c: c - tf.reduce_mean(c, axis=[0, 1, 2], keepdims=True),  # batch-norm style centring
        lambda c: tf.nn.bias_add(c, tf.constant([1.0, 2.0, 3.0, 4.0])) / tf.constant(3.0),
    ],
)
def test_split_values_equal_whole_values(build):
    g = tf.Graph()
    with g.as_default():
        x, c = _features()
        out = build(c)
    _compare(x, [out])


def test_gradients_through_every_rule_equal_whole_gradients():
    g = tf.Graph()
    with g.as_default():
        x, c = _features()
        w = tf.constant(np.random.default_rng(1).normal(0, 0.3, (144, 5)).astype(np.float32))
        h = tf.nn.tanh(tf.nn.avg_pool(tf.nn.relu(c), [1, 2, 2, 1], [1, 1, 1, 1], "SAME"))
        logits = tf.matmul(tf.reshape(h, [-1, 144]), w)
        labels = tf.one_hot(tf.range(tf.shape(x)[0]) % 5, 5)
        loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=labels, logits=logits))
        dx, = tf.gradients(loss, [x])
    _compare(x, [loss, dx], n=13)


def _compare(x, fetches, n=N):
    feed = _feed(x, n)
    with tf.Session(graph=x.graph) as ref:
        want = ref.run(fetches, feed)
    with tf.Session(graph=x.graph) as sess:
        plan = sess._prepare(fetches, feed, None).plan
        assert plan.split_program is not None
        plan.intra_pieces = plan.parallel = False
        plan.batch_split = plan.tuned = True
        for _ in range(2):  # the first split run sizes the regions and forks the worker
            got = sess.run(fetches, feed)
        assert plan.split_runner is not None and plan.split_runner.seq == 1
        assert plan.split_runner.error_seq() == 0  # no worker error (else the run was redone whole)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        assert np.shape(a) == np.shape(b)


def test_plans_without_a_batch_or_heavy_work_do_not_split():
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [N, 6, 6, 2])  # a fixed batch: not taken as one
        w = tf.constant(np.ones((3, 3, 2, 4), np.float32))
        fixed = tf.nn.conv2d(x, w, [1, 1, 1, 1], "SAME")
        v = tf.placeholder(tf.float32, [None, 3])
        light = v * 2.0  # nothing heavy to move
    with tf.Session(graph=g) as sess:
        assert sess._prepare(fixed, {x: np.ones((N, 6, 6, 2), np.float32)}, None).plan.split_program is None
        assert sess._prepare(light, {v: np.ones((4, 3), np.float32)}, None).plan.split_program is None


def test_analyse_needs_a_fed_batch():
    g = tf.Graph()
    with g.as_default():
        x, c = _features()
    with tf.Session(graph=g) as sess:
        plan = sess._prepare(c, _feed(x), None).plan
        assert analyse(plan, ()) is None  # the same plan with nothing fed as a batch


def test_strings_never_cross_processes():
    g = tf.Graph()
    with g.as_default():
        x, c = _features()
        names = tf.placeholder(tf.string, [None])
        echoed = tf.identity(names)  # a split string value the fetch would need stacked
    feed = {**_feed(x), names: np.array([b"a"] * N)}
    with tf.Session(graph=g) as sess:
        assert sess._prepare([c, echoed], feed, None).plan.split_program is None
        assert sess._prepare(c, _feed(x), None).plan.split_program is not None
