"""tf.metrics: streaming values vs NumPy over several update batches, variables, collections, errors."""

import numpy as np
import pytest

import flowgraph as tf
from flowgraph import metrics


@pytest.fixture(autouse=True)
def fresh_graph():
    g = tf.Graph()
    with g.as_default():
        yield g


def batches(n_batches=4, size=25, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(n_batches):
        yield (rng.integers(0, 3, size), rng.integers(0, 3, size), rng.uniform(0, 2, size).astype(np.float32))


def stream(value, update, feeds):
    """Runs ``update`` once per feed; returns the update results and the final value."""
    with tf.Session() as sess:
        sess.run(tf.local_variables_initializer())
        assert sess.run(value) == 0.0  # nothing seen yet: 0, not NaN
        ups = [sess.run(update, f) for f in feeds]
        return ups, sess.run(value)


def test_accuracy_streams_over_batches():
    labels = tf.placeholder(tf.int64, [None])
    preds = tf.placeholder(tf.int64, [None])
    value, update = metrics.accuracy(labels, preds)
    data = list(batches())
    ups, final = stream(value, update, [{labels: lab, preds: pr} for lab, pr, _ in data])
    seen_l, seen_p = [], []
    for (lab, pr, _), got in zip(data, ups):
        seen_l.append(lab)
        seen_p.append(pr)
        np.testing.assert_allclose(got, np.mean(np.concatenate(seen_l) == np.concatenate(seen_p)), rtol=1e-6)
    np.testing.assert_allclose(final, ups[-1], rtol=1e-7)
    assert value.dtype == tf.float32


def test_accuracy_variables_and_collections():
    value, update = metrics.accuracy(tf.constant([1, 2]), tf.constant([1, 3]))
    local = tf.local_variables()
    assert [v.name for v in local] == ["accuracy/total:0", "accuracy/count:0"]
    assert tf.get_collection(tf.GraphKeys.METRIC_VARIABLES) == local
    assert tf.global_variables() == [] and tf.trainable_variables() == []
    assert value.op.name == "accuracy/value" and update.op.name == "accuracy/update_op"
    metrics.accuracy(tf.constant([1]), tf.constant([1]), name="acc")
    metrics.accuracy(tf.constant([1]), tf.constant([1]), name="acc")
    assert [v.name for v in tf.local_variables()[2:]] == [
        "acc/total:0",
        "acc/count:0",
        "acc_1/total:0",
        "acc_1/count:0",
    ]


def test_weighted_accuracy_and_squeezable_labels():
    labels = tf.placeholder(tf.int32, [None, 1])
    preds = tf.placeholder(tf.int64, [None])
    weights = tf.placeholder(tf.float32, [None])
    value, update = metrics.accuracy(labels, preds, weights=weights)
    data = list(batches(seed=1))
    _, final = stream(value, update, [{labels: lab[:, None], preds: pr, weights: w} for lab, pr, w in data])
    lab = np.concatenate([d[0] for d in data])
    pr = np.concatenate([d[1] for d in data])
    w = np.concatenate([d[2] for d in data])
    np.testing.assert_allclose(final, np.sum(w * (lab == pr)) / np.sum(w), rtol=1e-5)


def test_mean_with_and_without_weights():
    values = tf.placeholder(tf.float64, [None, 2])
    weights = tf.placeholder(tf.float32, [None, 1])
    plain, plain_up = metrics.mean(values)
    weighted, weighted_up = metrics.mean(values, weights=weights)
    assert [v.name for v in tf.local_variables()] == [
        "mean/total:0",
        "mean/count:0",
        "mean_1/total:0",
        "mean_1/count:0",
    ]
    rng = np.random.default_rng(2)
    vs = [rng.standard_normal((n, 2)) for n in (3, 5, 4)]
    ws = [rng.uniform(0, 1, (n, 1)).astype(np.float32) for n in (3, 5, 4)]
    with tf.Session() as sess:
        sess.run(tf.local_variables_initializer())
        for v, w in zip(vs, ws):
            sess.run([plain_up, weighted_up], {values: v, weights: w})
        got_plain, got_weighted = sess.run([plain, weighted])
        sess.run(tf.local_variables_initializer())  # restarting the stream
        assert sess.run(plain) == 0.0
    allv, allw = np.concatenate(vs), np.concatenate(ws)
    np.testing.assert_allclose(got_plain, allv.mean(), rtol=1e-5)
    np.testing.assert_allclose(got_weighted, np.sum(allv * allw) / np.sum(allw * np.ones_like(allv)), rtol=1e-5)


def test_regression_errors():
    labels = tf.placeholder(tf.float32, [None])
    preds = tf.placeholder(tf.float32, [None])
    mae, mae_up = metrics.mean_absolute_error(labels, preds)
    mse, mse_up = metrics.mean_squared_error(labels, preds)
    rmse, rmse_up = metrics.root_mean_squared_error(labels, preds)
    rng = np.random.default_rng(3)
    data = [(rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)) for n in (4, 6, 5)]
    with tf.Session() as sess:
        sess.run(tf.local_variables_initializer())
        for lab, pr in data:
            sess.run([mae_up, mse_up, rmse_up], {labels: lab, preds: pr})
        got = sess.run([mae, mse, rmse])
    lab = np.concatenate([d[0] for d in data])
    pr = np.concatenate([d[1] for d in data])
    err = pr.astype(np.float64) - lab
    np.testing.assert_allclose(got, [np.abs(err).mean(), (err**2).mean(), np.sqrt((err**2).mean())], rtol=1e-5)


