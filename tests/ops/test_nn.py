"""tf.nn beyond the case table: numerical stability, dropout, fused batch norm, in_top_k, names, errors."""

import numpy as np
import pytest

import flowgraph as tf
from flowgraph import nn


@pytest.fixture(autouse=True)
def fresh_graph():
    g = tf.Graph()
    with g.as_default():
        yield g


def run(fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


# ---------------------------------------------------------------------------------------------
# Stability at extreme logits (float32)
# ---------------------------------------------------------------------------------------------
BIG = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]], np.float32)


def test_softmax_family_at_extreme_logits():
    sm, lsm = run([nn.softmax(BIG), nn.log_softmax(BIG)])
    np.testing.assert_array_equal(sm, [[1, 0, 0], [0, 0, 1]])
    np.testing.assert_array_equal(lsm, [[0, -2e4, -1e4], [-2e4, -2e4, 0]])


def test_cross_entropies_at_extreme_logits_are_finite_and_exact():
    x = tf.constant(BIG)
    z = np.array([[0, 1, 0], [1, 0, 0]], np.float32)
    dense = nn.softmax_cross_entropy_with_logits_v2(labels=z, logits=x)
    sparse = nn.sparse_softmax_cross_entropy_with_logits(labels=[1, 0], logits=x)
    (gx,) = tf.gradients(tf.reduce_sum(dense), x)
    d, s, g = run([dense, sparse, gx])
    np.testing.assert_array_equal(d, [2e4, 2e4])
    np.testing.assert_array_equal(s, [2e4, 2e4])
    np.testing.assert_array_equal(g, np.array([[1, 0, 0], [0, 0, 1]]) - z)


def test_sigmoid_family_at_extreme_logits():
    x = np.array([1e4, -1e4, 1e4, -1e4, 0.0], np.float32)
    z = np.array([0, 1, 1, 0, 1], np.float32)
    xt = tf.constant(x)
    xent = nn.sigmoid_cross_entropy_with_logits(labels=z, logits=xt)
    sp = nn.softplus(xt)
    gx = tf.gradients(tf.reduce_sum(xent) + tf.reduce_sum(sp), xt)[0]
    v, s, g = run([xent, sp, gx])
    np.testing.assert_allclose(v, [1e4, 1e4, 0, 0, np.log(2)], rtol=1e-6)
    np.testing.assert_allclose(s, [1e4, 0, 1e4, 0, np.log(2)], rtol=1e-6)
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g, [2, -1, 1, 0, 0.0], atol=1e-6)


def test_weighted_cross_entropy_matches_sigmoid_xent_at_unit_weight():
    x = np.array([[3.0, -2.0], [0.5, 40.0]], np.float32)
    z = np.array([[1.0, 0.0], [0.3, 1.0]], np.float32)
    a = nn.weighted_cross_entropy_with_logits(labels=z, logits=x, pos_weight=1.0)
    b = nn.sigmoid_cross_entropy_with_logits(labels=z, logits=x)
    c = nn.weighted_cross_entropy_with_logits(targets=z, logits=x, pos_weight=3.0)
    va, vb, vc = run([a, b, c])
    np.testing.assert_allclose(va, vb, rtol=1e-6, atol=1e-6)
    xd = x.astype(np.float64)
    # -3 z log(sigmoid(x)) - (1 - z) log(1 - sigmoid(x)), written with softplus terms
    want = 3 * z * np.logaddexp(0, -xd) + (1 - z) * np.logaddexp(0, xd)
    np.testing.assert_allclose(vc, want, rtol=1e-5)


