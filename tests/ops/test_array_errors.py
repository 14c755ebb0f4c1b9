"""Array ops beyond the case table: construction errors naming the culprits, run-time errors naming the
op, TF1 naming and dtype rules, and static shapes from partially known values."""

import numpy as np
import pytest

import flowgraph as tf
from flowgraph.ops.array import _dims_from_shape_tensor


@pytest.fixture(autouse=True)
def graph():
    g = tf.Graph()
    with g.as_default():
        yield g


def run(fetches, feed=None):
    with tf.Session() as s:
        return s.run(fetches, feed)


def ph(shape, dtype=tf.float64, name=None):
    return tf.placeholder(dtype, shape, name=name)


# -- construction errors -------------------------------------------------------------------------
def test_concat_rank_mismatch_names_both():
    a, b = ph([2, 3], name="a"), ph([2, 3, 1], name="b")
    with pytest.raises(ValueError, match=r"(?s)'a:0'.*'b:0'"):
        tf.concat([a, b], 0)


def test_concat_dim_mismatch_and_dtype_mismatch():
    a, b = ph([2, 3], name="a"), ph([4, 5], name="b")
    with pytest.raises(ValueError, match=r"(?s)dimension 1.*'a:0'.*'b:0'"):
        tf.concat([a, b], 0)
    c = ph([2, 3], tf.float32, name="c")
    with pytest.raises(TypeError, match=r"(?s)'c:0'.*float32"):
        tf.concat([a, c], 0)
    with pytest.raises(ValueError, match="out of range"):
        tf.concat([a, a], 2)
    with pytest.raises(ValueError, match="scalars"):
        tf.concat([ph([]), ph([])], 0)


def test_split_errors():
    x = ph([3, 10], name="x")
    with pytest.raises(ValueError, match=r"(?s)evenly divisible by 3 but is 10.*'x:0'"):
        tf.split(x, 3, axis=1)
    with pytest.raises(ValueError, match=r"(?s)add up to.*'x:0'"):
        tf.split(x, [4, 4], axis=1)
    with pytest.raises(ValueError, match="at most one"):
        tf.split(x, [-1, -1], axis=1)
    with pytest.raises(ValueError, match="Cannot infer num"):
        tf.split(x, tf.placeholder(tf.int32, [None]), axis=1)
    parts = tf.split(x, [2, -1], axis=1, name="parts")
    assert [p.shape.as_list() for p in parts] == [[3, 2], [3, 8]]
    assert [p.name for p in parts] == ["parts:0", "parts:1"]


def test_transpose_errors():
    x = ph([2, 3, 4], name="x")
    with pytest.raises(ValueError, match=r"(?s)perm has 2 entries.*'x:0'"):
        tf.transpose(x, [1, 0])
    with pytest.raises(ValueError, match="not a permutation"):
        tf.transpose(x, [0, 0, 1])
    with pytest.raises(TypeError, match="perm"):
        tf.transpose(x, [0.0, 1.0, 2.0])


def test_pad_errors():
    x = ph([2, 3], name="x")
    with pytest.raises(ValueError, match=r"(?s)paddings must have shape \[2, 2\].*'x:0'"):
        tf.pad(x, [[1, 1]])
    with pytest.raises(ValueError, match="non-negative"):
        tf.pad(x, [[1, -1], [0, 0]])
    with pytest.raises(ValueError, match=r"(?s)at most 1.*'x:0'"):
        tf.pad(x, [[2, 0], [0, 0]], mode="REFLECT")
    tf.pad(x, [[2, 0], [0, 0]], mode="symmetric")  # SYMMETRIC may repeat the whole dimension
    with pytest.raises(ValueError, match="Unknown padding mode: wrap"):
        tf.pad(x, [[0, 0], [0, 0]], mode="wrap")
    with pytest.raises(TypeError, match="paddings"):
        tf.pad(x, [[0.5, 0], [0, 0]])


def test_squeeze_and_expand_dims_errors():
    x = ph([3, 1, 4], name="x")
    with pytest.raises(ValueError, match=r"(?s)Can not squeeze dim\[0\], expected a dimension of 1, got 3.*'x:0'"):
        tf.squeeze(x, [0])
    with pytest.raises(ValueError, match="out of range"):
        tf.squeeze(x, [3])
    with pytest.raises(ValueError, match="Cannot specify both"):
        tf.squeeze(x, axis=[1], squeeze_dims=[1])
    with pytest.raises(ValueError, match=r"(?s)out of range \[-4, 3\].*'x:0'"):
        tf.expand_dims(x, 4)
    with pytest.raises(ValueError, match="Cannot specify both 'axis' and 'dim'"):
        tf.expand_dims(x, 0, dim=0)
    with pytest.raises(ValueError, match="Must specify an axis"):
        tf.expand_dims(x)
    assert tf.squeeze(ph([None, 1])).shape.ndims is None  # which dims are 1 is unknown
    assert tf.squeeze(ph([None, 1]), [1]).shape.as_list() == [None]


