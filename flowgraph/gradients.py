"""Symbolic backprop: ``gradients(ys, xs)`` adds gradient ops to the graph under ``gradients/``.

Ops are visited in reverse creation order (creation order is topological), each op's output
gradients are summed with ``AddN``, and its registered gradient function builds the input
gradients. Broadcasting is undone here, once, for every op marked ``broadcasting``.
"""

from __future__ import annotations

from typing import Any

from flowgraph.graph import Operation, Tensor, convert_to_tensor, get_default_graph
from flowgraph.ops.array import unbroadcast
from flowgraph.ops.math import add_n, ones_like, zeros_like
from flowgraph.registry import get_gradient_function


def _as_list(x: Any) -> list:
    return list(x) if isinstance(x, list | tuple) else [x]


def _as_x_tensor(x: Any) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if hasattr(x, "_ref"):  # a Variable: differentiate w.r.t. its state tensor
        return x._ref()
    return convert_to_tensor(x)


def _trainable(t: Tensor) -> bool:
    """Only floating tensors carry gradients (TF1: integer paths give None, never an error)."""
    return t.dtype.is_floating


def gradients(
    ys: Any,
    xs: Any,
    grad_ys: Any = None,
    name: str = "gradients",
    colocate_gradients_with_ops: bool = False,
    gate_gradients: bool = False,
    aggregation_method: Any = None,
    stop_gradients: Any = None,
    unconnected_gradients: str = "none",
) -> list[Tensor | None]:
    """Symbolic d(sum ys)/d(xs): one Tensor per x, None where x does not reach ys.

    The ops are added to the graph of ``ys`` (which need not be the default graph).
    """
    ys_in = _as_list(ys)
    graph = next((t.graph for t in ys_in + _as_list(xs) if isinstance(t, Tensor) or hasattr(t, "_ref")), None)
    g = graph if graph is not None else get_default_graph()
    with g.as_default():
        return _gradients(g, ys_in, xs, grad_ys, name, stop_gradients, unconnected_gradients)


def _gradients(g: Any, ys_in: list, xs: Any, grad_ys: Any, name: str, stop_gradients: Any,
               unconnected_gradients: str) -> list[Tensor | None]:
    ys = [convert_to_tensor(y) for y in ys_in]
    xs_list = [_as_x_tensor(x) for x in _as_list(xs)]
    grad_ys_list = _as_list(grad_ys) if grad_ys is not None else [None] * len(ys)
    if len(grad_ys_list) != len(ys):
        raise ValueError(f"Length mismatch. Passed {len(grad_ys_list)} grad_ys for {len(ys)} ys")
    stops = {_as_x_tensor(s).op for s in _as_list(stop_gradients)} if stop_gradients is not None else set()
    for t in ys + xs_list:
        if t.graph is not g:
            raise ValueError(f"{t!r} is not from the graph of {ys[0]!r}: ys and xs must share one graph.")

    # Ops on a floating path from xs to ys.
    forward: set[Operation] = set()
    stack = [x.op for x in xs_list if _trainable(x)]
    while stack:
        op = stack.pop()
        if op in forward:
            continue
        forward.add(op)
        for t in op._outputs:
            if _trainable(t):
                stack.extend(t._consumers)
    between: set[Operation] = set()
    stack = [y.op for y in ys if _trainable(y)]
    while stack:
        op = stack.pop()
        if op in between or op not in forward:
            continue
        between.add(op)
        if op in stops:
            continue
        for t in op._inputs:
            if _trainable(t):
                stack.append(t._op)

    with g.name_scope(name):
        grads: dict[Tensor, list[Tensor]] = {}
        for i, (y, gy) in enumerate(zip(ys, grad_ys_list)):
            if not _trainable(y):
                continue
            if gy is None:
                gy = ones_like(y, name=f"grad_ys_{i}")
            else:
                gy = convert_to_tensor(gy, dtype=y.dtype)
            grads.setdefault(y, []).append(gy)

        for op in sorted(between, key=lambda o: o._id, reverse=True):
            if op in stops:
                continue
            out_grads = [_sum(grads.get(t)) for t in op._outputs]
            if all(og is None for og in out_grads):
                continue
            for t, og in zip(op._outputs, out_grads):
                grads[t] = [og] if og is not None else []
            if not any(t._op in between and _trainable(t) for t in op._inputs):
                continue  # nothing upstream needs a gradient
            fn = get_gradient_function(op)
            if fn is None:
                continue
            if len(op._outputs) > 1:
                out_grads = [og if og is not None else zeros_like(t) for og, t in zip(out_grads, op._outputs)]
            with g.name_scope(op.name + "_grad"):
                in_grads = list(fn(op, *out_grads))
                if len(in_grads) != len(op._inputs):
                    raise ValueError(
                        f"Gradient function of op type {op.type} returned {len(in_grads)} gradients, expected {len(op._inputs)}."
                    )
                for t, ig in zip(op._inputs, in_grads):
                    if ig is None or t._op not in between or not _trainable(t):
                        continue
                    ig = convert_to_tensor(ig)
                    if op._opdef.broadcasting:
                        ig = unbroadcast(ig, t)
                    grads.setdefault(t, []).append(ig)

        result = [_sum(grads.get(x)) if _trainable(x) else None for x in xs_list]
    if unconnected_gradients == "zero":
        result = [zeros_like(x) if gx is None else gx for gx, x in zip(result, xs_list)]
    return result


def _sum(gs: list[Tensor] | None) -> Tensor | None:
    if not gs:
        return None
    if len(gs) == 1:
        return gs[0]
    return add_n(gs)