# ---------------------------------------------------------------------------------------------
# Names (TF1's op naming)
# ---------------------------------------------------------------------------------------------
def test_tf1_names():
    x = tf.placeholder(tf.float32, [2, 3], name="x")
    assert nn.relu(x).name == "Relu:0"
    assert nn.relu(x).name == "Relu_1:0"
    assert nn.relu6(x).name == "Relu6:0"
    assert nn.softmax(x).name == "Softmax:0"
    assert nn.bias_add(x, [1.0, 2.0, 3.0]).name == "BiasAdd:0"
    assert nn.l2_loss(x).name == "L2Loss:0"
    assert nn.sigmoid_cross_entropy_with_logits(labels=x, logits=x).name == "logistic_loss:0"
    assert nn.sparse_softmax_cross_entropy_with_logits(labels=[0, 1], logits=x).name == (
        "SparseSoftmaxCrossEntropyWithLogits/SparseSoftmaxCrossEntropyWithLogits:0")
    mean, var = nn.moments(x, [0])
    assert (mean.name, var.name) == ("moments/Squeeze:0", "moments/Squeeze_1:0")
    assert nn.in_top_k(x, [0, 1], 1).name == "in_top_k/InTopKV2:0"
    assert nn.dropout(x, rate=0.5).name.startswith("dropout/")
    assert nn.leaky_relu(x).name == "LeakyRelu:0"
    with tf.name_scope("layer"):
        assert nn.relu(x, name="act").name == "layer/act:0"


# ---------------------------------------------------------------------------------------------
# Gradients of the fused cross-entropies
# ---------------------------------------------------------------------------------------------
def test_v1_blocks_label_gradient_v2_passes_it():
    z = tf.placeholder(tf.float64, [2, 3])
    x = tf.placeholder(tf.float64, [2, 3])
    v1 = nn.softmax_cross_entropy_with_logits(labels=z, logits=x)
    v2 = nn.softmax_cross_entropy_with_logits_v2(labels=z, logits=x)
    assert tf.gradients(v1, z) == [None]
    (gz,) = tf.gradients(v2, z)
    xv = np.array([[1.0, 2.0, 0.5], [-1.0, 0.0, 3.0]])
    zv = np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    got = run(gz, {z: zv, x: xv})
    s = xv - xv.max(1, keepdims=True)
    np.testing.assert_allclose(got, -(s - np.log(np.exp(s).sum(1, keepdims=True))))


def test_relu_gradient_op_is_relugrad_and_second_order_is_zero():
    x = tf.placeholder(tf.float64, [3])
    y = nn.relu(x)
    (g,) = tf.gradients(tf.reduce_sum(y * y), x)
    assert any(op.type == "ReluGrad" for op in tf.get_default_graph().get_operations())
    (h,) = tf.gradients(tf.reduce_sum(g), x)
    gv, hv = run([g, h], {x: [-1.0, 2.0, 3.0]})
    np.testing.assert_array_equal(gv, [0, 4, 6])
    np.testing.assert_array_equal(hv, [0, 2, 2])


# ---------------------------------------------------------------------------------------------
# dropout
# ---------------------------------------------------------------------------------------------
def test_dropout_keep_fraction_and_scaling():
    x = np.ones((400, 250), np.float32)
    y = run(nn.dropout(x, rate=0.3, seed=1))
    kept = y != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(y[kept], 1 / 0.7, rtol=1e-6)


def test_dropout_legacy_keep_prob_tensor_and_gradient():
    x = tf.placeholder(tf.float32, [50, 40])
    kp = tf.placeholder(tf.float32, [])
    y = nn.dropout(x, keep_prob=kp, seed=2)
    assert y.shape.as_list() == [50, 40]
    (gx,) = tf.gradients(tf.reduce_sum(y), x)
    xv = np.full((50, 40), 2.0, np.float32)
    with tf.Session() as sess:
        yv, gv = sess.run([y, gx], {x: xv, kp: 0.25})
        full = sess.run(y, {x: xv, kp: 1.0})
    kept = yv != 0
    assert 0.15 < kept.mean() < 0.35
    np.testing.assert_allclose(yv[kept], 8.0)
    np.testing.assert_allclose(gv, kept * 4.0)  # the gradient is the same mask, scaled
    np.testing.assert_array_equal(full, xv)


def test_dropout_noise_shape_drops_whole_rows():
    y = run(nn.dropout(np.ones((300, 6), np.float32), rate=0.5, noise_shape=[300, 1], seed=3))
    rows = y != 0
    assert np.all(rows.all(1) | ~rows.any(1))
    assert 0.35 < rows[:, 0].mean() < 0.65


