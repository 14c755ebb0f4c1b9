"""Ops that order or pass through: ``no_op``, ``group``, ``identity``, ``tuple``."""

from __future__ import annotations

from typing import Any

from flowgraph.graph import Operation, Tensor, convert_to_tensor, get_default_graph
from flowgraph.registry import OpDef, register_op
from flowgraph.runtime.batch_split import Split


@register_op
class NoOp(OpDef):
    """Does nothing; its control inputs are the point (``group``)."""

    def infer(self, op):
        return []

    def kernel(self, op, rt):
        return _nothing


def _nothing(*_args: Any) -> None:
    return None


@register_op
class Identity(OpDef):
    """Returns its input unchanged (no copy: kernels never write into their inputs)."""

    forwards_ref = True

    def infer(self, op):
        (x,) = op.inputs
        return [(x.dtype, x._dims)]

    def batch_split(self, op, kinds):
        return Split(kinds)

    def kernel(self, op, rt):
        return _identity

    def gradient(self, op, grad):
        return [grad]


def _identity(x: Any) -> Any:
    return x


def no_op(name: str | None = None) -> Operation:
    return get_default_graph().create_op("NoOp", [], name=name or "NoOp")


def identity(input: Any, name: str | None = None) -> Tensor:  # noqa: A002
    x = convert_to_tensor(input)
    return get_default_graph().create_op("Identity", [x], name=name or "Identity").outputs[0]


def group(*inputs: Any, name: str | None = None) -> Operation:
    """An op that runs once all of ``inputs`` (tensors or ops, possibly nested lists) have run."""
    flat: list = []

    def walk(x: Any) -> None:
        if isinstance(x, list | tuple):
            for i in x:
                walk(i)
        elif isinstance(x, dict):
            for i in x.values():
                walk(i)
        elif x is not None:
            flat.append(x)

    walk(inputs)
    g = get_default_graph()
    with g.control_dependencies(flat):
        return g.create_op("NoOp", [], name=name or "group_deps")


def tuple_(tensors: list, name: str | None = None, control_inputs: list | None = None) -> list:
    """``tf.tuple``: each tensor passed on only after all of them (and ``control_inputs``) are ready."""
    g = get_default_graph()
    with g.name_scope(name or "tuple") as scope:
        gate = group(*[t for t in tensors if t is not None], *(control_inputs or []), name="control_dependency")
        out = []
        for t in tensors:
            if t is None:
                out.append(None)
                continue
            with g.control_dependencies([gate]):
                out.append(identity(t, name=None))
        del scope
    return out
