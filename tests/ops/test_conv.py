"""Hand-worked convolution and pooling examples, TF1 naming, dtype rules and error messages."""

import numpy as np
import pytest

import flowgraph as tf
from flowgraph.ops import conv as nn


def run(fetches, feed=None, graph=None):
    with tf.Session(graph=graph or tf.get_default_graph()) as sess:
        return sess.run(fetches, feed)


@pytest.fixture(autouse=True)
def fresh_graph():
    with tf.Graph().as_default() as g:
        yield g


# ---------------------------------------------------------------------------------------------
# Hand examples
# ---------------------------------------------------------------------------------------------
def test_conv1d_is_cross_correlation_and_flipped_kernel_gives_np_convolve():
    x = np.array([0, 1, 2, 3, 4], np.float32)
    w = np.array([1, -1, 2], np.float32)
    xt = tf.constant(x.reshape(1, 5, 1))
    corr = nn.conv1d(xt, tf.constant(w.reshape(3, 1, 1)), stride=1, padding="VALID")
    conv = nn.conv1d(xt, tf.constant(w[::-1].reshape(3, 1, 1)), stride=1, padding="VALID")
    c, v = run([corr, conv])
    # y[i] = x[i] - x[i+1] + 2 x[i+2]: TF slides the kernel without flipping it.
    np.testing.assert_array_equal(c.ravel(), [3, 5, 7])
    np.testing.assert_array_equal(v.ravel(), np.convolve(x, w, "valid"))
    np.testing.assert_array_equal(v.ravel(), [1, 3, 5])


def _cs231n_example():
    x = np.array(
        [
            [[1, 2, 0, 1, 2], [0, 2, 2, 0, 0], [2, 1, 1, 2, 1], [0, 0, 1, 2, 1], [1, 1, 0, 0, 2]],
            [[0, 1, 0, 2, 2], [2, 2, 1, 0, 1], [1, 2, 2, 0, 0], [1, 0, 0, 1, 0], [2, 2, 1, 2, 0]],
            [[2, 0, 0, 0, 1], [0, 1, 2, 1, 2], [2, 2, 2, 1, 0], [0, 1, 1, 0, 2], [2, 1, 0, 1, 1]],
        ],
        np.float64,
    ).transpose(1, 2, 0)  # (H, W, C) = 5x5x3
    rng = np.random.default_rng(3)
    w = rng.integers(-1, 2, size=(3, 3, 3, 2)).astype(np.float64)  # two 3x3x3 filters
    b = np.array([1.0, 0.0])
    return x, w, b


def test_5x5x3_stride2_pad1_two_filters_matches_hand_loop():
    x, w, b = _cs231n_example()
    xp = np.pad(x, ((1, 1), (1, 1), (0, 0)))
    want = np.zeros((3, 3, 2))
    for i in range(3):
        for j in range(3):
            for k in range(2):
                want[i, j, k] = np.sum(xp[2 * i : 2 * i + 3, 2 * j : 2 * j + 3, :] * w[..., k]) + b[k]
    padded = nn.conv2d(tf.constant(xp[None]), tf.constant(w), strides=[1, 2, 2, 1], padding="VALID") + b
    explicit = nn.conv2d(tf.constant(x[None]), tf.constant(w), strides=2, padding=[[0, 0], [1, 1], [1, 1], [0, 0]]) + b
    same = nn.conv2d(tf.constant(x[None]), tf.constant(w), strides=2, padding="SAME") + b  # pad_total 2: 1 each side
    got = run([padded, explicit, same])
    assert padded.shape.as_list() == [1, 3, 3, 2]
    for g in got:
        np.testing.assert_array_equal(g[0], want)