def test_dropout_seeded_is_reproducible_and_changes_per_run():
    def build():
        g = tf.Graph()
        with g.as_default():
            t = nn.dropout(np.ones((20, 20), np.float32), rate=0.5, seed=7)
        return g, t

    outs = []
    for _ in range(2):
        g, t = build()
        with tf.Session(graph=g) as sess:
            outs.append((sess.run(t), sess.run(t)))
    np.testing.assert_array_equal(outs[0][0], outs[1][0])
    assert not np.array_equal(outs[0][0], outs[0][1])


def test_dropout_rate_zero_is_identity_and_errors():
    x = tf.constant(np.ones((2, 2), np.float32))
    assert nn.dropout(x, rate=0.0) is x
    assert nn.dropout(x, keep_prob=1.0) is x
    with pytest.raises(ValueError, match=r"range \[0, 1\)"):
        nn.dropout(x, rate=1.0)
    with pytest.raises(ValueError, match="You must provide a rate"):
        nn.dropout(x)
    with pytest.raises(ValueError, match="both 'rate' and 'keep_prob'"):
        nn.dropout(x, keep_prob=0.5, rate=0.5)
    with pytest.raises(ValueError, match="floating point tensor"):
        nn.dropout(tf.constant([1, 2]), rate=0.5)
    with pytest.raises(ValueError, match="keep_prob must be a floating point number"):
        nn.dropout(x, keep_prob="half")


# ---------------------------------------------------------------------------------------------
# fused_batch_norm
# ---------------------------------------------------------------------------------------------
def np_bn_train(x, scale, offset, eps, c_axis):
    axes = tuple(i for i in range(4) if i != c_axis)
    shp = [1, 1, 1, 1]
    shp[c_axis] = -1
    m, v = x.mean(axes), x.var(axes)
    y = (x - m.reshape(shp)) / np.sqrt(v.reshape(shp) + eps) * scale.reshape(shp) + offset.reshape(shp)
    n = x.size // x.shape[c_axis]
    return y, m, v * n / (n - 1)


@pytest.mark.parametrize("fmt", ["NHWC", "NCHW"])
def test_fused_batch_norm_training_float32(fmt):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((8, 5, 6, 7)) * 3 + 1).astype(np.float32)
    c_axis = 3 if fmt == "NHWC" else 1
    c = x.shape[c_axis]
    scale = rng.uniform(0.5, 2, c).astype(np.float32)
    offset = rng.standard_normal(c).astype(np.float32)
    y, m, v = nn.fused_batch_norm(x, scale, offset, data_format=fmt)
    assert y.op.type == "FusedBatchNormV3" and m.shape.as_list() == [c]
    got = run([y, m, v])
    want = np_bn_train(x.astype(np.float64), scale, offset, 0.001, c_axis)
    for gv, wv in zip(got, want):
        np.testing.assert_allclose(gv, wv, rtol=1e-4, atol=1e-4)


def test_fused_batch_norm_gradient_matches_closed_form():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 3, 2, 5))
    scale, offset = rng.uniform(0.5, 2, 5), rng.standard_normal(5)
    dy = rng.standard_normal(x.shape)
    xt = tf.constant(x)
    st, ot = tf.constant(scale), tf.constant(offset)
    y, _, _ = nn.fused_batch_norm(xt, st, ot, epsilon=1e-5)
    gx, gs, go = tf.gradients(y, [xt, st, ot], grad_ys=tf.constant(dy))
    gxv, gsv, gov = run([gx, gs, go])
    m, v = x.mean((0, 1, 2)), x.var((0, 1, 2))
    inv = 1 / np.sqrt(v + 1.001e-5)  # the epsilon floor TF1 applies
    xhat = (x - m) * inv
    n = x.size // 5
    np.testing.assert_allclose(gov, dy.sum((0, 1, 2)), rtol=1e-10)
    np.testing.assert_allclose(gsv, (dy * xhat).sum((0, 1, 2)), rtol=1e-10)
    want = scale * inv / n * (n * dy - dy.sum((0, 1, 2)) - xhat * (dy * xhat).sum((0, 1, 2)))
    np.testing.assert_allclose(gxv, want, rtol=1e-8, atol=1e-12)


