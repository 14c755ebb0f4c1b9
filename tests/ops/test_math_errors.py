"""Math ops: dtype and shape errors that name the culprit, run-time errors, TF1 special cases
(operator names, integer semantics, NaN/Inf, saturation) and shapes the case table cannot express."""

import numpy as np
import pytest

import flowgraph as tf
from flowgraph.ops import math as math_ops


@pytest.fixture(autouse=True)
def fresh_graph():
    with tf.Graph().as_default() as g:
        yield g


def run(fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


# ---------------------------------------------------------------------------------------------
# dtype errors
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [tf.maximum, tf.pow, tf.floordiv, tf.floormod, tf.less, tf.equal, tf.squared_difference,
                                lambda x, y: tf.where_v2(True, x, y)])
def test_dtype_mismatch_names_both_operands(fn):
    x = tf.placeholder(tf.float32, [2], name="lhs")
    y = tf.placeholder(tf.int32, [2], name="rhs")
    with pytest.raises(TypeError) as e:
        fn(x, y)
    assert "lhs:0" in str(e.value) and "rhs:0" in str(e.value)


def test_python_scalar_that_cannot_take_the_dtype_names_both():
    x = tf.placeholder(tf.int32, [2], name="ints")
    with pytest.raises(TypeError) as e:
        tf.less(x, 2.5)
    assert "ints:0" in str(e.value) and "2.5" in str(e.value)


@pytest.mark.parametrize("fn", [tf.sqrt, tf.exp, tf.log, tf.sigmoid, tf.tanh, tf.sin, tf.floor, tf.is_nan, tf.rsqrt,
                                tf.log_sigmoid])
def test_float_only_functions_reject_integers(fn):
    x = tf.placeholder(tf.int32, [3], name="counts")
    with pytest.raises(TypeError, match="counts:0") as e:
        fn(x)
    assert "int32" in str(e.value)


@pytest.mark.parametrize("fn", [lambda x: x + x, lambda x: x * x, lambda x: -x, tf.abs, tf.square, tf.reduce_max,
                                tf.cumsum, tf.argmax, lambda x: x < True, lambda x: tf.maximum(x, x)])
def test_arithmetic_on_bool_is_a_type_error(fn):
    x = tf.placeholder(tf.bool, [3], name="flags")
    with pytest.raises(TypeError, match="flags:0"):
        fn(x)


@pytest.mark.parametrize("fn", [lambda x: x & x, lambda x: x | x, lambda x: x ^ x, lambda x: ~x, tf.reduce_all,
                                tf.reduce_any, lambda x: tf.where(x, x, x)])
def test_logical_ops_need_bool(fn):
    x = tf.placeholder(tf.float32, [3], name="reals")
    with pytest.raises(TypeError, match="reals:0"):
        fn(x)


def test_argmax_output_type_must_be_integer():
    with pytest.raises(TypeError, match="output_type"):
        tf.argmax(tf.constant([1.0, 2.0]), output_type=tf.float32)


# ---------------------------------------------------------------------------------------------
# shape and axis errors
# ---------------------------------------------------------------------------------------------
def test_incompatible_broadcast_is_a_value_error():
    with pytest.raises(ValueError, match="broadcast"):
        tf.maximum(tf.zeros([3, 4]), tf.zeros([5]))


@pytest.mark.parametrize("fn", [lambda x: tf.reduce_max(x, axis=2), lambda x: tf.reduce_prod(x, axis=-3),
                                lambda x: tf.argmax(x, 2), lambda x: tf.cumsum(x, 5), lambda x: tf.reduce_any(x > 0, 7)])
def test_bad_axis(fn):
    with pytest.raises(ValueError, match="Invalid"):
        fn(tf.zeros([2, 3]))


def test_legacy_and_new_reduction_arguments_conflict():
    x = tf.zeros([2, 3])
    with pytest.raises(ValueError, match="reduction_indices"):
        tf.reduce_max(x, axis=0, reduction_indices=0)
    with pytest.raises(ValueError, match="keep_dims"):
        tf.reduce_min(x, keepdims=True, keep_dims=True)
    with pytest.raises(ValueError, match="dimension"):
        tf.argmax(x, axis=0, dimension=0)


def test_select_shape_errors_name_operands():
    c = tf.placeholder(tf.bool, [3], name="cond")
    x = tf.placeholder(tf.float32, [4, 2], name="then")
    y = tf.placeholder(tf.float32, [4, 2], name="other")
    with pytest.raises(ValueError, match="cond:0"):
        tf.where(c, x, y)
    with pytest.raises(ValueError, match="then:0"):
        tf.where(tf.placeholder(tf.bool, [4, 2]), x, tf.placeholder(tf.float32, [4, 3]))
    with pytest.raises(ValueError, match="both be non-None"):
        tf.where(c, x)


