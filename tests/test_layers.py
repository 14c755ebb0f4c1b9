"""tf.layers: variable names and shapes, outputs vs NumPy, reuse, regularizers, dropout, batch norm."""

import numpy as np
import pytest

import flowgraph as tf
from flowgraph import init_ops, layers, regularizers
from flowgraph import nn as tf_nn


@pytest.fixture(autouse=True)
def fresh_graph():
    g = tf.Graph()
    with g.as_default():
        yield g


def run(fetches, feed=None, local=False):
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        if local:
            sess.run(tf.local_variables_initializer())
        return sess.run(fetches, feed)


def const_init(value):
    return init_ops.constant_initializer(np.asarray(value))


# ---------------------------------------------------------------------------------------------
# NumPy references
# ---------------------------------------------------------------------------------------------
def _out_and_pad(n, k, s, padding):
    if padding == "SAME":
        out = -(-n // s)
        total = max((out - 1) * s + k - n, 0)
        return out, total // 2, total - total // 2
    return -(-(n - k + 1) // s), 0, 0


def conv2d_ref(x, k, stride=1, padding="VALID", dilation=1):
    n, h, w, _ = x.shape
    kh, kw, _, f = k.shape
    ekh, ekw = (kh - 1) * dilation + 1, (kw - 1) * dilation + 1
    oh, pt, pb = _out_and_pad(h, ekh, stride, padding)
    ow, pl, pr = _out_and_pad(w, ekw, stride, padding)
    xp = np.pad(x, [(0, 0), (pt, pb), (pl, pr), (0, 0)])
    out = np.zeros((n, oh, ow, f), dtype=np.float64)
    for a in range(kh):
        for b in range(kw):
            patch = xp[
                :,
                a * dilation : a * dilation + (oh - 1) * stride + 1 : stride,
                b * dilation : b * dilation + (ow - 1) * stride + 1 : stride,
                :,
            ]
            out += np.einsum("nhwc,cf->nhwf", patch, k[a, b])
    return out


def pool_ref(x, size, stride, padding, kind):
    n, h, w, c = x.shape
    oh, pt, _ = _out_and_pad(h, size, stride, padding)
    ow, pl, _ = _out_and_pad(w, size, stride, padding)
    out = np.zeros((n, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * stride - pt, j * stride - pl
            win = x[:, max(r0, 0) : r0 + size, max(c0, 0) : c0 + size, :]
            out[:, i, j, :] = win.max(axis=(1, 2)) if kind == "max" else win.mean(axis=(1, 2))
    return out


# ---------------------------------------------------------------------------------------------
# dense
# ---------------------------------------------------------------------------------------------
def test_dense_variable_names_shapes_and_op_names():
    x = tf.placeholder(tf.float32, [None, 3])
    y = layers.dense(x, 4, activation=tf_nn.relu)
    y2 = layers.dense(y, 2)
    names = [(v.name, v.shape.as_list()) for v in tf.trainable_variables()]
    assert names == [
        ("dense/kernel:0", [3, 4]),
        ("dense/bias:0", [4]),
        ("dense_1/kernel:0", [4, 2]),
        ("dense_1/bias:0", [2]),
    ]
    assert y.shape.as_list() == [None, 4] and y2.shape.as_list() == [None, 2]
    assert y.op.name == "dense/Relu"
    assert y2.op.name == "dense_1/BiasAdd"
    assert tf.get_default_graph().get_operation_by_name("dense/MatMul").type == "MatMul"


def test_dense_matches_numpy_with_known_kernel():
    rng = np.random.default_rng(0)
    k = rng.standard_normal((5, 3)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    xv = rng.standard_normal((7, 5)).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 5])
    y = layers.dense(x, 3, activation=tf_nn.relu, kernel_initializer=const_init(k), bias_initializer=const_init(b))
    np.testing.assert_allclose(run(y, {x: xv}), np.maximum(xv @ k + b, 0), rtol=1e-5, atol=1e-6)


def test_dense_on_rank3_input_acts_on_last_axis():
    rng = np.random.default_rng(1)
    k = rng.standard_normal((4, 2))
    xv = rng.standard_normal((2, 3, 4))
    x = tf.placeholder(tf.float64, [None, 3, 4])
    y = layers.dense(x, 2, use_bias=False, kernel_initializer=const_init(k))
    assert y.shape.as_list() == [None, 3, 2]
    assert tf.trainable_variables()[0].dtype == tf.float64
    np.testing.assert_allclose(run(y, {x: xv}), xv @ k, rtol=1e-12)
    x2 = tf.placeholder(tf.float64, [None, None, 4])  # two unknown dims: the output shape comes from tf.shape
    z = layers.dense(x2, 2, use_bias=False, kernel_initializer=const_init(k))
    assert z.shape.as_list() == [None, None, 2]
    np.testing.assert_allclose(run(z, {x2: xv}), xv @ k, rtol=1e-12)


def test_dense_default_initializers_are_glorot_uniform_and_zeros():
    x = tf.placeholder(tf.float32, [None, 300])
    layers.dense(x, 200)
    k, b = run(tf.trainable_variables())
    limit = np.sqrt(6.0 / (300 + 200))
    assert np.abs(k).max() <= limit and np.abs(k).max() > 0.9 * limit
    assert abs(k.std() - limit / np.sqrt(3)) < 0.01 * limit
    assert not b.any()


def test_dense_string_activation_and_errors():
    x = tf.placeholder(tf.float32, [None, 2])
    assert layers.dense(x, 3, activation="relu").op.type == "Relu"
    with pytest.raises(ValueError, match="last dimension of the inputs to `Dense` should be defined"):
        layers.dense(tf.placeholder(tf.float32, [None, None]), 3)
    with pytest.raises(TypeError, match="non-floating point dtype int32"):
        layers.dense(tf.placeholder(tf.int32, [None, 2]), 3)
    with pytest.raises(ValueError, match="positive integer"):
        layers.dense(x, 0)
    with pytest.raises(ValueError, match="Unknown activation"):
        layers.dense(x, 3, activation="nope")
    with pytest.raises(ValueError, match="expected min_ndim=2, found ndim=1"):
        layers.dense(tf.placeholder(tf.float32, [4]), 3)


def test_dense_reuse_shares_variables():
    rng = np.random.default_rng(2)
    x1 = tf.placeholder(tf.float32, [None, 3])
    x2 = tf.placeholder(tf.float32, [None, 3])
    y1 = layers.dense(x1, 4, name="shared")
    y2 = layers.dense(x2, 4, name="shared", reuse=True)
    assert [v.name for v in tf.trainable_variables()] == ["shared/kernel:0", "shared/bias:0"]
    assert y2.op.name.startswith("shared_1/")
    xv = rng.standard_normal((2, 3)).astype(np.float32)
    a, b = run([y1, y2], {x1: xv, x2: xv})
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="Variable shared/kernel already exists"):
        layers.dense(x1, 4, name="shared")
    with pytest.raises(ValueError, match="does not exist"):
        layers.dense(x1, 4, name="fresh", reuse=True)
    layers.dense(x1, 4, name="auto", reuse=tf.AUTO_REUSE)
    layers.dense(x2, 4, name="auto", reuse=tf.AUTO_REUSE)
    assert len(tf.trainable_variables()) == 4


def test_layer_object_called_twice_shares_and_nests_in_variable_scope():
    x = tf.placeholder(tf.float32, [None, 3])
    with tf.variable_scope("model"):
        layer = layers.Dense(2, name="head")
        layer(x)
        layer(x)
        layers.dense(x, 5)
    names = [v.name for v in tf.trainable_variables()]
    assert names == ["model/head/kernel:0", "model/head/bias:0", "model/dense/kernel:0", "model/dense/bias:0"]
    assert layer.trainable_weights == tf.trainable_variables()[:2]


def test_trainable_false_keeps_variables_out_of_trainable_collection():
    x = tf.placeholder(tf.float32, [None, 3])
    layers.dense(x, 2, trainable=False)
    assert tf.trainable_variables() == []
    assert [v.name for v in tf.global_variables()] == ["dense/kernel:0", "dense/bias:0"]


# ---------------------------------------------------------------------------------------------
# regularizers
# ---------------------------------------------------------------------------------------------
def test_kernel_regularizer_adds_to_regularization_losses():
    rng = np.random.default_rng(3)
    k1 = rng.standard_normal((3, 4)).astype(np.float32)
    k2 = rng.standard_normal((4, 2)).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 3])
    h = layers.dense(x, 4, kernel_initializer=const_init(k1), kernel_regularizer=regularizers.l2_regularizer(0.1))
    layers.dense(
        h,
        2,
        kernel_initializer=const_init(k2),
        kernel_regularizer=regularizers.l1_regularizer(0.5),
        bias_regularizer=regularizers.l2_regularizer(0.0),
    )
    losses = tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)
    assert [t.name for t in losses] == [
        "dense/kernel/Regularizer/l2_regularizer:0",
        "dense_1/kernel/Regularizer/l1_regularizer:0",
    ]
    l2v, l1v, total = run([*losses, tf.losses.get_regularization_loss()])
    np.testing.assert_allclose(l2v, 0.1 * np.sum(k1**2) / 2, rtol=1e-5)
    np.testing.assert_allclose(l1v, 0.5 * np.sum(np.abs(k2)), rtol=1e-5)
    np.testing.assert_allclose(total, l2v + l1v, rtol=1e-6)


