"""Array ops: shapes, reshaping, joining and splitting, slicing, gathering, padding, filling.

Also the shape plumbing gradients are built from (``unbroadcast``, ``broadcast_reduced``). Every op
infers its static shape from whatever is known at construction: constant inputs, partially known
shape vectors (``Shape``, ``Pack`` of scalars, ``ConcatV2``, slices of those), unknown dims as None.
"""

from __future__ import annotations

import builtins
import math
import weakref
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import numpy as np

from flowgraph import dtypes as _dtypes
from flowgraph.graph import Tensor, constant_value, convert_to_tensor, get_default_graph
from flowgraph.ops.op_helpers import describe, make_op
from flowgraph.registry import NotDifferentiable, OpDef, register_op
from flowgraph.runtime import batch_split as _split
from flowgraph.shapes import Dimension, TensorShape, broadcast_dims, dimension_value

# This module defines tf.range and tf.slice; its own code uses the builtins under these names.
_pyrange = builtins.range
_pyslice = builtins.slice

#: Host runtime for folding small constant subgraphs at construction (shape arithmetic).
_HOST_RT = SimpleNamespace(xp=np, to_device=lambda v: v)
#: Largest output folded at construction: shape-sized values, never data.
_FOLD_LIMIT = 256
#: Folded values by op, so chains of shape arithmetic are not re-evaluated by every consumer.
_FOLDED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _math():
    """math.py, imported late: it may import this module for gradient plumbing."""
    from flowgraph.ops import math as m

    return m


# ---------------------------------------------------------------------------------------------
# Static-value helpers
# ---------------------------------------------------------------------------------------------
class _Folding(OpDef):
    """An op whose value is computed at construction when all its inputs are known and it is small.

    Shape rules downstream (reshape targets, slice bounds, perms) then see constants, as TF's
    ``constant_value`` sees through ``Pack``/``ConcatV2``/``StridedSlice`` of shapes.
    """

    def static_value(self, op):
        hit = _FOLDED.get(op)
        if hit is not None:
            return hit
        if len(op._outputs) != 1:
            return None
        n = TensorShape(op._outputs[0]._dims).num_elements()
        if n is None or n > _FOLD_LIMIT:
            return None
        vals = []
        for t in op.inputs:
            v = constant_value(t)
            if v is None:
                return None
            vals.append(v)
        try:
            out = np.asarray(self.kernel(op, _HOST_RT)(*vals))
        except Exception:  # noqa: BLE001 - an invalid value is reported when the op runs
            return None
        out = np.array(out, copy=True)
        out.setflags(write=False)
        _FOLDED[op] = out  # only known values are kept: set_shape may make an unknown one known later
        return out


def _host_ints(v: Any) -> Any:
    """A small integer array (NumPy or CuPy) as Python ints: a list, or an int for a scalar."""
    return v.tolist() if hasattr(v, "tolist") else v


def _scalar_static(t: Tensor) -> int | None:
    v = constant_value(t)
    if v is None:
        return None
    a = np.asarray(v)
    return int(a.reshape(-1)[0]) if a.size == 1 else None


def _partial_ints(t: Tensor) -> list | None:
    """What is known of an integer vector's elements: ints and None, or None for an unknown length."""
    v = constant_value(t)
    if v is not None:
        a = np.asarray(v)
        if a.ndim <= 1 and a.dtype.kind in "iu":
            return [int(x) for x in a.reshape(-1)]
    op = t.op
    if op.type == "Shape":
        d = op.inputs[0]._dims
        if d is not None:
            return list(d)
    elif op.type == "Pack" and op.attrs["axis"] == 0 and all(x._dims == () for x in op.inputs):
        return [_scalar_static(x) for x in op.inputs]
    elif op.type == "ConcatV2" and _scalar_static(op.inputs[-1]) in (0, -1):
        parts = [_partial_ints(x) for x in op.inputs[:-1]]
        if all(p is not None for p in parts):
            return [e for p in parts for e in p]
    elif op.type == "StridedSlice" and op.inputs[0]._dims is not None and len(op.inputs[0]._dims) == 1:
        got = _slice_partial_vector(op)
        if got is not None:
            return got
    if t._dims is not None and len(t._dims) == 1 and t._dims[0] is not None:
        return [None] * t._dims[0]
    if t._dims == ():
        return [_scalar_static(t)]
    return None


def _slice_partial_vector(op) -> list | None:
    """A strided slice of a partially known vector (``tf.shape(x)[1:]``), applied to what is known."""
    src = _partial_ints(op.inputs[0])
    b, e, s = (constant_value(x) for x in op.inputs[1:4])
    if src is None or b is None or e is None or s is None:
        return None
    b, e, s = (np.asarray(x).reshape(-1).tolist() for x in (b, e, s))
    a = op.attrs
    if len(b) != 1 or a["ellipsis_mask"] or a["new_axis_mask"]:
        return None
    if a["shrink_axis_mask"] & 1:
        i = b[0]
        return [src[i]] if -len(src) <= i < len(src) else None
    idx = _pyslice(None if a["begin_mask"] & 1 else b[0], None if a["end_mask"] & 1 else e[0], s[0] or None)
    return src[idx]


def _dims_from_shape_tensor(t: Tensor) -> tuple | None:
    """Static knowledge of the shape a shape-vector holds: ints (``-1`` kept as given) and None."""
    got = _partial_ints(t)
    return None if got is None else tuple(got)


def _is_tensor_like(v: Any) -> bool:
    return isinstance(v, Tensor) or hasattr(v, "_as_graph_tensor")


def _check_int_tensor(t: Tensor, what: str, op_type: str) -> None:
    if t.dtype not in (_dtypes.int32, _dtypes.int64):
        raise TypeError(f"{op_type}: {what} must be int32 or int64, got {describe(t)}.")


def _int_tensor(value: Any, name: str, what: str = "value") -> Tensor:
    """An int32 (int64 when needed) tensor from a Tensor, a value, or a list holding scalar Tensors."""
    if _is_tensor_like(value):
        t = convert_to_tensor(value)
        if not t.dtype.is_integer:
            raise TypeError(f"{what} must be an integer tensor, got {describe(t)}.")
        return t
    if isinstance(value, TensorShape):
        if value.ndims is None or not value.is_fully_defined():
            raise ValueError(f"{what} must be fully defined, got the partially known shape {value}.")
        value = value.as_list()
    if isinstance(value, list | tuple):
        if any(_is_tensor_like(v) for v in value):
            return _auto_pack(value, name)
        value = [dimension_value(v) if isinstance(v, Dimension) else v for v in value]
    arr = np.asarray(value)
    if arr.dtype.kind not in "iu":
        if arr.size:
            raise TypeError(f"{what} must hold integers, got {value!r}.")
        arr = arr.astype(np.int32)
    big = arr.size and (arr.min() < -(2**31) or arr.max() >= 2**31)
    return convert_to_tensor(arr.astype(np.int64 if big else np.int32), name=name)


def _auto_pack(values: Sequence, name: str) -> Tensor:
    """``[t, 3, ...]`` with scalar Tensors inside as one vector (TF's auto-packing of lists)."""
    dt = next(convert_to_tensor(v).dtype for v in values if _is_tensor_like(v))
    return stack([v if _is_tensor_like(v) else convert_to_tensor(v, dtype=dt) for v in values], name=name)


def _shape_arg(shape: Any, name: str = "shape") -> Tensor:
    """A shape operand: a Tensor, a TensorShape or list (None dims become -1), or a list with Tensors."""
    if _is_tensor_like(shape):
        return convert_to_tensor(shape)
    if isinstance(shape, TensorShape):
        shape = shape.as_list()
    if isinstance(shape, list | tuple):
        if any(_is_tensor_like(d) for d in shape):
            return _auto_pack(shape, name)
        shape = [-1 if d is None else dimension_value(d) for d in shape]
        arr = np.asarray(shape, dtype=np.int64).astype(np.int32) if shape else np.zeros((0,), np.int32)
        return convert_to_tensor(arr, name=name)
    return _int_tensor(shape, name, "shape")


def _axis_value(axis_t: Tensor) -> int | None:
    """A scalar axis operand's static value."""
    return _scalar_static(axis_t)


def _check_axis(axis: int, rank: int, what: str, culprit: Tensor) -> int:
    if not -rank <= axis < rank:
        raise ValueError(f"{what} {axis} is out of range [{-rank}, {rank}) for {describe(culprit)}.")
    return axis % rank


def _rank(t: Tensor) -> int | None:
    return None if t._dims is None else len(t._dims)


def _merge_dim(a: int | None, b: int | None) -> int | None:
    return a if b is None else b


# ---------------------------------------------------------------------------------------------
# Shape, size, rank
# ---------------------------------------------------------------------------------------------
@register_op
class Shape(OpDef):
    """The runtime shape as an int32 (or int64) vector; known statically when the shape is."""

    def batch_split(self, op, kinds):
        if kinds == (_split.S,):
            return _split.Split((_split.L,))  # this process's rows at index 0
        if kinds == (_split.P,):
            return _split.Split((_split.R,))  # a partial has the whole value's shape
        return None

    def infer(self, op):
        (x,) = op.inputs
        return [(op.attrs["out_type"], (None if x._dims is None else len(x._dims),))]

    def kernel(self, op, rt):
        xp = rt.xp
        dt = op.attrs["out_type"].np
        return lambda x: xp.asarray(x.shape, dtype=dt)

    def static_value(self, op):
        x = op.inputs[0]
        if x.shape.is_fully_defined():
            return np.asarray(x._dims, dtype=op.attrs["out_type"].np)
        return None


NotDifferentiable("Shape")


def shape(input: Any, name: str | None = None, out_type: Any = _dtypes.int32) -> Tensor:  # noqa: A002
    x = convert_to_tensor(input)
    return make_op("Shape", [x], {"out_type": _dtypes.as_dtype(out_type)}, name=name, default="Shape")


@register_op
class Size(OpDef):
    """The number of elements as a scalar; known statically when the shape is."""

    def infer(self, op):
        return [(op.attrs["out_type"], ())]

    def kernel(self, op, rt):
        xp = rt.xp
        dt = op.attrs["out_type"].np
        return lambda x: xp.asarray(x.size, dtype=dt)

    def static_value(self, op):
        n = op.inputs[0].shape.num_elements()
        return None if n is None else np.asarray(n, dtype=op.attrs["out_type"].np)


NotDifferentiable("Size")


def size(input: Any, name: str | None = None, out_type: Any = _dtypes.int32) -> Tensor:  # noqa: A002
    """``tf.size``: the element count of ``input`` as a scalar of ``out_type``."""
    x = convert_to_tensor(input)
    dt = _dtypes.as_dtype(out_type)
    if dt not in (_dtypes.int32, _dtypes.int64):
        raise TypeError(f"size: out_type must be int32 or int64, got {dt.name}.")
    return make_op("Size", [x], {"out_type": dt}, name=name, default="Size")


@register_op
class Rank(OpDef):
    """The number of dimensions as an int32 scalar; known statically when the rank is."""

    def infer(self, op):
        return [(_dtypes.int32, ())]

    def kernel(self, op, rt):
        xp = rt.xp
        return lambda x: xp.asarray(x.ndim, dtype=np.int32)

    def static_value(self, op):
        r = _rank(op.inputs[0])
        return None if r is None else np.asarray(r, dtype=np.int32)


NotDifferentiable("Rank")


def rank(input: Any, name: str | None = None) -> Tensor:  # noqa: A002
    """``tf.rank``: the number of dimensions of ``input`` (int32 scalar)."""
    return make_op("Rank", [convert_to_tensor(input)], name=name, default="Rank")


