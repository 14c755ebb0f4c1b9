"""Cases for the array ops: transpose, expand/squeeze, concat/stack/split, tile, pad, slicing, gather, fills."""

import numpy as np
from op_case import OpCase, randn

import flowgraph as tf

i32 = np.int32


def ints(*rows, dtype=np.int32):
    return np.array(rows, dtype=dtype)


def _np_pad_reflect(x, p, mode):
    return np.pad(x, p, mode=mode)


def _dyn(x, shape):
    """``x`` through a placeholder_with_default of a less known shape: exercises the dynamic code paths."""
    return tf.placeholder_with_default(x, shape)


X = randn(4, 5, 6)

GETITEM = [
    ("x[1]", lambda x: x[1], lambda x: x[1]),
    ("x[:, 1:3]", lambda x: x[:, 1:3], lambda x: x[:, 1:3]),
    ("x[::-1]", lambda x: x[::-1], lambda x: x[::-1]),
    ("x[..., 0]", lambda x: x[..., 0], lambda x: x[..., 0]),
    ("x[:, newaxis]", lambda x: x[:, tf.newaxis], lambda x: x[:, None]),
    ("x[-2:, ::2]", lambda x: x[-2:, ::2], lambda x: x[-2:, ::2]),
    ("x[1:-1, ::-2, 3]", lambda x: x[1:-1, ::-2, 3], lambda x: x[1:-1, ::-2, 3]),
    ("x[newaxis, ..., newaxis]", lambda x: x[tf.newaxis, ..., tf.newaxis], lambda x: x[None, ..., None]),
    ("x[-1, -2, -3]", lambda x: x[-1, -2, -3], lambda x: x[-1, -2, -3]),
    ("x[3:0:-1, 1]", lambda x: x[3:0:-1, 1], lambda x: x[3:0:-1, 1]),
    ("x[..., ::3, 2:]", lambda x: x[..., ::3, 2:], lambda x: x[..., ::3, 2:]),
    ("x[:, 10:]_empty", lambda x: x[:, 10:], lambda x: x[:, 10:]),
    ("x[2:1]_empty", lambda x: x[2:1], lambda x: x[2:1]),
    ("x[1, newaxis, :-7:-2]", lambda x: x[1, tf.newaxis, :-7:-2], lambda x: x[1, None, :-7:-2]),
    ("x[const_index]", lambda x: x[tf.constant(2)], lambda x: x[2]),
    ("x[dynamic_index]", lambda x: x[tf.placeholder_with_default(3, [])], lambda x: x[3]),
    ("x[dynamic_slice]", lambda x: tf.reshape(x[:, tf.placeholder_with_default(1, []):4], [4, 3, 6]),
     lambda x: x[:, 1:4]),
]

