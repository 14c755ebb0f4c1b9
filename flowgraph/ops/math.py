"""Math ops: element-wise arithmetic with NumPy broadcasting, matmul, reductions, ``add_n``.

Binary ops never cast: operands must share a dtype (a Python scalar takes the other's dtype).
Gradients of broadcasting ops are written for equal shapes; the backprop driver sums them back.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from flowgraph import dtypes as _dtypes
from flowgraph.graph import Tensor, convert_to_tensor, get_default_graph
from flowgraph.ops.op_helpers import (
    check_same_dtype,
    convert_pair,
    describe,
    make_op,
    normalize_axes,
)
from flowgraph.registry import OpDef, register_op
from flowgraph.shapes import broadcast_dims


# ---------------------------------------------------------------------------------------------
# Element-wise binary ops
# ---------------------------------------------------------------------------------------------
class BinaryOp(OpDef):
    """Element-wise ``f(x, y)`` with NumPy broadcasting; ``ufunc`` names the array-module function."""

    broadcasting = True
    ufunc = ""
    out_bool = False

    def infer(self, op):
        x, y = op.inputs
        check_same_dtype(self.type, x, y)
        return [(_dtypes.bool if self.out_bool else x.dtype, broadcast_dims(x._dims, y._dims))]

    def kernel(self, op, rt):
        return getattr(rt.xp, self.ufunc)


def binary(op_type: str, x: Any, y: Any, name: str | None, default: str) -> Tensor:
    """Creates a binary op under its own name scope, converting Python operands as TF1 does."""
    g = get_default_graph()
    with g.name_scope(name or default) as scope:
        xt, yt = convert_pair(x, y, op_type)
        return g.create_op(op_type, [xt, yt], name=scope).outputs[0]


@register_op
class AddV2(BinaryOp):
    ufunc = "add"

    def gradient(self, op, g):
        return [g, g]


@register_op
class Sub(BinaryOp):
    ufunc = "subtract"

    def gradient(self, op, g):
        return [g, negative(g)]


@register_op
class Mul(BinaryOp):
    ufunc = "multiply"

    def gradient(self, op, g):
        x, y = op.inputs
        return [multiply(g, y), multiply(x, g)]


@register_op
class RealDiv(BinaryOp):
    ufunc = "divide"

    def infer(self, op):
        out = super().infer(op)
        if op.inputs[0].dtype.is_integer:
            raise TypeError(f"RealDiv needs floating-point operands, got {describe(op.inputs[0])}; use tf.truediv.")
        return out

    def gradient(self, op, g):
        x, y = op.inputs
        return [divide(g, y), multiply(g, divide(divide(negative(x), y), y))]


def add(x: Any, y: Any, name: str | None = None) -> Tensor:
    return binary("AddV2", x, y, name, "Add")


def subtract(x: Any, y: Any, name: str | None = None) -> Tensor:
    return binary("Sub", x, y, name, "Sub")


def multiply(x: Any, y: Any, name: str | None = None) -> Tensor:
    return binary("Mul", x, y, name, "Mul")


def divide(x: Any, y: Any, name: str | None = None) -> Tensor:
    """``x / y`` (true division; integer operands are cast to float as Python 3 does)."""
    return truediv(x, y, name=name)


def truediv(x: Any, y: Any, name: str | None = None) -> Tensor:
    g = get_default_graph()
    with g.name_scope(name or "truediv") as scope:
        xt, yt = convert_pair(x, y, "RealDiv")
        if xt.dtype.is_integer or xt.dtype.is_bool:
            target = _dtypes.float32 if xt.dtype.size <= 2 else _dtypes.float64
            xt, yt = cast(xt, target), cast(yt, target)
        return g.create_op("RealDiv", [xt, yt], name=scope).outputs[0]


# ---------------------------------------------------------------------------------------------
# Element-wise unary ops
# ---------------------------------------------------------------------------------------------
class UnaryOp(OpDef):
    """Element-wise ``f(x)``; ``ufunc`` names the array-module function."""

    ufunc = ""

    def infer(self, op):
        (x,) = op.inputs
        return [(x.dtype, x._dims)]

    def kernel(self, op, rt):
        return getattr(rt.xp, self.ufunc)


def unary(op_type: str, x: Any, name: str | None, default: str | None = None) -> Tensor:
    g = get_default_graph()
    with g.name_scope(name or default or op_type) as scope:
        xt = convert_to_tensor(x, name="x")
        return g.create_op(op_type, [xt], name=scope).outputs[0]


@register_op
class Neg(UnaryOp):
    ufunc = "negative"

    def gradient(self, op, g):
        return [negative(g)]


def negative(x: Any, name: str | None = None) -> Tensor:
    return unary("Neg", x, name, "Neg")


# ---------------------------------------------------------------------------------------------
# n-ary sum, ones/zeros like
# ---------------------------------------------------------------------------------------------
@register_op
class AddN(OpDef):
    """Sum of same-shaped tensors (no broadcasting, as in TF1); sums into a fresh buffer."""

    def infer(self, op):
        first = op.inputs[0]
        dims = first.shape
        for t in op.inputs[1:]:
            check_same_dtype("AddN", first, t)
            if not dims.is_compatible_with(t.shape):
                raise ValueError(f"AddN inputs must have the same shape: {describe(first)} vs {describe(t)}")
            dims = dims.merge_with(t.shape)
        return [(first.dtype, dims.as_tuple())]

    def kernel(self, op, rt):
        xp = rt.xp
        n = len(op.inputs)
        if n == 1:
            return lambda a: a
        if n == 2:
            return xp.add

        def add_n_kernel(*xs):
            acc = xp.add(xs[0], xs[1])
            for x in xs[2:]:
                if isinstance(acc, np.ndarray) and acc.shape == np.shape(x):
                    xp.add(acc, x, out=acc)
                else:
                    acc = xp.add(acc, x)
            return acc

        return add_n_kernel

    def gradient(self, op, g):
        return [g] * len(op.inputs)


def add_n(inputs: list, name: str | None = None) -> Tensor:
    """``tf.add_n``: element-wise sum of a list of same-shaped, same-dtype tensors."""
    if not inputs or not isinstance(inputs, list | tuple):
        raise ValueError("inputs must be a non-empty list of Tensors of the same shape and dtype.")
    ts = [convert_to_tensor(t) for t in inputs]
    if len(ts) == 1 and name is None:
        return ts[0]
    return make_op("AddN", ts, name=name, default="AddN")


@register_op
class OnesLike(UnaryOp):
    def kernel(self, op, rt):
        xp = rt.xp
        return lambda x: xp.ones_like(x)

    def gradient(self, op, g):
        return [None]


@register_op
class ZerosLike(UnaryOp):
    def kernel(self, op, rt):
        xp = rt.xp
        return lambda x: xp.zeros_like(x)

    def gradient(self, op, g):
        return [None]


def ones_like(tensor: Any, dtype: Any = None, name: str | None = None, optimize: bool = True) -> Tensor:
    x = convert_to_tensor(tensor)
    out = make_op("OnesLike", [x], name=name, default="ones_like")
    if dtype is not None and _dtypes.as_dtype(dtype) is not x.dtype:
        out = cast(out, dtype)
    return out


def zeros_like(tensor: Any, dtype: Any = None, name: str | None = None, optimize: bool = True) -> Tensor:
    x = convert_to_tensor(tensor)
    out = make_op("ZerosLike", [x], name=name, default="zeros_like")
    if dtype is not None and _dtypes.as_dtype(dtype) is not x.dtype:
        out = cast(out, dtype)
    return out


# ---------------------------------------------------------------------------------------------
# cast
# ---------------------------------------------------------------------------------------------
@register_op
class Cast(OpDef):
    """Converts the element type (float -> int truncates toward zero, as in TF1)."""

    def infer(self, op):
        (x,) = op.inputs
        return [(op.attrs["DstT"], x._dims)]

    def kernel(self, op, rt):
        dt = op.attrs["DstT"].np
        xp = rt.xp
        return lambda x: xp.asarray(x).astype(dt, copy=False)

    def gradient(self, op, g):
        x = op.inputs[0]
        if x.dtype.is_floating and op.attrs["DstT"].is_floating:
            return [cast(g, x.dtype)]
        return [None]


def cast(x: Any, dtype: Any, name: str | None = None) -> Tensor:
    """``tf.cast``; a no-op (returns ``x``) when the dtype already matches."""
    dt = _dtypes.as_dtype(dtype)
    g = get_default_graph()
    xt = x if isinstance(x, Tensor) else convert_to_tensor(x)
    if xt.dtype is dt:
        return xt
    with g.name_scope(name or "Cast") as scope:
        return g.create_op("Cast", [xt], {"DstT": dt, "SrcT": xt.dtype}, name=scope).outputs[0]


# ---------------------------------------------------------------------------------------------
# matmul
# ---------------------------------------------------------------------------------------------
@register_op
class MatMul(OpDef):
    """``a @ b`` for rank-2 operands, with optional transposes (one BLAS GEMM)."""

    heavy = True

    def infer(self, op):
        a, b = op.inputs
        check_same_dtype("MatMul", a, b)
        ta, tb = op.attrs["transpose_a"], op.attrs["transpose_b"]
        if a._dims is not None and len(a._dims) != 2 or b._dims is not None and len(b._dims) != 2:
            raise ValueError(f"MatMul needs rank-2 operands: a is {describe(a)}, b is {describe(b)}")
        ad = a._dims or (None, None)
        bd = b._dims or (None, None)
        m, k1 = (ad[1], ad[0]) if ta else ad
        k2, n = (bd[1], bd[0]) if tb else bd
        if k1 is not None and k2 is not None and k1 != k2:
            raise ValueError(
                f"Dimensions must be equal, but are {k1} and {k2} for 'MatMul' with input shapes "
                f"{a.shape} and {b.shape}: a is {describe(a)}, b is {describe(b)}"
            )
        return [(a.dtype, (m, n))]

    def kernel(self, op, rt):
        matmul_ = rt.xp.matmul
        ta, tb = op.attrs["transpose_a"], op.attrs["transpose_b"]
        if ta and tb:
            return lambda a, b: matmul_(a.T, b.T)
        if ta:
            return lambda a, b: matmul_(a.T, b)
        if tb:
            return lambda a, b: matmul_(a, b.T)
        return matmul_

    def gradient(self, op, g):
        a, b = op.inputs
        ta, tb = op.attrs["transpose_a"], op.attrs["transpose_b"]
        if not ta and not tb:
            return [matmul(g, b, transpose_b=True), matmul(a, g, transpose_a=True)]
        if not ta and tb:
            return [matmul(g, b), matmul(g, a, transpose_a=True)]
        if ta and not tb:
            return [matmul(b, g, transpose_b=True), matmul(a, g)]
        return [matmul(b, g, transpose_a=True, transpose_b=True), matmul(g, a, transpose_a=True, transpose_b=True)]


def matmul(
    a: Any,
    b: Any,
    transpose_a: bool = False,
    transpose_b: bool = False,
    adjoint_a: bool = False,
    adjoint_b: bool = False,
    a_is_sparse: bool = False,
    b_is_sparse: bool = False,
    name: str | None = None,
) -> Tensor:
    """``tf.matmul``: rank-2 GEMM, or batched (rank >= 3, broadcasting batch dims)."""
    g = get_default_graph()
    with g.name_scope(name or "MatMul") as scope:
        at, bt = convert_pair(a, b, "MatMul")
        ta, tb = bool(transpose_a or adjoint_a), bool(transpose_b or adjoint_b)
        ra, rb = at.shape.ndims, bt.shape.ndims
        if (ra is not None and ra > 2) or (rb is not None and rb > 2):
            return g.create_op("BatchMatMulV2", [at, bt], {"adj_x": ta, "adj_y": tb}, name=scope).outputs[0]
        return g.create_op("MatMul", [at, bt], {"transpose_a": ta, "transpose_b": tb}, name=scope).outputs[0]


# ---------------------------------------------------------------------------------------------
# Reductions
# ---------------------------------------------------------------------------------------------
class ReductionOp(OpDef):
    """Reduces over ``axis`` (None = all); ``keepdims`` keeps reduced axes as size 1."""

    def infer(self, op):
        (x,) = op.inputs
        axis, keep = op.attrs["axis"], op.attrs["keepdims"]
        return [(self.out_dtype(x), reduced_dims(x._dims, axis, keep))]

    def out_dtype(self, x: Tensor):
        return x.dtype


def reduced_dims(dims: tuple | None, axis: tuple | None, keepdims: bool) -> tuple | None:
    if dims is None:
        return None
    if axis is None:
        return (1,) * len(dims) if keepdims else ()
    if keepdims:
        return tuple(1 if i in axis else d for i, d in enumerate(dims))
    return tuple(d for i, d in enumerate(dims) if i not in axis)


def reduction(op_type: str, input_tensor: Any, axis: Any, keepdims: Any, name: str | None, default: str,
              reduction_indices: Any = None, keep_dims: Any = None) -> Tensor:
    """Shared front end of ``reduce_*``: TF1's legacy argument names and axis checks."""
    if reduction_indices is not None:
        if axis is not None:
            raise ValueError("Cannot specify both 'axis' and 'reduction_indices'.")
        axis = reduction_indices
    if keep_dims is not None:
        if keepdims is not None:
            raise ValueError("Cannot specify both 'keepdims' and 'keep_dims'.")
        keepdims = keep_dims
    g = get_default_graph()
    with g.name_scope(name or default) as scope:
        x = convert_to_tensor(input_tensor, name="input")
        axes = normalize_axes(axis, x.shape.ndims)
        return g.create_op(op_type, [x], {"axis": axes, "keepdims": bool(keepdims)}, name=scope).outputs[0]