def test_activity_regularizer_is_averaged_over_the_batch():
    k = np.arange(6.0).reshape(3, 2) - 2
    xv = np.arange(12.0).reshape(4, 3) / 5
    x = tf.placeholder(tf.float64, [None, 3])
    layers.dense(x, 2, kernel_initializer=const_init(k), activity_regularizer=regularizers.l1_regularizer(0.1))
    (loss,) = tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)
    assert loss.name == "dense/ActivityRegularizer/truediv:0"
    got = run(loss, {x: xv})
    np.testing.assert_allclose(got, 0.1 * np.abs(xv @ k).sum() / 4, rtol=1e-12)


def test_keras_style_regularizers_do_not_halve():
    w = tf.constant([[1.0, -2.0], [3.0, 0.5]])
    v = run([regularizers.l2(0.1)(w), regularizers.l1(0.2)(w), regularizers.l1_l2(0.2, 0.1)(w)])
    np.testing.assert_allclose(v, [0.1 * 14.25, 0.2 * 6.5, 0.2 * 6.5 + 0.1 * 14.25], rtol=1e-6)


def test_public_aliases():
    assert tf.layers.dense is layers.dense and tf.layers.Dense is layers.Dense
    assert tf.contrib.layers.l2_regularizer is regularizers.l2_regularizer
    assert tf.keras.regularizers.l2 is regularizers.l2