def test_tile_stack_unstack_errors():
    x = ph([2, 3], name="x")
    with pytest.raises(ValueError, match=r"(?s)multiples has 3 entries.*'x:0'"):
        tf.tile(x, [1, 2, 3])
    with pytest.raises(ValueError, match=r"(?s)'x:0'.*'y:0'"):
        tf.stack([x, ph([3, 2], name="y")])
    with pytest.raises(ValueError, match=r"axis 3 not in \[-3, 3\)"):
        tf.stack([x, x], axis=3)
    with pytest.raises(ValueError, match="Cannot infer num"):
        tf.unstack(ph([None, 3]))
    with pytest.raises(ValueError, match=r"(?s)num=4.*'x:0'"):
        tf.unstack(x, num=4)


def test_slice_errors():
    x = ph([3, 4], name="x")
    with pytest.raises(ValueError, match=r"(?s)begin has 1 entries.*'x:0'"):
        tf.slice(x, [1], [1])
    with pytest.raises(ValueError, match=r"(?s)runs past dimension 1.*'x:0'"):
        tf.slice(x, [0, 2], [1, 3])
    with pytest.raises(TypeError, match="valid indices"):
        x[1.5]
    with pytest.raises(TypeError, match="valid indices"):
        x[[0, 1]]
    with pytest.raises(ValueError, match="Multiple ellipses"):
        x[..., ...]
    with pytest.raises(ValueError, match=r"(?s)slice index 3 of dimension 0 out of bounds.*'x:0'"):
        x[3]
    with pytest.raises(ValueError, match=r"(?s)indexes 3 dimensions.*'x:0'"):
        x[0, 0, 0]
    with pytest.raises(ValueError, match="step cannot be zero"):
        x[::0]


def test_gather_one_hot_range_fill_errors():
    p = ph([3, 4], name="p")
    with pytest.raises(TypeError, match=r"indices.*float"):
        tf.gather(p, tf.constant([0.0]))
    with pytest.raises(ValueError, match=r"(?s)axis 2 is out of range.*'p:0'"):
        tf.gather(p, [0], axis=2)
    with pytest.raises(ValueError, match="exceeds the rank"):
        tf.gather_nd(p, [[0, 1, 2]])
    with pytest.raises(TypeError, match="does not match dtype parameter"):
        tf.one_hot([0], 3, on_value=tf.constant(1.0), dtype=tf.float64)
    with pytest.raises(TypeError, match="off_value"):
        tf.one_hot([0], 3, on_value=tf.constant(1.0), off_value=tf.constant(0, tf.int32))
    with pytest.raises(ValueError, match="delta != 0"):
        tf.range(0, 5, 0)
    with pytest.raises(ValueError, match="start <= limit"):
        tf.range(5, 1)
    with pytest.raises(ValueError, match="scalar"):
        tf.fill([2], tf.constant([1.0, 2.0]))
    with pytest.raises(ValueError, match="updates"):
        tf.scatter_nd([[0]], tf.constant([[1.0, 2.0]]), [3, 3])


# -- run-time errors -------------------------------------------------------------------------------
def test_gather_out_of_range_names_op():
    p = ph([3, 2])
    i = tf.placeholder(tf.int32, [None])
    out = tf.gather(p, i, name="lookup")
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"(?s)indices\[1\] = 5 is not in \[0, 3\).*'lookup'") as e:
        run(out, {p: np.zeros((3, 2)), i: [0, 5, 1]})
    assert e.value.op is out.op
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"indices\[0\] = -1"):
        run(out, {p: np.zeros((3, 2)), i: [-1]})


def test_runtime_index_errors():
    x = ph(None)
    i = tf.placeholder(tf.int32, [])
    with pytest.raises(tf.errors.InvalidArgumentError, match="strided_slice"):
        run(x[i], {x: np.zeros(3), i: 3})
    with pytest.raises(tf.errors.InvalidArgumentError, match="Slice"):
        run(tf.slice(x, [1], [5]), {x: np.zeros(3)})
    with pytest.raises(tf.errors.InvalidArgumentError, match="Squeeze"):
        run(tf.squeeze(x, [0]), {x: np.zeros((2, 1))})
    with pytest.raises(tf.errors.InvalidArgumentError, match="GatherNd"):
        run(tf.gather_nd(x, [[0, 4]]), {x: np.zeros((2, 3))})
    with pytest.raises(tf.errors.InvalidArgumentError, match="MirrorPad"):
        run(tf.pad(x, [[3, 0]], mode="REFLECT"), {x: np.zeros(3)})


