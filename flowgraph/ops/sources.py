"""Where values enter a graph: constants and placeholders."""

from __future__ import annotations

from typing import Any

import numpy as np

from flowgraph import dtypes as _dtypes
from flowgraph.graph import Tensor, as_numpy_value, convert_to_tensor, get_default_graph
from flowgraph.registry import OpDef, register_op
from flowgraph.shapes import TensorShape


@register_op
class Const(OpDef):
    """A value fixed at graph construction; the plan keeps it in its slot, so it costs nothing per run."""

    def infer(self, op):
        v = op.attrs["value"]
        return [(op.attrs["dtype"], tuple(v.shape))]

    def kernel(self, op, rt):
        v = rt.to_device(op.attrs["value"])
        return lambda: v

    def static_value(self, op):
        return op.attrs["value"]


@register_op
class Placeholder(OpDef):
    """A value that must be fed; the planner reports a missing feed before anything runs."""

    def infer(self, op):
        return [(op.attrs["dtype"], op.attrs["shape"])]

    def kernel(self, op, rt):
        from flowgraph.errors import InvalidArgumentError

        def missing():
            raise InvalidArgumentError(None, op, _missing_feed_message(op))

        return missing


def _missing_feed_message(op) -> str:
    shape = op.outputs[0].shape
    shape_s = "<unknown>" if shape.ndims is None else "[" + ",".join("?" if d is None else str(d) for d in shape.as_tuple()) + "]"
    return (
        f"You must feed a value for placeholder tensor '{op.name}' with dtype {op.attrs['dtype'].name} "
        f"and shape {shape_s} (created at {op.location})"
    )


@register_op
class PlaceholderWithDefault(OpDef):
    """Passes its input through unless it is fed."""

    def infer(self, op):
        (x,) = op.inputs
        shape = op.attrs["shape"]
        if not TensorShape(shape).is_compatible_with(x.shape):
            raise ValueError(f"Default value of shape {x.shape} is not compatible with shape {TensorShape(shape)}")
        return [(x.dtype, shape)]

    def kernel(self, op, rt):
        return lambda x: x

    def gradient(self, op, grad):
        return [grad]


def constant(value: Any, dtype: Any = None, shape: Any = None, name: str = "Const", verify_shape: bool = False) -> Tensor:
    """``tf.constant``: a Python or NumPy value (optionally filled out to ``shape``) as a Const op."""
    dt = None if dtype is None else _dtypes.as_dtype(dtype)
    arr = as_numpy_value(value, dt)
    if dt is None:
        dt = _dtypes.infer_dtype(value)
        if arr.dtype != dt.np and dt is not _dtypes.string:
            arr = arr.astype(dt.np)
    if shape is not None:
        dims = TensorShape(shape).as_list()
        if any(d is None for d in dims):
            raise ValueError(f"A constant's shape must be fully defined, got {dims}.")
        n = int(np.prod(dims, dtype=np.int64))
        if arr.size == n:
            arr = arr.reshape(dims)
        elif arr.size == 1:
            arr = np.full(dims, arr.reshape(()), dtype=arr.dtype)
        elif verify_shape or arr.size > n:
            raise TypeError(f"Expected Tensor's shape: {tuple(dims)}, got {arr.shape}.")
        else:
            # TF1 pads a short list with its last element.
            flat = np.concatenate([arr.ravel(), np.repeat(arr.ravel()[-1:], n - arr.size)])
            arr = flat.reshape(dims)
    arr = np.array(arr, copy=True) if arr.dtype != object else arr
    arr.setflags(write=False)
    g = get_default_graph()
    return g.create_op("Const", [], {"value": arr, "dtype": dt}, name=name).outputs[0]


def placeholder(dtype: Any, shape: Any = None, name: str | None = None) -> Tensor:
    """``tf.placeholder``: a tensor whose value must be given in ``feed_dict``."""
    dt = _dtypes.as_dtype(dtype)
    dims = TensorShape(shape).as_tuple()
    return get_default_graph().create_op("Placeholder", [], {"dtype": dt, "shape": dims}, name=name or "Placeholder").outputs[0]


def placeholder_with_default(input: Any, shape: Any, name: str | None = None) -> Tensor:  # noqa: A002
    """``tf.placeholder_with_default``: ``input`` unless fed."""
    x = convert_to_tensor(input)
    dims = TensorShape(shape).as_tuple()
    return get_default_graph().create_op("PlaceholderWithDefault", [x], {"shape": dims}, name=name or "PlaceholderWithDefault").outputs[0]