def test_sum_and_apply_regularization():
    w1 = tf.constant([[1.0, -2.0]])
    w2 = tf.constant([3.0])
    both = regularizers.sum_regularizer([regularizers.l1_regularizer(0.5), None, regularizers.l2_regularizer(0.2)])
    total = regularizers.apply_regularization(both, [w1, w2])
    assert tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES) == [total]
    expected = 0.5 * (3 + 3) + 0.2 * (5 + 9) / 2
    np.testing.assert_allclose(run(total), expected, rtol=1e-6)
    assert regularizers.sum_regularizer([regularizers.l2_regularizer(0.0)])(w1) is None
    with pytest.raises(ValueError, match="No weights to regularize"):
        regularizers.apply_regularization(both, [])


def test_regularizer_scale_validation():
    with pytest.raises(ValueError, match="scale cannot be an integer: 1"):
        regularizers.l2_regularizer(1)
    with pytest.raises(ValueError, match="scale less than 0"):
        regularizers.l1_regularizer(-0.5)
    assert regularizers.l2_regularizer(0.0)(tf.constant([1.0])) is None


# ---------------------------------------------------------------------------------------------
# conv2d and pooling
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("padding,strides,dilation", [("same", 1, 1), ("valid", 1, 1), ("same", 2, 1), ("valid", 1, 2)])
def test_conv2d_matches_numpy(padding, strides, dilation):
    rng = np.random.default_rng(4)
    xv = rng.standard_normal((2, 9, 8, 3))
    k = rng.standard_normal((3, 2, 3, 5))
    b = rng.standard_normal(5)
    x = tf.placeholder(tf.float64, [None, 9, 8, 3])
    y = layers.conv2d(
        x,
        5,
        (3, 2),
        strides=strides,
        padding=padding,
        dilation_rate=dilation,
        kernel_initializer=const_init(k),
        bias_initializer=const_init(b),
    )
    ref = conv2d_ref(xv, k, strides, padding.upper(), dilation) + b
    assert y.shape.as_list() == [None, *ref.shape[1:]]
    np.testing.assert_allclose(run(y, {x: xv}), ref, rtol=1e-10, atol=1e-10)