# -- naming and TF1 construction rules ---------------------------------------------------------------
def test_op_names_follow_tf1():
    x = ph([4, 5])
    assert x[1].name == "strided_slice:0"
    assert x[1:].name == "strided_slice_1:0"
    with tf.name_scope("scope"):
        assert tf.concat([x, x], 0).name == "scope/concat:0"
        assert tf.stack([x, x]).name == "scope/stack:0"
    assert tf.transpose(x).name == "transpose:0"
    assert tf.expand_dims(x, 0).name == "ExpandDims:0"
    assert tf.gather(x, [0]).name == "GatherV2:0"
    assert tf.one_hot([1], 2).name == "one_hot:0"
    assert tf.range(3).name == "range:0"
    assert [t.name for t in tf.unstack(x)] == [f"unstack:{i}" for i in range(4)]
    assert tf.pad(x, [[1, 1], [0, 0]]).op.type == "Pad"
    assert tf.pad(x, [[1, 1], [0, 0]], constant_values=2.0).op.type == "PadV2"
    assert tf.pad(x, [[1, 1], [0, 0]], mode="Reflect").op.get_attr("mode") == "REFLECT"


def test_constant_shortcuts():
    z = tf.zeros([2, 3])
    assert (z.op.type, z.op.name, z.dtype) == ("Const", "zeros", tf.float32)
    big = tf.ones([50, 50], tf.int32)
    assert (big.op.type, big.op.name) == ("Fill", "ones")
    s = tf.stack([1, 2, 3])
    assert (s.op.type, s.name) == ("Const", "stack:0")
    one = tf.concat([ph([2])], 0)
    assert one.op.type == "Identity"
    np.testing.assert_array_equal(run(tf.zeros(tf.constant([2, 1]), tf.int64)), np.zeros((2, 1), np.int64))
    np.testing.assert_array_equal(run(big), np.ones((50, 50), np.int32))


def test_range_dtype_inference():
    assert tf.range(5).dtype == tf.int32
    assert tf.range(1.0, 5).dtype == tf.float32
    assert tf.range(1, 5, 0.5).dtype == tf.float32
    assert tf.range(5, dtype=tf.float64).dtype == tf.float64
    assert tf.range(tf.constant(2, tf.int64), 5).dtype == tf.int64
    r = tf.range(tf.constant(2.0, tf.float64), 4)
    assert r.dtype == tf.float64
    np.testing.assert_allclose(run(r), [2.0, 3.0])
    n = tf.placeholder(tf.int32, [])
    d = tf.range(n)
    assert d.shape.as_list() == [None]
    np.testing.assert_array_equal(run(d, {n: 4}), np.arange(4))
    np.testing.assert_allclose(run(tf.range(0.0, 1.0, 0.1)), np.arange(0.0, 1.0, 0.1), rtol=1e-6)


def test_one_hot_dtype_rules():
    assert tf.one_hot([0, 1], 2).dtype == tf.float32
    assert tf.one_hot([0, 1], 2, on_value=3).dtype == tf.int32
    assert tf.one_hot([0, 1], 2, off_value=tf.constant(0, tf.int64)).dtype == tf.int64
    assert tf.one_hot([0, 1], 2, on_value=1.0, dtype=tf.float64).dtype == tf.float64
    got = run(tf.one_hot([[0, 2]], 3, axis=1))
    np.testing.assert_array_equal(got, np.eye(3, dtype=np.float32)[[0, 2]].T[None])


# -- static shapes from partially known values ---------------------------------------------------------
def test_partial_shape_vectors_flow_into_shapes():
    x = ph([None, 3, 4])
    s = tf.shape(x)
    assert _dims_from_shape_tensor(s[1:]) == (3, 4)
    assert _dims_from_shape_tensor(tf.stack([s[0], 7])) == (None, 7)
    y = tf.reshape(x, tf.concat([[-1], s[1:]], 0))
    assert y.shape.as_list() == [None, 3, 4]
    z = tf.reshape(x, [s[0], 12])
    assert z.shape.as_list() == [None, 12]
    w = tf.reshape(x, [s[0], -1])
    assert w.shape.as_list() == [None, None]  # -1 cannot be resolved next to an unknown dim
    assert tf.zeros(tf.stack([s[0], 2])).shape.as_list() == [None, 2]
    v = run(w, {x: np.ones((2, 3, 4))})
    assert v.shape == (2, 12)


def test_static_values_fold():
    c = tf.constant(np.zeros((2, 5)))
    assert tf.get_static_value(tf.size(c)) == 10
    assert tf.get_static_value(tf.rank(c)) == 2
    np.testing.assert_array_equal(tf.get_static_value(tf.stack([1, tf.size(c)])), [1, 10])
    np.testing.assert_array_equal(tf.get_static_value(tf.shape(c)[::-1]), [5, 2])
    np.testing.assert_array_equal(tf.get_static_value(tf.range(3)), [0, 1, 2])
    assert tf.get_static_value(tf.size(ph([None]))) is None