def test_fused_batch_norm_half_input_float32_params_and_inference():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 3, 4)).astype(np.float16)
    ones, zeros = np.ones(4, np.float32), np.zeros(4, np.float32)
    mean, var = rng.standard_normal(4).astype(np.float32), rng.uniform(0.5, 2, 4).astype(np.float32)
    y, bm, bv = nn.fused_batch_norm(x, ones, zeros, mean, var, is_training=False)
    assert y.dtype == tf.float16 and bm.dtype == tf.float32
    yv, bmv, bvv = run([y, bm, bv])
    want = (x.astype(np.float64) - mean) / np.sqrt(var + 0.001)
    np.testing.assert_allclose(yv, want, rtol=2e-3, atol=2e-3)
    np.testing.assert_array_equal(bmv, mean)
    np.testing.assert_array_equal(bvv, var)


def test_fused_batch_norm_errors():
    x = tf.placeholder(tf.float32, [2, 3, 4, 5])
    s = np.ones(5, np.float32)
    with pytest.raises(ValueError, match="must be None when is_training"):
        nn.fused_batch_norm(x, s, s, mean=s)
    with pytest.raises(ValueError, match="is_training is False"):
        nn.fused_batch_norm(x, s, s, is_training=False)
    with pytest.raises(ValueError, match="4-dimensional"):
        nn.fused_batch_norm(tf.placeholder(tf.float32, [2, 5]), s, s)
    with pytest.raises(ValueError, match="vector of 5 channels"):
        nn.fused_batch_norm(x, np.ones(3, np.float32), s)
    with pytest.raises(TypeError, match="must be float32"):
        nn.fused_batch_norm(x, s.astype(np.float64), s)
    with pytest.raises(ValueError, match="data_format"):
        nn.fused_batch_norm(x, s, s, data_format="NWC")


# ---------------------------------------------------------------------------------------------
# in_top_k
# ---------------------------------------------------------------------------------------------
def test_in_top_k_tie_semantics():
    p = np.array([
        [1.0, 1.0, 1.0, 1.0],    # all tied: every target is in the top 1
        [0.5, 0.9, 0.9, 0.1],    # two tied above 0.5: target 0 is not in the top 2
        [0.2, 0.8, 0.8, 0.8],    # target 0 is beaten by 3 classes
        [0.1, np.nan, 0.3, 0.2],  # a non-finite prediction: never in
        [0.1, 0.2, 0.3, 0.4],    # out-of-range target: never in
    ], np.float32)
    t = np.array([2, 0, 0, 2, 7], np.int32)
    k1, k2, k3, k4 = run([nn.in_top_k(p, t, k) for k in (1, 2, 3, 4)])
    np.testing.assert_array_equal(k1, [True, False, False, False, False])
    np.testing.assert_array_equal(k2, [True, False, False, False, False])
    np.testing.assert_array_equal(k3, [True, True, False, False, False])
    np.testing.assert_array_equal(k4, [True, True, True, False, False])
    k_t = tf.placeholder(tf.int32, [])
    assert run(nn.in_top_k(p, t, k_t), {k_t: 0}).tolist() == [False] * 5


def test_in_top_k_shape_errors():
    with pytest.raises(ValueError, match="must match length of targets"):
        nn.in_top_k(np.zeros((3, 4), np.float32), [0, 1], 1)
    with pytest.raises(TypeError, match="int32 or int64"):
        nn.in_top_k(np.zeros((2, 4), np.float32), [0.0, 1.0], 1)


# ---------------------------------------------------------------------------------------------
# Error paths of the other ops
# ---------------------------------------------------------------------------------------------
def test_sparse_xent_out_of_range_label_fails_at_run_time_naming_the_op():
    x = tf.placeholder(tf.float32, [2, 3])
    lab = tf.placeholder(tf.int32, [2])
    t = nn.sparse_softmax_cross_entropy_with_logits(labels=lab, logits=x, name="xent")
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"(?s)label value of 3 .*\[0, 3\).*xent") as info:
        run(t, {x: np.zeros((2, 3)), lab: [0, 3]})
    assert info.value.op is not None and info.value.op.name == "xent/xent"
    with pytest.raises(tf.errors.InvalidArgumentError, match="label value of -1"):
        run(t, {x: np.zeros((2, 3)), lab: [-1, 0]})


