"""Cases for the core ops: arithmetic, matmul, reductions, reshape/broadcast plumbing."""

import numpy as np
from op_case import OpCase, randn, uniform

import flowgraph as tf

CASES = [
    OpCase("add_broadcast", lambda x, y: x + y, [randn(3, 4), randn(4, seed=1)], np.add, second_order=True),
    OpCase("add_fn", lambda x, y: tf.add(x, y), [randn(2, 1, 3), randn(4, 1, seed=1)], np.add),
    OpCase("sub", lambda x, y: x - y, [randn(3, 1), randn(1, 5, seed=1)], np.subtract, second_order=True),
    OpCase("mul", lambda x, y: x * y, [randn(2, 3), randn(2, 3, seed=1)], np.multiply, second_order=True),
    OpCase("div", lambda x, y: x / y, [randn(2, 3), uniform(1, 2, 3, seed=1)], np.divide, second_order=True),
    OpCase("neg", lambda x: -x, [randn(3, 2)], np.negative, second_order=True),
    OpCase("matmul", lambda a, b: tf.matmul(a, b), [randn(3, 4), randn(4, 5, seed=1)], np.matmul, second_order=True),
    OpCase("matmul_ta", lambda a, b: tf.matmul(a, b, transpose_a=True), [randn(4, 3), randn(4, 5, seed=1)],
           lambda a, b: a.T @ b),
    OpCase("matmul_tb", lambda a, b: tf.matmul(a, b, transpose_b=True), [randn(3, 4), randn(5, 4, seed=1)],
           lambda a, b: a @ b.T),
    OpCase("matmul_tab", lambda a, b: tf.matmul(a, b, transpose_a=True, transpose_b=True),
           [randn(4, 3), randn(5, 4, seed=1)], lambda a, b: a.T @ b.T),
    OpCase("sum_all", lambda x: tf.reduce_sum(x), [randn(3, 4)], np.sum, second_order=True),
    OpCase("sum_axis", lambda x: tf.reduce_sum(x, axis=1), [randn(3, 4, 2)], lambda x: x.sum(1)),
    OpCase("sum_neg_keep", lambda x: tf.reduce_sum(x, axis=[-1, 0], keepdims=True), [randn(3, 4, 2)],
           lambda x: x.sum(axis=(0, 2), keepdims=True)),
    OpCase("mean_axis", lambda x: tf.reduce_mean(x, axis=0), [randn(3, 4)], lambda x: x.mean(0), second_order=True),
    OpCase("mean_dynamic_shape", lambda x: tf.reduce_mean(tf.placeholder_with_default(x, [None, 4]), axis=0),
           [randn(3, 4)], lambda x: x.mean(0)),
    OpCase("mean_int", lambda x: tf.reduce_mean(x), [np.array([1, 2, 4], dtype=np.int32)],
           lambda x: np.int32(2), grad=False),
    OpCase("add_n", lambda a, b, c: tf.add_n([a, b, c]), [randn(2, 3), randn(2, 3, seed=1), randn(2, 3, seed=2)],
           lambda a, b, c: a + b + c),
    OpCase("identity", lambda x: tf.identity(x), [randn(4)], lambda x: x),
    OpCase("reshape", lambda x: tf.reshape(x, [2, -1]), [randn(3, 4)], lambda x: x.reshape(2, -1), second_order=True),
    OpCase("broadcast_to", lambda x: tf.broadcast_to(x, [3, 4]), [randn(1, 4)], lambda x: np.broadcast_to(x, (3, 4)),
           second_order=True),
    OpCase("shape", lambda x: tf.shape(x), [randn(3, 4)], lambda x: np.array([3, 4], np.int32), grad=False),
    OpCase("cast", lambda x: tf.cast(x, tf.float32), [randn(3)], lambda x: x.astype(np.float32), grad=False),
    OpCase("cast_grad", lambda x: tf.cast(tf.cast(x, tf.float32), tf.float64), [randn(3)],
           lambda x: x.astype(np.float32).astype(np.float64), grad_rtol=1e-3, grad_atol=1e-3, eps=1e-3),
    OpCase("stop_gradient", lambda x: tf.stop_gradient(x) + 0.0 * x, [randn(3)], lambda x: x, grad=False),
    OpCase("ones_like", lambda x: tf.ones_like(x) * x, [randn(3)], lambda x: x),
    OpCase("zeros_like", lambda x: tf.zeros_like(x) + x, [randn(3)], lambda x: x),
    OpCase("placeholder_with_default", lambda x: tf.placeholder_with_default(x, [3]) * 2.0, [randn(3)],
           lambda x: 2 * x),
]