def test_max_pool_ties_route_gradient_to_first_maximum():
    x = np.array([[1, 3, 2, 2], [3, 0, 2, 1], [0, 5, 1, 1], [5, 5, 1, 1]], np.float32).reshape(1, 4, 4, 1)
    xt = tf.constant(x)
    y = nn.max_pool(xt, ksize=2, strides=2, padding="VALID")
    g = np.array([[10, 20], [30, 40]], np.float32).reshape(1, 2, 2, 1)
    (dx,) = tf.gradients(y, xt, grad_ys=tf.constant(g))
    yv, dxv = run([y, dx])
    np.testing.assert_array_equal(yv[0, :, :, 0], [[3, 2], [5, 1]])
    want = np.zeros((4, 4), np.float32)
    want[0, 1], want[0, 2], want[2, 1], want[2, 2] = 10, 20, 30, 40  # row-major first of each window
    np.testing.assert_array_equal(dxv[0, :, :, 0], want)
    assert dx.op.type == "MaxPoolGrad" and dxv.dtype == np.float32


def test_overlapping_max_pool_gradient_accumulates_at_shared_maximum():
    x = np.zeros((1, 3, 3, 1))
    x[0, 1, 1, 0] = 9.0  # the centre is the maximum of all four 2x2 windows
    xt = tf.constant(x)
    (dx,) = tf.gradients(tf.reduce_sum(nn.max_pool(xt, 2, 1, "VALID")), xt)
    want = np.zeros((3, 3))
    want[1, 1] = 4.0
    np.testing.assert_array_equal(run(dx)[0, :, :, 0], want)


def test_avg_pool_same_averages_only_real_elements():
    x = np.arange(9, dtype=np.float64).reshape(1, 3, 3, 1)
    y = run(nn.avg_pool(tf.constant(x), ksize=2, strides=2, padding="SAME"))
    # SAME on 3 with k=2, s=2: pad_total 1, all after; border windows hold 2 or 1 real elements.
    np.testing.assert_allclose(y[0, :, :, 0], [[(0 + 1 + 3 + 4) / 4, (2 + 5) / 2], [(6 + 7) / 2, 8]])


def test_float32_stays_float32_through_gradients():
    x = tf.constant(np.random.default_rng(0).standard_normal((2, 6, 6, 3)).astype(np.float32))
    w = tf.constant(np.random.default_rng(1).standard_normal((3, 3, 3, 4)).astype(np.float32))
    y = nn.max_pool(nn.conv2d(x, w, 1, "SAME"), 2, 2, "VALID")
    y = nn.avg_pool(y, 1, 1, "VALID")
    grads = tf.gradients(tf.reduce_sum(y * y), [x, w])
    for v in run([y] + grads):
        assert v.dtype == np.float32


