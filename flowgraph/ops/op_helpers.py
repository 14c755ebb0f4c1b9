"""Shared pieces for writing ops: input conversion with TF1's dtype rules, axis checks, op creation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from flowgraph import dtypes as _dtypes
from flowgraph.graph import Tensor, convert_to_tensor, get_default_graph


class DTypeMismatchError(TypeError, ValueError):
    """Two operands of one op disagree on dtype (TF1 raises TypeError or ValueError; this is both)."""


def describe(x: Any) -> str:
    if isinstance(x, Tensor):
        return f"'{x.name}' ({x.dtype.name}, shape {x.shape})"
    return repr(x)


def convert_pair(x: Any, y: Any, op_type: str) -> tuple[Tensor, Tensor]:
    """Converts two operands; a Python value takes the other's dtype; mismatches name both."""
    xt = _as_tensor_like(x)
    yt = _as_tensor_like(y)
    try:
        if xt is None and yt is not None:
            xt = convert_to_tensor(x, dtype=yt.dtype, name="x")
        elif yt is None and xt is not None:
            yt = convert_to_tensor(y, dtype=xt.dtype, name="y")
        elif xt is None and yt is None:
            xt = convert_to_tensor(x, name="x")
            yt = convert_to_tensor(y, dtype=xt.dtype, name="y")
    except (TypeError, ValueError) as e:
        raise DTypeMismatchError(
            f"Cannot combine {describe(x)} and {describe(y)} in {op_type}: {e}. flowgraph, like TF1, "
            "never casts implicitly; use tf.cast."
        ) from None
    check_same_dtype(op_type, xt, yt)
    return xt, yt


def _as_tensor_like(v: Any) -> Tensor | None:
    if isinstance(v, Tensor):
        return v
    if hasattr(v, "_as_graph_tensor"):
        return v._as_graph_tensor()
    return None


def check_same_dtype(op_type: str, x: Tensor, y: Tensor) -> None:
    if x.dtype is not y.dtype:
        raise DTypeMismatchError(
            f"Input 'y' of '{op_type}' Op has type {y.dtype.name} that does not match type {x.dtype.name} of "
            f"argument 'x': x is {describe(x)}, y is {describe(y)}. flowgraph never casts implicitly; use tf.cast."
        )


def make_op(op_type: str, inputs: Sequence[Tensor], attrs: dict | None = None, name: str | None = None, default: str | None = None):
    """Creates an op and returns its single output, its outputs tuple, or the op when it has none."""
    op = get_default_graph().create_op(op_type, list(inputs), attrs, name=name or default or op_type)
    outs = op._outputs
    if len(outs) == 1:
        return outs[0]
    if not outs:
        return op
    return list(outs)


def normalize_axes(axis: Any, rank: int | None, what: str = "reduction") -> tuple[int, ...] | None:
    """``axis`` (None, int, list, or a constant Tensor) as a sorted tuple of non-negative ints."""
    if axis is None:
        return None
    if isinstance(axis, Tensor):
        from flowgraph.graph import constant_value

        v = constant_value(axis)
        if v is None:
            raise ValueError(f"The {what} axis must be known when the graph is built; {axis.name} is not a constant.")
        axis = v
    axes = np.asarray(axis).ravel().tolist() if not isinstance(axis, int) else [axis]
    out = []
    for a in axes:
        a = int(a)
        if rank is not None:
            if not -rank <= a < rank:
                raise ValueError(f"Invalid {what} dimension {a} for input with {rank} dimensions.")
            a %= rank
        out.append(a)  # with unknown rank a negative axis stays negative; kernels resolve it
    return tuple(sorted(set(out)))


def float_dtype_required(op_type: str, x: Tensor) -> None:
    if not x.dtype.is_floating:
        raise TypeError(f"{op_type} needs a floating-point input; {describe(x)} is {x.dtype.name}.")


def numeric(dtype: _dtypes.DType) -> bool:
    return dtype.is_floating or dtype.is_integer