def test_sparse_xent_static_errors():
    with pytest.raises(ValueError, match="Rank mismatch"):
        nn.sparse_softmax_cross_entropy_with_logits(labels=[[0]], logits=np.zeros((1, 3), np.float32))
    with pytest.raises(ValueError, match="Shape mismatch"):
        nn.sparse_softmax_cross_entropy_with_logits(labels=[0, 1, 2], logits=np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="scalars"):
        nn.sparse_softmax_cross_entropy_with_logits(labels=0, logits=np.float32(1.0))
    with pytest.raises(TypeError, match="int32 or int64"):
        nn.sparse_softmax_cross_entropy_with_logits(labels=[0.0], logits=np.zeros((1, 3), np.float32))


def test_xent_argument_errors():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match="named arguments"):
        nn.softmax_cross_entropy_with_logits(x, x)
    with pytest.raises(ValueError, match="Both labels and logits"):
        nn.sparse_softmax_cross_entropy_with_logits(logits=x)
    with pytest.raises(ValueError, match="same shape"):
        nn.softmax_cross_entropy_with_logits_v2(labels=np.zeros((2, 4), np.float32), logits=x)
    with pytest.raises(ValueError, match="same shape"):
        nn.sigmoid_cross_entropy_with_logits(labels=np.zeros((2, 4), np.float32), logits=x)


def test_activation_dtype_and_shape_errors():
    with pytest.raises(TypeError, match="floating-point"):
        nn.softmax(tf.constant([1, 2]))
    with pytest.raises(TypeError, match="floating-point"):
        nn.elu(tf.constant([1, 2]))
    with pytest.raises(ValueError, match=">= 1 dimension"):
        nn.softmax(tf.constant(1.0))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"Dimension \(2\) must be in the range \[-2, 2\)"):
        nn.softmax(tf.constant(np.zeros((2, 3), np.float32)), axis=2)
    assert nn.leaky_relu(tf.constant([1, -2])).dtype == tf.float32


def test_bias_add_errors():
    x = tf.placeholder(tf.float32, [2, 3, 4])
    with pytest.raises(ValueError, match="must match the size of bias"):
        nn.bias_add(x, np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="bias must be rank 1"):
        nn.bias_add(x, np.zeros((1, 4), np.float32))
    with pytest.raises(ValueError, match="at least rank 2"):
        nn.bias_add(tf.placeholder(tf.float32, [4]), np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="N...C"):
        nn.bias_add(x, np.zeros(4, np.float32), data_format="HWC")


def test_bias_add_grad_large_nchw_and_nhwc():
    rng = np.random.default_rng(3)
    g = rng.standard_normal((16, 8, 10, 12)).astype(np.float32)
    x = tf.placeholder(tf.float32, g.shape)
    b = tf.placeholder(tf.float32, [8])
    y = nn.bias_add(x, b, data_format="NCHW")
    (gb,) = tf.gradients(y, b, grad_ys=tf.constant(g))
    b2 = tf.placeholder(tf.float32, [12])
    (gb2,) = tf.gradients(nn.bias_add(x, b2), b2, grad_ys=tf.constant(g))
    v, v2 = run([gb, gb2], {x: g, b: np.zeros(8), b2: np.zeros(12)})
    np.testing.assert_allclose(v, g.sum((0, 2, 3)), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(v2, g.sum((0, 1, 2)), rtol=1e-4, atol=1e-4)


def test_moments_float16_computes_in_float32():
    x = (np.arange(24).reshape(2, 3, 4) * 10 + 300).astype(np.float16)  # float16 sums would round
    m, v = nn.moments(tf.constant(x), axes=[0, 1, 2])
    assert m.dtype == tf.float16
    mv, vv = run([m, v])
    assert np.isfinite(vv)
    np.testing.assert_allclose(float(mv), x.astype(np.float64).mean(), rtol=1e-3)
    np.testing.assert_allclose(float(vv), x.astype(np.float64).var(), rtol=1e-3)