def test_precision_and_recall_stream():
    labels = tf.placeholder(tf.int64, [None])
    preds = tf.placeholder(tf.float32, [None])
    weights = tf.placeholder(tf.float32, [None])
    p, p_up = metrics.precision(labels, preds)
    r, r_up = metrics.recall(labels, preds, weights=weights)
    assert [v.name for v in tf.local_variables()] == [
        "precision/true_positives/count:0",
        "precision/false_positives/count:0",
        "recall/true_positives/count:0",
        "recall/false_negatives/count:0",
    ]
    rng = np.random.default_rng(4)
    data = [
        (rng.integers(0, 2, n), (rng.uniform(size=n) < 0.5) * rng.uniform(0.1, 1, n), rng.uniform(0, 1, n))
        for n in (10, 7, 12)
    ]
    with tf.Session() as sess:
        sess.run(tf.local_variables_initializer())
        assert sess.run([p, r]) == [0.0, 0.0]
        for lab, pr, w in data:
            got_p_up, got_r_up = sess.run(
                [p_up, r_up], {labels: lab, preds: pr.astype(np.float32), weights: w.astype(np.float32)}
            )
        got_p, got_r = sess.run([p, r])
    lab = np.concatenate([d[0] for d in data]).astype(bool)
    pr = np.concatenate([d[1] for d in data]) != 0
    w = np.concatenate([d[2] for d in data])
    np.testing.assert_allclose(got_p, np.sum(lab & pr) / np.sum(pr), rtol=1e-6)
    np.testing.assert_allclose(got_r, np.sum(w * (lab & pr)) / np.sum(w * lab), rtol=1e-5)
    np.testing.assert_allclose([got_p_up, got_r_up], [got_p, got_r], rtol=1e-7)


def test_confusion_counts():
    lab = np.array([1, 1, 0, 0, 1, 0])
    pr = np.array([1, 0, 1, 0, 1, 0])
    fns = [metrics.true_positives, metrics.false_positives, metrics.false_negatives, metrics.true_negatives]
    pairs = [fn(tf.constant(lab), tf.constant(pr)) for fn in fns]
    with tf.Session() as sess:
        sess.run(tf.local_variables_initializer())
        sess.run([u for _, u in pairs])
        sess.run([u for _, u in pairs])
        got = sess.run([v for v, _ in pairs])
    assert got == [4.0, 2.0, 2.0, 4.0]
    assert tf.local_variables()[0].name == "true_positives/count:0"


def test_metrics_and_updates_collections():
    value, update = metrics.mean(tf.constant([1.0, 2.0]), metrics_collections=["m"], updates_collections=["u"])
    assert tf.get_collection("m") == [value] and tf.get_collection("u") == [update]


def test_shape_and_weight_errors():
    with pytest.raises(ValueError, match="incompatible"):
        metrics.accuracy(tf.constant([1, 2, 3]), tf.constant([1, 2]))
    with pytest.raises(ValueError, match="weights can not be broadcast to values"):
        metrics.mean(tf.constant([1.0, 2.0, 3.0]), weights=tf.constant([1.0, 2.0]))
