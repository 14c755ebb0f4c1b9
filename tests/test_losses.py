"""tf.losses: every loss with weights under every Reduction against NumPy; collections; errors."""

import numpy as np
import pytest

import flowgraph as tf
from flowgraph import losses
from flowgraph.losses import Reduction

RNG = np.random.default_rng(0)
B, C = 4, 3
LABELS = RNG.uniform(0, 1, (B, C)).astype(np.float32)
PREDS = RNG.uniform(0.05, 0.95, (B, C)).astype(np.float32)
LOGITS = (RNG.standard_normal((B, C)) * 2).astype(np.float32)
ONEHOT = np.eye(C, dtype=np.float32)[[0, 2, 1, 2]]
IDS = np.array([0, 2, 1, 2], np.int32)

REDUCTIONS = [Reduction.NONE, Reduction.SUM, Reduction.MEAN, Reduction.SUM_OVER_BATCH_SIZE,
              Reduction.SUM_BY_NONZERO_WEIGHTS]
WEIGHTS = {
    "scalar": 2.0,
    "per_row": np.array([[1.0], [0.0], [2.0], [0.5]], np.float32),
    "full": RNG.uniform(0, 2, (B, C)).astype(np.float32) * (RNG.uniform(0, 1, (B, C)) > 0.3),
}


def np_reduce(elem, w, reduction):
    w = np.broadcast_to(np.asarray(w, np.float64), elem.shape)
    wl = elem * w
    if reduction == Reduction.NONE:
        return wl
    total = wl.sum()
    denom = {Reduction.SUM: 1.0, Reduction.MEAN: w.sum(), Reduction.SUM_OVER_BATCH_SIZE: elem.size,
             Reduction.SUM_BY_NONZERO_WEIGHTS: np.count_nonzero(w)}[reduction]
    return total / denom if denom else 0.0


def np_log_softmax(x):
    s = x - x.max(-1, keepdims=True)
    return s - np.log(np.exp(s).sum(-1, keepdims=True))


def sigmoid_xent(z, x):
    return np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x)))


L, P, X = LABELS.astype(np.float64), PREDS.astype(np.float64), LOGITS.astype(np.float64)
ELEMENTWISE = {
    "mean_squared_error": (lambda **k: losses.mean_squared_error(LABELS, PREDS, **k), (P - L) ** 2),
    "absolute_difference": (lambda **k: losses.absolute_difference(LABELS, PREDS, **k), np.abs(P - L)),
    "huber_loss": (lambda **k: losses.huber_loss(LABELS * 3, PREDS, delta=0.7, **k),
                   np.where(np.abs(P - 3 * L) <= 0.7, 0.5 * (P - 3 * L) ** 2, 0.7 * (np.abs(P - 3 * L) - 0.35))),
    "log_loss": (lambda **k: losses.log_loss(LABELS, PREDS, **k),
                 -L * np.log(P + 1e-7) - (1 - L) * np.log(1 - P + 1e-7)),
    "hinge_loss": (lambda **k: losses.hinge_loss(np.round(LABELS), LOGITS, **k),
                   np.maximum(0, 1 - (2 * np.round(L) - 1) * X)),
    "sigmoid_cross_entropy": (lambda **k: losses.sigmoid_cross_entropy(LABELS, LOGITS, **k), sigmoid_xent(L, X)),
}
PER_EXAMPLE = {
    "softmax_cross_entropy": (lambda **k: losses.softmax_cross_entropy(ONEHOT, LOGITS, **k),
                              -(ONEHOT * np_log_softmax(X)).sum(-1)),
    "sparse_softmax_cross_entropy": (lambda **k: losses.sparse_softmax_cross_entropy(IDS, LOGITS, **k),
                                     -np_log_softmax(X)[np.arange(B), IDS]),
    "cosine_distance": (lambda **k: losses.cosine_distance(LABELS, PREDS, axis=1, **k),
                        1 - (L * P).sum(1, keepdims=True)),
}


def evaluate(t):
    with tf.Session() as sess:
        return sess.run(t)


@pytest.fixture(autouse=True)
def fresh_graph():
    g = tf.Graph()
    with g.as_default():
        yield g


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("wkey", list(WEIGHTS))
@pytest.mark.parametrize("name", list(ELEMENTWISE))
def test_elementwise_losses(name, wkey, reduction):
    build, elem = ELEMENTWISE[name]
    w = WEIGHTS[wkey]
    t = build(weights=w, reduction=reduction)
    assert t.dtype == tf.float32
    np.testing.assert_allclose(evaluate(t), np_reduce(elem, w, reduction), rtol=2e-5, atol=1e-6)
    assert tf.get_default_graph().get_collection(tf.GraphKeys.LOSSES) == [t]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", list(PER_EXAMPLE))
def test_per_example_losses(name, reduction):
    build, elem = PER_EXAMPLE[name]
    w = np.array([1.0, 0.0, 3.0, 0.5], np.float32)
    if name == "cosine_distance":
        w = w[:, None]
    t = build(weights=w, reduction=reduction)
    np.testing.assert_allclose(evaluate(t), np_reduce(elem, w, reduction), rtol=2e-5, atol=1e-6)


