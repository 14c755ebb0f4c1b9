"""Cases for the math library: element-wise functions, comparisons, selection, batched matmul,
tensordot, reductions, arg reductions and scans."""

import numpy as np
from op_case import OpCase, randn, uniform

import flowgraph as tf
from flowgraph.ops import math as math_ops


def i32(*vals):
    return np.array(vals, dtype=np.int32)


# Integer operands with every sign combination, so floor and truncation semantics show.
INT_X = np.array([[-7, 7, -8, 0, 9], [5, -5, 3, -1, 12]], dtype=np.int32)
INT_Y = np.array([2, -2, 3, -5, 4], dtype=np.int32)


def trunc_div(x, y):
    return (np.trunc(x / y)).astype(x.dtype)


def ties(*shape, seed=0):
    """Small integers as floats: comparisons see equal entries."""
    return np.round(randn(*shape, seed=seed))


def np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_where_rows(c, x, y):
    return np.where(c.reshape(c.shape + (1,) * (x.ndim - 1)), x, y)


def np_select_cumsum(x, axis, exclusive=False, reverse=False):
    if reverse:
        x = np.flip(x, axis)
    out = np.cumsum(x, axis=axis)
    if exclusive:
        out = out - x
    return np.flip(out, axis) if reverse else out


def np_cumprod(x, axis, exclusive=False, reverse=False):
    if reverse:
        x = np.flip(x, axis)
    out = np.cumprod(x, axis=axis)
    if exclusive:
        idx = [slice(None)] * x.ndim
        idx[axis] = slice(0, -1)
        pad = [(0, 0)] * x.ndim
        pad[axis] = (1, 0)
        out = np.pad(out[tuple(idx)], pad, constant_values=1)
    return np.flip(out, axis) if reverse else out


def np_logsumexp(x, axis=None, keepdims=False):
    m = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def coordinate_summary(w):
    """Static-shaped facts about a [N, rank] coordinate list: its shape, column sums, and the
    coordinates weighted by position (which catches wrong order)."""
    n = tf.cast(tf.range(tf.shape(w)[0]), tf.int64)
    return [tf.shape(w), tf.reduce_sum(w, 0), tf.reduce_sum(w * tf.expand_dims(n + 1, 1), 0)]


def np_coordinate_summary(c):
    w = np.argwhere(c).astype(np.int64)
    n = np.arange(len(w), dtype=np.int64)
    return [np.array(w.shape, np.int32), w.sum(0), (w * (n + 1)[:, None]).sum(0)]


EMPTY = np.zeros((0, 3))

