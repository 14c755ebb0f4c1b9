"""Cases for the nn ops: activations, softmax, cross-entropies, bias_add, batch norm, l2_loss, in_top_k."""

import numpy as np
from op_case import OpCase, randn, uniform

import flowgraph as tf
import flowgraph.nn  # makes tf.nn available before the lead exports it
from flowgraph.ops import nn
from flowgraph.ops.op_helpers import make_op

SELU_SCALE = 1.0507009873554804934193349852946
SELU_ALPHA = 1.6732632423543772848170429916717


def away(x, d=0.2):
    """Moves values away from 0 so finite differences never straddle a kink."""
    return x + d * np.sign(x)


def np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_log_softmax(x, axis=-1):
    s = x - x.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


def np_bn(x, scale, offset, mean, var, eps, c_axis):
    shp = [1] * x.ndim
    shp[c_axis] = -1
    def r(v):
        return v.reshape(shp)

    return (x - r(mean)) / np.sqrt(r(var) + eps) * r(scale) + r(offset)


def np_bn_train(x, scale, offset, c_axis, eps=0.001):
    axes = tuple(i for i in range(x.ndim) if i != c_axis)
    m, v = x.mean(axes), x.var(axes)
    n = x.size // x.shape[c_axis]
    return np_bn(x, scale, offset, m, v, eps, c_axis), m, v * n / (n - 1)


def labels_dist(*shape, seed=3, axis=-1):
    """Rows that sum to 1 along ``axis`` (the fused op's backprop assumes a distribution, as in TF)."""
    return np_softmax(randn(*shape, seed=seed), axis)


X = away(randn(3, 4))
RELU6_X = np.array([[-1.5, 0.5, 2.0, 5.5], [6.7, -0.3, 3.3, 7.9], [0.9, 1.1, -4.0, 4.4]])