def test_conv2d_names_shapes_and_errors():
    x = tf.placeholder(tf.float32, [None, 28, 28, 1])
    y = layers.conv2d(x, 6, 5, padding="same", activation=tf_nn.relu)
    layers.conv2d(y, 16, [5, 5])
    assert [(v.name, v.shape.as_list()) for v in tf.trainable_variables()] == [
        ("conv2d/kernel:0", [5, 5, 1, 6]),
        ("conv2d/bias:0", [6]),
        ("conv2d_1/kernel:0", [5, 5, 6, 16]),
        ("conv2d_1/bias:0", [16]),
    ]
    assert y.op.name == "conv2d/Relu"
    assert tf.get_default_graph().get_operation_by_name("conv2d/Conv2D").type == "Conv2D"
    with pytest.raises(ValueError, match="`kernel_size` argument must be a tuple of 2 integers"):
        layers.conv2d(x, 3, (1, 2, 3))
    with pytest.raises(ValueError, match='`padding` argument must be one of "valid", "same"'):
        layers.conv2d(x, 3, 3, padding="full")
    with pytest.raises(ValueError, match="`data_format` argument must be one of"):
        layers.conv2d(x, 3, 3, data_format="NHWC")
    with pytest.raises(ValueError, match="expected ndim=4, found ndim=3"):
        layers.conv2d(tf.placeholder(tf.float32, [None, 28, 28]), 3, 3)
    with pytest.raises(ValueError, match="channel dimension of the inputs should be defined"):
        layers.conv2d(tf.placeholder(tf.float32, [None, 28, 28, None]), 3, 3)


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_pooling_matches_numpy(padding):
    rng = np.random.default_rng(5)
    xv = rng.standard_normal((2, 7, 6, 3))
    x = tf.placeholder(tf.float64, [None, 7, 6, 3])
    mp = layers.max_pooling2d(x, 3, 2, padding=padding)
    ap = layers.average_pooling2d(x, 3, 2, padding=padding)
    assert mp.op.name == "max_pooling2d/MaxPool" and ap.op.name == "average_pooling2d/AvgPool"
    got_max, got_avg = run([mp, ap], {x: xv})
    np.testing.assert_allclose(got_max, pool_ref(xv, 3, 2, padding.upper(), "max"), rtol=1e-12)
    np.testing.assert_allclose(got_avg, pool_ref(xv, 3, 2, padding.upper(), "avg"), rtol=1e-12)


def test_channels_first_matches_channels_last():
    rng = np.random.default_rng(13)
    xv = rng.standard_normal((2, 7, 6, 3))
    k = rng.standard_normal((3, 3, 3, 4))
    b = rng.standard_normal(4)
    outs = []
    for fmt, shape, feed in [("channels_last", [None, 7, 6, 3], xv), ("channels_first", [None, 3, 7, 6], None)]:
        x = tf.placeholder(tf.float64, shape)
        y = layers.conv2d(
            x, 4, 3, padding="same", data_format=fmt, kernel_initializer=const_init(k), bias_initializer=const_init(b)
        )
        p = layers.average_pooling2d(y, 2, 2, data_format=fmt)
        outs.append((x, feed if feed is not None else xv.transpose(0, 3, 1, 2), p, layers.flatten(p, data_format=fmt)))
    (x1, f1, p1, flat1), (x2, f2, p2, flat2) = outs
    a1, a2, g1, g2 = run([p1, p2, flat1, flat2], {x1: f1, x2: f2})
    np.testing.assert_allclose(a2, a1.transpose(0, 3, 1, 2), rtol=1e-12)
    np.testing.assert_allclose(g2, g1, rtol=1e-12)


