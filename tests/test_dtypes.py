"""dtypes: TF1's names, conversions and inference; binary ops never cast implicitly."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import flowgraph as tf
from flowgraph.dtypes import infer_dtype


@pytest.fixture(autouse=True)
def fresh_graph():
    with tf.Graph().as_default() as g:
        yield g


ALL = [tf.float16, tf.float32, tf.float64, tf.int8, tf.int16, tf.int32, tf.int64, tf.uint8, tf.bool]


@pytest.mark.parametrize("dt", ALL, ids=lambda d: d.name)
def test_dtype_round_trips_and_compares(dt):
    assert tf.as_dtype(dt.name) is dt
    assert tf.as_dtype(dt.as_numpy_dtype) is dt
    assert tf.as_dtype(np.dtype(dt.as_numpy_dtype)) is dt
    assert dt == dt.name and dt == np.dtype(dt.as_numpy_dtype) and dt.base_dtype is dt
    assert repr(dt) == f"<dtype: '{dt.name}'>"
    assert pickle.loads(pickle.dumps(dt)) is dt
    assert dt.size == np.dtype(dt.as_numpy_dtype).itemsize
    assert dt.is_compatible_with(dt.name)


def test_dtype_families_and_limits():
    assert tf.float32.is_floating and not tf.float32.is_integer
    assert tf.int8.is_integer and not tf.int8.is_unsigned and tf.uint8.is_unsigned
    assert tf.bool.is_bool and not tf.bool.is_integer
    assert (tf.int8.min, tf.int8.max, tf.uint8.min, tf.uint8.max) == (-128, 127, 0, 255)
    assert tf.float16.max == 65504.0 and (tf.bool.min, tf.bool.max) == (False, True)
    assert tf.half is tf.float16 and tf.double is tf.float64
    assert tf.float32 != tf.float64 and tf.float32 != "int32" and tf.float32 != None  # noqa: E711


def test_as_dtype_accepts_python_types_and_rejects_junk():
    assert tf.as_dtype(float) is tf.float32 and tf.as_dtype(int) is tf.int32 and tf.as_dtype(bool) is tf.bool
    assert tf.as_dtype("float") is tf.float32 and tf.as_dtype("double") is tf.float64
    with pytest.raises(TypeError, match="Cannot convert 'float33' to a flowgraph DType"):
        tf.as_dtype("float33")
    with pytest.raises(TypeError, match="Cannot convert"):
        tf.as_dtype(object())


@pytest.mark.parametrize(
    "value, dtype",
    [
        (1.5, tf.float32),
        (1, tf.int32),
        (2**40, tf.int64),
        (True, tf.bool),
        ([1, 2], tf.int32),
        ([1, 2.5], tf.float32),
        ([[True, False]], tf.bool),
        (np.float64(1.0), tf.float64),
        (np.array([1.0]), tf.float64),
        (np.array([1], dtype=np.int64), tf.int64),
        (np.array([1], dtype=np.uint8), tf.uint8),
        (np.float16(1.0), tf.float16),
        ([], tf.float32),
        ("abc", tf.string),
    ],
)
def test_constant_dtype_inference_is_tf1s(value, dtype):
    assert infer_dtype(value) is dtype
    assert tf.constant(value).dtype is dtype


def test_constant_with_explicit_dtype_converts_safely_or_refuses():
    assert tf.constant(1, dtype=tf.float32).dtype is tf.float32
    assert tf.constant([1, 2], dtype=tf.float64).dtype is tf.float64
    assert tf.constant(True, dtype=tf.int32).dtype is tf.int32
    # Python floats never become integers, nor numbers bools (TF1's make_tensor_proto)...
    with pytest.raises(TypeError, match="Expected int32, but got 3.0 of type 'float'"):
        tf.constant(3.0, dtype=tf.int32)
    with pytest.raises(TypeError, match=r"Expected int32, but got \[1, 2.5\] of type 'list'"):
        tf.constant([1, 2.5], dtype=tf.int32)
    with pytest.raises(TypeError, match="Expected bool, but got 1 of type 'int'"):
        tf.constant(1, dtype=tf.bool)
    # ... while NumPy values are cast as asked.
    with tf.Session() as sess:
        assert sess.run(tf.constant(np.array([1.7, -1.7]), dtype=tf.int32)).tolist() == [1, -1]
        assert sess.run(tf.constant(np.float64(2.5), dtype=tf.float32)) == np.float32(2.5)
    with pytest.raises(TypeError, match=r"Cannot convert \{'a': 1\}"):
        tf.constant({"a": 1})


def test_string_constants_hold_bytes():
    with tf.Session() as sess:
        assert sess.run(tf.constant("hi")) == b"hi"
        assert sess.run(tf.constant(["a", b"b"])).tolist() == [b"a", b"b"]


def test_python_scalars_take_the_other_operands_dtype():
    x = tf.placeholder(tf.float64)
    i = tf.placeholder(tf.int64)
    assert (x + 1).dtype is tf.float64 and (2 * x).dtype is tf.float64
    assert (i + 1).dtype is tf.int64
    assert (tf.constant(1.5) + 1).dtype is tf.float32


@pytest.mark.parametrize(
    "build",
    [
        lambda: tf.constant(1.0) + tf.constant(1),
        lambda: tf.add(tf.constant(1.0, tf.float64), tf.constant(1.0)),
        lambda: tf.multiply(tf.placeholder(tf.float16, name="h"), tf.placeholder(tf.float32, name="f")),
        lambda: tf.matmul(tf.ones([2, 2], tf.float32), tf.ones([2, 2], tf.float64)),
        lambda: tf.add_n([tf.constant(1.0), tf.constant(1.0, tf.float64)]),
    ],
    ids=["add", "add_fn", "mul", "matmul", "add_n"],
)
def test_binary_ops_never_cast_and_name_both_operands(build):
    with pytest.raises((TypeError, ValueError)) as info:
        build()
    msg = str(info.value)
    assert "does not match" in msg
    # Both operands are named with their dtypes.
    assert msg.count(":0'") >= 2 or msg.count(":0") >= 2


def test_mismatch_is_both_type_and_value_error():
    with pytest.raises(TypeError, match=r"'Const:0' \(float32.*'Const_1:0' \(int32"):
        tf.constant(1.0) - tf.constant(1)
    with pytest.raises(ValueError, match="does not match type float32"):
        tf.constant(1.0) * tf.constant(1)


def test_python_float_operand_of_an_integer_tensor_is_refused_naming_it():
    with pytest.raises(TypeError, match=r"Cannot combine 'Const:0' \(int32, shape \(\)\) and 2.0"):
        tf.constant(1) + 2.0


def test_cast_converts_and_truncates_toward_zero():
    with tf.Session() as sess:
        assert sess.run(tf.cast(tf.constant([-1.7, 1.7]), tf.int32)).tolist() == [-1, 1]
        out = sess.run(tf.cast(tf.constant([1, 0]), tf.bool))
        assert out.dtype == np.bool_ and out.tolist() == [True, False]
    x = tf.constant(1.0)
    assert tf.cast(x, tf.float32) is x


def test_truediv_of_integers_gives_floats():
    assert (tf.constant(1) / tf.constant(2)).dtype is tf.float64
    assert (tf.constant(1, tf.int16) / tf.constant(2, tf.int16)).dtype is tf.float32
    with tf.Session() as sess:
        assert sess.run(tf.constant(1) / 2) == 0.5