def test_select_checks_shapes_at_run_time_too():
    c = tf.placeholder(tf.bool, None)
    x = tf.placeholder(tf.float32, None)
    out = tf.where(c, x, x)
    with pytest.raises(tf.errors.InvalidArgumentError, match="condition"):
        run(out, {c: np.array([True, False]), x: np.zeros((3, 2), np.float32)})


def test_batch_matmul_shape_errors():
    with pytest.raises(ValueError, match="Dimensions must be equal"):
        tf.matmul(tf.zeros([2, 3, 4]), tf.zeros([2, 5, 6]))
    with pytest.raises(ValueError, match="batch dimensions"):
        tf.matmul(tf.zeros([2, 3, 4]), tf.zeros([3, 4, 6]))
    with pytest.raises(ValueError, match="at least rank 2"):
        tf.matmul(tf.zeros([2, 3, 4]), tf.zeros([4]))
    with pytest.raises(ValueError, match="Only one of"):
        tf.matmul(tf.zeros([2, 2]), tf.zeros([2, 2]), transpose_a=True, adjoint_a=True)


def test_tensordot_errors():
    a, b = tf.zeros([2, 3]), tf.zeros([4, 5])
    with pytest.raises(ValueError, match="does not match"):
        tf.tensordot(a, b, 1)
    with pytest.raises(ValueError, match="Different number"):
        tf.tensordot(a, b, [[0, 1], [0]])
    with pytest.raises(ValueError, match="must not exceed"):
        tf.tensordot(a, b, 3)
    with pytest.raises(ValueError, match="Invalid tensordot axis"):
        tf.tensordot(a, b, [[2], [0]])


def test_clip_by_value_refuses_to_broadcast_t():
    with pytest.raises(ValueError, match="broadcast"):
        tf.clip_by_value(tf.zeros([3]), tf.zeros([2, 3]), 1.0)


def test_scalar_mul_needs_a_scalar():
    with pytest.raises(ValueError, match="Only scalar multiply"):
        tf.scalar_mul([1.0, 2.0], tf.zeros([2]))


# ---------------------------------------------------------------------------------------------
# run-time errors
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [tf.floordiv, tf.floormod, tf.truncatediv, tf.truncatemod])
def test_integer_division_by_zero_fails_the_run(fn):
    y = tf.placeholder(tf.int32, [2])
    out = fn(tf.constant([4, 5]), y)
    with pytest.raises(tf.errors.InvalidArgumentError, match="Integer division by zero"):
        run(out, {y: np.array([1, 0], np.int32)})


def test_integer_to_negative_power_fails_the_run():
    with pytest.raises(tf.errors.InvalidArgumentError, match="negative integer powers"):
        run(tf.pow(tf.constant([2, 3]), tf.constant([1, -1])))


def test_argmax_of_an_empty_axis_fails_the_run():
    x = tf.placeholder(tf.float32, [None, 3])
    with pytest.raises(tf.errors.InvalidArgumentError, match="empty"):
        run(tf.argmax(x, 0), {x: np.zeros((0, 3), np.float32)})
    assert run(tf.argmax(x, 1), {x: np.zeros((0, 3), np.float32)}).shape == (0,)