def test_index_with_unknown_tensor_keeps_known_dims():
    x = ph([4, 5, 6])
    i = tf.placeholder(tf.int32, [])
    assert x[i].shape.as_list() == [5, 6]
    assert x[:, i].shape.as_list() == [4, 6]
    assert x[i:].shape.as_list() == [None, 5, 6]
    assert ph(None)[0].shape.ndims is None
    assert ph([None, 5])[::2, 1:3].shape.as_list() == [None, 2]
    v = np.arange(120.0).reshape(4, 5, 6)
    np.testing.assert_array_equal(run(x[i, 1:, i], {x: v, i: 2}), v[2, 1:, 2])
    np.testing.assert_array_equal(run(x[:, tf.constant(-1, tf.int64)], {x: v}), v[:, -1])


def test_iterating_a_tensor_slices_it():
    x = tf.constant(np.arange(6.0).reshape(3, 2))
    rows = list(x)
    assert len(rows) == 3 and rows[0].shape.as_list() == [2]
    np.testing.assert_array_equal(run(rows[2]), [4.0, 5.0])


def test_transpose_of_unknown_rank_reverses_at_run_time():
    x = ph(None)
    t = tf.transpose(x)
    assert t.shape.ndims is None
    v = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(run(t, {x: v}), v.T)
    (g,) = tf.gradients(tf.reduce_sum(t * tf.constant(v.T)), [x])
    np.testing.assert_array_equal(run(g, {x: v}), v)


# -- gradients: closed forms, and kernels never write into their inputs ---------------------------------
def test_gather_gradient_adds_repeated_indices():
    p = ph([4, 2])
    y = tf.gather(p, [3, 0, 3, 3])
    (g,) = tf.gradients(y, [p])
    want = np.zeros((4, 2))
    np.add.at(want, [3, 0, 3, 3], 1.0)
    np.testing.assert_array_equal(run(g, {p: np.zeros((4, 2))}), want)


def test_gather_gradient_axis_needs_known_rank():
    p, i = ph(None), tf.placeholder(tf.int32, [None])
    y = tf.gather(p, i, axis=1)
    with pytest.raises(ValueError, match="known rank"):
        tf.gradients(y, [p])


def test_mirror_pad_gradient_folds_reflections():
    x = ph([4])
    for mode, want in (("REFLECT", [1, 2, 3, 1]), ("SYMMETRIC", [2, 2, 1, 2])):
        (g,) = tf.gradients(tf.pad(x, [[2, 1]], mode=mode), [x])
        np.testing.assert_array_equal(run(g, {x: np.zeros(4)}), want)


def test_kernels_never_write_into_inputs():
    v = np.arange(24.0).reshape(2, 3, 4)
    v.setflags(write=False)
    x = ph([2, 3, 4])
    ys = [
        tf.pad(x, [[1, 1], [2, 0], [0, 1]], mode="SYMMETRIC"),
        tf.pad(x, [[0, 1], [1, 1], [0, 0]], constant_values=3.0),
        x[::-1, 1:, tf.newaxis, 2],
        tf.gather(x, [1, 1], axis=2),
        tf.gather_nd(x, [[1, 2]]),
        tf.tile(x, [1, 2, 1]),
        tf.concat(tf.split(x, [1, 3], axis=2), 2),
        tf.transpose(x, [2, 0, 1]),
        tf.reverse(x, [1]),
        tf.slice(x, [0, 1, 1], [-1, 2, 2]),
    ]
    loss = tf.add_n([tf.reduce_sum(y * y) for y in ys])
    (g,) = tf.gradients(loss, [x])
    (h,) = tf.gradients(tf.reduce_sum(g * g), [x])
    run([g, h], {x: v})
    assert np.array_equal(v, np.arange(24.0).reshape(2, 3, 4))


def test_boolean_mask_shapes_and_errors():
    x = ph([None, 3, 4], name="x")
    y = tf.boolean_mask(x, tf.placeholder(tf.bool, [None, 3]))
    assert y.shape.as_list() == [None, 4]
    v = np.arange(24.0).reshape(2, 3, 4)
    mv = np.array([[True, False, True], [False, False, True]])
    np.testing.assert_array_equal(run(y, {x: v, "Placeholder:0": mv}), v[mv])
    with pytest.raises(ValueError, match=r"(?s)does not match.*'x:0'"):
        tf.boolean_mask(x, tf.constant([True, False]), axis=1)
    with pytest.raises(ValueError, match="scalar"):
        tf.boolean_mask(x, True)
    with pytest.raises(TypeError, match="bool"):
        tf.boolean_mask(x, [1, 0, 1], axis=1)