# ---------------------------------------------------------------------------------------------
# Reshape, broadcast, and the gradient plumbing built on them
# ---------------------------------------------------------------------------------------------
@register_op
class Reshape(_Folding):
    """Same elements, new shape; one ``-1`` is inferred from the element count."""

    def batch_split(self, op, kinds):
        x, s = op.inputs
        if kinds == (_split.S, _split.L):  # to another split value's local shape: rows stay rows
            return _split.Split((_split.S,))
        if kinds != (_split.S, _split.R):
            return None
        target = constant_value(s)
        if target is None or x._dims is None or None in x._dims[1:]:
            return None
        target = [int(d) for d in np.asarray(target).reshape(-1)]
        # Rows stay rows when axis 0 is inferred and each row keeps its element count.
        if len(target) < 1 or target[0] != -1 or any(d < 0 for d in target[1:]):
            return None
        if math.prod(target[1:]) != math.prod(x._dims[1:]):
            return None
        return _split.Split((_split.S,))

    def infer(self, op):
        x, s = op.inputs
        _check_int_tensor(s, "shape", "Reshape")
        target = _dims_from_shape_tensor(s)
        if target is None:
            return [(x.dtype, None)]
        if target.count(-1) > 1:
            raise ValueError(f"Reshape can infer only one dimension (-1), got shape {list(target)} for {describe(x)}.")
        if any(d is not None and d < -1 for d in target):
            raise ValueError(f"Reshape: invalid dimension in shape {list(target)} for {describe(x)}.")
        n_in = TensorShape(x._dims).num_elements()
        known = 1
        for d in target:
            if d is not None and d != -1:
                known *= d
        all_known = None not in target
        out = []
        for d in target:
            if d == -1:
                if n_in is not None and all_known and known:
                    if n_in % known:
                        raise ValueError(f"Cannot reshape a tensor with {n_in} elements to shape {list(target)}: "
                                         f"{describe(x)}.")
                    out.append(n_in // known)
                elif n_in == 0 and all_known:
                    raise ValueError(
                        "Reshape cannot infer the missing input size for an empty tensor unless all specified input "
                        f"sizes are non-zero: shape {list(target)} for {describe(x)}."
                    )
                else:
                    out.append(None)
            else:
                out.append(d)
        if n_in is not None and -1 not in target and all_known and known != n_in:
            raise ValueError(
                f"Cannot reshape a tensor with {n_in} elements to shape {list(target)} ({known} elements) "
                f"for 'Reshape' of {describe(x)}."
            )
        return [(x.dtype, tuple(out))]

    def kernel(self, op, rt):
        return lambda x, s: x.reshape(tuple(_host_ints(s)))

    def gradient(self, op, g):
        return [reshape(g, shape(op.inputs[0])), None]


def reshape(tensor: Any, shape: Any, name: str | None = None) -> Tensor:  # noqa: A002
    g = get_default_graph()
    with g.name_scope(name or "Reshape") as scope:
        x = convert_to_tensor(tensor, name="tensor")
        s = _shape_arg(shape)
        return g.create_op("Reshape", [x, s], name=scope).outputs[0]


@register_op
class BroadcastTo(OpDef):
    """Broadcasts ``x`` to ``shape`` (a read-only view: kernels never write into inputs)."""

    def batch_split(self, op, kinds):
        x, s = op.inputs
        n = s._dims[0] if s._dims else None
        if kinds == (_split.S, _split.L) and _split.rank(x) == n:
            return _split.Split((_split.S,))
        if kinds == (_split.R, _split.L) and x._dims is not None and n is not None:
            if len(x._dims) < n or (len(x._dims) == n and x._dims[0] == 1):  # nothing along the batch
                return _split.Split((_split.S,))
        return None

    def infer(self, op):
        x, s = op.inputs
        target = _dims_from_shape_tensor(s)
        if target is None:
            return [(x.dtype, None)]
        target = tuple(None if d == -1 else d for d in target)
        out = broadcast_dims(x._dims, target)
        if out is not None and len(out) != len(target):
            raise ValueError(f"Cannot broadcast {describe(x)} to a shape of lower rank {list(target)}.")
        return [(x.dtype, out)]

    def kernel(self, op, rt):
        xp = rt.xp
        return lambda x, s: xp.broadcast_to(x, tuple(_host_ints(s)))

    def gradient(self, op, g):
        return [sum_to_shape(g, shape(op.inputs[0])), None]


def broadcast_to(input: Any, shape: Any, name: str | None = None) -> Tensor:  # noqa: A002
    g = get_default_graph()
    with g.name_scope(name or "BroadcastTo") as scope:
        x = convert_to_tensor(input, name="input")
        return g.create_op("BroadcastTo", [x, _shape_arg(shape)], name=scope).outputs[0]


@register_op
class SumToShape(OpDef):
    """Sums a broadcast result back to ``shape``: the one place broadcasting is undone in backprop."""

    def batch_split(self, op, kinds):
        if kinds == (_split.S, _split.L):
            return _split.Split((_split.S,))
        out, rank = op.outputs[0]._dims, _split.rank(op.inputs[0])
        if kinds != (_split.S, _split.R) or out is None or rank is None:
            return None
        if len(out) < rank or (len(out) == rank and out[0] == 1):  # the batch axis is summed
            return _split.Split((_split.P,))
        return None

    def infer(self, op):
        g, s = op.inputs
        return [(g.dtype, _dims_from_shape_tensor(s))]

    def kernel(self, op, rt):
        xp = rt.xp

        def sum_to(g, s):
            target = tuple(_host_ints(s))
            if g.shape == target:
                return g
            lead = g.ndim - len(target)
            axes = tuple(_pyrange(lead)) + tuple(
                lead + i for i, d in enumerate(target) if d == 1 and g.shape[lead + i] != 1
            )
            if axes == (0,) and g.ndim == 2 and g.dtype.kind == "f" and g.shape[0] > 1:
                # A bias gradient: ones @ g is a GEMV, several times faster than a sum down tall columns.
                return xp.reshape(xp.matmul(xp.ones(g.shape[0], dtype=g.dtype), g), target)
            out = xp.sum(g, axis=axes, keepdims=False, dtype=g.dtype) if axes else g
            return xp.reshape(out, target)

        return sum_to

    def gradient(self, op, g):
        return [broadcast_to(g, shape(op.inputs[0])), None]


def sum_to_shape(g: Tensor, target_shape: Tensor, name: str | None = None) -> Tensor:
    return make_op("SumToShape", [g, target_shape], name=name, default="SumToShape")


def unbroadcast(grad: Tensor, x: Tensor) -> Tensor:
    """Reduces ``grad`` to the shape of ``x`` where ``x`` was broadcast (skipped when provably equal)."""
    gd, xd = grad._dims, x._dims
    if gd is not None and xd is not None and gd == xd and None not in xd:
        return grad
    if gd is not None and xd is not None and len(gd) == len(xd) and all(
        a == b or (b is not None and b != 1 and a is None) for a, b in zip(gd, xd)
    ):
        return grad
    return sum_to_shape(grad, shape(x))


@register_op
class ReducedShape(OpDef):
    """The input shape with reduced axes set to 1 (to reshape a reduction's gradient)."""

    def batch_split(self, op, kinds):
        axis = op.attrs["axis"]
        if kinds != (_split.L,) or (axis is not None and any(a < 0 for a in axis)):
            return None
        if axis is None or 0 in axis:  # the local row count is replaced by 1: the same everywhere
            return _split.Split((_split.R,))
        return _split.Split((_split.L,))

    def infer(self, op):
        (s,) = op.inputs
        return [(_dtypes.int32, s._dims)]

    def kernel(self, op, rt):
        xp = rt.xp
        axis = op.attrs["axis"]

        def reduced(s):
            out = np.array(_host_ints(s), dtype=np.int32).reshape(-1)
            if axis is None:
                out[:] = 1
            else:
                out[list(axis)] = 1
            return xp.asarray(out)

        return reduced


NotDifferentiable("ReducedShape")


def broadcast_reduced(g: Tensor, x: Tensor, axis: tuple | None, keepdims: bool) -> Tensor:
    """Gradient plumbing of a reduction: ``g`` (reduced over ``axis``) broadcast back to ``x``'s shape."""
    xs = shape(x)
    if not keepdims:
        if axis is None and x._dims is not None:
            g = reshape(g, [1] * len(x._dims))
        else:
            g = reshape(g, make_op("ReducedShape", [xs], {"axis": axis}))
    return broadcast_to(g, xs)


@register_op
class ReductionCount(OpDef):
    """How many input elements fed each output element of a reduction (size(x) / size(y))."""

    def batch_split(self, op, kinds):
        if kinds == (_split.S, _split.S):  # the batch is not reduced: the same count everywhere
            return _split.Split((_split.R,))
        if kinds in ((_split.S, _split.P), (_split.S, _split.R)):
            return _split.Split((_split.R,), _split.whole_count)
        return None

    def infer(self, op):
        return [(op.attrs["dtype"], ())]

    def kernel(self, op, rt):
        xp = rt.xp
        dt = op.attrs["dtype"].np

        def count(x, y):
            sx = np.shape(x)
            return xp.asarray(math.prod(sx) // max(math.prod(np.shape(y)), 1) if sx else 1, dtype=dt)

        return count


NotDifferentiable("ReductionCount")


def reduction_count(x: Tensor, y: Tensor) -> Tensor:
    nx = TensorShape(x._dims).num_elements()
    ny = TensorShape(y._dims).num_elements()
    if nx is not None and ny is not None:
        return convert_to_tensor(np.asarray(nx // max(ny, 1), dtype=x.dtype.np))
    return make_op("ReductionCount", [x, y], {"dtype": x.dtype})


@register_op
class StopGradient(OpDef):
    """Identity in the forward pass; blocks backprop."""

    def batch_split(self, op, kinds):
        return _split.Split(kinds)

    def infer(self, op):
        (x,) = op.inputs
        return [(x.dtype, x._dims)]

    def kernel(self, op, rt):
        return lambda x: x


NotDifferentiable("StopGradient")


def stop_gradient(input: Any, name: str | None = None) -> Tensor:  # noqa: A002
    return make_op("StopGradient", [convert_to_tensor(input)], name=name, default="StopGradient")


# ---------------------------------------------------------------------------------------------
# Transpose, expand_dims, squeeze
# ---------------------------------------------------------------------------------------------
@register_op
class Transpose(_Folding):
    """Permutes dimensions: output dim ``i`` is input dim ``perm[i]`` (a view, never a copy)."""

    def infer(self, op):
        x, p = op.inputs
        _check_int_tensor(p, "perm", "Transpose")
        if p._dims is not None and len(p._dims) != 1:
            raise ValueError(f"Transpose: perm must be a vector, got {describe(p)}.")
        perm = _partial_ints(p)
        r = _rank(x)
        if perm is None:
            return [(x.dtype, None if r is None else (None,) * r)]
        if r is not None and len(perm) != r:
            raise ValueError(
                f"Transpose: perm has {len(perm)} entries ({perm}) but {describe(x)} has rank {r}; "
                "perm must list each dimension once."
            )
        n = len(perm)
        if None not in perm and sorted(perm) != list(_pyrange(n)):
            raise ValueError(f"Transpose: perm {perm} is not a permutation of 0..{n - 1} for {describe(x)}.")
        if r is None:
            return [(x.dtype, (None,) * n)]
        return [(x.dtype, tuple(None if i is None else x._dims[i] for i in perm))]

    def kernel(self, op, rt):
        xp = rt.xp
        return lambda x, p: xp.transpose(x, tuple(_host_ints(p)))

    def gradient(self, op, g):
        return [transpose(g, invert_permutation(op.inputs[1])), None]


@register_op
class InvertPermutation(_Folding):
    """``y[x[i]] = i``: the inverse of a permutation vector."""

    def infer(self, op):
        (p,) = op.inputs
        _check_int_tensor(p, "x", "InvertPermutation")
        if p._dims is not None and len(p._dims) != 1:
            raise ValueError(f"InvertPermutation needs a vector, got {describe(p)}.")
        return [(p.dtype, p._dims if p._dims is not None else (None,))]

    def kernel(self, op, rt):
        xp = rt.xp

        def invert(p):
            vals = _host_ints(p)
            n = len(vals)
            if sorted(vals) != list(_pyrange(n)):
                raise ValueError(f"{vals} is not a permutation of 0..{n - 1}")
            out = np.empty(n, dtype=op.outputs[0].dtype.np)
            out[vals] = np.arange(n)
            return xp.asarray(out)

        return invert


NotDifferentiable("InvertPermutation")


def invert_permutation(x: Any, name: str | None = None) -> Tensor:
    """``tf.invert_permutation``: ``y[x[i]] = i`` for a permutation vector ``x``."""
    return make_op("InvertPermutation", [_int_tensor(x, "x", "x")], name=name, default="InvertPermutation")


def transpose(a: Any, perm: Any = None, name: str = "transpose", conjugate: bool = False) -> Tensor:
    """``tf.transpose``: permutes dimensions; ``perm=None`` reverses them (a matrix transpose for rank 2)."""
    g = get_default_graph()
    with g.name_scope(name or "transpose") as scope:
        x = convert_to_tensor(a, name="a")
        if perm is None:
            r = _rank(x)
            if r is not None:
                p = convert_to_tensor(np.arange(r - 1, -1, -1, dtype=np.int32), name="perm")
            else:
                m = _math()
                rk = rank(x)
                p = m.subtract(m.subtract(rk, 1), range_(0, rk, 1))
        else:
            p = _int_tensor(perm, "perm", "perm")
        return g.create_op("Transpose", [x, p], name=scope).outputs[0]


@register_op
class ExpandDims(_Folding):
    """Inserts a size-1 dimension at ``axis`` (in ``[-rank-1, rank]``)."""

    def infer(self, op):
        x, a = op.inputs
        _check_int_tensor(a, "axis", "ExpandDims")
        if a._dims is not None and TensorShape(a._dims).num_elements() not in (None, 1):
            raise ValueError(f"ExpandDims: axis must be a scalar, got {describe(a)}.")
        r = _rank(x)
        if r is None:
            return [(x.dtype, None)]
        axis = _scalar_static(a)
        if axis is None:
            return [(x.dtype, (None,) * (r + 1))]
        if not -r - 1 <= axis <= r:
            raise ValueError(f"ExpandDims: axis {axis} is out of range [{-r - 1}, {r}] for {describe(x)}.")
        axis %= r + 1
        return [(x.dtype, x._dims[:axis] + (1,) + x._dims[axis:])]

    def kernel(self, op, rt):
        xp = rt.xp

        def expand(x, a):
            axis = int(np.asarray(_host_ints(a)).reshape(-1)[0])
            if not -x.ndim - 1 <= axis <= x.ndim:
                raise ValueError(f"axis {axis} is out of range [{-x.ndim - 1}, {x.ndim}]")
            return xp.expand_dims(x, axis)

        return expand

    def gradient(self, op, g):
        return [reshape(g, shape(op.inputs[0])), None]


def expand_dims(input: Any, axis: Any = None, name: str | None = None, dim: Any = None) -> Tensor:  # noqa: A002
    """``tf.expand_dims``; ``dim`` is TF1's deprecated name for ``axis``."""
    if dim is not None:
        if axis is not None:
            raise ValueError("Cannot specify both 'axis' and 'dim'.")
        axis = dim
    if axis is None:
        raise ValueError("Must specify an axis argument to tf.expand_dims()")
    g = get_default_graph()
    with g.name_scope(name or "ExpandDims") as scope:
        x = convert_to_tensor(input, name="input")
        a = _int_tensor(axis, "dim", "axis")
        return g.create_op("ExpandDims", [x, a], name=scope).outputs[0]


@register_op
class Squeeze(_Folding):
    """Removes size-1 dimensions: those in ``squeeze_dims``, or all of them when it is empty."""

    def infer(self, op):
        (x,) = op.inputs
        axes = op.attrs["squeeze_dims"]
        r = _rank(x)
        if r is None:
            return [(x.dtype, None)]
        norm = set()
        for a in axes:
            if not -r <= a < r:
                raise ValueError(f"Squeeze: axis {a} is out of range [{-r}, {r}) for {describe(x)}.")
            a %= r
            d = x._dims[a]
            if d is not None and d != 1:
                raise ValueError(f"Can not squeeze dim[{a}], expected a dimension of 1, got {d} for {describe(x)}.")
            norm.add(a)
        if not axes:
            if None in x._dims:
                return [(x.dtype, None)]
            return [(x.dtype, tuple(d for d in x._dims if d != 1))]
        return [(x.dtype, tuple(d for i, d in enumerate(x._dims) if i not in norm))]

    def kernel(self, op, rt):
        xp = rt.xp
        axes = tuple(op.attrs["squeeze_dims"])
        if not axes:
            return lambda x: xp.squeeze(x)

        def squeeze_(x):
            for a in axes:
                if not -x.ndim <= a < x.ndim or x.shape[a] != 1:
                    raise ValueError(f"Can not squeeze dim[{a}], expected a dimension of 1, got shape {list(x.shape)}")
            return xp.squeeze(x, axis=axes)

        return squeeze_

    def gradient(self, op, g):
        return [reshape(g, shape(op.inputs[0]))]


def squeeze(input: Any, axis: Any = None, name: str | None = None, squeeze_dims: Any = None) -> Tensor:  # noqa: A002
    """``tf.squeeze``; ``squeeze_dims`` is TF1's deprecated name for ``axis``."""
    if squeeze_dims is not None:
        if axis is not None:
            raise ValueError("Cannot specify both 'squeeze_dims' and 'axis'")
        axis = squeeze_dims
    if axis is None:
        axes: list = []
    elif isinstance(axis, int | np.integer):
        axes = [int(axis)]
    else:
        axes = [int(a) for a in axis]
    x = convert_to_tensor(input)
    return make_op("Squeeze", [x], {"squeeze_dims": axes}, name=name, default="Squeeze")


# ---------------------------------------------------------------------------------------------
# Joining and splitting: concat, stack, unstack, split
# ---------------------------------------------------------------------------------------------
def _same_dtype(op_type: str, tensors: Sequence[Tensor], what: str = "values") -> None:
    first = tensors[0]
    for i, t in enumerate(tensors[1:], 1):
        if t.dtype is not first.dtype:
            raise TypeError(
                f"{op_type}: all {what} must have the same dtype, but {what}[{i}] {describe(t)} is {t.dtype.name} "
                f"while {what}[0] {describe(first)} is {first.dtype.name}."
            )


@register_op
class ConcatV2(_Folding):
    """Joins tensors along an existing axis; all other dimensions must agree."""

    def infer(self, op):
        *vals, a = op.inputs
        _same_dtype("ConcatV2", vals)
        _check_int_tensor(a, "axis", "ConcatV2")
        ranked = [v for v in vals if v._dims is not None]
        for v in ranked:
            if len(v._dims) != len(ranked[0]._dims):
                raise ValueError(
                    f"ConcatV2: ranks of all inputs must match, but {describe(ranked[0])} has rank "
                    f"{len(ranked[0]._dims)} and {describe(v)} has rank {len(v._dims)}."
                )
        dt = vals[0].dtype
        if not ranked:
            return [(dt, None)]
        r = len(ranked[0]._dims)
        if r == 0:
            raise ValueError(f"Can't concatenate scalars (use tf.stack instead): {describe(ranked[0])}.")
        axis = _axis_value(a)
        if axis is None:
            return [(dt, (None,) * r)]
        ax = _check_axis(axis, r, "ConcatV2: axis", ranked[0])
        out = []
        for i in _pyrange(r):
            if i == ax:
                ds = [v._dims[i] if v._dims is not None else None for v in vals]
                out.append(None if None in ds else builtins.sum(ds))
                continue
            d, owner = None, None
            for v in ranked:
                vd = v._dims[i]
                if vd is not None and d is not None and vd != d:
                    raise ValueError(
                        f"ConcatV2: dimension {i} of the inputs must match except along axis {ax}, but "
                        f"{describe(owner)} has {d} and {describe(v)} has {vd}."
                    )
                if vd is not None and d is None:
                    d, owner = vd, v
            out.append(d)
        return [(dt, tuple(out))]

    def kernel(self, op, rt):
        xp = rt.xp
        return lambda *a: xp.concatenate(a[:-1], axis=int(_host_ints(a[-1])))

    def gradient(self, op, g):
        *vals, a = op.inputs
        axis = _axis_value(a)
        r = _rank(g)
        if axis is not None and r is not None and r > 0:
            ax = axis % r
            sizes = [None if v._dims is None else v._dims[ax] for v in vals]
            if None not in sizes:
                return split(g, sizes, axis=ax) + [None]
        offsets = get_default_graph().create_op("ConcatOffset", [a] + [shape(v) for v in vals]).outputs
        return [slice_(g, off, shape(v)) for off, v in zip(offsets, vals)] + [None]


@register_op
class ConcatOffset(OpDef):
    """Where each input of a concat starts in the output (for the concat gradient's slices)."""

    def infer(self, op):
        a, *shapes = op.inputs
        return [(s.dtype, s._dims) for s in shapes]

    def kernel(self, op, rt):
        xp = rt.xp
        n = len(op.inputs) - 1

        def offsets(a, *shapes):
            dims = [list(_host_ints(s)) for s in shapes]
            r = len(dims[0])
            ax = int(_host_ints(a)) % r
            out, at = [], 0
            for d in dims:
                o = [0] * r
                o[ax] = at
                at += d[ax]
                out.append(xp.asarray(np.asarray(o, dtype=shapes[0].dtype)))
            return out[0] if n == 1 else tuple(out)

        return offsets


NotDifferentiable("ConcatOffset")


def concat(values: Any, axis: Any, name: str = "concat") -> Tensor:
    """``tf.concat``: joins ``values`` along ``axis`` (negative counts from the end)."""
    if not isinstance(values, list | tuple):
        values = [values]
    g = get_default_graph()
    if len(values) == 1:
        # TF1 returns an identity for one tensor, still checking that axis is an int scalar.
        with g.name_scope(name or "concat"):
            a = _int_tensor(axis, "concat_dim", "axis")
            if a._dims is not None and a._dims != ():
                raise ValueError(f"concat: axis must be a scalar, got {describe(a)}.")
            from flowgraph.ops.control import identity

            return identity(values[0], name=name or "concat")
    with g.name_scope(name or "concat") as scope:
        ts = _convert_list(values, "values")
        a = _int_tensor(axis, "axis", "axis")
        return g.create_op("ConcatV2", ts + [a], name=scope).outputs[0]


def _convert_list(values: Sequence, what: str) -> list[Tensor]:
    """Converts a list of tensor-likes; Python values take the dtype of the first Tensor in it."""
    dt = next((convert_to_tensor(v).dtype for v in values if _is_tensor_like(v)), None)
    return [convert_to_tensor(v, name=f"{what}_{i}") if _is_tensor_like(v) or dt is None
            else convert_to_tensor(v, dtype=dt, name=f"{what}_{i}") for i, v in enumerate(values)]


@register_op
class Pack(_Folding):
    """Stacks same-shaped tensors along a new axis (``tf.stack``)."""

    def infer(self, op):
        vals = op.inputs
        _same_dtype("Pack", vals)
        dims = TensorShape(None)
        owner = vals[0]
        for v in vals:
            if not dims.is_compatible_with(v.shape):
                raise ValueError(
                    f"Pack: shapes of all inputs must match, but {describe(owner)} and {describe(v)} differ."
                )
            dims = dims.merge_with(v.shape)
            if v._dims is not None:
                owner = v
        axis = op.attrs["axis"]
        if dims.ndims is None:
            return [(vals[0].dtype, None)]
        d = dims.as_tuple()
        r = len(d) + 1
        if not -r <= axis < r:
            raise ValueError(f"Pack: axis {axis} not in [{-r}, {r}) for inputs like {describe(owner)}.")
        axis %= r
        return [(vals[0].dtype, d[:axis] + (len(vals),) + d[axis:])]

    def kernel(self, op, rt):
        xp = rt.xp
        axis = op.attrs["axis"]
        return lambda *vs: xp.stack(vs, axis=axis)

    def gradient(self, op, g):
        return unstack(g, num=len(op.inputs), axis=op.attrs["axis"])


def stack(values: Any, axis: int = 0, name: str = "stack") -> Tensor:
    """``tf.stack``: ``values`` (same shape and dtype) stacked along a new ``axis``."""
    if not isinstance(values, list | tuple):
        raise TypeError(f"stack expects a list of tensors, got {values!r}.")
    if axis == 0 and not _contains_tensor(values):
        # TF1 turns a list of plain values into one constant.
        return convert_to_tensor(values, name=name or "stack")
    g = get_default_graph()
    with g.name_scope(name or "stack") as scope:
        ts = _convert_list(values, "values")
        if not ts:
            raise ValueError("stack needs at least one tensor.")
        return g.create_op("Pack", ts, {"axis": int(axis), "N": len(ts)}, name=scope).outputs[0]


def _contains_tensor(v: Any) -> bool:
    if _is_tensor_like(v):
        return True
    if isinstance(v, list | tuple):
        return any(_contains_tensor(e) for e in v)
    return False


@register_op
class Unpack(OpDef):
    """Splits a tensor into ``num`` tensors along ``axis``, removing that axis (``tf.unstack``)."""

    def infer(self, op):
        (x,) = op.inputs
        num, axis = op.attrs["num"], op.attrs["axis"]
        r = _rank(x)
        if r is None:
            return [(x.dtype, None)] * num
        ax = _check_axis(axis, r, "Unpack: axis", x)
        d = x._dims[ax]
        if d is not None and d != num:
            raise ValueError(f"Unpack: num={num} does not match dimension {ax} (size {d}) of {describe(x)}.")
        out = x._dims[:ax] + x._dims[ax + 1:]
        return [(x.dtype, out)] * num

    def kernel(self, op, rt):
        xp = rt.xp
        num, axis = op.attrs["num"], op.attrs["axis"]

        def unpack(x):
            ax = axis % x.ndim
            if x.shape[ax] != num:
                raise ValueError(f"Input to unstack has {x.shape[ax]} entries along axis {ax}, expected num={num}")
            lead = (_pyslice(None),) * ax
            parts = [xp.asarray(x[lead + (i,)]) for i in _pyrange(num)]
            return parts[0] if num == 1 else tuple(parts)

        return unpack

    def gradient(self, op, *grads):
        return [stack(list(grads), axis=op.attrs["axis"])]


def unstack(value: Any, num: int | None = None, axis: int = 0, name: str = "unstack") -> list[Tensor]:
    """``tf.unstack``: the ``num`` slices of ``value`` along ``axis`` (``num`` inferred when known)."""
    x = convert_to_tensor(value)
    if num is None:
        r = _rank(x)
        if r is None:
            raise ValueError(f"Cannot infer num from shape {x.shape} of {describe(x)}.")
        ax = _check_axis(axis, r, "unstack: axis", x)
        num = x._dims[ax]
        if num is None:
            raise ValueError(f"Cannot infer num from shape {x.shape} of {describe(x)}.")
    return get_default_graph().create_op("Unpack", [x], {"num": int(num), "axis": int(axis)},
                                         name=name or "unstack").outputs


@register_op
class Split(OpDef):
    """Splits ``value`` into ``num_split`` equal parts along ``split_dim`` (input 0, as in TF)."""

    def infer(self, op):
        a, x = op.inputs
        _check_int_tensor(a, "split_dim", "Split")
        n = op.attrs["num_split"]
        r = _rank(x)
        if r is None:
            return [(x.dtype, None)] * n
        axis = _axis_value(a)
        if axis is None:
            return [(x.dtype, (None,) * r)] * n
        ax = _check_axis(axis, r, "Split: split_dim", x)
        d = x._dims[ax]
        if d is not None and d % n:
            raise ValueError(
                f"Dimension size must be evenly divisible by {n} but is {d} for 'Split' of {describe(x)} "
                f"along axis {ax}."
            )
        out = list(x._dims)
        out[ax] = None if d is None else d // n
        return [(x.dtype, tuple(out))] * n

    def kernel(self, op, rt):
        xp = rt.xp
        n = op.attrs["num_split"]

        def split_(a, x):
            ax = int(_host_ints(a))
            if x.shape[ax] % n:
                raise ValueError(f"Dimension size must be evenly divisible by {n} but is {x.shape[ax]}")
            parts = xp.split(x, n, axis=ax)
            return parts[0] if n == 1 else tuple(parts)

        return split_

    def gradient(self, op, *grads):
        return [None, concat(list(grads), op.inputs[0])]


@register_op
class SplitV(OpDef):
    """Splits ``value`` into parts of ``size_splits`` along ``axis``; one size may be ``-1``."""

    def infer(self, op):
        x, s, a = op.inputs
        _check_int_tensor(s, "size_splits", "SplitV")
        _check_int_tensor(a, "axis", "SplitV")
        n = op.attrs["num_split"]
        sizes = _partial_ints(s)
        if sizes is not None and len(sizes) != n:
            raise ValueError(f"SplitV: size_splits has {len(sizes)} entries but num_split is {n}: {describe(s)}.")
        r = _rank(x)
        if r is None:
            return [(x.dtype, None)] * n
        axis = _axis_value(a)
        if axis is None:
            return [(x.dtype, (None,) * r)] * n
        ax = _check_axis(axis, r, "SplitV: axis", x)
        d = x._dims[ax]
        sizes = list(sizes) if sizes is not None else [None] * n
        if sizes.count(-1) > 1:
            raise ValueError(f"SplitV: at most one size in size_splits can be -1, got {sizes} for {describe(x)}.")
        if any(v is not None and v < -1 for v in sizes):
            raise ValueError(f"SplitV: invalid size in size_splits {sizes} for {describe(x)}.")
        known = [v for v in sizes if v is not None and v != -1]
        if -1 in sizes and None not in sizes and d is not None:
            rest = d - builtins.sum(known)
            if rest < 0:
                raise ValueError(
                    f"SplitV: sizes {sizes} add up to more than dimension {ax} (size {d}) of {describe(x)}."
                )
            sizes[sizes.index(-1)] = rest
        elif -1 not in sizes and None not in sizes and d is not None and builtins.sum(sizes) != d:
            raise ValueError(
                f"SplitV: sizes {sizes} must add up to dimension {ax} (size {d}) of {describe(x)}, "
                f"but add up to {builtins.sum(sizes)}."
            )
        outs = []
        for v in sizes:
            o = list(x._dims)
            o[ax] = None if v is None or v == -1 else v
            outs.append((x.dtype, tuple(o)))
        return outs

    def kernel(self, op, rt):
        xp = rt.xp
        n = op.attrs["num_split"]

        def splitv(x, s, a):
            ax = int(_host_ints(a))
            sizes = list(_host_ints(s))
            d = x.shape[ax]
            if -1 in sizes:
                sizes[sizes.index(-1)] = d - (builtins.sum(sizes) + 1)
            if builtins.sum(sizes) != d or min(sizes) < 0:
                raise ValueError(f"size_splits {list(_host_ints(s))} do not split a dimension of size {d}")
            cuts = np.cumsum(sizes)[:-1].tolist()
            parts = xp.split(x, cuts, axis=ax)
            return parts[0] if n == 1 else tuple(parts)

        return splitv

    def gradient(self, op, *grads):
        return [concat(list(grads), op.inputs[2]), None, None]


def split(value: Any, num_or_size_splits: Any, axis: Any = 0, num: int | None = None,
          name: str = "split") -> list[Tensor]:
    """``tf.split``: an int splits evenly ("Split"); a list of sizes (one may be -1) gives "SplitV"."""
    g = get_default_graph()
    if isinstance(num_or_size_splits, int | np.integer) and not isinstance(num_or_size_splits, bool):
        n = int(num_or_size_splits)
        if n < 1:
            raise ValueError(f"split: num_or_size_splits must be >= 1, got {n}.")
        with g.name_scope(name or "split") as scope:
            x = convert_to_tensor(value, name="value")
            a = _int_tensor(axis, "split_dim", "axis")
            return g.create_op("Split", [a, x], {"num_split": n}, name=scope).outputs
    with g.name_scope(name or "split") as scope:
        x = convert_to_tensor(value, name="value")
        s = _int_tensor(num_or_size_splits, "size_splits", "num_or_size_splits")
        if num is None:
            if s._dims is None or len(s._dims) != 1 or s._dims[0] is None:
                raise ValueError(f"Cannot infer num from shape {s.shape} of num_or_size_splits {describe(s)}.")
            num = s._dims[0]
        a = _int_tensor(axis, "split_dim", "axis")
        return g.create_op("SplitV", [x, s, a], {"num_split": int(num)}, name=scope).outputs


# ---------------------------------------------------------------------------------------------
# Tile, pad, reverse
# ---------------------------------------------------------------------------------------------
@register_op
class Tile(_Folding):
    """Repeats ``input`` ``multiples[i]`` times along each dimension ``i``."""

    def infer(self, op):
        x, m = op.inputs
        _check_int_tensor(m, "multiples", "Tile")
        if m._dims is not None and len(m._dims) != 1:
            raise ValueError(f"Tile: multiples must be a vector, got {describe(m)}.")
        mult = _partial_ints(m)
        r = _rank(x)
        if mult is not None and r is not None and len(mult) != r:
            raise ValueError(
                f"Tile: multiples has {len(mult)} entries but {describe(x)} has rank {r}: {describe(m)}; "
                "give one multiple per dimension."
            )
        if mult is not None and any(v is not None and v < 0 for v in mult):
            raise ValueError(f"Tile: multiples must be non-negative, got {mult} for {describe(x)}.")
        if r is None and mult is None:
            return [(x.dtype, None)]
        if r is None:
            return [(x.dtype, (None,) * len(mult))]
        if mult is None:
            mult = [None] * r
        return [(x.dtype, tuple(None if d is None or k is None else d * k for d, k in zip(x._dims, mult)))]

    def kernel(self, op, rt):
        xp = rt.xp

        def tile_(x, m):
            reps = tuple(_host_ints(m))
            if len(reps) != x.ndim:
                raise ValueError(f"multiples has {len(reps)} entries for an input of rank {x.ndim}")
            return xp.tile(x, reps)

        return tile_

    def gradient(self, op, g):
        x, m = op.inputs
        r = _rank(x)
        if r is None:
            r = None if m._dims is None else m._dims[0]
        if r is None:
            raise ValueError(f"The gradient of Tile '{op.name}' needs the rank of {describe(x)} to be known.")
        mult = _partial_ints(m)
        if x.shape.is_fully_defined() and mult is not None and None not in mult:
            split_shape: Any = [v for pair in zip(mult, x._dims) for v in pair]
        else:
            # [m0, d0, m1, d1, ...]: each tile becomes its own axis, then those axes are summed.
            split_shape = reshape(transpose(stack([m, shape(x, out_type=m.dtype)])), [-1])
        axes = list(_pyrange(0, 2 * r, 2))
        return [_math().reduce_sum(reshape(g, split_shape), axis=axes), None]


def tile(input: Any, multiples: Any, name: str | None = None) -> Tensor:  # noqa: A002
    """``tf.tile``: ``input`` repeated ``multiples[i]`` times along dimension ``i``."""
    g = get_default_graph()
    with g.name_scope(name or "Tile") as scope:
        x = convert_to_tensor(input, name="input")
        m = _int_tensor(multiples, "multiples", "multiples")
        return g.create_op("Tile", [x, m], name=scope).outputs[0]


def _pad_dims(op, x: Tensor, p: Tensor, mirror: str | None = None, shrink: bool = False) -> tuple | None:
    """Output dims of a pad (or, with ``shrink``, of its gradient) from what is known of the paddings."""
    _check_int_tensor(p, "paddings", op.type)
    r = _rank(x)
    pd = p._dims
    if pd is not None and (len(pd) != 2 or pd[1] not in (None, 2) or r is not None and pd[0] not in (None, r)):
        raise ValueError(
            f"{op.type}: paddings must have shape [{'rank' if r is None else r}, 2] for {describe(x)}, "
            f"got {describe(p)}."
        )
    if r is None:
        r = None if pd is None else pd[0]
    if r is None:
        return None
    pv = constant_value(p)
    if pv is None:
        return (None,) * r
    pv = np.asarray(pv)
    if pv.shape != (r, 2):
        raise ValueError(f"{op.type}: paddings {pv.tolist()} must have shape [{r}, 2] for {describe(x)}.")
    if (pv < 0).any():
        raise ValueError(f"{op.type}: paddings must be non-negative, got {pv.tolist()} for {describe(x)}.")
    out = []
    for i, (d, (a, b)) in enumerate(zip(x._dims or (None,) * r, pv.tolist())):
        if d is None:
            out.append(None)
            continue
        if shrink:
            d = d - a - b
            if d < 0:
                raise ValueError(f"{op.type}: paddings {pv.tolist()} exceed dimension {i} of {describe(x)}.")
            out.append(d)
            continue
        if mirror is not None:
            limit = d if mirror == "SYMMETRIC" else d - 1
            if a > limit or b > limit:
                raise ValueError(
                    f"MirrorPad ({mirror}): paddings must be at most {limit} for dimension {i} of size {d} "
                    f"in {describe(x)}, got {[a, b]}."
                )
        out.append(d + a + b)
    return tuple(out)


def _pads(p: Any, ndim: int) -> list[tuple[int, int]]:
    vals = np.asarray(_host_ints(p)).reshape(-1, 2) if np.size(_host_ints(p)) else np.zeros((0, 2), int)
    if vals.shape[0] != ndim:
        raise ValueError(f"paddings must have shape [{ndim}, 2], got {vals.tolist()}")
    if (vals < 0).any():
        raise ValueError(f"paddings must be non-negative, got {vals.tolist()}")
    return [(int(a), int(b)) for a, b in vals]


def _constant_pad(xp, x, p, c):
    pads = _pads(p, x.ndim)
    out = xp.empty(tuple(d + a + b for d, (a, b) in zip(x.shape, pads)), dtype=x.dtype)
    out[...] = c
    out[tuple(_pyslice(a, a + d) for d, (a, _) in zip(x.shape, pads))] = x
    return out


def _pad_grad(op, g):
    """The gradient of a pad: the interior of ``g``, sliced back out at the leading paddings."""
    x, p = op.inputs[:2]
    pv = constant_value(p)
    if pv is not None:
        begin: Any = np.asarray(pv)[:, 0].astype(p.dtype.np)
    else:
        begin = reshape(slice_(p, [0, 0], [-1, 1]), [-1])
    return slice_(g, begin, shape(x, out_type=p.dtype))


@register_op
class Pad(_Folding):
    """Pads with zeros: ``paddings[i] = [before, after]`` for dimension ``i``."""

    def infer(self, op):
        x, p = op.inputs
        return [(x.dtype, _pad_dims(op, x, p))]

    def kernel(self, op, rt):
        xp = rt.xp
        return lambda x, p: _constant_pad(xp, x, p, 0)

    def gradient(self, op, g):
        return [_pad_grad(op, g), None]


@register_op
class PadV2(_Folding):
    """Pads with ``constant_values`` (a scalar of the input's dtype)."""

    def infer(self, op):
        x, p, c = op.inputs
        if c.dtype is not x.dtype:
            raise TypeError(f"PadV2: constant_values {describe(c)} must have the dtype of {describe(x)}.")
        if c._dims is not None and c._dims != ():
            raise ValueError(f"PadV2: constant_values must be a scalar, got {describe(c)}.")
        return [(x.dtype, _pad_dims(op, x, p))]

    def kernel(self, op, rt):
        xp = rt.xp
        return lambda x, p, c: _constant_pad(xp, x, p, c)

    def gradient(self, op, g):
        return [_pad_grad(op, g), None, None]


_MIRROR_MODES = {"REFLECT": "reflect", "SYMMETRIC": "symmetric"}


@register_op
class MirrorPad(_Folding):
    """Pads with reflections: REFLECT omits the edge element, SYMMETRIC repeats it."""

    def infer(self, op):
        x, p = op.inputs
        return [(x.dtype, _pad_dims(op, x, p, mirror=op.attrs["mode"]))]

    def kernel(self, op, rt):
        xp = rt.xp
        mode = op.attrs["mode"]
        off = 1 if mode == "REFLECT" else 0

        def mirror(x, p):
            pads = _pads(p, x.ndim)
            for i, (d, (a, b)) in enumerate(zip(x.shape, pads)):
                if max(a, b) > d - off:
                    raise ValueError(f"paddings {[a, b]} of dimension {i} must be at most {d - off} in {mode} mode")
            return xp.pad(x, pads, mode=_MIRROR_MODES[mode])

        return mirror

    def gradient(self, op, g):
        return [make_op("MirrorPadGrad", [g, op.inputs[1]], {"mode": op.attrs["mode"]}), None]


@register_op
class MirrorPadGrad(OpDef):
    """Folds the reflected borders of a mirror-padded gradient back onto the elements they copied."""

    def infer(self, op):
        g, p = op.inputs
        return [(g.dtype, _pad_dims(op, g, p, shrink=True))]

    def kernel(self, op, rt):
        xp = rt.xp
        off = 1 if op.attrs["mode"] == "REFLECT" else 0

        def fold(g, p):
            pads = _pads(p, g.ndim)
            for ax, (a, b) in enumerate(pads):
                lead = (_pyslice(None),) * ax
                d = g.shape[ax] - a - b
                core = g[lead + (_pyslice(a, a + d),)].copy()  # our own buffer: written below
                if a:
                    core[lead + (_pyslice(off, off + a),)] += xp.flip(g[lead + (_pyslice(0, a),)], axis=ax)
                if b:
                    right = g[lead + (_pyslice(a + d, a + d + b),)]
                    core[lead + (_pyslice(d - b - off, d - off),)] += xp.flip(right, axis=ax)
                g = core
            return g

        return fold

    def gradient(self, op, g):
        return [make_op("MirrorPad", [g, op.inputs[1]], {"mode": op.attrs["mode"]}), None]


def pad(tensor: Any, paddings: Any, mode: str = "CONSTANT", name: str | None = None,
        constant_values: Any = 0) -> Tensor:
    """``tf.pad``: CONSTANT (with ``constant_values``), REFLECT or SYMMETRIC, case-insensitive."""
    m = str(mode).upper()
    g = get_default_graph()
    if m == "CONSTANT":
        plain = not _is_tensor_like(constant_values) and np.all(np.asarray(constant_values) == 0)
        with g.name_scope(name or ("Pad" if plain else "PadV2")) as scope:
            x = convert_to_tensor(tensor, name="input")
            p = _int_tensor(paddings, "paddings", "paddings")
            if plain:
                return g.create_op("Pad", [x, p], name=scope).outputs[0]
            c = convert_to_tensor(constant_values, dtype=None if _is_tensor_like(constant_values) else x.dtype,
                                  name="constant_values")
            return g.create_op("PadV2", [x, p, c], name=scope).outputs[0]
    if m not in _MIRROR_MODES:
        raise ValueError(f"Unknown padding mode: {mode}")
    with g.name_scope(name or "MirrorPad") as scope:
        x = convert_to_tensor(tensor, name="input")
        p = _int_tensor(paddings, "paddings", "paddings")
        return g.create_op("MirrorPad", [x, p], {"mode": m}, name=scope).outputs[0]


@register_op
class ReverseV2(_Folding):
    """Reverses the order of elements along the given axes (a view)."""

    def infer(self, op):
        x, a = op.inputs
        _check_int_tensor(a, "axis", "ReverseV2")
        axes = _partial_ints(a)
        r = _rank(x)
        if axes is not None and r is not None:
            seen = set()
            for v in axes:
                if v is None:
                    continue
                k = _check_axis(v, r, "ReverseV2: axis", x)
                if k in seen:
                    raise ValueError(f"ReverseV2: axis {v} is given twice for {describe(x)}.")
                seen.add(k)
        return [(x.dtype, x._dims)]

    def kernel(self, op, rt):
        xp = rt.xp

        def rev(x, a):
            axes = tuple(np.asarray(_host_ints(a)).reshape(-1).tolist())
            return xp.flip(x, axis=axes) if axes else x

        return rev

    def gradient(self, op, g):
        return [reverse(g, op.inputs[1]), None]


def reverse(tensor: Any, axis: Any, name: str | None = None) -> Tensor:
    """``tf.reverse``: ``tensor`` with the order of elements along each of ``axis`` reversed."""
    g = get_default_graph()
    with g.name_scope(name or "ReverseV2") as scope:
        x = convert_to_tensor(tensor, name="tensor")
        a = _int_tensor(axis if isinstance(axis, list | tuple) or _is_tensor_like(axis) else [axis], "axis", "axis")
        return g.create_op("ReverseV2", [x, a], name=scope).outputs[0]


# ---------------------------------------------------------------------------------------------
# Slicing: slice, strided_slice, Tensor.__getitem__
# ---------------------------------------------------------------------------------------------
@register_op
class Slice(_Folding):
    """``size[i]`` elements from ``begin[i]`` along each dimension (``size[i] = -1``: to the end)."""

    def infer(self, op):
        x, b, s = op.inputs
        _check_int_tensor(b, "begin", "Slice")
        _check_int_tensor(s, "size", "Slice")
        if b.dtype is not s.dtype:
            raise TypeError(f"Slice: begin {describe(b)} and size {describe(s)} must have the same dtype.")
        begin, size_ = _partial_ints(b), _partial_ints(s)
        r = _rank(x)
        for what, v, t in (("begin", begin, b), ("size", size_, s)):
            if v is not None and r is not None and len(v) != r:
                raise ValueError(
                    f"Slice: {what} has {len(v)} entries but {describe(x)} has rank {r}: {describe(t)}."
                )
        if begin is not None and size_ is not None and len(begin) != len(size_):
            raise ValueError(f"Slice: begin {describe(b)} and size {describe(s)} must have the same length.")
        if r is None:
            n = len(begin) if begin is not None else len(size_) if size_ is not None else None
            return [(x.dtype, None if n is None else tuple(v if v is not None and v >= 0 else None
                                                          for v in (size_ or [None] * n)))]
        begin = begin or [None] * r
        size_ = size_ or [None] * r
        out = []
        for i, (d, bi, si) in enumerate(zip(x._dims, begin, size_)):
            if bi is not None and bi < 0:
                raise ValueError(f"Slice: begin[{i}] = {bi} is negative for {describe(x)}.")
            if si is not None and si < -1:
                raise ValueError(f"Slice: size[{i}] = {si} is invalid (sizes are >= 0, or -1) for {describe(x)}.")
            if d is not None and bi is not None and si is not None:
                end = d if si == -1 else bi + si
                if bi > d or end > d:
                    raise ValueError(
                        f"Slice: begin[{i}] = {bi} with size[{i}] = {si} runs past dimension {i} "
                        f"(size {d}) of {describe(x)}."
                    )
            if si is not None and si != -1:
                out.append(si)
            elif si == -1 and d is not None and bi is not None:
                out.append(d - bi)
            else:
                out.append(None)
        return [(x.dtype, tuple(out))]

    def kernel(self, op, rt):
        def slice_k(x, b, s):
            begin, size_ = list(_host_ints(b)), list(_host_ints(s))
            if len(begin) != x.ndim or len(size_) != x.ndim:
                raise ValueError(
                    f"begin {begin} and size {size_} must have one entry per dimension of shape {list(x.shape)}"
                )
            idx = []
            for i, (d, bi, si) in enumerate(zip(x.shape, begin, size_)):
                if si == -1:
                    si = d - bi
                if not (0 <= bi <= d and 0 <= si <= d - bi):
                    raise ValueError(
                        f"Expected begin[{i}] in [0, {d}] and size[{i}] in [0, {d - bi}], but got {bi} and {si}"
                    )
                idx.append(_pyslice(bi, bi + si))
            return x[tuple(idx)]

        return slice_k

    def gradient(self, op, g):
        x, b, _ = op.inputs
        y = op.outputs[0]
        begin = constant_value(b)
        dt = b.dtype
        if begin is not None and x.shape.is_fully_defined() and y.shape.is_fully_defined():
            bv = np.asarray(begin).reshape(-1)
            after = np.asarray(x._dims) - np.asarray(y._dims) - bv
            paddings: Any = np.stack([bv, after], axis=1).astype(dt.np)
        else:
            m = _math()
            after = m.subtract(m.subtract(shape(x, out_type=dt), shape(y, out_type=dt)), b)
            paddings = stack([b, after], axis=1)
        return [pad(g, paddings), None, None]


def slice_(input_: Any, begin: Any, size: Any, name: str | None = None) -> Tensor:
    """``tf.slice``: ``size[i]`` elements from ``begin[i]`` along each dimension; -1 takes the rest."""
    g = get_default_graph()
    with g.name_scope(name or "Slice") as scope:
        x = convert_to_tensor(input_, name="input")
        b = _int_tensor(begin, "begin", "begin")
        s = _int_tensor(size, "size", "size")
        if b.dtype is not s.dtype:
            if constant_value(s) is not None and not _is_tensor_like(size):
                s = convert_to_tensor(np.asarray(constant_value(s), dtype=b.dtype.np), name="size")
            elif constant_value(b) is not None and not _is_tensor_like(begin):
                b = convert_to_tensor(np.asarray(constant_value(b), dtype=s.dtype.np), name="begin")
        return g.create_op("Slice", [x, b, s], name=scope).outputs[0]


_MASKS = ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask")


def _strided_index(n: int, begin: list, end: list, strides: list, attrs: dict) -> tuple:
    """The Python index (ints, slices, ``...``, None) that TF's strided-slice encoding stands for."""
    bm, em, elm, nam, sam = (attrs[k] for k in _MASKS)
    idx: list = []
    for i in _pyrange(n):
        bit = 1 << i
        if elm & bit:
            idx.append(Ellipsis)
        elif nam & bit:
            idx.append(None)
        elif sam & bit:
            idx.append(begin[i])
        else:
            idx.append(_pyslice(None if bm & bit else begin[i], None if em & bit else end[i], strides[i]))
    return tuple(idx)


def _strided_dims(x: Tensor, n: int | None, begin, end, strides, attrs: dict) -> tuple | None:
    """Static output dims of a strided slice; begin/end/strides hold ints or None (unknown)."""
    if n is None:
        return None
    bm, em, elm, nam, sam = (attrs[k] for k in _MASKS)
    ell = [i for i in _pyrange(n) if elm & (1 << i)]
    if len(ell) > 1:
        raise ValueError(f"Multiple ellipses in slice spec not allowed (slicing {describe(x)}).")
    for i in _pyrange(n):
        bit = 1 << i
        if not (elm & bit or nam & bit or sam & bit) and strides[i] == 0:
            raise ValueError(f"StridedSlice: strides[{i}] must be non-zero when slicing {describe(x)}.")
    r = _rank(x)
    if r is None:
        return None
    consumed = builtins.sum(1 for i in _pyrange(n) if not (elm & (1 << i)) and not (nam & (1 << i)))
    if consumed > r:
        raise ValueError(f"Index out of range: the slice spec indexes {consumed} dimensions but {describe(x)} "
                         f"has only {r}.")
    # Entries as (kind, i): 'e' expands to the unindexed dims, a missing ellipsis sits at the end.
    entries = []
    for i in _pyrange(n):
        bit = 1 << i
        entries.append("e" if elm & bit else "n" if nam & bit else "s" if sam & bit else "r")
    if "e" not in entries:
        entries.append("e")
    out: list = []
    j = 0
    for i, kind in enumerate(entries):
        if kind == "e":
            k = r - consumed
            out.extend(x._dims[j:j + k])
            j += k
        elif kind == "n":
            out.append(1)
        elif kind == "s":
            d, b = x._dims[j], begin[i]
            if d is not None and b is not None and not -d <= b < d:
                raise ValueError(f"slice index {b} of dimension {j} out of bounds for {describe(x)}.")
            j += 1
        else:
            d = x._dims[j]
            bit = 1 << i
            b = None if bm & bit else begin[i]
            e = None if em & bit else end[i]
            st = strides[i]
            known = d is not None and st is not None and (bm & bit or b is not None) and (em & bit or e is not None)
            out.append(len(_pyrange(*_pyslice(b, e, st).indices(d))) if known else None)
            j += 1
    return tuple(out)


@register_op
class StridedSlice(_Folding):
    """NumPy-style basic indexing encoded as begin/end/strides vectors and bit masks (``x[...]``)."""

    def infer(self, op):
        x, b, e, s = op.inputs
        for what, t in (("begin", b), ("end", e), ("strides", s)):
            _check_int_tensor(t, what, "StridedSlice")
            if t._dims is not None and len(t._dims) != 1:
                raise ValueError(f"StridedSlice: {what} must be a vector, got {describe(t)}.")
        parts = [_partial_ints(t) for t in (b, e, s)]
        lens = {len(p) for p in parts if p is not None}
        if len(lens) > 1:
            raise ValueError(f"StridedSlice: begin {describe(b)}, end {describe(e)} and strides {describe(s)} "
                             "must have the same length.")
        n = lens.pop() if lens else None
        if n is not None:
            parts = [p if p is not None else [None] * n for p in parts]
        return [(x.dtype, _strided_dims(x, n, *parts, op.attrs))]

    def kernel(self, op, rt):
        xp = rt.xp
        attrs = op.attrs

        def strided(x, b, e, s):
            b, e, s = list(_host_ints(b)), list(_host_ints(e)), list(_host_ints(s))
            return xp.asarray(x[_strided_index(len(b), b, e, s, attrs)])

        return strided

    def gradient(self, op, g):
        x, b, e, s = op.inputs
        out_type = b.dtype
        attrs = {k: op.attrs[k] for k in _MASKS}
        return [make_op("StridedSliceGrad", [shape(x, out_type=out_type), b, e, s, g], attrs), None, None, None]


@register_op
class StridedSliceGrad(OpDef):
    """Scatters ``dy`` into zeros of the sliced input's shape at the positions the slice read."""

    def infer(self, op):
        sh, _, _, _, dy = op.inputs
        return [(dy.dtype, _dims_from_shape_tensor(sh))]

    def kernel(self, op, rt):
        xp = rt.xp
        attrs = op.attrs

        def scatter(sh, b, e, s, dy):
            b, e, s = list(_host_ints(b)), list(_host_ints(e)), list(_host_ints(s))
            out = xp.zeros(tuple(_host_ints(sh)), dtype=dy.dtype)
            out[_strided_index(len(b), b, e, s, attrs)] = dy
            return out

        return scatter

    def gradient(self, op, g):
        _, b, e, s, _ = op.inputs
        return [None, None, None, None, strided_slice(g, b, e, s, **{k: op.attrs[k] for k in _MASKS})]


def strided_slice(input_: Any, begin: Any, end: Any, strides: Any = None, begin_mask: int = 0, end_mask: int = 0,
                  ellipsis_mask: int = 0, new_axis_mask: int = 0, shrink_axis_mask: int = 0, var: Any = None,
                  name: str | None = None) -> Tensor:
    """``tf.strided_slice``: the op behind ``x[...]``; bit ``i`` of each mask refers to entry ``i``."""
    g = get_default_graph()
    with g.name_scope(name or "StridedSlice") as scope:
        x = convert_to_tensor(input_, name="input")
        b = _int_tensor(begin, "begin", "begin")
        e = _int_tensor(end, "end", "end")
        if strides is None:
            n = b._dims[0] if b._dims else None
            s = convert_to_tensor(np.ones(n, b.dtype.np), name="strides") if n is not None else _math().ones_like(b)
        else:
            s = _int_tensor(strides, "strides", "strides")
        attrs = {"begin_mask": int(begin_mask), "end_mask": int(end_mask), "ellipsis_mask": int(ellipsis_mask),
                 "new_axis_mask": int(new_axis_mask), "shrink_axis_mask": int(shrink_axis_mask)}
        return g.create_op("StridedSlice", [x, b, e, s], attrs, name=scope).outputs[0]


def _check_index(idx: Any) -> None:
    if isinstance(idx, int | np.integer | Dimension):
        return
    if _is_tensor_like(idx):
        t = convert_to_tensor(idx)
        if t.dtype in (_dtypes.int32, _dtypes.int64) and t._dims in (None, ()):
            return
    raise TypeError(
        "Only integers, slices (`:`), ellipsis (`...`), tf.newaxis (`None`) and scalar tf.int32/tf.int64 "
        f"tensors are valid indices, got {idx!r}"
    )


def _getitem(tensor: Tensor, slice_spec: Any) -> Tensor:
    """``tensor[slice_spec]``: NumPy basic indexing (ints, slices with steps, ``...``, ``tf.newaxis``)."""
    if not isinstance(slice_spec, tuple):
        slice_spec = (slice_spec,)
    begin: list = []
    end: list = []
    strides: list = []
    masks = dict.fromkeys(_MASKS, 0)
    seen_ellipsis = False
    for i, s in enumerate(slice_spec):
        bit = 1 << i
        if isinstance(s, Dimension):
            s = int(s)
        if isinstance(s, _pyslice):
            for v in (s.start, s.stop, s.step):
                if v is not None:
                    _check_index(v)
            if s.step is not None and not _is_tensor_like(s.step) and int(s.step) == 0:
                raise ValueError(f"slice step cannot be zero when slicing {describe(tensor)}.")
            begin.append(0 if s.start is None else s.start)
            end.append(0 if s.stop is None else s.stop)
            strides.append(1 if s.step is None else s.step)
            if s.start is None:
                masks["begin_mask"] |= bit
            if s.stop is None:
                masks["end_mask"] |= bit
        elif s is Ellipsis:
            if seen_ellipsis:
                raise ValueError("Multiple ellipses in slice spec not allowed")
            seen_ellipsis = True
            begin.append(0)
            end.append(0)
            strides.append(1)
            masks["ellipsis_mask"] |= bit
        elif s is None:
            begin.append(0)
            end.append(0)
            strides.append(1)
            masks["new_axis_mask"] |= bit
        else:
            _check_index(s)
            begin.append(s)
            end.append(s + 1)
            strides.append(1)
            masks["shrink_axis_mask"] |= bit
    g = get_default_graph()
    with g.name_scope("strided_slice") as scope:
        x = convert_to_tensor(tensor)
        if begin:
            b, e, s = stack(begin), stack(end), stack(strides)
        else:
            b = e = s = convert_to_tensor(np.zeros((0,), np.int32))
        return g.create_op("StridedSlice", [x, b, e, s], masks, name=scope).outputs[0]


Tensor.__getitem__ = _getitem  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------
# Gathering and scattering: gather, gather_nd, scatter_nd
# ---------------------------------------------------------------------------------------------
def _index_str(pos: Sequence[int]) -> str:
    return "[" + ",".join(str(int(p)) for p in pos) + "]"


@register_op
class GatherV2(_Folding):
    """Slices of ``params`` along ``axis`` at ``indices``; out-of-range indices fail the run."""

    def infer(self, op):
        params, indices, a = op.inputs
        _check_int_tensor(indices, "indices", "GatherV2")
        _check_int_tensor(a, "axis", "GatherV2")
        r = _rank(params)
        if r == 0:
            raise ValueError(f"GatherV2: params must be at least 1-dimensional, got {describe(params)}.")
        axis = _axis_value(a)
        if r is None or axis is None or indices._dims is None:
            return [(params.dtype, None)]
        ax = _check_axis(axis, r, "GatherV2: axis", params)
        d = params._dims
        return [(params.dtype, d[:ax] + indices._dims + d[ax + 1:])]

    def kernel(self, op, rt):
        xp = rt.xp

        def gather_(params, indices, a):
            ax = int(_host_ints(a))
            if not -params.ndim <= ax < params.ndim:
                raise ValueError(f"axis {ax} is out of range for params of rank {params.ndim}")
            n = params.shape[ax]
            if indices.size:
                bad = (indices < 0) | (indices >= n)
                if bad.any():
                    pos = _host_ints(xp.argwhere(bad)[0])
                    raise ValueError(f"indices{_index_str(pos)} = {int(indices[tuple(pos)])} is not in [0, {n})")
            return xp.take(params, indices, axis=ax)

        return gather_

    def gradient(self, op, g):
        params, indices, a = op.inputs
        axis = _axis_value(a)
        rp, ri = _rank(params), _rank(indices)
        pshape = shape(params, out_type=indices.dtype)
        if axis is not None and (axis == 0 or axis == -1 and rp == 1):
            return [scatter_nd(expand_dims(indices, -1), g, pshape), None, None]
        if axis is None or rp is None or ri is None:
            raise ValueError(
                f"The gradient of GatherV2 '{op.name}' along a non-zero axis needs a constant axis and params and "
                f"indices of known rank; got {describe(params)}, {describe(indices)}, axis {describe(a)}."
            )
        ax = axis % rp
        # Bring the index dims to the front, scatter along axis 0, then move that axis back.
        rg = ax + ri + rp - ax - 1
        lead = list(_pyrange(ax, ax + ri)) + list(_pyrange(ax)) + list(_pyrange(ax + ri, rg))
        target = gather(pshape, [ax] + list(_pyrange(ax)) + list(_pyrange(ax + 1, rp)))
        scattered = scatter_nd(expand_dims(indices, -1), transpose(g, lead), target)
        back = list(_pyrange(1, ax + 1)) + [0] + list(_pyrange(ax + 1, rp))
        return [transpose(scattered, back), None, None]


def gather(params: Any, indices: Any, validate_indices: Any = None, name: str | None = None, axis: Any = 0) -> Tensor:
    """``tf.gather``: slices of ``params`` along ``axis`` at ``indices`` (output rank: r(params)+r(indices)-1)."""
    g = get_default_graph()
    with g.name_scope(name or "GatherV2") as scope:
        p = convert_to_tensor(params, name="params")
        i = _int_tensor(indices, "indices", "indices")
        a = _int_tensor(0 if axis is None else axis, "axis", "axis")
        return g.create_op("GatherV2", [p, i, a], name=scope).outputs[0]


def _nd_positions(xp, indices, dims, what: str):
    """Flat positions of ``indices[..., K]`` into the leading K of ``dims``, range-checked."""
    k = indices.shape[-1]
    idx = indices.reshape(-1, k).astype(np.int64)
    lim = xp.asarray(np.asarray(dims[:k], dtype=np.int64))
    if idx.size:
        bad = ((idx < 0) | (idx >= lim)).any(axis=1)
        if bad.any():
            row = int(_host_ints(xp.argwhere(bad)[0][0]))
            pos = np.unravel_index(row, indices.shape[:-1]) if indices.ndim > 1 else ()
            raise ValueError(f"indices{_index_str(pos)} = {_host_ints(idx[row])} does not index into {what} "
                             f"shape {list(dims)}")
    strides = np.ones(k, dtype=np.int64)
    for i in _pyrange(k - 2, -1, -1):
        strides[i] = strides[i + 1] * dims[i + 1]
    return (idx * xp.asarray(strides)).sum(axis=1)


@register_op
class GatherNd(_Folding):
    """``params[indices[..., 0], ..., indices[..., K-1]]``: slices at K-dimensional indices."""

    def infer(self, op):
        params, indices = op.inputs
        _check_int_tensor(indices, "indices", "GatherNd")
        if indices._dims == ():
            raise ValueError(f"GatherNd: indices must be at least 1-dimensional, got {describe(indices)}.")
        if indices._dims is None or params._dims is None:
            return [(params.dtype, None)]
        k = indices._dims[-1]
        if k is None:
            return [(params.dtype, None)]
        if k > len(params._dims):
            raise ValueError(
                f"GatherNd: the last dimension of indices ({k}) exceeds the rank of params: {describe(indices)}, "
                f"{describe(params)}."
            )
        return [(params.dtype, indices._dims[:-1] + params._dims[k:])]

    def kernel(self, op, rt):
        xp = rt.xp

        def gather_nd_(params, indices):
            k = indices.shape[-1]
            lead = indices.shape[:-1]
            pos = _nd_positions(xp, indices, params.shape, "params")
            rows = params.reshape((int(np.prod(params.shape[:k], dtype=np.int64)),) + params.shape[k:])
            return xp.take(rows, pos, axis=0).reshape(lead + params.shape[k:])

        return gather_nd_

    def gradient(self, op, g):
        params, indices = op.inputs
        return [scatter_nd(indices, g, shape(params, out_type=indices.dtype)), None]


def gather_nd(params: Any, indices: Any, name: str | None = None) -> Tensor:
    """``tf.gather_nd``: ``params`` at each K-dimensional index in ``indices[..., K]``."""
    g = get_default_graph()
    with g.name_scope(name or "GatherNd") as scope:
        p = convert_to_tensor(params, name="params")
        i = _int_tensor(indices, "indices", "indices")
        return g.create_op("GatherNd", [p, i], name=scope).outputs[0]


@register_op
class ScatterNd(OpDef):
    """Zeros of ``shape`` with ``updates`` added at ``indices`` (repeated indices add up)."""

    def infer(self, op):
        indices, updates, s = op.inputs
        _check_int_tensor(indices, "indices", "ScatterNd")
        _check_int_tensor(s, "shape", "ScatterNd")
        out = _dims_from_shape_tensor(s)
        if out is not None and any(d is not None and d < 0 for d in out):
            raise ValueError(f"ScatterNd: shape {list(out)} has a negative dimension.")
        idims, udims = indices._dims, updates._dims
        if out is not None and idims is not None and udims is not None and idims and idims[-1] is not None:
            k = idims[-1]
            want = TensorShape(idims[:-1] + out[k:])
            if k > len(out) or not want.is_compatible_with(TensorShape(udims)):
                raise ValueError(
                    f"ScatterNd: updates {describe(updates)} must have shape indices.shape[:-1] + shape[{k}:] = "
                    f"{want} for indices {describe(indices)} and shape {list(out)}."
                )
        return [(updates.dtype, out)]

    def kernel(self, op, rt):
        xp = rt.xp

        def scatter(indices, updates, s):
            dims = tuple(_host_ints(s))
            k = indices.shape[-1]
            pos = _nd_positions(xp, indices, dims, "output")
            rows = int(np.prod(dims[:k], dtype=np.int64))
            out = xp.zeros((rows,) + dims[k:], dtype=updates.dtype)
            xp.add.at(out, pos, updates.reshape((pos.shape[0],) + dims[k:]))
            return out.reshape(dims)

        return scatter

    def gradient(self, op, g):
        indices = op.inputs[0]
        return [None, gather_nd(g, indices), None]


def scatter_nd(indices: Any, updates: Any, shape: Any, name: str | None = None) -> Tensor:  # noqa: A002
    """``tf.scatter_nd``: zeros of ``shape`` with ``updates`` summed in at ``indices``."""
    g = get_default_graph()
    with g.name_scope(name or "ScatterNd") as scope:
        i = _int_tensor(indices, "indices", "indices")
        u = convert_to_tensor(updates, name="updates")
        s = _shape_arg(shape) if not _is_tensor_like(shape) else convert_to_tensor(shape)
        return g.create_op("ScatterNd", [i, u, s], name=scope).outputs[0]


# ---------------------------------------------------------------------------------------------
# Creating tensors: fill, zeros, ones, range, one_hot, meshgrid
# ---------------------------------------------------------------------------------------------
@register_op
class Fill(_Folding):
    """A tensor of shape ``dims`` with every element ``value``."""

    def infer(self, op):
        dims, value = op.inputs
        _check_int_tensor(dims, "dims", "Fill")
        if dims._dims is not None and len(dims._dims) != 1:
            raise ValueError(f"Fill: dims must be a vector, got {describe(dims)}.")
        if value._dims is not None and value._dims != ():
            raise ValueError(f"Fill: value must be a scalar, got {describe(value)}.")
        out = _dims_from_shape_tensor(dims)
        if out is not None and any(d is not None and d < 0 for d in out):
            raise ValueError(f"Fill: dims {list(out)} has a negative dimension.")
        return [(value.dtype, out)]

    def kernel(self, op, rt):
        xp = rt.xp

        def fill_(dims, value):
            out = xp.empty(tuple(_host_ints(dims)), dtype=value.dtype)
            out[...] = value
            return out

        return fill_

    def gradient(self, op, g):
        return [None, _math().reduce_sum(g)]


def fill(dims: Any, value: Any, name: str | None = None) -> Tensor:
    """``tf.fill``: a tensor of shape ``dims`` filled with the scalar ``value`` (taking its dtype)."""
    g = get_default_graph()
    with g.name_scope(name or "Fill") as scope:
        d = _shape_arg(dims, "dims")
        v = convert_to_tensor(value, name="value")
        return g.create_op("Fill", [d, v], name=scope).outputs[0]


def _filled(shape: Any, dtype: Any, one: bool, name: str | None, default: str) -> Tensor:
    """zeros/ones as TF1 builds them: a constant when small and known, else a Fill."""
    dt = _dtypes.as_dtype(dtype)
    if dt is _dtypes.string:
        raise TypeError(f"{default}: string tensors have no {'one' if one else 'zero'}.")
    value = np.ones((), dt.np) if one else np.zeros((), dt.np)
    g = get_default_graph()
    with g.name_scope(name or default) as scope:
        if not _is_tensor_like(shape) and not _contains_tensor(shape):
            dims = TensorShape(shape).as_list() if isinstance(shape, TensorShape) else (
                [dimension_value(d) for d in shape] if isinstance(shape, list | tuple) else [int(shape)])
            if None in dims:
                raise ValueError(f"{default}: shape {dims} must be fully known.")
            if any(d < 0 for d in dims):
                raise ValueError(f"{default}: shape {dims} has a negative dimension.")
            if int(np.prod(dims, dtype=np.int64)) < 1000:
                from flowgraph.ops.sources import constant

                return constant(value, dtype=dt, shape=dims, name=scope)
        s = _shape_arg(shape)
        if s._dims == ():
            s = reshape(s, [-1])
        return g.create_op("Fill", [s, convert_to_tensor(value, dtype=dt)], name=scope).outputs[0]


def zeros(shape: Any, dtype: Any = _dtypes.float32, name: str | None = None) -> Tensor:  # noqa: A002
    """``tf.zeros``: all-zero tensor of ``shape``."""
    return _filled(shape, dtype, False, name, "zeros")


def ones(shape: Any, dtype: Any = _dtypes.float32, name: str | None = None) -> Tensor:  # noqa: A002
    """``tf.ones``: all-one tensor of ``shape``."""
    return _filled(shape, dtype, True, name, "ones")


def _range_count(start: Any, limit: Any, delta: Any, integer: bool) -> int:
    if delta == 0:
        raise ValueError("Requires delta != 0")
    if delta > 0 and start > limit:
        raise ValueError(f"Requires start <= limit when delta > 0: {start}/{limit}")
    if delta < 0 and start < limit:
        raise ValueError(f"Requires start >= limit when delta < 0: {start}/{limit}")
    if integer:
        return (abs(int(limit) - int(start)) + abs(int(delta)) - 1) // abs(int(delta))
    return int(np.ceil(abs((float(limit) - float(start)) / float(delta))))


@register_op
class Range(_Folding):
    """``start, start + delta, ...`` up to (not including) ``limit``."""

    def infer(self, op):
        start, limit, delta = op.inputs
        for what, t in (("start", start), ("limit", limit), ("delta", delta)):
            if t.dtype is not start.dtype:
                raise TypeError(f"Range: {what} {describe(t)} must have the dtype of start {describe(start)}.")
            if t._dims is not None and t._dims != ():
                raise ValueError(f"Range: {what} must be a scalar, got {describe(t)}.")
        if start.dtype not in (_dtypes.int32, _dtypes.int64, _dtypes.float32, _dtypes.float64):
            raise TypeError(f"Range: unsupported dtype {start.dtype.name} of {describe(start)}.")
        vals = [constant_value(t) for t in (start, limit, delta)]
        if any(v is None for v in vals):
            return [(start.dtype, (None,))]
        s, lim, d = (np.asarray(v).item() for v in vals)
        return [(start.dtype, (_range_count(s, lim, d, start.dtype.is_integer),))]

    def kernel(self, op, rt):
        xp = rt.xp
        dt = op.outputs[0].dtype

        def range_k(start, limit, delta):
            s, lim, d = (np.asarray(_host_ints(v)).item() for v in (start, limit, delta))
            n = _range_count(s, lim, d, dt.is_integer)
            if dt.is_integer:
                return xp.arange(n, dtype=dt.np) * dt.np.type(d) + dt.np.type(s)
            return (s + xp.arange(n, dtype=np.float64) * d).astype(dt.np)

        return range_k


NotDifferentiable("Range")

_RANGE_ORDER = (_dtypes.int32, _dtypes.int64, _dtypes.float32, _dtypes.float64)


def range_(start: Any, limit: Any = None, delta: Any = 1, dtype: Any = None, name: str = "range") -> Tensor:
    """``tf.range``: like Python's; ints give int32, any float gives float32 unless ``dtype`` is given."""
    if limit is None:
        start, limit = 0, start
    g = get_default_graph()
    with g.name_scope(name or "range") as scope:
        args = ((start, "start"), (limit, "limit"), (delta, "delta"))
        dt = None if dtype is None else _dtypes.as_dtype(dtype)
        if dt is None:
            kinds = [convert_to_tensor(v).dtype if _is_tensor_like(v) else _dtypes.infer_dtype(v) for v, _ in args]
            for k, (v, n) in zip(kinds, args):
                if k not in _RANGE_ORDER:
                    raise TypeError(f"range: unsupported dtype {k.name} of {n} {describe(v)}.")
            dt = max(kinds, key=_RANGE_ORDER.index)
        # Python values are made in the result dtype directly, so their values stay known statically.
        ts = [convert_to_tensor(v, dtype=None if _is_tensor_like(v) else dt, name=n) for v, n in args]
        ts = [_math().cast(t, dt) if t.dtype is not dt else t for t in ts]
        return g.create_op("Range", ts, name=scope).outputs[0]


@register_op
class OneHot(OpDef):
    """``on_value`` where ``indices`` equals the position along the new ``axis``, else ``off_value``."""

    def infer(self, op):
        indices, depth, on, off = op.inputs
        if indices.dtype not in (_dtypes.uint8, _dtypes.int32, _dtypes.int64):
            raise TypeError(f"OneHot: indices must be uint8, int32 or int64, got {describe(indices)}.")
        if depth.dtype is not _dtypes.int32:
            raise TypeError(f"OneHot: depth must be int32, got {describe(depth)}.")
        if on.dtype is not off.dtype:
            raise TypeError(f"OneHot: on_value {describe(on)} and off_value {describe(off)} must have the same dtype.")
        for what, t in (("depth", depth), ("on_value", on), ("off_value", off)):
            if t._dims is not None and t._dims != ():
                raise ValueError(f"OneHot: {what} must be a scalar, got {describe(t)}.")
        d = _scalar_static(depth)
        if d is not None and d < 0:
            raise ValueError(f"OneHot: depth must be non-negative, got {d}.")
        axis = op.attrs["axis"]
        r = _rank(indices)
        if r is None:
            return [(on.dtype, None)]
        if not -1 <= axis <= r:
            raise ValueError(f"OneHot: axis {axis} must be in [-1, {r}] for {describe(indices)}.")
        ax = r if axis == -1 else axis
        return [(on.dtype, indices._dims[:ax] + (d,) + indices._dims[ax:])]

    def kernel(self, op, rt):
        xp = rt.xp
        axis = op.attrs["axis"]
        dt = op.outputs[0].dtype.np

        def one_hot_(indices, depth, on, off):
            d = int(_host_ints(depth))
            hit = indices[..., None] == xp.arange(d, dtype=indices.dtype)
            if axis != -1 and axis != indices.ndim:
                hit = xp.moveaxis(hit, -1, axis)
            return xp.where(hit, on, off).astype(dt, copy=False)

        return one_hot_

    def gradient(self, op, g):
        return [None, None, None, None]


def one_hot(indices: Any, depth: Any, on_value: Any = None, off_value: Any = None, axis: Any = None,
            dtype: Any = None, name: str | None = None) -> Tensor:
    """``tf.one_hot``: dtype from ``dtype``, else ``on_value``/``off_value``, else float32."""
    g = get_default_graph()
    with g.name_scope(name or "one_hot") as scope:
        ind = convert_to_tensor(indices, name="indices")
        dt = None if dtype is None else _dtypes.as_dtype(dtype)
        on = None if on_value is None else convert_to_tensor(on_value, dtype=None if _is_tensor_like(on_value) else dt,
                                                             name="on_value")
        off = None if off_value is None else convert_to_tensor(off_value, dtype=None if _is_tensor_like(off_value)
                                                               else dt if dt is not None
                                                               else on.dtype if on is not None else None,
                                                               name="off_value")
        for what, t in (("on_value", on), ("off_value", off)):
            if t is not None and dt is not None and t.dtype is not dt:
                raise TypeError(
                    f"dtype {t.dtype.name} of {what} {describe(t)} does not match dtype parameter {dt.name}"
                )
        if dt is None:
            dt = on.dtype if on is not None else off.dtype if off is not None else _dtypes.float32
        if on is None:
            on = convert_to_tensor(np.ones((), dt.np), name="on_value")
        if off is None:
            off = convert_to_tensor(np.zeros((), dt.np), name="off_value")
        if on.dtype is not off.dtype:
            raise TypeError(f"dtype {on.dtype.name} of on_value does not match dtype {off.dtype.name} of off_value")
        d = _int_tensor(depth, "depth", "depth")
        ax = -1 if axis is None else int(axis)
        return g.create_op("OneHot", [ind, d, on, off], {"axis": ax}, name=scope).outputs[0]


def meshgrid(*args: Any, **kwargs: Any) -> list[Tensor]:
    """``tf.meshgrid(*args, indexing='xy', name='meshgrid')``: coordinate grids from 1-D tensors."""
    indexing = kwargs.pop("indexing", "xy")
    name = kwargs.pop("name", "meshgrid")
    if kwargs:
        raise TypeError(f"meshgrid got unexpected keyword arguments: {', '.join(kwargs)}")
    if indexing not in ("xy", "ij"):
        raise ValueError("indexing parameter must be either 'xy' or 'ij'")
    g = get_default_graph()
    with g.name_scope(name or "meshgrid"):
        ts = [convert_to_tensor(a) for a in args]
        n = len(ts)
        if n == 0:
            return []
        for t in ts:
            if t._dims is not None and len(t._dims) != 1:
                raise ValueError(f"meshgrid: inputs must be vectors, got {describe(t)}.")
        swap = indexing == "xy" and n > 1
        order = [1, 0] + list(_pyrange(2, n)) if swap else list(_pyrange(n))
        sizes = [size(t) for t in ts]
        full = stack([sizes[i] for i in order])
        outs = []
        for i, t in enumerate(ts):
            pos = order.index(i)
            target = [1] * n
            target[pos] = -1
            outs.append(broadcast_to(reshape(t, target), full))
        return outs


@register_op
class SequenceMask(_Folding):
    """``mask[..., j] = j < lengths[...]`` for ``j < maxlen`` (maxlen: input 1, or max(lengths))."""

    def infer(self, op):
        lens = op.inputs[0]
        if not lens.dtype.is_integer:
            raise TypeError(f"sequence_mask: lengths must be integers, got {describe(lens)}.")
        if len(op.inputs) == 2:
            m = op.inputs[1]
            if m._dims is not None and m._dims != ():
                raise ValueError(f"sequence_mask: maxlen must be a scalar, got {describe(m)}.")
            width = _scalar_static(m)
        else:
            v = constant_value(lens)
            width = None if v is None else int(np.max(v)) if np.size(v) else 0
        if width is not None and width < 0:
            raise ValueError(f"sequence_mask: maxlen must be non-negative, got {width}.")
        return [(_dtypes.bool, None if lens._dims is None else lens._dims + (width,))]

    def kernel(self, op, rt):
        xp = rt.xp

        def mask(lens, m=None):
            width = int(_host_ints(m)) if m is not None else int(_host_ints(lens.max())) if lens.size else 0
            return xp.arange(max(width, 0), dtype=lens.dtype) < lens[..., None]

        return mask


NotDifferentiable("SequenceMask")


def sequence_mask(lengths: Any, maxlen: Any = None, dtype: Any = _dtypes.bool, name: str | None = None) -> Tensor:
    """``tf.sequence_mask``: ``mask[..., j] = j < lengths[...]``, ``maxlen`` columns (default: the max length)."""
    g = get_default_graph()
    with g.name_scope(name or "SequenceMask") as scope:
        lens = convert_to_tensor(lengths, name="lengths")
        ins = [lens]
        if maxlen is not None:
            m = convert_to_tensor(maxlen, dtype=None if _is_tensor_like(maxlen) else lens.dtype, name="maxlen")
            if not m.dtype.is_integer:
                raise TypeError(f"sequence_mask: maxlen must be an integer, got {describe(m)}.")
            ins.append(m)
        dt = _dtypes.as_dtype(dtype)
        mask = g.create_op("SequenceMask", ins, name=scope if dt is _dtypes.bool else "mask").outputs[0]
        return mask if dt is _dtypes.bool else _math().cast(mask, dt, name=scope)


def boolean_mask(tensor: Any, mask: Any, name: str = "boolean_mask", axis: Any = None) -> Tensor:
    """``tf.boolean_mask``: the entries of ``tensor`` where the bool ``mask`` (over dims ``axis..``) is True.

    The masked dimensions are flattened into one, and the selected positions gathered from it.
    """
    g = get_default_graph()
    with g.name_scope(name or "boolean_mask"):
        x = convert_to_tensor(tensor, name="tensor")
        m = convert_to_tensor(mask, name="mask")
        if m.dtype is not _dtypes.bool:
            raise TypeError(f"boolean_mask: mask must be bool, got {describe(m)}.")
        nm = _rank(m)
        if nm == 0:
            raise ValueError(f"mask cannot be scalar: {describe(m)}.")
        if nm is None:
            raise ValueError(
                "Number of mask dimensions must be specified, even if some dimensions are None. E.g. shape=[None] "
                f"is ok, but shape=None is not: {describe(m)}."
            )
        ax = 0 if axis is None else int(axis)
        r = _rank(x)
        if ax < 0:
            if r is None:
                raise ValueError(f"boolean_mask: a negative axis needs the rank of {describe(x)} to be known.")
            ax += r
        if r is not None:
            if ax < 0 or ax + nm > r:
                raise ValueError(f"boolean_mask: a mask of rank {nm} at axis {axis} does not fit {describe(x)}.")
            if not TensorShape(x._dims[ax:ax + nm]).is_compatible_with(m.shape):
                raise ValueError(
                    f"boolean_mask: mask {describe(m)} does not match dimensions {ax}..{ax + nm - 1} of {describe(x)}."
                )
        xs = shape(x)
        n = None if r is None else TensorShape(x._dims[ax:ax + nm]).num_elements()
        lead = [n] if n is not None else expand_dims(_math().reduce_prod(xs[ax:ax + nm], [0]), 0)
        flat = reshape(x, concat([xs[:ax], lead, xs[ax + nm:]], 0))
        picked = squeeze(_math().where(reshape(m, [-1])), axis=[1])
        return gather(flat, picked, axis=ax)


# The public names of this module, as TF1 spells them (``tf.range``, ``tf.slice``).
range = range_  # noqa: A001
slice = slice_  # noqa: A001

# Public names re-exported as ``tf.<name>``; extend when adding an op function.
__all__ = [
    "boolean_mask",
    "broadcast_to",
    "concat",
    "expand_dims",
    "fill",
    "gather",
    "gather_nd",
    "invert_permutation",
    "meshgrid",
    "one_hot",
    "ones",
    "pad",
    "range",
    "rank",
    "reshape",
    "reverse",
    "scatter_nd",
    "sequence_mask",
    "shape",
    "size",
    "slice",
    "split",
    "squeeze",
    "stack",
    "stop_gradient",
    "strided_slice",
    "tile",
    "transpose",
    "unstack",
    "zeros",
]