def test_default_reduction_and_names():
    t = losses.mean_squared_error(LABELS, PREDS)
    assert t.name == "mean_squared_error/value:0"
    np.testing.assert_allclose(evaluate(t), ((P - L) ** 2).mean(), rtol=1e-5)
    s = losses.sparse_softmax_cross_entropy(IDS, LOGITS)
    assert s.op.graph.get_operation_by_name("sparse_softmax_cross_entropy_loss/xentropy/xentropy")


def test_zero_weights_give_zero_not_nan():
    t = losses.absolute_difference(LABELS, PREDS, weights=0.0)
    m = losses.absolute_difference(LABELS, PREDS, weights=0.0, reduction=Reduction.MEAN)
    assert evaluate([t, m]) == [0.0, 0.0]


def test_float64_inputs_come_back_float64():
    t = losses.mean_squared_error(L, P)
    assert t.dtype == tf.float32  # regression losses cast their inputs to float32, as in TF1
    c = losses.softmax_cross_entropy(ONEHOT.astype(np.float64), X)
    assert c.dtype == tf.float64
    np.testing.assert_allclose(evaluate(c), (-(ONEHOT * np_log_softmax(X)).sum(-1)).mean(), rtol=1e-6)


def test_label_smoothing():
    s = 0.2
    t = losses.softmax_cross_entropy(ONEHOT, LOGITS, label_smoothing=s)
    smoothed = ONEHOT * (1 - s) + s / C
    np.testing.assert_allclose(evaluate(t), (-(smoothed * np_log_softmax(X)).sum(-1)).mean(), rtol=1e-5)
    u = losses.sigmoid_cross_entropy(LABELS, LOGITS, label_smoothing=s)
    np.testing.assert_allclose(evaluate(u), sigmoid_xent(L * (1 - s) + 0.5 * s, X).mean(), rtol=1e-5)


def test_sparse_labels_with_trailing_unit_dim():
    t = losses.sparse_softmax_cross_entropy(IDS[:, None], LOGITS, weights=np.ones((B, 1), np.float32))
    np.testing.assert_allclose(evaluate(t), (-np_log_softmax(X)[np.arange(B), IDS]).mean(), rtol=1e-5)


def test_no_gradient_into_labels():
    z = tf.placeholder(tf.float32, [B, C])
    x = tf.placeholder(tf.float32, [B, C])
    t = losses.softmax_cross_entropy(z, x)
    gz, gx = tf.gradients(t, [z, x])
    assert gz is None
    with tf.Session() as sess:
        got = sess.run(gx, {z: ONEHOT, x: LOGITS})
    e = np.exp(np_log_softmax(X))
    np.testing.assert_allclose(got, (e - ONEHOT) / B, rtol=1e-5, atol=1e-7)


def test_collections_and_totals():
    a = losses.mean_squared_error(LABELS, PREDS)
    b = losses.absolute_difference(LABELS, PREDS, loss_collection=None)
    c = losses.huber_loss(LABELS, PREDS, scope="head")
    assert losses.get_losses() == [a, c]
    assert losses.get_losses(scope="head") == [c]
    assert b not in losses.get_losses()
    zero = losses.get_regularization_loss()
    assert evaluate(zero) == 0.0
    r1 = tf.constant(0.25, name="reg1")
    r2 = tf.constant(0.5, name="head/reg2")
    tf.add_to_collection(tf.GraphKeys.REGULARIZATION_LOSSES, r1)
    tf.add_to_collection(tf.GraphKeys.REGULARIZATION_LOSSES, r2)
    assert losses.get_regularization_losses() == [r1, r2]
    assert losses.get_regularization_losses(scope="head") == [r2]
    reg = losses.get_regularization_loss()
    assert reg.op.name == "total_regularization_loss"
    total = losses.get_total_loss()
    no_reg = losses.get_total_loss(add_regularization_losses=False, name="data_loss")
    va, vc, vr, vt, vn = evaluate([a, c, reg, total, no_reg])
    assert vr == pytest.approx(0.75)
    assert vt == pytest.approx(va + vc + 0.75)
    assert vn == pytest.approx(va + vc)
    extra = tf.constant(1.0)
    losses.add_loss(extra)
    assert losses.get_losses()[-1] is extra


def test_errors_name_the_culprit():
    with pytest.raises(ValueError, match="Invalid Reduction Key bogus"):
        losses.mean_squared_error(LABELS, PREDS, reduction="bogus")
    with pytest.raises(ValueError, match="weights can not be broadcast to values"):
        losses.mean_squared_error(LABELS, PREDS, weights=np.ones((B,), np.float32))
    with pytest.raises(ValueError, match="labels must not be None"):
        losses.mean_squared_error(None, PREDS)
    with pytest.raises(ValueError, match="incompatible|not compatible"):
        losses.absolute_difference(LABELS, PREDS[:, :2])
    with pytest.raises(ValueError, match="specify 'axis'"):
        losses.cosine_distance(LABELS, PREDS)
    with pytest.raises(ValueError):
        losses.get_total_loss()  # nothing to add
