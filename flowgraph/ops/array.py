"""Array ops: shapes, reshape, broadcast, and the shape plumbing gradients are built from."""

from __future__ import annotations

from typing import Any

import numpy as np

from flowgraph import dtypes as _dtypes
from flowgraph.graph import Tensor, constant_value, convert_to_tensor, get_default_graph
from flowgraph.ops.op_helpers import describe, make_op
from flowgraph.registry import NotDifferentiable, OpDef, register_op
from flowgraph.shapes import TensorShape, broadcast_dims


@register_op
class Shape(OpDef):
    """The runtime shape as an int32 (or int64) vector; known statically when the shape is."""

    def infer(self, op):
        (x,) = op.inputs
        return [(op.attrs["out_type"], (None if x._dims is None else len(x._dims),))]

    def kernel(self, op, rt):
        dt = op.attrs["out_type"].np
        return lambda x: np.asarray(x.shape, dtype=dt)

    def static_value(self, op):
        x = op.inputs[0]
        if x.shape.is_fully_defined():
            return np.asarray(x._dims, dtype=op.attrs["out_type"].np)
        return None


NotDifferentiable("Shape")


def shape(input: Any, name: str | None = None, out_type: Any = _dtypes.int32) -> Tensor:  # noqa: A002
    x = convert_to_tensor(input)
    return make_op("Shape", [x], {"out_type": _dtypes.as_dtype(out_type)}, name=name, default="Shape")


def _shape_arg(shape: Any, name: str = "shape") -> Tensor:
    if isinstance(shape, Tensor):
        return shape
    if isinstance(shape, TensorShape):
        shape = shape.as_list()
    arr = np.asarray([(-1 if d is None else int(d)) for d in shape] if isinstance(shape, list | tuple) else shape)
    return convert_to_tensor(arr.astype(np.int32), name=name)


def _dims_from_shape_tensor(t: Tensor) -> tuple | None:
    """Static knowledge of the shape a shape-vector holds: its value, or the dims ``Shape`` read."""
    if t.op.type == "Shape":
        return t.op.inputs[0]._dims
    v = constant_value(t)
    if v is not None:
        return tuple(int(d) for d in np.asarray(v).ravel())
    n = t._dims[0] if t._dims else None
    return None if n is None else (None,) * n


@register_op
class Reshape(OpDef):
    """Same elements, new shape; one ``-1`` is inferred from the element count."""

    def infer(self, op):
        x, s = op.inputs
        target = _dims_from_shape_tensor(s)
        if target is None:
            return [(x.dtype, None)]
        if target.count(-1) > 1:
            raise ValueError(f"Reshape can infer only one dimension (-1), got shape {list(target)}.")
        n_in = TensorShape(x._dims).num_elements()
        known = 1
        for d in target:
            if d is not None and d != -1:
                known *= d
        out = []
        for d in target:
            if d == -1:
                if n_in is not None and known:
                    if n_in % known:
                        raise ValueError(f"Cannot reshape a tensor with {n_in} elements to shape {list(target)}.")
                    out.append(n_in // known)
                else:
                    out.append(None)
            else:
                out.append(d)
        if n_in is not None and -1 not in target and None not in target and known != n_in:
            raise ValueError(
                f"Cannot reshape a tensor with {n_in} elements to shape {list(target)} ({known} elements) "
                f"for 'Reshape' of {describe(x)}."
            )
        return [(x.dtype, tuple(out))]

    def kernel(self, op, rt):
        return lambda x, s: x.reshape(tuple(int(d) for d in s))

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
        return lambda x, s: xp.broadcast_to(x, tuple(int(d) for d in s))

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

    def infer(self, op):
        g, s = op.inputs
        return [(g.dtype, _dims_from_shape_tensor(s))]

    def kernel(self, op, rt):
        xp = rt.xp

        def sum_to(g, s):
            target = tuple(int(d) for d in s)
            if g.shape == target:
                return g
            lead = g.ndim - len(target)
            axes = tuple(range(lead)) + tuple(
                lead + i for i, d in enumerate(target) if d == 1 and g.shape[lead + i] != 1
            )
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

    def infer(self, op):
        (s,) = op.inputs
        return [(_dtypes.int32, s._dims)]

    def kernel(self, op, rt):
        axis = op.attrs["axis"]

        def reduced(s):
            out = np.array(s, dtype=np.int32, copy=True)
            if axis is None:
                out[:] = 1
            else:
                out[list(axis)] = 1
            return out

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

    def infer(self, op):
        return [(op.attrs["dtype"], ())]

    def kernel(self, op, rt):
        dt = op.attrs["dtype"].np

        def count(x, y):
            ny = max(int(np.prod(np.shape(y))), 1)
            return np.asarray(np.prod(np.shape(x)) // ny if np.shape(x) else 1, dtype=dt)

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

    def infer(self, op):
        (x,) = op.inputs
        return [(x.dtype, x._dims)]

    def kernel(self, op, rt):
        return lambda x: x


NotDifferentiable("StopGradient")


def stop_gradient(input: Any, name: str | None = None) -> Tensor:  # noqa: A002
    return make_op("StopGradient", [convert_to_tensor(input)], name=name, default="StopGradient")


# Public names re-exported as ``tf.<name>``; extend when adding an op function.
__all__ = ["broadcast_to", "reshape", "shape", "stop_gradient"]