@register_op
class Sum(ReductionOp):
    def kernel(self, op, rt):
        xp = rt.xp
        axis, keep = op.attrs["axis"], op.attrs["keepdims"]
        dt = op.outputs[0].dtype.np
        if axis is not None and len(axis) == 1:
            axis = axis[0]
        return lambda x: xp.sum(x, axis=axis, dtype=dt, keepdims=keep)

    def gradient(self, op, g):
        from flowgraph.ops.array import broadcast_reduced

        return [broadcast_reduced(g, op.inputs[0], op.attrs["axis"], op.attrs["keepdims"])]


@register_op
class Mean(ReductionOp):
    def kernel(self, op, rt):
        xp = rt.xp
        axis, keep = op.attrs["axis"], op.attrs["keepdims"]
        dt = op.outputs[0].dtype
        if axis is not None and len(axis) == 1:
            axis = axis[0]
        if dt.is_integer:
            npdt = dt.np

            def int_mean(x):
                n = x.size // max(1, np.size(xp.sum(x, axis=axis, keepdims=keep))) if x.size else 1
                s = xp.sum(x, axis=axis, dtype=np.int64, keepdims=keep)
                return (xp.sign(s) * (xp.abs(s) // max(n, 1))).astype(npdt)

            return int_mean
        npdt = dt.np
        return lambda x: xp.mean(x, axis=axis, dtype=npdt, keepdims=keep)

    def gradient(self, op, g):
        from flowgraph.ops.array import broadcast_reduced, reduction_count

        x = op.inputs[0]
        n = reduction_count(x, op.outputs[0])
        return [broadcast_reduced(divide(g, n), x, op.attrs["axis"], op.attrs["keepdims"])]


def reduce_sum(input_tensor: Any, axis: Any = None, keepdims: Any = None, name: str | None = None,
               reduction_indices: Any = None, keep_dims: Any = None) -> Tensor:
    return reduction("Sum", input_tensor, axis, keepdims, name, "Sum", reduction_indices, keep_dims)


def reduce_mean(input_tensor: Any, axis: Any = None, keepdims: Any = None, name: str | None = None,
                reduction_indices: Any = None, keep_dims: Any = None) -> Tensor:
    return reduction("Mean", input_tensor, axis, keepdims, name, "Mean", reduction_indices, keep_dims)


# ---------------------------------------------------------------------------------------------
# Python operator overloads on Tensor (TF1's op names: add, sub, mul, truediv, ...)
# ---------------------------------------------------------------------------------------------
def _binary_overload(fn, default_name: str):
    def forward(self, other):
        return fn(self, other, name=default_name)

    def reverse(self, other):
        return fn(other, self, name=default_name)

    return forward, reverse


def install_operator(method: str, fn, default_name: str) -> None:
    """Sets ``Tensor.__method__``/``__rmethod__`` to ``fn`` named as TF1 names it."""
    fwd, rev = _binary_overload(fn, default_name)
    setattr(Tensor, f"__{method}__", fwd)
    setattr(Tensor, f"__r{method}__", rev)


install_operator("add", add, "add")
install_operator("sub", subtract, "sub")
install_operator("mul", multiply, "mul")
install_operator("truediv", truediv, "truediv")
install_operator("matmul", functools.partial(matmul), "matmul")
Tensor.__neg__ = lambda self: negative(self, name="Neg")  # type: ignore[attr-defined]


# Public names re-exported as ``tf.<name>``; extend when adding an op function.
__all__ = [
    "add",
    "add_n",
    "cast",
    "divide",
    "matmul",
    "multiply",
    "negative",
    "ones_like",
    "reduce_mean",
    "reduce_sum",
    "subtract",
    "truediv",
    "zeros_like",
]
