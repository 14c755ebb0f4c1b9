"""Static shapes: Dimension, TensorShape, and shape inference at graph construction."""

from __future__ import annotations

import inspect

import pytest

import flowgraph as tf
from flowgraph.shapes import as_shape, broadcast_dims, scalar, unknown_shape


@pytest.fixture(autouse=True)
def fresh_graph():
    with tf.Graph().as_default() as g:
        yield g


# ---------------------------------------------------------------------------------------------
# Dimension
# ---------------------------------------------------------------------------------------------
def test_dimension_values_and_arithmetic():
    d, u = tf.Dimension(3), tf.Dimension(None)
    assert d.value == 3 and int(d) == 3 and u.value is None
    assert (d + 1).value == 4 and (2 * d).value == 6 and (d - 1).value == 2 and (d // 2).value == 1
    assert (d + u).value is None and (u * 2).value is None
    assert d == 3 and d != 4 and (u == 3) is None and (u != 3) is None
    assert repr(d) == "Dimension(3)" and str(u) == "?" and repr(u) == "Dimension(None)"
    assert tf.dimension_value(d) == 3 and tf.dimension_value(None) is None and tf.dimension_value(5) == 5
    assert d.is_compatible_with(3) and u.is_compatible_with(7) and not d.is_compatible_with(4)
    assert u.merge_with(5).value == 5 and d.merge_with(None).value == 3


def test_dimension_errors():
    with pytest.raises(ValueError, match="must be a non-negative integer"):
        tf.Dimension(-1)
    with pytest.raises(ValueError, match="must be a non-negative integer"):
        tf.Dimension(1.5)
    with pytest.raises(TypeError, match="unknown Dimension"):
        int(tf.Dimension(None))
    with pytest.raises(ValueError, match="Dimensions 3 and 4 are not compatible"):
        tf.Dimension(3).merge_with(4)


# ---------------------------------------------------------------------------------------------
# TensorShape
# ---------------------------------------------------------------------------------------------
def test_tensorshape_queries():
    s = tf.TensorShape([None, 3])
    assert s.ndims == 2 and s.rank == 2 and len(s) == 2 and s.as_list() == [None, 3]
    assert [d.value for d in s.dims] == [None, 3] and s[1].value == 3 and s[0].value is None
    assert s[1:].as_list() == [3] and [d.value for d in s] == [None, 3]
    assert not s.is_fully_defined() and s.num_elements() is None
    full = tf.TensorShape([2, 3])
    assert full.is_fully_defined() and full.num_elements() == 6
    assert scalar().as_list() == [] and scalar().num_elements() == 1 and tf.TensorShape(4).as_list() == [4]
    assert str(s) == "(?, 3)" and str(tf.TensorShape([5])) == "(5,)" and str(scalar()) == "()"
    assert repr(s) == "TensorShape([Dimension(None), Dimension(3)])" and repr(scalar()) == "TensorShape([])"


def test_unknown_rank_shape():
    u = tf.TensorShape(None)
    assert u.ndims is None and not u and str(u) == "<unknown>" and repr(u) == "TensorShape(None)"
    assert u[0].value is None and u[1:].ndims is None and u.num_elements() is None
    assert unknown_shape(2).as_list() == [None, None]
    with pytest.raises(ValueError, match="as_list\\(\\) is not defined on an unknown TensorShape"):
        u.as_list()
    with pytest.raises(ValueError, match="unknown rank"):
        len(u)


def test_compatibility_and_merge():
    a = tf.TensorShape([None, 3])
    assert a.is_compatible_with([2, 3]) and a.is_compatible_with(None) and not a.is_compatible_with([2, 4])
    assert not a.is_compatible_with([3])
    assert a.merge_with([2, None]).as_list() == [2, 3]
    assert tf.TensorShape(None).merge_with(a) == a
    with pytest.raises(ValueError, match=r"Shapes \(\?, 3\) and \(2, 4\) are not compatible"):
        a.merge_with([2, 4])
    with pytest.raises(ValueError, match="are incompatible"):
        a.assert_is_compatible_with([1, 2, 3])
    assert a.with_rank(2) is a and tf.TensorShape(None).with_rank(3).as_list() == [None] * 3
    with pytest.raises(ValueError, match=r"Shape \(\?, 3\) must have rank 3"):
        a.assert_has_rank(3)
    assert a.concatenate([4]).as_list() == [None, 3, 4] and a.concatenate(None).ndims is None


def test_equality_and_hash():
    assert tf.TensorShape([1, 2]) == [1, 2] and tf.TensorShape([1, 2]) != [2, 1]
    assert tf.TensorShape([None]) == tf.TensorShape([None])  # structural, as TF1's __eq__
    assert {tf.TensorShape([1, 2]): "x"}[as_shape((1, 2))] == "x"
    with pytest.raises(ValueError, match="Negative dimension"):
        tf.TensorShape([2, -1])


def test_broadcast_dims():
    assert broadcast_dims((2, 1, 3), (4, 1)) == (2, 4, 3)
    assert broadcast_dims((None, 3), (3,)) == (None, 3)
    assert broadcast_dims((None,), (1,)) == (None,)
    assert broadcast_dims(None, (3,)) is None
    with pytest.raises(ValueError, match=r"Dimensions must be equal, but are 3 and 4: shapes \(2, 3\) and \(4,\)"):
        broadcast_dims((2, 3), (4,))


# ---------------------------------------------------------------------------------------------
# Inference at construction
# ---------------------------------------------------------------------------------------------
def test_every_op_infers_its_output_shape():
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    w = tf.placeholder(tf.float32, [3, 5])
    assert x.shape.as_list() == [None, 3] and tf.placeholder(tf.float32).shape.ndims is None
    assert tf.matmul(x, w).shape.as_list() == [None, 5]
    assert tf.matmul(w, x, transpose_a=True, transpose_b=True).shape.as_list() == [5, None]
    assert (x + tf.placeholder(tf.float32, [7, 1, 1])).shape.as_list() == [7, None, 3]
    assert (x * 2.0).shape.as_list() == [None, 3]
    assert tf.reduce_sum(x).shape.as_list() == [] and tf.reduce_sum(x, axis=1).shape.as_list() == [None]
    assert tf.reduce_mean(x, axis=0, keepdims=True).shape.as_list() == [1, 3]
    assert tf.reduce_sum(x, axis=[-1, 0]).shape.as_list() == []
    assert tf.add_n([x, x, x]).shape.as_list() == [None, 3]
    assert tf.cast(x, tf.int32).shape.as_list() == [None, 3]
    assert tf.constant([[1, 2]]).shape.as_list() == [1, 2]
    assert tf.constant(0.0, shape=[2, 3]).shape.as_list() == [2, 3]
    assert tf.placeholder_with_default([1.0, 2.0], [None]).shape.as_list() == [None]
    assert tf.identity(x).shape.as_list() == [None, 3]


def test_add_n_merges_partial_shapes():
    a = tf.placeholder(tf.float32, [None, 3])
    b = tf.placeholder(tf.float32, [2, None])
    assert tf.add_n([a, b]).shape.as_list() == [2, 3]


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda x, w: tf.matmul(x, x), r"Dimensions must be equal, but are 3 and 4 for 'MatMul'"),
        (lambda x, w: x + w, r"Dimensions must be equal, but are 3 and 5"),
        (lambda x, w: tf.add_n([x, w]), "AddN inputs must have the same shape"),
        (lambda x, w: tf.reduce_sum(x, axis=2), "Invalid reduction dimension 2 for input with 2 dimensions"),
        (lambda x, w: tf.matmul(tf.reduce_sum(x), w), "MatMul needs rank-2 operands"),
    ],
    ids=["matmul", "broadcast", "add_n", "axis", "rank"],
)
def test_incompatible_shapes_raise_at_the_building_line(build, message):
    x = tf.placeholder(tf.float32, [4, 3], name="x")
    w = tf.placeholder(tf.float32, [4, 5], name="w")
    with pytest.raises(ValueError, match=message) as info:
        build(x, w)
    # The lambda in this file is the user code that built the op.
    assert f"created at {__file__}:" in str(info.value) or "for input with 2 dimensions" in str(info.value)


def test_shape_error_names_the_node_inputs_and_user_line():
    x = tf.placeholder(tf.float32, [2, 3], name="x")
    y = tf.placeholder(tf.float32, [4], name="y")
    line = inspect.currentframe().f_lineno + 2
    with pytest.raises(ValueError) as info:
        tf.add(x, y, name="bad")
    msg = str(info.value)
    assert "Dimensions must be equal, but are 3 and 4" in msg
    assert "{{node bad}} = AddV2(x, y)' with input shapes: [2,3], [4]" in msg
    assert f"created at {__file__}:{line}" in msg
    # The failed op left no trace: its name is free again.
    assert tf.add(x, tf.placeholder(tf.float32, [3]), name="bad").name == "bad:0"


def test_feed_shapes_are_checked_against_partial_static_shapes():
    x = tf.placeholder(tf.float32, [None, 2], name="x")
    with tf.Session() as sess:
        assert sess.run(tf.reduce_sum(x), {x: [[1, 2], [3, 4], [5, 6]]}) == 21
        with pytest.raises(
            ValueError, match=r"Cannot feed value of shape \(3,\) for Tensor 'x:0', which has shape \(\?, 2\)"
        ):
            sess.run(x, {x: [1, 2, 3]})