# ---------------------------------------------------------------------------------------------
# Names, static shapes, sharing of the forward's patches
# ---------------------------------------------------------------------------------------------
def test_tf1_op_names():
    x = tf.placeholder(tf.float32, [None, 28, 28, 1])
    w = tf.placeholder(tf.float32, [5, 5, 1, 6])
    y = nn.conv2d(x, w, strides=[1, 1, 1, 1], padding="SAME")
    y1 = nn.conv2d(x, w, strides=[1, 1, 1, 1], padding="SAME")
    with tf.name_scope("block"):
        p = nn.max_pool(y, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
        a = nn.avg_pool(y, 2, 2, "VALID")
    assert (y.name, y1.name, p.name, a.name) == ("Conv2D:0", "Conv2D_1:0", "block/MaxPool:0", "block/AvgPool:0")
    assert y.shape.as_list() == [None, 28, 28, 6] and p.shape.as_list() == [None, 14, 14, 6]
    dx, dw = tf.gradients(tf.reduce_sum(p), [x, w])
    assert dx.name == "gradients/Conv2D_grad/Conv2DBackpropInput:0"
    assert dw.name == "gradients/Conv2D_grad/Conv2DBackpropFilter:0"
    t = nn.conv2d_transpose(
        tf.placeholder(tf.float32, [2, 4, 4, 3]), tf.placeholder(tf.float32, [3, 3, 5, 3]), [2, 8, 8, 5], strides=2
    )
    assert t.name == "conv2d_transpose:0" and t.op.type == "Conv2DBackpropInput" and t.shape.as_list() == [2, 8, 8, 5]
    img = tf.placeholder(tf.float32, [2, 8, 8, 3])
    d = nn.depthwise_conv2d(img, tf.placeholder(tf.float32, [3, 3, 3, 2]), [1, 1, 1, 1], "SAME")
    sep = nn.separable_conv2d(
        img, tf.placeholder(tf.float32, [3, 3, 3, 2]), tf.placeholder(tf.float32, [1, 1, 6, 5]), [1, 2, 2, 1], "SAME"
    )
    assert (d.name, d.op.type, d.shape.as_list()) == ("depthwise:0", "DepthwiseConv2dNative", [2, 8, 8, 6])
    assert sep.name == "separable_conv2d:0" and sep.shape.as_list() == [2, 4, 4, 5]
    assert sep.op.inputs[0].name == "separable_conv2d/depthwise:0"
    c = nn.conv1d(tf.placeholder(tf.float32, [None, 10, 2]), tf.placeholder(tf.float32, [3, 2, 4]), 1, "VALID")
    assert c.name == "conv1d/Squeeze:0" and c.shape.as_list() == [None, 8, 4]


def test_conv2d_transpose_output_shape_may_hold_tensors():
    v = tf.placeholder(tf.float64, [None, 3, 4, 2])
    w = tf.constant(np.random.default_rng(0).standard_normal((3, 3, 5, 2)))
    t = nn.conv2d_transpose(v, w, [tf.shape(v)[0], 6, 8, 5], strides=2, padding="SAME")
    assert t.shape.as_list()[1:] == [6, 8, 5]
    vv = np.random.default_rng(1).standard_normal((2, 3, 4, 2))
    # conv2d_transpose is the adjoint of conv2d: <conv2d(u), v> == <u, conv2d_transpose(v)>.
    u = np.random.default_rng(2).standard_normal((2, 6, 8, 5))
    fwd = nn.conv2d(tf.constant(u), w, strides=2, padding="SAME")
    with tf.Session() as sess:
        tv, fv = sess.run([t, fwd], {v: vv})
    np.testing.assert_allclose(np.sum(fv * vv), np.sum(u * tv), rtol=1e-10)


def test_filter_gradient_reuses_patches_and_sees_in_place_feed_changes(monkeypatch):
    calls = []
    real = nn._patches
    monkeypatch.setattr(nn, "_patches", lambda *a: calls.append(1) or real(*a))
    x = tf.placeholder(tf.float64, [2, 6, 5, 3])
    w = tf.constant(np.random.default_rng(0).standard_normal((3, 3, 3, 2)))
    y = nn.conv2d(x, w, strides=1, padding="SAME")
    (dw,) = tf.gradients(tf.reduce_sum(y), [w])  # the gradient does not need y's value
    buf = np.random.default_rng(1).standard_normal((2, 6, 5, 3))
    with tf.Session() as sess:
        sess.run(y, {x: buf})  # a forward-only run first
        buf *= -2.0  # the caller mutates the fed array in place
        got = sess.run(dw, {x: buf})
        calls.clear()
        sess.run([y, dw], {x: buf})
    assert len(calls) == 1  # one im2col serves forward and filter gradient
    want = run(nn.conv2d_backprop_filter(tf.constant(buf), [3, 3, 3, 2], tf.ones([2, 6, 5, 2], tf.float64), 1, "SAME"))
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize(
    "x_shape, w_shape, strides, padding",
    [
        ((3, 9, 8, 1), (5, 4, 1, 2), 1, "SAME"),  # patches taps-first; input gradient by long runs
        ((3, 7, 6, 5), (3, 3, 5, 4), 1, "VALID"),  # input gradient by long runs
        ((3, 7, 6, 12), (3, 2, 12, 3), 2, "SAME"),  # input gradient tap by tap
        ((3, 5, 4, 64), (3, 3, 64, 2), 1, "SAME"),  # input gradient as a correlation of padded g
    ],
)
def test_chunked_batches_match_one_chunk(monkeypatch, x_shape, w_shape, strides, padding):
    rng = np.random.default_rng(0)
    x = tf.placeholder(tf.float64, x_shape)
    w = tf.constant(rng.standard_normal(w_shape))
    y = nn.conv2d(x, w, strides=strides, padding=padding)
    fetches = [y, *tf.gradients(tf.reduce_sum(y * y), [x, w])]
    feed = {x: rng.standard_normal(x_shape)}
    whole = run(fetches, feed)
    monkeypatch.setattr(nn, "_CHUNK_BYTES", 1)  # one image per chunk
    for got, want in zip(run(fetches, feed), whole):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(run(y, feed), whole[0], rtol=1e-12, atol=1e-12)  # forward alone keeps no patches


def test_unknown_static_shapes_run_and_check_at_run_time():
    x = tf.placeholder(tf.float64)
    w = tf.placeholder(tf.float64)
    y = nn.conv2d(x, w, strides=1, padding="VALID")
    assert y.shape.ndims == 4
    with tf.Session() as sess:
        out = sess.run(y, {x: np.ones((1, 4, 4, 2)), w: np.ones((2, 2, 2, 3))})
        np.testing.assert_array_equal(out, np.full((1, 3, 3, 3), 8.0))
        with pytest.raises(
            tf.errors.InvalidArgumentError,
            match=r"input \[1, 4, 4, 2\] \(depth 2\), filter \[2, 2, 3, 3\] \(input depth 3\)",
        ):
            sess.run(y, {x: np.ones((1, 4, 4, 2)), w: np.ones((2, 2, 3, 3))})


# ---------------------------------------------------------------------------------------------
# Errors name the operands
# ---------------------------------------------------------------------------------------------
def test_channel_mismatch_names_both_operands():
    x = tf.placeholder(tf.float32, [1, 5, 5, 3], name="images")
    w = tf.placeholder(tf.float32, [3, 3, 2, 4], name="kernel")
    with pytest.raises(ValueError, match=r"Depth of input \(3\).*filter \(2\).*images:0.*kernel:0"):
        nn.conv2d(x, w, strides=1, padding="SAME")


def test_shape_and_dtype_errors():
    x = tf.placeholder(tf.float32, [1, 5, 5, 3], name="images")
    with pytest.raises(ValueError, match=r"rank-4 input.*images3:0"):
        nn.conv2d(
            tf.placeholder(tf.float32, [5, 5, 3], name="images3"), tf.placeholder(tf.float32, [3, 3, 3, 1]), 1, "SAME"
        )
    with pytest.raises(TypeError, match=r"filter.*float64.*float32.*images:0"):
        nn.conv2d(x, tf.placeholder(tf.float64, [3, 3, 3, 1]), 1, "SAME")
    with pytest.raises(ValueError, match=r"Negative dimension size caused by subtracting 7 from 5"):
        nn.conv2d(x, tf.placeholder(tf.float32, [7, 7, 3, 1]), 1, "VALID")
    with pytest.raises(ValueError, match=r"strides should be of length 1, 2 or 4 but was 3"):
        nn.conv2d(x, tf.placeholder(tf.float32, [3, 3, 3, 1]), [1, 2, 2], "SAME")
    with pytest.raises(ValueError, match=r"padding must be 'SAME' or 'VALID'"):
        nn.conv2d(x, tf.placeholder(tf.float32, [3, 3, 3, 1]), 1, "same")
    with pytest.raises(ValueError, match=r"batch and channel"):
        nn.conv2d(x, tf.placeholder(tf.float32, [3, 3, 3, 1]), [2, 1, 1, 1], "SAME")
    with pytest.raises(ValueError, match=r"batch and channel"):
        nn.conv2d(x, tf.placeholder(tf.float32, [3, 3, 3, 1]), 1, [[1, 0], [1, 1], [1, 1], [0, 0]])
    with pytest.raises(ValueError, match=r"both 'filter' and 'filters'"):
        nn.conv2d(x, filter=x, filters=x, strides=1, padding="SAME")
    with pytest.raises(TypeError, match=r"half, float32 or float64.*int32"):
        nn.conv2d(tf.placeholder(tf.int32, [1, 5, 5, 3]), tf.placeholder(tf.int32, [3, 3, 3, 1]), 1, "SAME")
    with pytest.raises(ValueError, match=r"data_format"):
        nn.conv2d(x, tf.placeholder(tf.float32, [3, 3, 3, 1]), 1, "SAME", data_format="NWHC")


def test_depthwise_errors_name_operands():
    x = tf.placeholder(tf.float32, [1, 5, 5, 3], name="maps")
    with pytest.raises(ValueError, match=r"Depth of input \(3\).*filter \(4\).*maps:0.*dw:0"):
        nn.depthwise_conv2d(x, tf.placeholder(tf.float32, [3, 3, 4, 1], name="dw"), [1, 1, 1, 1], "SAME")
    with pytest.raises(ValueError, match=r"pointwise_filter must be \[1, 1"):
        nn.separable_conv2d(x, tf.zeros([3, 3, 3, 1]), tf.zeros([3, 3, 3, 4]), [1, 1, 1, 1], "SAME")
    with pytest.raises(ValueError, match=r"both 'rate' and 'dilations'"):
        nn.depthwise_conv2d(x, tf.zeros([3, 3, 3, 1]), [1, 1, 1, 1], "SAME", rate=[2, 2], dilations=[2, 2])


def test_backprop_and_transpose_errors_name_operands():
    w = tf.placeholder(tf.float32, [3, 3, 4, 2], name="w")
    with pytest.raises(ValueError, match=r"input channels does not match.*3 != 2"):
        nn.conv2d_transpose(tf.placeholder(tf.float32, [1, 4, 4, 3], name="v"), w, [1, 8, 8, 4], strides=2)
    with pytest.raises(ValueError, match=r"output_shape does not match.*5 != 4"):
        nn.conv2d_transpose(tf.placeholder(tf.float32, [1, 4, 4, 2], name="v"), w, [1, 8, 8, 5], strides=2)
    with pytest.raises(ValueError, match=r"out_backprop.*g:0.*does not match the convolution output size"):
        nn.conv2d_backprop_input([1, 8, 8, 4], w, tf.placeholder(tf.float32, [1, 5, 4, 2], name="g"), 2, "SAME")
    with pytest.raises(ValueError, match=r"out_backprop \(3\).*output depth of filter \(2\)"):
        nn.conv2d_backprop_input([1, 8, 8, 4], w, tf.placeholder(tf.float32, [1, 4, 4, 3], name="g"), 2, "SAME")


def test_pool_errors():
    x = tf.placeholder(tf.float32, [1, 4, 4, 3], name="feat")
    with pytest.raises(ValueError, match=r"ksize .* batch and channel"):
        nn.max_pool(x, [1, 2, 2, 2], [1, 2, 2, 1], "VALID")
    with pytest.raises(ValueError, match=r"ksize should be of length 1, 2 or 4 but was 3"):
        nn.max_pool(x, [2, 2, 1], 2, "VALID")
    with pytest.raises(ValueError, match=r"Negative dimension size caused by subtracting 5 from 4"):
        nn.avg_pool(x, 5, 1, "VALID")
    with pytest.raises(ValueError, match=r"rank-4 input.*feat3:0"):
        nn.max_pool(tf.placeholder(tf.float32, [4, 4, 3], name="feat3"), 2, 2, "VALID")
    with pytest.raises(TypeError, match=r"AvgPool needs half, float32 or float64.*int32"):
        nn.avg_pool(tf.placeholder(tf.int32, [1, 4, 4, 3]), 2, 2, "VALID")