def test_flatten_static_and_dynamic():
    xv = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    x = tf.placeholder(tf.float32, [None, 3, 4, 5])
    y = layers.flatten(x)
    assert y.shape.as_list() == [None, 60] and y.op.name == "flatten/Reshape"
    z = layers.flatten(tf.placeholder(tf.float32, [None, None, 2]), name="flat")
    assert z.shape.ndims == 2
    a = run(y, {x: xv})
    np.testing.assert_array_equal(a, xv.reshape(2, 60))
    zin = z.op.inputs[0]
    np.testing.assert_array_equal(run(z, {zin: np.ones((3, 4, 2), np.float32)}), np.ones((3, 8)))


# ---------------------------------------------------------------------------------------------
# dropout
# ---------------------------------------------------------------------------------------------
def test_dropout_python_flag():
    xv = np.ones((200, 50), np.float32)
    x = tf.placeholder(tf.float32, [None, 50])
    off = layers.dropout(x, rate=0.3)
    on = layers.dropout(x, rate=0.3, training=True, seed=1)
    assert off.op.type == "Identity" and off.op.name == "dropout/Identity"
    a, b = run([off, on], {x: xv})
    np.testing.assert_array_equal(a, xv)
    assert set(np.unique(b)) <= {0.0, np.float32(1 / 0.7)}
    assert abs((b == 0).mean() - 0.3) < 0.03


def test_dropout_bool_tensor_flag_selects_at_run_time():
    xv = np.random.default_rng(6).standard_normal((100, 40)).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 40])
    training = tf.placeholder(tf.bool, [])
    y = layers.dropout(x, rate=0.5, training=training, seed=3)
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(y, {x: xv, training: False}), xv)
        dropped = sess.run(y, {x: xv, training: True})
    kept = dropped != 0
    assert 0.4 < kept.mean() < 0.6
    np.testing.assert_allclose(dropped[kept], 2 * xv[kept], rtol=1e-6)


def test_dropout_noise_shape_and_errors():
    x = tf.placeholder(tf.float32, [None, 4, 30])
    y = layers.dropout(x, rate=0.5, noise_shape=[None, 1, 30], training=True, seed=2)
    out = run(y, {x: np.ones((3, 4, 30), np.float32)})
    assert (out == out[:, :1, :]).all()  # the mask is shared along the axis of size 1
    with pytest.raises(ValueError, match="range \\[0, 1\\)"):
        layers.dropout(x, rate=1.0, training=True)
    with pytest.raises(TypeError, match="bool tensor"):
        layers.dropout(x, training=tf.placeholder(tf.float32, []))


# ---------------------------------------------------------------------------------------------
# batch normalization
# ---------------------------------------------------------------------------------------------
def test_batch_norm_variables_and_training_output():
    rng = np.random.default_rng(7)
    xv = (3 + 2 * rng.standard_normal((16, 5))).astype(np.float64)
    x = tf.placeholder(tf.float64, [None, 5])
    y = layers.batch_normalization(
        x,
        training=True,
        gamma_initializer=const_init(np.arange(1.0, 6.0)),
        beta_initializer=const_init(np.full(5, 0.5)),
    )
    assert [v.name for v in tf.global_variables()] == [
        "batch_normalization/gamma:0",
        "batch_normalization/beta:0",
        "batch_normalization/moving_mean:0",
        "batch_normalization/moving_variance:0",
    ]
    assert [v.name for v in tf.trainable_variables()] == ["batch_normalization/gamma:0", "batch_normalization/beta:0"]
    updates = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    assert len(updates) == 2
    mm, mv = tf.global_variables()[2:]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        out = sess.run(y, {x: xv})
        for _ in range(3):
            sess.run(updates, {x: xv})
        got_mean, got_var = sess.run([mm, mv])
    mean, var = xv.mean(0), xv.var(0)
    np.testing.assert_allclose(out, (xv - mean) / np.sqrt(var + 1e-3) * np.arange(1.0, 6.0) + 0.5, rtol=1e-10)
    np.testing.assert_allclose(got_mean, mean * (1 - 0.99**3), rtol=1e-10)
    np.testing.assert_allclose(got_var, 0.99**3 + var * (1 - 0.99**3), rtol=1e-10)