CASES = [
    # -- transpose ------------------------------------------------------------------------------
    OpCase("transpose_default", lambda x: tf.transpose(x), [randn(2, 3, 4)], np.transpose, second_order=True),
    OpCase("transpose_perm", lambda x: tf.transpose(x, [1, 2, 0]), [randn(2, 3, 4)],
           lambda x: np.transpose(x, (1, 2, 0)), second_order=True),
    OpCase("transpose_int", lambda x: tf.transpose(x, perm=[1, 0]), [ints([1, 2, 3], [4, 5, 6])], np.transpose,
           grad=False),
    OpCase("transpose_unknown_rank", lambda x: tf.reshape(tf.transpose(_dyn(x, None)), [4, 3, 2]), [randn(2, 3, 4)],
           np.transpose),
    OpCase("invert_permutation", lambda p: tf.invert_permutation(p), [ints(2, 0, 3, 1)], np.argsort, grad=False),
    # -- expand_dims / squeeze -----------------------------------------------------------------------------
    OpCase("expand_dims_1", lambda x: tf.expand_dims(x, 1), [randn(3, 4)], lambda x: x[:, None], second_order=True),
    OpCase("expand_dims_neg", lambda x: tf.expand_dims(x, -1), [randn(3, 4)], lambda x: x[..., None]),
    OpCase("expand_dims_dim", lambda x: tf.expand_dims(x, dim=0), [randn(3)], lambda x: x[None]),
    OpCase("squeeze_all", lambda x: tf.squeeze(x), [randn(3, 1, 4, 1)], np.squeeze, second_order=True),
    OpCase("squeeze_axis", lambda x: tf.squeeze(x, [1]), [randn(3, 1, 4, 1)], lambda x: x[:, 0]),
    OpCase("squeeze_neg", lambda x: tf.squeeze(x, axis=-1), [randn(3, 1, 4, 1)], lambda x: x[..., 0]),
    OpCase("squeeze_dims", lambda x: tf.squeeze(x, squeeze_dims=[0, 2]), [randn(1, 3, 1)], lambda x: x[0, :, 0]),
    # -- concat / stack / unstack / split ---------------------------------------------------------------
    OpCase("concat_axis1", lambda a, b: tf.concat([a, b], 1), [randn(2, 3), randn(2, 4, seed=1)],
           lambda a, b: np.concatenate([a, b], 1), second_order=True),
    OpCase("concat_neg_axis", lambda a, b, c: tf.concat([a, b, c], -1),
           [randn(2, 3, 1), randn(2, 3, 4, seed=1), randn(2, 3, 2, seed=2)],
           lambda a, b, c: np.concatenate([a, b, c], -1)),
    OpCase("concat_empty", lambda a, b: tf.concat([a, b], 0), [randn(0, 3), randn(2, 3, seed=1)],
           lambda a, b: np.concatenate([a, b], 0)),
    OpCase("concat_dynamic", lambda a, b: tf.reshape(tf.concat([_dyn(a, [None, 3]), b], 0), [5, 3]),
           [randn(2, 3), randn(3, 3, seed=1)], lambda a, b: np.concatenate([a, b], 0), second_order=True),
    OpCase("concat_int", lambda a, b: tf.concat([a, b], axis=0), [ints([1, 2]), ints([3, 4], [5, 6])],
           lambda a, b: np.concatenate([a, b]), grad=False),
    OpCase("concat_one", lambda a: tf.concat([a], 0), [randn(3)], lambda a: a),
    OpCase("stack_axis0", lambda a, b, c: tf.stack([a, b, c]), [randn(2, 3), randn(2, 3, seed=1), randn(2, 3, seed=2)],
           lambda a, b, c: np.stack([a, b, c]), second_order=True),
    OpCase("stack_axis1", lambda a, b: tf.stack([a, b], axis=1), [randn(2, 3), randn(2, 3, seed=1)],
           lambda a, b: np.stack([a, b], 1)),
    OpCase("stack_neg_axis", lambda a, b: tf.stack([a, b], axis=-1), [randn(4), randn(4, seed=1)],
           lambda a, b: np.stack([a, b], -1)),
    OpCase("stack_empty", lambda a, b: tf.stack([a, b], axis=1), [randn(0, 3), randn(0, 3, seed=1)],
           lambda a, b: np.stack([a, b], 1)),
    OpCase("unstack_axis1", lambda x: tf.unstack(x, num=3, axis=1), [randn(2, 3, 4)],
           lambda x: [x[:, i] for i in range(3)], second_order=True),
    OpCase("unstack_one_used", lambda x: tf.unstack(x, 3)[1], [randn(3, 2)], lambda x: x[1]),
    OpCase("unstack_num", lambda x: tf.unstack(x, num=2, axis=-1), [randn(3, 2)], lambda x: [x[:, 0], x[:, 1]]),
    OpCase("split_count", lambda x: tf.split(x, 2, axis=1), [randn(3, 4, 5)], lambda x: np.split(x, 2, axis=1),
           second_order=True),
    OpCase("split_sizes", lambda x: tf.split(x, [1, -1, 2], axis=2), [randn(3, 4, 6)],
           lambda x: np.split(x, [1, 4], axis=2), second_order=True),
    OpCase("split_one_used", lambda x: tf.split(x, [2, 3], 0)[1], [randn(5, 2)], lambda x: x[2:]),
    OpCase("split_zero_piece", lambda x: tf.split(x, [0, 3], -1), [randn(2, 3)], lambda x: [x[:, :0], x]),
    OpCase("split_one", lambda x: tf.split(x, 1), [randn(2, 3)], lambda x: [x]),
    # -- tile ---------------------------------------------------------------------------------------------
    OpCase("tile", lambda x: tf.tile(x, [2, 1, 3]), [randn(2, 3, 4)], lambda x: np.tile(x, (2, 1, 3)),
           second_order=True),
    OpCase("tile_dynamic", lambda x: tf.reshape(tf.tile(_dyn(x, [None, 3]), [2, 2]), [4, 6]), [randn(2, 3)],
           lambda x: np.tile(x, (2, 2)), second_order=True),
    OpCase("tile_zero", lambda x: tf.tile(x, [0, 2]), [randn(2, 3)], lambda x: np.tile(x, (0, 2))),
    OpCase("tile_int", lambda x: tf.tile(x, [3]), [ints(1, 2)], lambda x: np.tile(x, 3), grad=False),
    # -- pad ------------------------------------------------------------------------------------------------
    OpCase("pad_constant", lambda x: tf.pad(x, [[1, 2], [0, 3]]), [randn(2, 3)],
           lambda x: np.pad(x, [(1, 2), (0, 3)]), second_order=True),
    OpCase("pad_constant_values", lambda x: tf.pad(x, [[1, 0], [2, 1]], constant_values=1.5), [randn(2, 3)],
           lambda x: np.pad(x, [(1, 0), (2, 1)], constant_values=1.5)),
    OpCase("pad_reflect", lambda x: tf.pad(x, [[2, 1], [1, 3]], mode="reflect"), [randn(3, 4)],
           lambda x: np.pad(x, [(2, 1), (1, 3)], mode="reflect"), second_order=True),
    OpCase("pad_symmetric", lambda x: tf.pad(x, [[3, 1], [0, 2]], mode="SYMMETRIC"), [randn(3, 4)],
           lambda x: np.pad(x, [(3, 1), (0, 2)], mode="symmetric"), second_order=True),
    OpCase("pad_dynamic_paddings",
           lambda x: tf.reshape(tf.pad(x, tf.placeholder_with_default(ints([1, 0], [2, 2]), [2, 2])), [3, 7]),
           [randn(2, 3)], lambda x: np.pad(x, [(1, 0), (2, 2)]), second_order=True),
    OpCase("pad_empty", lambda x: tf.pad(x, [[1, 1], [0, 0]]), [randn(0, 3)], lambda x: np.pad(x, [(1, 1), (0, 0)])),
    OpCase("pad_int", lambda x: tf.pad(x, [[1, 1]], constant_values=7), [ints(1, 2)],
           lambda x: np.pad(x, 1, constant_values=7), grad=False),
    # -- slice / strided slice -----------------------------------------------------------------------------
    OpCase("slice", lambda x: tf.slice(x, [1, 0, 2], [2, -1, 1]), [randn(3, 4, 5)], lambda x: x[1:3, :, 2:3],
           second_order=True),
    OpCase("slice_dynamic_begin", lambda x: tf.slice(x, tf.placeholder_with_default(ints(1, 2), [2]), [2, 3]),
           [randn(4, 5)], lambda x: x[1:3, 2:5], second_order=True),
    OpCase("slice_empty", lambda x: tf.slice(x, [1, 0], [0, 2]), [randn(3, 4)], lambda x: x[1:1, 0:2]),
    OpCase("strided_slice_fn", lambda x: tf.strided_slice(x, [0, 1], [3, 5], [2, 2]), [randn(4, 5)],
           lambda x: x[0:3:2, 1:5:2], second_order=True),
    OpCase("strided_slice_masks", lambda x: tf.strided_slice(x, [0, 2], [0, 0], [1, -1], begin_mask=1, end_mask=3),
           [randn(4, 5)], lambda x: x[:, 2::-1]),
    OpCase("getitem_int", lambda x: x[1:, 0], [ints([1, 2], [3, 4], [5, 6])], lambda x: x[1:, 0], grad=False),
    *[OpCase(f"getitem {label}", b, [X], r, second_order=label in ("x[::-1]", "x[1:-1, ::-2, 3]"))
      for label, b, r in GETITEM],
    # -- gather / gather_nd / scatter_nd ---------------------------------------------------------------------
    OpCase("gather_repeats", lambda p: tf.gather(p, [2, 0, 2, 1]), [randn(4, 3)], lambda p: p[[2, 0, 2, 1]],
           second_order=True),
    OpCase("gather_axis1", lambda p: tf.gather(p, [[0, 2], [2, 2]], axis=1), [randn(3, 4, 5)],
           lambda p: np.take(p, [[0, 2], [2, 2]], axis=1), second_order=True),
    OpCase("gather_axis_neg", lambda p: tf.gather(p, [1, 1, 0], axis=-1), [randn(3, 2)],
           lambda p: p[:, [1, 1, 0]]),
    OpCase("gather_indices_input", lambda p, i: tf.gather(p, i), [randn(5, 3), ints(4, 0, 4)], lambda p, i: p[i]),
    OpCase("gather_empty_indices", lambda p: tf.gather(p, np.zeros((0,), np.int32)), [randn(4, 3)],
           lambda p: p[:0]),
    OpCase("gather_int64_indices", lambda p: tf.gather(p, np.array([1, 0], np.int64)), [ints(5, 6, 7)],
           lambda p: p[[1, 0]], grad=False),
    OpCase("gather_nd", lambda p: tf.gather_nd(p, [[0, 1], [2, 2], [0, 1]]), [randn(3, 4, 2)],
           lambda p: p[[0, 2, 0], [1, 2, 1]], second_order=True),
    OpCase("gather_nd_full", lambda p: tf.gather_nd(p, [[[1, 0]], [[0, 2]]]), [randn(2, 3)],
           lambda p: p[[[1], [0]], [[0], [2]]]),
    OpCase("scatter_nd", lambda u: tf.scatter_nd([[1], [3], [1]], u, [5, 2]), [randn(3, 2)],
           lambda u: np.stack([np.zeros(2), u[0] + u[2], np.zeros(2), u[1], np.zeros(2)]), second_order=True),
    # -- one_hot -----------------------------------------------------------------------------------------
    OpCase("one_hot", lambda i: tf.one_hot(i, 4), [ints([0, 3], [5, -1])],
           lambda i: (i[..., None] == np.arange(4)).astype(np.float32), grad=False),
    OpCase("one_hot_axis0_values", lambda i: tf.one_hot(i, 3, on_value=5, off_value=-1, axis=0), [ints(2, 0, 1, 2)],
           lambda i: np.where(np.arange(3)[:, None] == i, 5, -1).astype(np.int32), grad=False),
    OpCase("one_hot_float64", lambda i, x: tf.one_hot(i, 3, dtype=tf.float64) * x, [ints(1, 0), randn(2, 3)],
           lambda i, x: np.eye(3)[i] * x),
    # -- size / rank / fills / range -----------------------------------------------------------------------
    OpCase("size", lambda x: tf.size(x), [randn(3, 4)], lambda x: np.int32(12), grad=False),
    OpCase("size_int64", lambda x: tf.size(x, out_type=tf.int64), [randn(0, 4)], lambda x: np.int64(0), grad=False),
    OpCase("rank", lambda x: tf.rank(x), [randn(3, 4, 2)], lambda x: np.int32(3), grad=False),
    OpCase("zeros_const", lambda: tf.zeros([2, 3]), [], lambda: np.zeros((2, 3), np.float32), grad=False),
    OpCase("ones_int", lambda: tf.ones((3,), tf.int32), [], lambda: np.ones(3, np.int32), grad=False),
    OpCase("zeros_fill_big", lambda: tf.zeros([40, 30], dtype=tf.float64), [], lambda: np.zeros((40, 30)),
           grad=False),
    OpCase("ones_from_shape", lambda x: tf.ones(tf.shape(x), tf.float64) * x, [randn(3, 2)], lambda x: x),
    OpCase("fill", lambda v: tf.fill([2, 3], v), [np.array(1.25)], lambda v: np.full((2, 3), v), second_order=True),
    OpCase("fill_int", lambda: tf.fill([2], 7), [], lambda: np.full(2, 7, np.int32), grad=False),
    OpCase("range_limit", lambda: tf.range(5), [], lambda: np.arange(5, dtype=np.int32), grad=False),
    OpCase("range_step", lambda: tf.range(1, 10, 3), [], lambda: np.arange(1, 10, 3, dtype=np.int32), grad=False),
    OpCase("range_negative", lambda: tf.range(10, 2, -3), [], lambda: np.arange(10, 2, -3, dtype=np.int32),
           grad=False),
    OpCase("range_float", lambda: tf.range(0.5, 2, 0.5), [], lambda: np.arange(0.5, 2, 0.5, dtype=np.float32),
           grad=False),
    OpCase("range_dtype", lambda: tf.range(3, dtype=tf.float64), [], lambda: np.arange(3.0), grad=False),
    OpCase("range_empty", lambda: tf.range(4, 4), [], lambda: np.arange(0, dtype=np.int32), grad=False),
    # -- reverse / meshgrid / sequence_mask ------------------------------------------------------------------
    OpCase("reverse", lambda x: tf.reverse(x, [0, 2]), [randn(2, 3, 4)], lambda x: x[::-1, :, ::-1],
           second_order=True),
    OpCase("reverse_neg", lambda x: tf.reverse(x, axis=[-1]), [randn(2, 3)], lambda x: x[:, ::-1]),
    OpCase("meshgrid_xy", lambda a, b: tf.meshgrid(a, b), [randn(3), randn(4, seed=1)],
           lambda a, b: np.meshgrid(a, b), second_order=True),
    OpCase("meshgrid_ij", lambda a, b, c: tf.meshgrid(a, b, c, indexing="ij"),
           [randn(2), randn(3, seed=1), randn(4, seed=2)], lambda a, b, c: np.meshgrid(a, b, c, indexing="ij")),
    OpCase("boolean_mask", lambda x: tf.reshape(tf.boolean_mask(x, [True, False, True, True]), [3, 5]),
           [randn(4, 5)], lambda x: x[[0, 2, 3]], second_order=True),
    OpCase("boolean_mask_axis_2d", lambda x: tf.reshape(tf.boolean_mask(x, [[True, False], [False, True], [True, True]],
                                                                      axis=1), [2, 4]),
           [randn(2, 3, 2)], lambda x: x[:, np.array([[True, False], [False, True], [True, True]])]),
    OpCase("sequence_mask", lambda n: tf.sequence_mask(n, 4), [ints(1, 3, 0)],
           lambda n: np.arange(4) < n[:, None], grad=False),
    OpCase("sequence_mask_default_len", lambda: tf.sequence_mask([[1, 3], [2, 0]], dtype=tf.float32), [],
           lambda: (np.arange(3) < np.array([[1, 3], [2, 0]])[..., None]).astype(np.float32), grad=False),
]