CASES = [
    # activations
    OpCase("relu", lambda x: tf.nn.relu(x), [X], lambda x: np.maximum(x, 0), second_order=True),
    OpCase("relu_int", lambda x: tf.nn.relu(x), [np.array([-2, 0, 3], np.int32)], lambda x: np.maximum(x, 0),
           grad=False),
    OpCase("relu6", lambda x: tf.nn.relu6(x), [RELU6_X], lambda x: np.clip(x, 0, 6), second_order=True),
    OpCase("leaky_relu", lambda x: tf.nn.leaky_relu(x, alpha=0.1), [X], lambda x: np.where(x > 0, x, 0.1 * x),
           second_order=True),
    OpCase("leaky_relu_default", lambda x: tf.nn.leaky_relu(x), [X], lambda x: np.where(x > 0, x, 0.2 * x)),
    OpCase("elu", lambda x: tf.nn.elu(x), [X], lambda x: np.where(x < 0, np.expm1(x), x), second_order=True),
    OpCase("selu", lambda x: tf.nn.selu(x), [X],
           lambda x: SELU_SCALE * np.where(x < 0, SELU_ALPHA * np.expm1(x), x), second_order=True),
    OpCase("softplus", lambda x: tf.nn.softplus(x), [randn(3, 4) * 3], lambda x: np.log1p(np.exp(x)),
           second_order=True),
    OpCase("softsign", lambda x: tf.nn.softsign(x), [X], lambda x: x / (1 + np.abs(x)), second_order=True),
    # softmax family
    OpCase("softmax", lambda x: tf.nn.softmax(x), [randn(3, 5)], np_softmax, second_order=True),
    OpCase("softmax_axis0", lambda x: tf.nn.softmax(x, axis=0), [randn(3, 5)], lambda x: np_softmax(x, 0),
           second_order=True),
    OpCase("softmax_dim_mid", lambda x: tf.nn.softmax(x, dim=1), [randn(2, 3, 4)], lambda x: np_softmax(x, 1)),
    OpCase("log_softmax", lambda x: tf.nn.log_softmax(x), [randn(3, 5)], np_log_softmax, second_order=True),
    OpCase("log_softmax_axis0", lambda x: tf.nn.log_softmax(x, axis=0), [randn(4, 3)], lambda x: np_log_softmax(x, 0),
           second_order=True),
    # cross-entropies
    OpCase("softmax_xent_v2", lambda z, x: tf.nn.softmax_cross_entropy_with_logits_v2(labels=z, logits=x),
           [labels_dist(3, 5), randn(3, 5)], lambda z, x: -(z * np_log_softmax(x)).sum(-1), second_order=True),
    OpCase("softmax_xent_v2_rank3_axis1",
           lambda z, x: tf.nn.softmax_cross_entropy_with_logits_v2(labels=z, logits=x, axis=1),
           [labels_dist(2, 4, 3, axis=1), randn(2, 4, 3)], lambda z, x: -(z * np_log_softmax(x, 1)).sum(1),
           second_order=True),
    OpCase("softmax_xent_v1", lambda z, x: tf.nn.softmax_cross_entropy_with_logits(labels=z, logits=x),
           [labels_dist(4, 3), randn(4, 3)], lambda z, x: -(z * np_log_softmax(x)).sum(-1), grad_inputs=(1,),
           second_order=True),
    OpCase("sparse_softmax_xent",
           lambda lab, x: tf.nn.sparse_softmax_cross_entropy_with_logits(labels=lab, logits=x),
           [np.array([0, 4, 2], np.int32), randn(3, 5)],
           lambda lab, x: -np_log_softmax(x)[np.arange(3), lab], second_order=True),
    OpCase("sparse_softmax_xent_rank3_int64",
           lambda lab, x: tf.nn.sparse_softmax_cross_entropy_with_logits(labels=lab, logits=x),
           [np.array([[0, 3], [2, 1]], np.int64), randn(2, 2, 4)],
           lambda lab, x: -np.take_along_axis(np_log_softmax(x), lab[..., None], -1)[..., 0]),
    OpCase("sigmoid_xent", lambda z, x: tf.nn.sigmoid_cross_entropy_with_logits(labels=z, logits=x),
           [uniform(0, 1, 3, 4, seed=1), away(randn(3, 4) * 3)],
           lambda z, x: np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x))), second_order=True),
    OpCase("weighted_xent", lambda z, x: tf.nn.weighted_cross_entropy_with_logits(labels=z, logits=x, pos_weight=2.5),
           [uniform(0, 1, 4, 3, seed=1), away(randn(4, 3) * 3)],
           lambda z, x: -(2.5 * z * np.log(1 / (1 + np.exp(-x))) + (1 - z) * np.log(1 - 1 / (1 + np.exp(-x)))),
           second_order=True),
    # bias_add
    OpCase("bias_add_nhwc", lambda x, b: tf.nn.bias_add(x, b), [randn(2, 3, 4, 5), randn(5, seed=1)],
           lambda x, b: x + b, second_order=True),
    OpCase("bias_add_nchw", lambda x, b: tf.nn.bias_add(x, b, data_format="NCHW"),
           [randn(2, 3, 4, 5), randn(3, seed=1)], lambda x, b: x + b.reshape(3, 1, 1)),
    OpCase("bias_add_2d", lambda x, b: tf.nn.bias_add(x, b), [randn(4, 3), randn(3, seed=1)], lambda x, b: x + b),
    OpCase("bias_add_grad_nhwc", lambda g: make_op("BiasAddGrad", [g], {"data_format": "NHWC"}), [randn(2, 3, 4)],
           lambda g: g.sum((0, 1)), second_order=True),
    OpCase("bias_add_grad_nchw", lambda g: make_op("BiasAddGrad", [g], {"data_format": "NCHW"}), [randn(2, 3, 4, 5)],
           lambda g: g.sum((0, 2, 3))),
    OpCase("xw_plus_b", lambda x, w, b: tf.nn.xw_plus_b(x, w, b), [randn(2, 3), randn(3, 4, seed=1), randn(4, seed=2)],
           lambda x, w, b: x @ w + b),
    # l2_loss, in_top_k
    OpCase("l2_loss", lambda x: tf.nn.l2_loss(x), [randn(3, 4)], lambda x: np.sum(x * x) / 2, second_order=True),
    OpCase("in_top_k",
           lambda p, t: tf.nn.in_top_k(p, t, 2),
           [np.array([[0.1, 0.5, 0.5, 0.2], [0.9, 0.8, 0.7, 0.6], [0.3, 0.3, 0.3, 0.3]], np.float32),
            np.array([3, 2, 1], np.int32)],
           lambda p, t: np.array([False, False, True]), grad=False),
    # moments and (composite) batch normalization
    OpCase("moments", lambda x: list(tf.nn.moments(x, axes=[0, 2])), [randn(3, 4, 5)],
           lambda x: [x.mean((0, 2)), x.var((0, 2))]),  # TF1's stop_gradient(mean) makes 2nd order inexact
    OpCase("moments_keep_dims", lambda x: list(tf.nn.moments(x, axes=[1], keep_dims=True)), [randn(3, 4)],
           lambda x: [x.mean(1, keepdims=True), x.var(1, keepdims=True)]),
    OpCase("batch_normalization",
           lambda x, m, v, o, s: tf.nn.batch_normalization(x, m, v, o, s, 1e-3),
           [randn(4, 3), randn(3, seed=1), uniform(0.5, 2, 3, seed=2), randn(3, seed=3), randn(3, seed=4)],
           lambda x, m, v, o, s: (x - m) / np.sqrt(v + 1e-3) * s + o, second_order=True),
    OpCase("batch_normalization_no_scale_offset",
           lambda x, m, v: tf.nn.batch_normalization(x, m, v, None, None, 1e-3),
           [randn(4, 3), randn(3, seed=1), uniform(0.5, 2, 3, seed=2)],
           lambda x, m, v: (x - m) / np.sqrt(v + 1e-3)),
    OpCase("l2_normalize", lambda x: tf.nn.l2_normalize(x, axis=1), [randn(3, 4)],
           lambda x: x / np.sqrt((x * x).sum(1, keepdims=True)), second_order=True),
    # fused batch norm
    OpCase("fused_batch_norm_nhwc",
           lambda x, s, o: nn.fused_batch_norm(x, s, o)[0],
           [randn(4, 3, 2, 5), uniform(0.5, 1.5, 5, seed=1), randn(5, seed=2)],
           lambda x, s, o: np_bn_train(x, s, o, 3)[0], second_order=True),
    OpCase("fused_batch_norm_nchw",
           lambda x, s, o: nn.fused_batch_norm(x, s, o, data_format="NCHW")[0],
           [randn(4, 3, 2, 5), uniform(0.5, 1.5, 3, seed=1), randn(3, seed=2)],
           lambda x, s, o: np_bn_train(x, s, o, 1)[0], second_order=True),
    OpCase("fused_batch_norm_stats",
           lambda x, s, o: list(nn.fused_batch_norm(x, s, o, epsilon=0.01)),
           [randn(3, 2, 2, 4), uniform(0.5, 1.5, 4, seed=1), randn(4, seed=2)],
           lambda x, s, o: list(np_bn_train(x, s, o, 3, eps=0.01)), grad=False),
    OpCase("fused_batch_norm_inference",
           lambda x, s, o, m, v: list(nn.fused_batch_norm(x, s, o, m, v, is_training=False)),
           [randn(2, 3, 2, 4), uniform(0.5, 1.5, 4, seed=1), randn(4, seed=2), randn(4, seed=3),
            uniform(0.5, 2, 4, seed=4)],
           lambda x, s, o, m, v: [np_bn(x, s, o, m, v, 0.001, 3), m, v], grad_inputs=(0, 1, 2), second_order=True),
]