CASES = [
    # --- division family ------------------------------------------------------------------
    OpCase("floordiv_op_float", lambda x, y: x // y, [randn(3, 4) * 3, uniform(0.5, 2, 4, seed=1)],
           lambda x, y: np.floor(x / y), grad=False),
    OpCase("floordiv_int", lambda x, y: tf.floordiv(x, y), [INT_X, INT_Y], np.floor_divide, grad=False),
    OpCase("floordiv_int64_scalar", lambda x: x // 3, [INT_X.astype(np.int64)], lambda x: x // 3, grad=False),
    OpCase("floormod_op", lambda x, y: x % y, [randn(3, 4) * 3, uniform(0.5, 2, 1, 4, seed=1)], np.mod),
    OpCase("floormod_int", lambda x, y: tf.floormod(x, y), [INT_X, INT_Y], np.mod, grad=False),
    OpCase("mod_alias_int64", lambda x, y: tf.mod(x, y), [INT_X.astype(np.int64), INT_Y.astype(np.int64)], np.mod,
           grad=False),
    OpCase("truncatediv_int", lambda x, y: tf.truncatediv(x, y), [INT_X, INT_Y], trunc_div, grad=False),
    OpCase("truncatediv_float", lambda x, y: tf.truncatediv(x, y), [randn(2, 3) * 4, uniform(0.5, 2, 3, seed=1)],
           lambda x, y: np.trunc(x / y), grad=False),
    OpCase("truncatemod_int", lambda x, y: tf.truncatemod(x, y), [INT_X, INT_Y], np.fmod, grad=False),
    OpCase("div_int_is_floor", lambda x, y: tf.div(x, y), [INT_X, INT_Y], np.floor_divide, grad=False),
    OpCase("div_float_is_true", lambda x, y: tf.div(x, y), [randn(3, 2), uniform(1, 2, 3, 2, seed=1)], np.divide,
           second_order=True),
    OpCase("realdiv", lambda x, y: tf.realdiv(x, y), [randn(2, 3), uniform(1, 2, 1, 3, seed=1)], np.divide,
           second_order=True),
    OpCase("div_no_nan_zeros", lambda x, y: tf.div_no_nan(x, y), [randn(2, 3), np.array([0.0, 2.0, -4.0])],
           lambda x, y: np.where(y == 0, 0.0, x / np.where(y == 0, 1, y)), grad=False),
    OpCase("div_no_nan", lambda x, y: tf.div_no_nan(x, y), [randn(2, 3), uniform(1, 2, 2, 3, seed=1)], np.divide,
           second_order=True),
    # --- powers, extrema ------------------------------------------------------------------
    OpCase("pow", lambda x, y: tf.pow(x, y), [uniform(0.5, 2, 3, 4), randn(4, seed=1)], np.power,
           second_order=True),
    OpCase("pow_op_scalar", lambda x: x ** 3.0, [randn(2, 3)], lambda x: x ** 3, second_order=True),
    OpCase("rpow_op", lambda x: 2.0 ** x, [randn(2, 3)], lambda x: 2.0 ** x, second_order=True),
    OpCase("pow_int", lambda x, y: x ** y, [i32(2, -3, 4, 0), i32(3, 3, 0, 2)], np.power, grad=False),
    OpCase("maximum", lambda x, y: tf.maximum(x, y), [randn(3, 4), randn(4, seed=1)], np.maximum,
           second_order=True),
    OpCase("minimum_size1", lambda x, y: tf.minimum(x, y), [randn(3, 4), randn(3, 1, seed=1)], np.minimum,
           second_order=True),
    OpCase("maximum_int", lambda x, y: tf.maximum(x, y), [INT_X, INT_Y], np.maximum, grad=False),
    OpCase("squared_difference", lambda x, y: tf.squared_difference(x, y), [randn(3, 4), randn(1, 4, seed=1)],
           lambda x, y: (x - y) ** 2, second_order=True),
    OpCase("squared_difference_int", lambda x, y: tf.squared_difference(x, y), [INT_X, INT_Y],
           lambda x, y: (x - y) ** 2, grad=False),
    OpCase("scalar_mul", lambda x: tf.scalar_mul(2.5, x), [randn(2, 3)], lambda x: 2.5 * x, second_order=True),
    OpCase("clip_by_value", lambda x: tf.clip_by_value(x, -0.5, 0.7), [randn(3, 4)],
           lambda x: np.clip(x, -0.5, 0.7)),
    OpCase("clip_by_value_tensor_bounds", lambda x, lo, hi: tf.clip_by_value(x, lo, hi),
           [randn(3, 4), -uniform(0.2, 1, 4, seed=1), uniform(0.2, 1, 4, seed=2)],
           lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi)),
    # --- comparisons and logic ----------------------------------------------------------
    OpCase("equal", lambda x, y: tf.equal(x, y), [ties(3, 4), ties(4, seed=1)], np.equal, grad=False),
    OpCase("not_equal", lambda x, y: tf.not_equal(x, y), [ties(3, 4), ties(3, 1, seed=1)], np.not_equal,
           grad=False),
    OpCase("less_op", lambda x, y: x < y, [ties(3, 4), ties(4, seed=1)], np.less, grad=False),
    OpCase("less_equal_op", lambda x, y: x <= y, [ties(3, 4), ties(4, seed=1)], np.less_equal, grad=False),
    OpCase("greater_op", lambda x, y: x > y, [ties(3, 4), ties(4, seed=1)], np.greater, grad=False),
    OpCase("greater_equal_op", lambda x, y: x >= y, [ties(3, 4), ties(4, seed=1)], np.greater_equal, grad=False),
    OpCase("reflected_compare", lambda x: 0.0 > x, [ties(3, 4)], lambda x: x < 0, grad=False),
    OpCase("greater_fn_int", lambda x, y: tf.greater(x, y), [INT_X, INT_Y], np.greater, grad=False),
    OpCase("equal_bool", lambda x, y: tf.equal(x, y), [randn(3, 4) > 0, randn(4, seed=1) > 0], np.equal,
           grad=False),
    OpCase("logical_ops", lambda x, y: [x & y, x | y, x ^ y, ~x, tf.logical_xor(x, y)],
           [randn(3, 4) > 0, randn(4, seed=1) > 0],
           lambda x, y: [x & y, x | y, x ^ y, ~x, x ^ y], grad=False),
    OpCase("logical_fns", lambda x, y: [tf.logical_and(x, y), tf.logical_or(x, y), tf.logical_not(y)],
           [randn(3, 4) > 0, randn(3, 4, seed=1) > 0], lambda x, y: [x & y, x | y, ~y], grad=False),
    OpCase("compare_empty", lambda x, y: tf.less(x, y), [EMPTY, randn(3)], np.less, grad=False),
    # --- unary: smooth ----------------------------------------------------------------------
    OpCase("abs", lambda x: tf.abs(x), [randn(3, 4)], np.abs, second_order=True),
    OpCase("abs_op_int", lambda x: abs(x), [INT_X], np.abs, grad=False),
    OpCase("sign", lambda x: tf.sign(x), [randn(3, 4)], np.sign),
    OpCase("sign_int", lambda x: tf.sign(x), [INT_X], np.sign, grad=False),
    OpCase("square", lambda x: tf.square(x), [randn(3, 4)], np.square, second_order=True),
    OpCase("square_int", lambda x: tf.square(x), [INT_X], np.square, grad=False),
    OpCase("sqrt", lambda x: tf.sqrt(x), [uniform(0.5, 2, 3, 4)], np.sqrt, second_order=True),
    OpCase("rsqrt", lambda x: tf.rsqrt(x), [uniform(0.5, 2, 3, 4)], lambda x: 1 / np.sqrt(x), second_order=True),
    OpCase("exp", lambda x: tf.exp(x), [randn(3, 4)], np.exp, second_order=True),
    OpCase("expm1", lambda x: tf.expm1(x), [randn(3, 4)], np.expm1, second_order=True),
    OpCase("log", lambda x: tf.log(x), [uniform(0.5, 2, 3, 4)], np.log, second_order=True),
    OpCase("log1p", lambda x: tf.log1p(x), [uniform(-0.5, 2, 3, 4)], np.log1p, second_order=True),
    OpCase("sin", lambda x: tf.sin(x), [randn(3, 4)], np.sin, second_order=True),
    OpCase("cos", lambda x: tf.cos(x), [randn(3, 4)], np.cos, second_order=True),
    OpCase("tan", lambda x: tf.tan(x), [uniform(-1, 1, 3, 4)], np.tan, second_order=True),
    OpCase("asin", lambda x: tf.asin(x), [uniform(-0.8, 0.8, 3, 4)], np.arcsin, second_order=True),
    OpCase("acos", lambda x: tf.acos(x), [uniform(-0.8, 0.8, 3, 4)], np.arccos, second_order=True),
    OpCase("atan", lambda x: tf.atan(x), [randn(3, 4)], np.arctan, second_order=True),
    OpCase("sinh", lambda x: tf.sinh(x), [randn(3, 4)], np.sinh, second_order=True),
    OpCase("cosh", lambda x: tf.cosh(x), [randn(3, 4)], np.cosh, second_order=True),
    OpCase("tanh", lambda x: tf.tanh(x), [randn(3, 4) * 2], np.tanh, second_order=True),
    OpCase("sigmoid", lambda x: tf.sigmoid(x), [randn(3, 4) * 3], np_sigmoid, second_order=True),
    OpCase("sigmoid_float32", lambda x: tf.sigmoid(x), [randn(3, 4, dtype=np.float32) * 3],
           lambda x: np_sigmoid(x.astype(np.float64)).astype(np.float32), grad=False),
    OpCase("reciprocal", lambda x: tf.reciprocal(x), [uniform(0.5, 2, 3, 4) * np.array([1, -1, 1, -1])],
           np.reciprocal, second_order=True),
    OpCase("reciprocal_int", lambda x: tf.reciprocal(x), [i32(-2, -1, 1, 3)], lambda x: i32(0, -1, 1, 0),
           grad=False),
    OpCase("log_sigmoid_at_zero", lambda x: tf.log_sigmoid(x), [np.array([-3.0, -0.5, 0.0, 0.7, 4.0])],
           lambda x: -np.logaddexp(0, -x)),
    OpCase("log_sigmoid", lambda x: tf.log_sigmoid(x), [randn(3, 4) * 3], lambda x: -np.logaddexp(0, -x),
           second_order=True),
    OpCase("exp_empty", lambda x: tf.exp(x), [EMPTY], np.exp),
    OpCase("unary_scalar", lambda x: tf.tanh(tf.log(x)), [np.array(1.5)], lambda x: np.tanh(np.log(x)),
           second_order=True),
    OpCase("neg_int", lambda x: -x, [INT_X], np.negative, grad=False),
    # --- unary: piecewise constant and predicates ---------------------------------------------
    OpCase("floor_ceil", lambda x: [tf.floor(x), tf.ceil(x)], [randn(3, 4) * 3], lambda x: [np.floor(x), np.ceil(x)],
           grad=False),
    OpCase("round_half_even", lambda x: [tf.round(x), tf.rint(x)], [np.array([0.5, 1.5, 2.5, -0.5, -1.5, 1.2, -2.7])],
           lambda x: [np.round(x), np.rint(x)], grad=False),
    OpCase("round_int_is_identity", lambda x: tf.round(x), [INT_X], lambda x: x, grad=False),
    OpCase("round_op_on_int", lambda x: tf.get_default_graph().create_op("Round", [x]).outputs[0], [INT_X],
           lambda x: x, grad=False),
    OpCase("is_nan_inf_finite", lambda x: [tf.is_nan(x), tf.is_inf(x), tf.is_finite(x)],
           [np.array([1.0, np.nan, np.inf, -np.inf, 0.0])],
           lambda x: [np.isnan(x), np.isinf(x), np.isfinite(x)], grad=False),
    # --- selection ----------------------------------------------------------------------
    OpCase("where_select", lambda c, x, y: tf.where(c, x, y), [randn(3, 4) > 0, randn(3, 4, seed=1),
                                                                 randn(3, 4, seed=2)],
           np.where, second_order=True),
    OpCase("where_select_rows", lambda c, x, y: tf.where(c, x, y), [np.array([True, False, True]),
                                                                      randn(3, 4, 2, seed=1), randn(3, 4, 2, seed=2)],
           np_where_rows),
    OpCase("where_select_scalar_cond", lambda c, x, y: tf.where(c, x, y), [np.array(False), randn(2, 3, seed=1),
                                                                             randn(2, 3, seed=2)], np.where),
    OpCase("where_v2_broadcast", lambda c, x, y: tf.where_v2(c, x, y), [randn(3, 1) > 0, randn(4, seed=1),
                                                                          randn(1, seed=2)],
           np.where, second_order=True),
    # Where's row count depends on the data, so rows check it through static-shaped summaries
    # (test_math_errors.py compares the coordinates themselves).
    OpCase("where_coordinates", lambda c: coordinate_summary(tf.where(c)), [randn(3, 4) > 0],
           lambda c: np_coordinate_summary(c), grad=False),
    OpCase("where_v2_coordinates_numeric", lambda x: coordinate_summary(tf.where_v2(x)), [INT_X],
           np_coordinate_summary, grad=False),
    OpCase("where_coordinates_empty", lambda c: coordinate_summary(tf.where(c)), [np.zeros((0, 3), bool)],
           np_coordinate_summary, grad=False),
    # --- matmul, tensordot ----------------------------------------------------------------
    OpCase("batch_matmul", lambda a, b: tf.matmul(a, b), [randn(2, 3, 4), randn(2, 4, 5, seed=1)], np.matmul,
           second_order=True),
    OpCase("batch_matmul_broadcast", lambda a, b: a @ b, [randn(2, 1, 3, 4), randn(5, 4, 2, seed=1)], np.matmul,
           second_order=True),
    OpCase("batch_matmul_rank2_rhs", lambda a, b: tf.matmul(a, b), [randn(2, 3, 4), randn(4, 5, seed=1)],
           np.matmul),
    OpCase("batch_matmul_adj_x", lambda a, b: tf.matmul(a, b, adjoint_a=True), [randn(2, 4, 3), randn(2, 4, 5, seed=1)],
           lambda a, b: np.swapaxes(a, -1, -2) @ b),
    OpCase("batch_matmul_adj_y", lambda a, b: tf.matmul(a, b, transpose_b=True),
           [randn(2, 3, 4), randn(1, 5, 4, seed=1)], lambda a, b: a @ np.swapaxes(b, -1, -2)),
    OpCase("batch_matmul_adj_xy", lambda a, b: tf.matmul(a, b, adjoint_a=True, adjoint_b=True),
           [randn(3, 4, 2), randn(5, 4, seed=1)], lambda a, b: np.swapaxes(a, -1, -2) @ b.T, second_order=True),
    OpCase("batch_matmul_int", lambda a, b: tf.matmul(a, b), [np.arange(24, dtype=np.int32).reshape(2, 3, 4),
                                                             np.arange(8, dtype=np.int32).reshape(4, 2)],
           np.matmul, grad=False),
    OpCase("batch_matmul_empty_batch", lambda a, b: tf.matmul(a, b), [np.zeros((0, 3, 4)), randn(4, 2, seed=1)],
           np.matmul),
    OpCase("tensordot_int_axes", lambda a, b: tf.tensordot(a, b, 2), [randn(2, 3, 4), randn(3, 4, 5, seed=1)],
           lambda a, b: np.tensordot(a, b, 2), second_order=True),
    OpCase("tensordot_list_axes", lambda a, b: tf.tensordot(a, b, [[0, 2], [2, 0]]),
           [randn(3, 4, 2), randn(2, 5, 3, seed=1)], lambda a, b: np.tensordot(a, b, ([0, 2], [2, 0])),
           second_order=True),
    OpCase("tensordot_negative_axis", lambda a, b: tf.tensordot(a, b, [-1, 0]), [randn(3, 4), randn(4, 5, seed=1)],
           lambda a, b: np.tensordot(a, b, 1)),
    OpCase("tensordot_outer", lambda a, b: tf.tensordot(a, b, 0), [randn(2, 3), randn(4, seed=1)],
           lambda a, b: np.tensordot(a, b, 0)),
    OpCase("tensordot_partial_shape", lambda a, b: tf.reshape(
        tf.tensordot(tf.placeholder_with_default(a, [None, 3, 4]), b, [[1, 2], [1, 0]]), [2, 5]),
           [randn(2, 3, 4), randn(4, 3, 5, seed=1)], lambda a, b: np.tensordot(a, b, ([1, 2], [1, 0]))),
    # --- reductions ---------------------------------------------------------------------
    OpCase("reduce_max_axis", lambda x: tf.reduce_max(x, axis=1), [randn(3, 4, 2)], lambda x: x.max(1),
           second_order=True),
    OpCase("reduce_max_all", lambda x: tf.reduce_max(x), [randn(3, 4)], np.max),
    OpCase("reduce_max_ties", lambda x: tf.reduce_max(x, axis=0), [np.array([[1.0, 2.0], [1.0, -1.0], [0.5, 2.0]])],
           lambda x: x.max(0)),
    OpCase("reduce_min_neg_keep", lambda x: tf.reduce_min(x, axis=[-1, 0], keepdims=True), [randn(3, 4, 2)],
           lambda x: x.min(axis=(0, 2), keepdims=True)),
    OpCase("reduce_min_legacy", lambda x: tf.reduce_min(x, reduction_indices=[1], keep_dims=True), [randn(3, 4)],
           lambda x: x.min(1, keepdims=True)),
    OpCase("reduce_max_int", lambda x: tf.reduce_max(x, axis=-1), [INT_X], lambda x: x.max(-1), grad=False),
    OpCase("reduce_max_empty", lambda x: tf.reduce_max(x, axis=0), [EMPTY], lambda x: np.full(3, -np.inf),
           grad=False),
    OpCase("reduce_min_empty_int", lambda x: tf.reduce_min(x), [np.zeros((2, 0), np.int32)],
           lambda x: np.int32(np.iinfo(np.int32).max), grad=False),
    OpCase("reduce_prod", lambda x: tf.reduce_prod(x, axis=[0, 2]), [uniform(0.5, 1.5, 3, 4, 2)],
           lambda x: x.prod(axis=(0, 2)), second_order=True),
    OpCase("reduce_prod_zeros", lambda x: tf.reduce_prod(x, axis=1, keepdims=True),
           [np.array([[1.5, 0.0, 2.0, -1.0], [0.0, 0.0, 3.0, 1.0], [1.0, 2.0, 0.5, -2.0]])],
           lambda x: x.prod(1, keepdims=True)),
    OpCase("reduce_prod_all", lambda x: tf.reduce_prod(x), [uniform(0.5, 1.5, 2, 3)], np.prod),
    OpCase("reduce_prod_int", lambda x: tf.reduce_prod(x, 0), [INT_X], lambda x: x.prod(0).astype(np.int32),
           grad=False),
    OpCase("reduce_any_all", lambda x: [tf.reduce_any(x, 1), tf.reduce_all(x, 1, keepdims=True), tf.reduce_any(x)],
           [randn(3, 4) > -0.5], lambda x: [x.any(1), x.all(1, keepdims=True), np.any(x)], grad=False),
    OpCase("reduce_any_all_empty", lambda x: [tf.reduce_any(x, 0), tf.reduce_all(x, 0)], [np.zeros((0, 3), bool)],
           lambda x: [np.zeros(3, bool), np.ones(3, bool)], grad=False),
    OpCase("reduce_logsumexp", lambda x: tf.reduce_logsumexp(x, axis=1), [randn(3, 4) * 3],
           lambda x: np_logsumexp(x, 1), second_order=True),
    OpCase("reduce_logsumexp_large_keep", lambda x: tf.reduce_logsumexp(x, axis=0, keepdims=True),
           [randn(3, 4) + 1000.0], lambda x: np_logsumexp(x, 0, keepdims=True)),
    OpCase("reduce_logsumexp_all", lambda x: tf.reduce_logsumexp(x), [randn(2, 3)], np_logsumexp),
    OpCase("reduce_variance_std", lambda x: [math_ops.reduce_variance(x, 1), math_ops.reduce_std(x, 0, keepdims=True)],
           [randn(3, 4)], lambda x: [x.var(1), x.std(0, keepdims=True)], second_order=True),
    OpCase("count_nonzero", lambda x: tf.count_nonzero(x, axis=1), [np.round(randn(3, 4))],
           lambda x: np.count_nonzero(x, axis=1).astype(np.int64), grad=False),
    OpCase("count_nonzero_bool_int32", lambda x: tf.count_nonzero(x, dtype=tf.int32), [randn(3, 4) > 0],
           lambda x: np.int32(np.count_nonzero(x)), grad=False),
    # --- arg reductions -------------------------------------------------------------------
    OpCase("argmax_default_axis0", lambda x: tf.argmax(x), [randn(3, 4)], lambda x: np.argmax(x, 0), grad=False),
    OpCase("argmax_neg_axis_int32", lambda x: tf.argmax(x, axis=-1, output_type=tf.int32), [randn(3, 4, 2)],
           lambda x: np.argmax(x, -1).astype(np.int32), grad=False),
    OpCase("argmin_dimension", lambda x: tf.argmin(x, dimension=1), [INT_X], lambda x: np.argmin(x, 1), grad=False),
    OpCase("argmax_ties_first", lambda x: tf.argmax(x, 1), [np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])],
           lambda x: np.array([1, 0]), grad=False),
    # --- scans --------------------------------------------------------------------------
    OpCase("cumsum", lambda x: tf.cumsum(x, axis=1), [randn(3, 4)], lambda x: np.cumsum(x, 1), second_order=True),
    OpCase("cumsum_exclusive_reverse", lambda x: tf.cumsum(x, axis=-1, exclusive=True, reverse=True),
           [randn(3, 4)], lambda x: np_select_cumsum(x, 1, True, True)),
    OpCase("cumsum_exclusive", lambda x: tf.cumsum(x, exclusive=True), [randn(3, 2)],
           lambda x: np_select_cumsum(x, 0, True)),
    OpCase("cumsum_int", lambda x: tf.cumsum(x, 1, reverse=True), [INT_X], lambda x: np_select_cumsum(x, 1, False, True),
           grad=False),
    OpCase("cumsum_empty", lambda x: tf.cumsum(x, 0, exclusive=True), [EMPTY], lambda x: x),
    OpCase("cumprod", lambda x: tf.cumprod(x, axis=0), [uniform(0.5, 1.5, 3, 4)], lambda x: np.cumprod(x, 0),
           second_order=True),
    OpCase("cumprod_exclusive_reverse", lambda x: tf.cumprod(x, axis=1, exclusive=True, reverse=True),
           [uniform(0.5, 1.5, 2, 4)], lambda x: np_cumprod(x, 1, True, True)),
    # --- casts ----------------------------------------------------------------------------
    OpCase("to_casts", lambda x: [tf.to_float(x), tf.to_double(x), tf.to_int32(x), tf.to_int64(x)],
           [np.array([1.7, -2.2, 0.0])],
           lambda x: [x.astype(np.float32), x, x.astype(np.int32), x.astype(np.int64)], grad=False),
]
