"""Cases for convolution and pooling, each checked against a plain-loop NumPy reference below.

The references loop over output pixels and window taps (vectorised only over batch and channels),
and derive output sizes and TF's SAME padding from the formula independently of flowgraph.
"""

import numpy as np
from op_case import OpCase, randn

import flowgraph as tf
from flowgraph.ops import conv as nn


# ---------------------------------------------------------------------------------------------
# Plain-loop references (NHWC; NCHW callers transpose)
# ---------------------------------------------------------------------------------------------
def out_and_pad(n, k, s, d, padding, explicit=(0, 0)):
    """(output size, padding before) of one axis: TF's VALID / SAME / explicit rules."""
    eff = (k - 1) * d + 1
    if padding == "SAME":
        out = -(-n // s)
        return out, max((out - 1) * s + eff - n, 0) // 2
    if padding == "VALID":
        return (n - eff) // s + 1, 0
    return (n + explicit[0] + explicit[1] - eff) // s + 1, explicit[0]


def windows(h, w, kh, kw, strides, padding, dilations=(1, 1), explicit=((0, 0), (0, 0))):
    """Yields (i, j, a, b, r, c): output (i, j) reads input (r, c) through tap (a, b), in range only."""
    oh, ph = out_and_pad(h, kh, strides[0], dilations[0], padding, explicit[0])
    ow, pw = out_and_pad(w, kw, strides[1], dilations[1], padding, explicit[1])
    for i in range(oh):
        for j in range(ow):
            for a in range(kh):
                for b in range(kw):
                    r = i * strides[0] + a * dilations[0] - ph
                    c = j * strides[1] + b * dilations[1] - pw
                    if 0 <= r < h and 0 <= c < w:
                        yield i, j, a, b, r, c


def out_hw(h, w, kh, kw, strides, padding, dilations=(1, 1), explicit=((0, 0), (0, 0))):
    return (
        out_and_pad(h, kh, strides[0], dilations[0], padding, explicit[0])[0],
        out_and_pad(w, kw, strides[1], dilations[1], padding, explicit[1])[0],
    )


def ref_conv(x, w, strides=(1, 1), padding="VALID", dilations=(1, 1), explicit=((0, 0), (0, 0))):
    n, h, wd, _ = x.shape
    kh, kw, _, o = w.shape
    oh, ow = out_hw(h, wd, kh, kw, strides, padding, dilations, explicit)
    out = np.zeros((n, oh, ow, o))
    for i, j, a, b, r, c in windows(h, wd, kh, kw, strides, padding, dilations, explicit):
        out[:, i, j] += x[:, r, c] @ w[a, b]
    return out


def ref_conv_input_grad(x_shape, w, g, strides=(1, 1), padding="VALID", dilations=(1, 1)):
    h, wd = x_shape[1:3]
    kh, kw = w.shape[:2]
    dx = np.zeros(x_shape)
    for i, j, a, b, r, c in windows(h, wd, kh, kw, strides, padding, dilations):
        dx[:, r, c] += g[:, i, j] @ w[a, b].T
    return dx


def ref_conv_filter_grad(x, w_shape, g, strides=(1, 1), padding="VALID", dilations=(1, 1)):
    _, h, wd, _ = x.shape
    dw = np.zeros(w_shape)
    for i, j, a, b, r, c in windows(h, wd, w_shape[0], w_shape[1], strides, padding, dilations):
        dw[a, b] += x[:, r, c].T @ g[:, i, j]
    return dw


def ref_depthwise(x, w, strides=(1, 1), padding="VALID", dilations=(1, 1)):
    n, h, wd, c = x.shape
    kh, kw, _, m = w.shape
    oh, ow = out_hw(h, wd, kh, kw, strides, padding, dilations)
    out = np.zeros((n, oh, ow, c * m))
    for i, j, a, b, r, cc in windows(h, wd, kh, kw, strides, padding, dilations):
        out[:, i, j] += (x[:, r, cc, :, None] * w[a, b]).reshape(n, c * m)
    return out


def ref_depthwise_input_grad(x_shape, w, g, strides=(1, 1), padding="VALID", dilations=(1, 1)):
    n, h, wd, c = x_shape
    kh, kw, _, m = w.shape
    dx = np.zeros(x_shape)
    for i, j, a, b, r, cc in windows(h, wd, kh, kw, strides, padding, dilations):
        dx[:, r, cc] += (g[:, i, j].reshape(n, c, m) * w[a, b]).sum(-1)
    return dx


def ref_depthwise_filter_grad(x, w_shape, g, strides=(1, 1), padding="VALID", dilations=(1, 1)):
    n, h, wd, c = x.shape
    dw = np.zeros(w_shape)
    for i, j, a, b, r, cc in windows(h, wd, w_shape[0], w_shape[1], strides, padding, dilations):
        dw[a, b] += np.einsum("nc,ncm->cm", x[:, r, cc], g[:, i, j].reshape(n, c, w_shape[3]))
    return dw


def ref_max_pool(x, k, s, padding):
    n, h, w, c = x.shape
    oh, ow = out_hw(h, w, k[0], k[1], s, padding)
    out = np.full((n, oh, ow, c), -np.inf)
    for i, j, _, _, r, cc in windows(h, w, k[0], k[1], s, padding):
        out[:, i, j] = np.maximum(out[:, i, j], x[:, r, cc])
    return out


def ref_max_pool_grad(x, g, k, s, padding):
    """Each output's gradient goes to the first maximum of its window in row-major order."""
    n, h, w, c = x.shape
    dx = np.zeros_like(x)
    per_out = {}
    for i, j, _, _, r, cc in windows(h, w, k[0], k[1], s, padding):
        per_out.setdefault((i, j), []).append((r, cc))
    bi, ci = np.meshgrid(np.arange(n), np.arange(c), indexing="ij")
    for (i, j), pos in per_out.items():
        vals = np.stack([x[:, r, cc] for r, cc in pos], axis=1)  # (n, taps, c)
        first = np.argmax(vals, axis=1)  # argmax returns the first of equal maxima
        rows = np.array([p[0] for p in pos])[first]
        cols = np.array([p[1] for p in pos])[first]
        np.add.at(dx, (bi, rows, cols, ci), g[:, i, j])
    return dx


def ref_avg_pool(x, k, s, padding):
    n, h, w, c = x.shape
    oh, ow = out_hw(h, w, k[0], k[1], s, padding)
    total = np.zeros((n, oh, ow, c))
    count = np.zeros((oh, ow, 1))
    for i, j, _, _, r, cc in windows(h, w, k[0], k[1], s, padding):
        total[:, i, j] += x[:, r, cc]
        count[i, j] += 1
    return total / count


def ref_avg_pool_grad(x_shape, g, k, s, padding):
    h, w = x_shape[1:3]
    oh, ow = out_hw(h, w, k[0], k[1], s, padding)
    count = np.zeros((oh, ow))
    for i, j, _, _, _, _ in windows(h, w, k[0], k[1], s, padding):
        count[i, j] += 1
    dx = np.zeros(x_shape)
    for i, j, _, _, r, cc in windows(h, w, k[0], k[1], s, padding):
        dx[:, r, cc] += g[:, i, j] / count[i, j]
    return dx


def nchw(f):
    """Wraps an NHWC reference for NCHW arrays (inputs and output transposed)."""

    def wrapped(x, *rest):
        return f(x.transpose(0, 2, 3, 1), *rest).transpose(0, 3, 1, 2)

    return wrapped


# ---------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------
X = randn(2, 7, 6, 3)
W = randn(3, 2, 3, 4, seed=1)

CASES = [
    OpCase(
        "conv2d_valid",
        lambda x, w: nn.conv2d(x, w, strides=[1, 1, 1, 1], padding="VALID"),
        [X, W],
        lambda x, w: ref_conv(x, w),
        second_order=True,
    ),
    OpCase(
        "conv2d_same_stride2",
        lambda x, w: nn.conv2d(x, w, strides=2, padding="SAME"),
        [X, randn(3, 3, 3, 2, seed=2)],
        lambda x, w: ref_conv(x, w, (2, 2), "SAME"),
        second_order=True,
    ),
    OpCase(
        "conv2d_stride_hw",
        lambda x, w: nn.conv2d(x, w, strides=[2, 1], padding="VALID"),
        [X, W],
        lambda x, w: ref_conv(x, w, (2, 1)),
    ),
    OpCase(
        "conv2d_nchw_same",
        lambda x, w: nn.conv2d(x, w, strides=[1, 1, 2, 1], padding="SAME", data_format="NCHW"),
        [randn(2, 3, 7, 6), W],
        nchw(lambda x, w: ref_conv(x, w, (2, 1), "SAME")),
        second_order=True,
    ),
    OpCase(
        "conv2d_dilation2_same",
        lambda x, w: nn.conv2d(x, w, strides=1, padding="SAME", dilations=2),
        [randn(2, 9, 8, 2), randn(3, 2, 2, 3, seed=3)],
        lambda x, w: ref_conv(x, w, (1, 1), "SAME", (2, 2)),
    ),
    OpCase(
        "conv2d_dilation2_valid_nchw",
        lambda x, w: nn.conv2d(x, w, strides=1, padding="VALID", dilations=[1, 1, 2, 1], data_format="NCHW"),
        [randn(1, 2, 9, 8), randn(3, 2, 2, 3, seed=3)],
        nchw(lambda x, w: ref_conv(x, w, (1, 1), "VALID", (2, 1))),
    ),
    OpCase(
        "conv2d_explicit_padding",
        lambda x, w: nn.conv2d(x, w, strides=[1, 2, 1, 1], padding=[[0, 0], [1, 2], [0, 1], [0, 0]]),
        [X, W],
        lambda x, w: ref_conv(x, w, (2, 1), "EXPLICIT", explicit=((1, 2), (0, 1))),
        second_order=True,
    ),
    OpCase(
        "conv2d_one_channel_same",
        lambda x, w: nn.conv2d(x, w, strides=1, padding="SAME"),
        [randn(3, 8, 7, 1), randn(5, 4, 1, 2, seed=4)],
        lambda x, w: ref_conv(x, w, (1, 1), "SAME"),
        second_order=True,
    ),
    OpCase(
        "conv2d_one_channel_stride2",
        lambda x, w: nn.conv2d(x, w, strides=2, padding="VALID"),
        [randn(3, 8, 7, 1), randn(3, 2, 1, 2, seed=4)],
        lambda x, w: ref_conv(x, w, (2, 2)),
    ),
    # 12 channels with stride 1: the input gradient scatters one GEMM per tap.
    OpCase(
        "conv2d_mid_channels_same",
        lambda x, w: nn.conv2d(x, w, strides=1, padding="SAME"),
        [randn(2, 5, 4, 12), randn(2, 3, 12, 3, seed=9)],
        lambda x, w: ref_conv(x, w, (1, 1), "SAME"),
    ),
    # 64 input channels with stride 1: the input gradient runs as a correlation of the re-padded g.
    OpCase(
        "conv2d_wide_same",
        lambda x, w: nn.conv2d(x, w, strides=1, padding="SAME"),
        [randn(2, 5, 4, 64), randn(3, 2, 64, 3, seed=9)],
        lambda x, w: ref_conv(x, w, (1, 1), "SAME"),
    ),
    OpCase(
        "conv2d_wide_dilated_explicit",
        lambda x, w: nn.conv2d(x, w, strides=1, padding=[[0, 0], [3, 0], [0, 5], [0, 0]], dilations=2),
        [randn(1, 6, 5, 64), randn(2, 3, 64, 2, seed=9)],
        lambda x, w: ref_conv(x, w, (1, 1), "EXPLICIT", (2, 2), ((3, 0), (0, 5))),
    ),
    OpCase(
        "conv2d_wide_backprop_input_valid",
        lambda w, g: nn.conv2d_backprop_input([2, 6, 5, 64], w, g, strides=1, padding="VALID"),
        [randn(3, 2, 64, 3, seed=9), randn(2, 4, 4, 3, seed=5)],
        lambda w, g: ref_conv_input_grad((2, 6, 5, 64), w, g),
    ),
    OpCase(
        "conv2d_backprop_input",
        lambda w, g: nn.conv2d_backprop_input([2, 7, 6, 3], w, g, strides=[1, 2, 2, 1], padding="SAME"),
        [randn(3, 3, 3, 2, seed=2), randn(2, 4, 3, 2, seed=5)],
        lambda w, g: ref_conv_input_grad((2, 7, 6, 3), w, g, (2, 2), "SAME"),
        second_order=True,
    ),
    OpCase(
        "conv2d_backprop_filter",
        lambda x, g: nn.conv2d_backprop_filter(x, [3, 2, 3, 4], g, strides=[1, 1, 1, 1], padding="VALID"),
        [X, randn(2, 5, 5, 4, seed=6)],
        lambda x, g: ref_conv_filter_grad(x, (3, 2, 3, 4), g),
        second_order=True,
    ),
    OpCase(
        "conv2d_backprop_filter_dilated_nchw",
        lambda x, g: nn.conv2d_backprop_filter(
            x, [2, 2, 3, 4], g, strides=[1, 1, 1, 2], padding="SAME", dilations=[1, 1, 2, 2], data_format="NCHW"
        ),
        [randn(2, 3, 7, 6), randn(2, 4, 7, 3, seed=6)],
        lambda x, g: ref_conv_filter_grad(
            x.transpose(0, 2, 3, 1), (2, 2, 3, 4), g.transpose(0, 2, 3, 1), (1, 2), "SAME", (2, 2)
        ),
    ),
    OpCase(
        "conv2d_transpose",
        lambda v, w: nn.conv2d_transpose(v, w, output_shape=[2, 7, 6, 2], strides=[1, 2, 2, 1], padding="SAME"),
        [randn(2, 4, 3, 4, seed=7), randn(3, 3, 2, 4, seed=8)],
        lambda v, w: ref_conv_input_grad((2, 7, 6, 2), w, v, (2, 2), "SAME"),
    ),
    OpCase(
        "conv1d_same_stride2",
        lambda x, w: nn.conv1d(x, w, stride=2, padding="SAME"),
        [randn(2, 9, 3), randn(3, 3, 2, seed=1)],
        lambda x, w: ref_conv(x[:, None], w[None], (1, 2), "SAME")[:, 0],
        second_order=True,
    ),
    OpCase(
        "conv1d_ncw_dilated",
        lambda x, w: nn.conv1d(x, w, stride=[1, 1, 1], padding="VALID", data_format="NCW", dilations=2),
        [randn(2, 3, 9), randn(3, 3, 2, seed=1)],
        lambda x, w: ref_conv(x.transpose(0, 2, 1)[:, None], w[None], (1, 1), "VALID", (1, 2))[:, 0].transpose(0, 2, 1),
    ),
    OpCase(
        "depthwise_same_stride2",
        lambda x, w: nn.depthwise_conv2d(x, w, [1, 2, 2, 1], "SAME"),
        [X, randn(3, 3, 3, 2, seed=2)],
        lambda x, w: ref_depthwise(x, w, (2, 2), "SAME"),
        second_order=True,
    ),
    OpCase(
        "depthwise_nchw_rate",
        lambda x, w: nn.depthwise_conv2d(x, w, [1, 1, 1, 1], "VALID", rate=[2, 1], data_format="NCHW"),
        [randn(2, 3, 7, 6), randn(3, 2, 3, 1, seed=2)],
        nchw(lambda x, w: ref_depthwise(x, w, (1, 1), "VALID", (2, 1))),
        second_order=True,
    ),
    OpCase(
        "depthwise_backprop_input",
        lambda w, g: nn.depthwise_conv2d_native_backprop_input([2, 7, 6, 3], w, g, [1, 2, 1, 1], "SAME"),
        [randn(3, 2, 3, 2, seed=2), randn(2, 4, 6, 6, seed=5)],
        lambda w, g: ref_depthwise_input_grad((2, 7, 6, 3), w, g, (2, 1), "SAME"),
        second_order=True,
    ),
    OpCase(
        "depthwise_backprop_filter",
        lambda x, g: nn.depthwise_conv2d_native_backprop_filter(x, [3, 2, 3, 2], g, [1, 1, 1, 1], "VALID"),
        [X, randn(2, 5, 5, 6, seed=6)],
        lambda x, g: ref_depthwise_filter_grad(x, (3, 2, 3, 2), g),
        second_order=True,
    ),
    OpCase(
        "separable_conv2d",
        lambda x, d, p: nn.separable_conv2d(x, d, p, [1, 1, 1, 1], "SAME"),
        [X, randn(3, 3, 3, 2, seed=2), randn(1, 1, 6, 4, seed=3)],
        lambda x, d, p: ref_conv(ref_depthwise(x, d, (1, 1), "SAME"), p),
    ),
    OpCase(
        "max_pool_2x2",
        lambda x: nn.max_pool(x, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="VALID"),
        [randn(2, 6, 8, 3)],
        lambda x: ref_max_pool(x, (2, 2), (2, 2), "VALID"),
    ),
    OpCase(
        "max_pool_3x3_same_overlap",
        lambda x: nn.max_pool(x, ksize=3, strides=2, padding="SAME"),
        [randn(2, 7, 6, 3)],
        lambda x: ref_max_pool(x, (3, 3), (2, 2), "SAME"),
    ),
    OpCase(
        "max_pool_nchw",
        lambda x: nn.max_pool2d(x, ksize=[3, 2], strides=[2, 1], padding="VALID", data_format="NCHW"),
        [randn(2, 3, 7, 6)],
        nchw(lambda x: ref_max_pool(x, (3, 2), (2, 1), "VALID")),
    ),
    OpCase(
        "max_pool_grad",
        lambda x, g: tf.gradients(nn.max_pool(x, 3, 2, "SAME"), x, grad_ys=g)[0],
        [randn(2, 7, 6, 3), randn(2, 4, 3, 3, seed=1)],
        lambda x, g: ref_max_pool_grad(x, g, (3, 3), (2, 2), "SAME"),
        grad_inputs=(1,),
        second_order=True,
    ),
    OpCase(
        "max_pool_grad_nchw",
        lambda x, g: tf.gradients(nn.max_pool(x, 2, 2, "VALID", data_format="NCHW"), x, grad_ys=g)[0],
        [randn(2, 3, 6, 4), randn(2, 3, 3, 2, seed=1)],
        lambda x, g: ref_max_pool_grad(
            x.transpose(0, 2, 3, 1), g.transpose(0, 2, 3, 1), (2, 2), (2, 2), "VALID"
        ).transpose(0, 3, 1, 2),
        grad_inputs=(1,),
    ),
    OpCase(
        "avg_pool_2x2",
        lambda x: nn.avg_pool(x, ksize=2, strides=2, padding="VALID"),
        [randn(2, 6, 8, 3)],
        lambda x: ref_avg_pool(x, (2, 2), (2, 2), "VALID"),
        second_order=True,
    ),
    OpCase(
        "avg_pool_3x3_same",
        lambda x: nn.avg_pool(x, ksize=[1, 3, 3, 1], strides=[1, 2, 2, 1], padding="SAME"),
        [randn(2, 7, 6, 3)],
        lambda x: ref_avg_pool(x, (3, 3), (2, 2), "SAME"),
        second_order=True,
    ),
    OpCase(
        "avg_pool_nchw_same",
        lambda x: nn.avg_pool2d(x, ksize=[2, 3], strides=[1, 2], padding="SAME", data_format="NCHW"),
        [randn(2, 3, 5, 7)],
        nchw(lambda x: ref_avg_pool(x, (2, 3), (1, 2), "SAME")),
    ),
    OpCase(
        "avg_pool_grad",
        lambda x, g: tf.gradients(nn.avg_pool(x, 3, 2, "SAME"), x, grad_ys=g)[0],
        [randn(2, 7, 6, 3), randn(2, 4, 3, 3, seed=1)],
        lambda x, g: ref_avg_pool_grad(x.shape, g, (3, 3), (2, 2), "SAME"),
        grad_inputs=(1,),
        second_order=True,
    ),
]