def test_batch_norm_inference_uses_moving_statistics():
    rng = np.random.default_rng(8)
    xv = rng.standard_normal((4, 3, 3, 2))
    x = tf.placeholder(tf.float64, [None, 3, 3, 2])
    y = layers.batch_normalization(
        x,
        training=False,
        moving_mean_initializer=const_init([1.0, -1.0]),
        moving_variance_initializer=const_init([4.0, 0.25]),
    )
    assert tf.get_collection(tf.GraphKeys.UPDATE_OPS) == []
    np.testing.assert_allclose(run(y, {x: xv}), (xv - [1.0, -1.0]) / np.sqrt(np.array([4.0, 0.25]) + 1e-3), rtol=1e-12)


def test_fused_batch_norm_updates_moving_variance_with_bessel_correction():
    rng = np.random.default_rng(9)
    xv = rng.standard_normal((3, 4, 5, 2))
    x = tf.placeholder(tf.float64, [None, 4, 5, 2])
    layers.batch_normalization(x, training=True, momentum=0.5)
    layers.batch_normalization(x, training=True, momentum=0.5, fused=False, name="plain")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(tf.get_collection(tf.GraphKeys.UPDATE_OPS), {x: xv})
        fused_var, plain_var = sess.run(["batch_normalization/moving_variance:0", "plain/moving_variance:0"])
    n = 3 * 4 * 5
    var = xv.reshape(-1, 2).var(0)
    np.testing.assert_allclose(fused_var, 0.5 + 0.5 * var * n / (n - 1), rtol=1e-10)
    np.testing.assert_allclose(plain_var, 0.5 + 0.5 * var, rtol=1e-10)


def test_batch_norm_channels_first_axis():
    rng = np.random.default_rng(10)
    xv = rng.standard_normal((4, 3, 2, 2))
    x = tf.placeholder(tf.float64, [None, 3, 2, 2])
    fused = layers.batch_normalization(x, axis=1, training=True)
    plain = layers.batch_normalization(x, axis=1, training=True, fused=False)
    assert tf.global_variables()[0].shape.as_list() == [3]
    assert fused.op.type == "FusedBatchNormV3"
    mean = xv.mean(axis=(0, 2, 3), keepdims=True)
    var = xv.var(axis=(0, 2, 3), keepdims=True)
    for got in run([fused, plain], {x: xv}):
        np.testing.assert_allclose(got, (xv - mean) / np.sqrt(var + 1e-3), rtol=1e-10, atol=1e-12)


def test_batch_norm_bool_tensor_training():
    rng = np.random.default_rng(11)
    xv = 1 + rng.standard_normal((8, 3))
    x = tf.placeholder(tf.float64, [None, 3])
    training = tf.placeholder(tf.bool, [])
    y = layers.batch_normalization(x, training=training, epsilon=0.0)
    mm = tf.global_variables()[2]
    updates = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        out_eval = sess.run(y, {x: xv, training: False})
        sess.run(updates, {x: xv, training: False})
        assert not sess.run(mm).any()  # no update while not training
        out_train = sess.run(y, {x: xv, training: True})
        sess.run(updates, {x: xv, training: True})
        np.testing.assert_allclose(sess.run(mm), 0.01 * xv.mean(0), rtol=1e-10)
    np.testing.assert_array_equal(out_eval, xv)
    np.testing.assert_allclose(out_train, (xv - xv.mean(0)) / xv.std(0), rtol=1e-10)


def test_batch_norm_errors():
    with pytest.raises(ValueError, match="Invalid axis"):
        layers.batch_normalization(tf.placeholder(tf.float32, [None, 3]), axis=2)
    with pytest.raises(ValueError, match="undefined `axis` dimension"):
        layers.batch_normalization(tf.placeholder(tf.float32, [None, None]))


# ---------------------------------------------------------------------------------------------
# gradients through layers
# ---------------------------------------------------------------------------------------------
def test_gradient_through_dense_matches_numpy():
    rng = np.random.default_rng(12)
    k = rng.standard_normal((4, 3))
    xv = rng.standard_normal((5, 4))
    x = tf.placeholder(tf.float64, [None, 4])
    y = layers.dense(x, 3, kernel_initializer=const_init(k))
    loss = tf.reduce_sum(y * y)
    gk, gb = tf.gradients(loss, tf.trainable_variables())
    got_k, got_b = run([gk, gb], {x: xv})
    out = xv @ k
    np.testing.assert_allclose(got_k, xv.T @ (2 * out), rtol=1e-10)
    np.testing.assert_allclose(got_b, (2 * out).sum(0), rtol=1e-10)