# ---------------------------------------------------------------------------------------------
# TF1 special cases and numerics
# ---------------------------------------------------------------------------------------------
def test_operator_op_names_follow_tf1():
    x = tf.placeholder(tf.float32, [2])
    b = tf.placeholder(tf.bool, [2])
    assert (x // 2.0).op.name == "floordiv" and (x // 2.0).op.type == "FloorDiv"
    assert (x % 2.0).op.name == "mod" and (x % 2.0).op.type == "FloorMod"
    assert (x ** 2.0).op.name == "pow" and (2.0 ** x).op.type == "Pow"
    assert abs(x).op.name == "Abs"
    assert (x < 1.0).op.type == "Less" and (x >= 1.0).op.type == "GreaterEqual"
    assert (b & b).op.name == "and" and (b | b).op.type == "LogicalOr" and (~b).op.type == "LogicalNot"
    assert (b ^ b).op.name == "xor"
    with tf.name_scope("scope"):
        assert tf.maximum(x, x).name == "scope/Maximum:0"
        assert tf.maximum(x, x).name == "scope/Maximum_1:0"
        assert tf.clip_by_value(x, 0.0, 1.0).op.name == "scope/clip_by_value"
        assert tf.where(b, x, x).op.type == "Select" and tf.where_v2(b, x, 0.0).op.type == "SelectV2"
        assert tf.where(b).op.type == "Where"
        assert tf.argmax(x).op.name == "scope/ArgMax"


def test_equality_operator_stays_identity():
    x = tf.constant([1.0])
    same = x
    assert (x == same) is True
    assert (x == tf.constant([1.0])) is False
    assert {x: 1}[x] == 1


def test_integer_floor_semantics_match_python():
    xs = np.array([-7, 7, -7, 7, 0, -1], np.int32)
    ys = np.array([2, 2, -2, -2, 3, 5], np.int32)
    q, r = run([tf.constant(xs) // ys, tf.constant(xs) % ys])
    assert q.tolist() == [int(a) // int(b) for a, b in zip(xs, ys)]
    assert r.tolist() == [int(a) % int(b) for a, b in zip(xs, ys)]
    assert q.dtype == np.int32 and r.dtype == np.int32
    assert run(tf.truncatediv(tf.constant(xs), ys)).tolist() == [int(a / b) for a, b in zip(xs, ys)]


def test_float_floordiv_is_floor_of_quotient():
    # NumPy's floor_divide gives 9.0 here; TF computes floor(1.0 / 0.1) = 10.0.
    assert run(tf.floordiv(tf.constant(1.0, tf.float64), 0.1)) == 10.0


def test_div_follows_python2():
    q = tf.div(tf.constant(-7), 2)
    assert q.op.name == "div" and q.op.type == "FloorDiv"
    assert run(q) == -4
    assert run(tf.div(tf.constant(-7.0), 2.0)) == -3.5


def test_nan_and_inf_propagate():
    nan, inf = np.nan, np.inf
    x = tf.constant([nan, inf, -inf, 1.0], tf.float64)
    got = run({
        "exp": tf.exp(x), "log": tf.log(x), "max": tf.maximum(x, 0.0), "sig": tf.sigmoid(x), "tanh": tf.tanh(x),
        "rmax": tf.reduce_max(x), "sq": tf.sqrt(x), "lt": x < 2.0, "eq": tf.equal(x, x),
    })
    np.testing.assert_array_equal(got["exp"], [nan, inf, 0.0, np.e])
    np.testing.assert_array_equal(got["log"][:2], [nan, inf])
    np.testing.assert_array_equal(got["max"], [nan, inf, 0.0, 1.0])
    np.testing.assert_array_equal(got["sig"], [nan, 1.0, 0.0, 1 / (1 + np.exp(-1.0))])
    np.testing.assert_array_equal(got["tanh"], [nan, 1.0, -1.0, np.tanh(1.0)])
    assert np.isnan(got["rmax"])
    assert np.isnan(got["sq"][0]) and np.isnan(got["sq"][2])
    assert got["lt"].tolist() == [False, False, True, True]
    assert got["eq"].tolist() == [False, True, True, True]


def test_log_of_zero_and_division_by_zero_are_silent():
    with np.errstate(all="raise"):  # a NumPy warning would now be an exception
        got = run([tf.log(tf.constant(0.0)), tf.constant(1.0) / 0.0, tf.reciprocal(tf.constant(0.0)),
                   tf.div_no_nan(tf.constant([0.0, 1.0]), tf.constant([0.0, 0.0]))])
    assert got[0] == -np.inf and got[1] == np.inf and got[2] == np.inf
    assert got[3].tolist() == [0.0, 0.0]


@pytest.mark.parametrize("dtype", [tf.float16, tf.float32, tf.float64])
def test_sigmoid_and_tanh_saturate_exactly(dtype):
    x = tf.constant([-1000.0, -100.0, 0.0, 100.0, 1000.0], dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # no overflow inside the kernels
        s, t, ls = run([tf.sigmoid(x), tf.tanh(x), tf.log_sigmoid(x)])
    assert s.dtype == dtype.np and t.dtype == dtype.np
    assert [s[0], s[2], s[3], s[4]] == [0.0, 0.5, 1.0, 1.0]
    assert 0 <= float(s[1]) < 1e-40  # exp(-100) or its underflow, never negative
    assert t.tolist() == [-1.0, -1.0, 0.0, 1.0, 1.0]
    assert np.isfinite(ls).all() and ls[0] == -1000.0 and ls[-1] == 0.0


def test_sigmoid_gradient_is_finite_at_extremes():
    x = tf.constant([-1000.0, 0.0, 1000.0], tf.float64)
    (g,) = tf.gradients(tf.reduce_sum(tf.sigmoid(x)), [x])
    (gt,) = tf.gradients(tf.reduce_sum(tf.tanh(x)), [x])
    np.testing.assert_array_equal(run(g), [0.0, 0.25, 0.0])
    np.testing.assert_array_equal(run(gt), [0.0, 1.0, 0.0])


def test_sigmoid_is_accurate_for_negative_inputs():
    x = np.array([-30.0, -20.0, -5.0], np.float32)
    got = run(tf.sigmoid(tf.constant(x)))
    want = 1 / (1 + np.exp(-x.astype(np.float64)))
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_maximum_minimum_ties_send_the_gradient_to_x():
    x = tf.constant([1.0, 2.0, 3.0], tf.float64)
    y = tf.constant([1.0, 0.0, 3.0], tf.float64)
    gx, gy = tf.gradients(tf.reduce_sum(tf.maximum(x, y)), [x, y])
    hx, hy = tf.gradients(tf.reduce_sum(tf.minimum(x, y)), [x, y])
    vals = run([gx, gy, hx, hy])
    assert [v.tolist() for v in vals] == [[1, 1, 1], [0, 0, 0], [1, 0, 1], [0, 1, 0]]


def test_reduce_max_splits_the_gradient_between_ties():
    x = tf.constant([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]], tf.float64)
    (g,) = tf.gradients(tf.reduce_max(x, axis=1), [x])
    np.testing.assert_array_equal(run(g), [[0, 0.5, 0.5], [0.5, 0, 0.5]])


def test_reduce_prod_gradient_with_zeros_is_exact():
    x = tf.constant([[2.0, 0.0, 3.0], [0.0, 0.0, 5.0]], tf.float64)
    (g,) = tf.gradients(tf.reduce_prod(x, axis=1), [x])
    np.testing.assert_array_equal(run(g), [[0, 6, 0], [0, 0, 0]])
    y = tf.constant([2.0, 0.0, 3.0, 4.0], tf.float64)
    (g_all,) = tf.gradients(tf.reduce_prod(y), [y])
    np.testing.assert_array_equal(run(g_all), [0, 24, 0, 0])


def test_argmax_defaults():
    x = tf.constant([[1.0, 9.0], [5.0, 2.0], [0.0, 3.0]])
    a = tf.argmax(x)
    assert a.dtype == tf.int64 and a.shape.as_list() == [2]
    got = run(a)
    assert got.dtype == np.int64 and got.tolist() == [1, 0]
    assert run(tf.argmin(x, 1, output_type=tf.int32)).dtype == np.int32


def test_argmax_with_unknown_rank_and_negative_axis():
    x = tf.placeholder(tf.float32)
    got = run(tf.argmax(x, -1), {x: np.array([[1, 5, 2], [7, 0, 1]], np.float32)})
    assert got.tolist() == [1, 0]


def test_where_one_argument_coordinates():
    c = tf.placeholder(tf.bool, [2, 3])
    w = tf.where(c)
    assert w.dtype == tf.int64 and w.shape.as_list() == [None, 2]
    cond = np.array([[True, False, True], [False, False, True]])
    got = run(w, {c: cond})
    assert got.dtype == np.int64
    assert got.tolist() == [[0, 0], [0, 2], [1, 2]]
    assert run(tf.where([0.0, 2.0, -1.0])).tolist() == [[1], [2]]
    assert run(tf.where(c), {c: np.zeros((2, 3), bool)}).shape == (0, 2)


def test_where_v2_gradient_sums_over_broadcast():
    c = tf.constant([[True], [False]])
    x = tf.constant([1.0, 2.0, 3.0], tf.float64)
    y = tf.constant(5.0, tf.float64)
    out = tf.where_v2(c, x, y)
    assert out.shape.as_list() == [2, 3]
    gx, gy = tf.gradients(tf.reduce_sum(out), [x, y])
    assert run(gx).tolist() == [1, 1, 1] and run(gy) == 3.0


def test_batch_matmul_gradient_sums_over_broadcast_batch_dims():
    a = tf.constant(np.random.default_rng(0).standard_normal((4, 2, 3)))
    b = tf.constant(np.random.default_rng(1).standard_normal((1, 3, 5)))
    ga, gb = tf.gradients(tf.reduce_sum(tf.matmul(a, b)), [a, b])
    av, bv, gav, gbv = run([a, b, ga, gb])
    ones = np.ones((4, 2, 5))
    np.testing.assert_allclose(gav, ones @ np.swapaxes(bv, -1, -2))
    np.testing.assert_allclose(gbv, (np.swapaxes(av, -1, -2) @ ones).sum(0, keepdims=True))
    assert gb.shape.as_list() == [1, 3, 5]


def test_matmul_with_unknown_rank_uses_batch_matmul():
    a = tf.placeholder(tf.float64)
    out = tf.matmul(a, tf.ones([3, 2], tf.float64))
    assert out.op.type == "BatchMatMulV2"
    np.testing.assert_allclose(run(out, {a: np.ones((2, 3))}), np.full((2, 2), 3.0))


@pytest.mark.parametrize("a_shape", [[None, 3, 4], None])
def test_tensordot_dynamic_shapes_value_and_gradient(a_shape):
    rng = np.random.default_rng(0)
    av = rng.standard_normal((2, 3, 4))
    bv = rng.standard_normal((4, 3, 5))
    a = tf.placeholder(tf.float64, a_shape)
    b = tf.constant(bv)
    out = tf.tensordot(a, b, [[1, 2], [1, 0]])
    if a_shape is not None:
        assert out.shape.as_list() == [None, 5]
    w = rng.standard_normal((2, 5))
    ga, gb = tf.gradients(tf.reduce_sum(out * w), [a, b])
    got, gav, gbv = run([out, ga, gb], {a: av})
    np.testing.assert_allclose(got, np.tensordot(av, bv, ([1, 2], [1, 0])))
    np.testing.assert_allclose(gav, np.einsum("ij,kbj->ibk", w, bv))
    np.testing.assert_allclose(gbv, np.einsum("ij,iab->baj", w, av))


def test_tensordot_int_axes_with_unknown_rank():
    a = tf.placeholder(tf.float64)
    av = np.arange(24.0).reshape(2, 3, 4)
    bv = np.arange(20.0).reshape(4, 5)
    got = run(tf.tensordot(a, bv, 1), {a: av})
    np.testing.assert_allclose(got, np.tensordot(av, bv, 1))


def test_reduce_logsumexp_is_stable():
    x = tf.constant([[1000.0, 1000.0], [-1000.0, -1000.0], [-np.inf, -np.inf]], tf.float64)
    got = run(tf.reduce_logsumexp(x, axis=1))
    np.testing.assert_allclose(got[:2], [1000.0 + np.log(2), -1000.0 + np.log(2)])
    assert got[2] == -np.inf
    assert run(tf.reduce_logsumexp(tf.constant([np.inf, 1.0]))) == np.inf


def test_reduce_max_of_empty_gives_the_identity():
    x = tf.placeholder(tf.float32, [None])
    lo, hi = run([tf.reduce_max(x), tf.reduce_min(x)], {x: np.zeros(0, np.float32)})
    assert lo == -np.inf and hi == np.inf


def test_count_nonzero_of_strings_and_bools():
    assert run(tf.count_nonzero(tf.constant(["a", "", "b"]))) == 2
    out = tf.count_nonzero(tf.constant([[True, False], [True, True]]), axis=0, keepdims=True)
    assert out.dtype == tf.int64 and run(out).tolist() == [[2, 1]]


def test_equal_on_strings():
    assert run(tf.equal(tf.constant(["a", "b"]), "a")).tolist() == [True, False]


def test_cumsum_keeps_integer_dtype_and_validates_axis():
    out = tf.cumsum(tf.constant([[1, 2], [3, 4]]), axis=1, exclusive=True)
    got = run(out)
    assert got.dtype == np.int32 and got.tolist() == [[0, 1], [0, 3]]
    with pytest.raises(ValueError, match="Invalid"):
        tf.cumsum(tf.constant(1.0))


def test_round_is_half_to_even_and_identity_on_integers():
    assert run(tf.round(tf.constant([0.5, 1.5, 2.5, -2.5]))).tolist() == [0.0, 2.0, 2.0, -2.0]
    x = tf.constant([1, 2])
    assert tf.round(x) is x


def test_reduce_variance_and_std_are_in_the_math_module():
    x = tf.constant([[1.0, 3.0], [2.0, 6.0]], tf.float64)
    v, s = run([math_ops.reduce_variance(x), math_ops.reduce_std(x, axis=1)])
    np.testing.assert_allclose(v, np.var([1, 3, 2, 6]))
    np.testing.assert_allclose(s, [1.0, 2.0])
