"""Norm clipping (TF1's ``clip_ops``): ``clip_by_norm``, ``global_norm``, ``clip_by_global_norm``.

Built from differentiable graph ops, as in TF1, so clipped gradients can themselves be
differentiated. ``None`` entries (variables without a gradient) pass through the list functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flowgraph.graph import Tensor, convert_to_tensor, get_default_graph
from flowgraph.ops import math as math_ops
from flowgraph.ops.array import stack
from flowgraph.ops.control import identity
from flowgraph.ops.sources import constant


def _as_list(t_list: Any) -> list:
    if not isinstance(t_list, Sequence) or isinstance(t_list, str | bytes):
        raise TypeError("t_list should be a sequence")
    return list(t_list)


def clip_by_norm(t: Any, clip_norm: Any, axes: Any = None, name: str | None = None) -> Tensor:
    """``t * clip_norm / max(l2norm(t, axes), clip_norm)``: rescales ``t`` whose L2 norm exceeds ``clip_norm``.

    The norm's square root is only taken where the sum of squares is positive, so a zero ``t``
    has a zero (not NaN) gradient.
    """
    g = get_default_graph()
    with g.name_scope(name or "clip_by_norm") as scope:
        values = convert_to_tensor(t, name="t")
        l2sum = math_ops.reduce_sum(values * values, axes, keepdims=True)
        pred = l2sum > 0
        l2sum_safe = math_ops.where(pred, l2sum, math_ops.ones_like(l2sum))
        l2norm = math_ops.where(pred, math_ops.sqrt(l2sum_safe), l2sum)
        intermediate = values * clip_norm
        if not values.shape.is_compatible_with(intermediate.shape):
            raise ValueError(
                f"clip_by_norm: clip_norm would broadcast t of shape {values.shape} to {intermediate.shape}."
            )
        return identity(intermediate / math_ops.maximum(l2norm, clip_norm), name=scope)


def global_norm(t_list: Any, name: str | None = None) -> Tensor:
    """``sqrt(sum(l2norm(t) ** 2 for t in t_list))``, skipping None entries."""
    from flowgraph.ops.nn import l2_loss

    t_list = _as_list(t_list)
    g = get_default_graph()
    with g.name_scope(name or "global_norm") as scope:
        values = [convert_to_tensor(t, name=f"t_{i}") for i, t in enumerate(t_list) if t is not None]
        if not values:
            raise ValueError("global_norm: t_list holds no tensors (every entry is None).")
        half_squared_norm = math_ops.reduce_sum(stack([l2_loss(v) for v in values]))
        two = constant(2.0, dtype=half_squared_norm.dtype)
        return math_ops.sqrt(half_squared_norm * two, name=scope)


def clip_by_global_norm(
    t_list: Any, clip_norm: Any, use_norm: Any = None, name: str | None = None
) -> tuple[list, Tensor]:
    """Scales every tensor of ``t_list`` by ``clip_norm / max(global_norm, clip_norm)``.

    Returns ``(list_clipped, global_norm)``; None entries stay None. An infinite or NaN norm makes
    every clipped value NaN (rather than silently zero), as in TF1.
    """
    t_list = _as_list(t_list)
    if use_norm is None:
        use_norm = global_norm(t_list, name)
    g = get_default_graph()
    with g.name_scope(name or "clip_by_global_norm") as scope:
        use_norm = convert_to_tensor(use_norm)
        scale_for_finite = clip_norm * math_ops.minimum(1.0 / use_norm, constant(1.0, dtype=use_norm.dtype) / clip_norm)
        scale = scale_for_finite + (use_norm - use_norm)
        clipped = []
        for i, t in enumerate(t_list):
            if t is None:
                clipped.append(None)
                continue
            v = convert_to_tensor(t, name=f"t_{i}")
            # TF1's names: clip_by_global_norm/clip_by_global_norm/_0, ...
            clipped.append(identity(v * math_ops.cast(scale, v.dtype), name=f"{scope}_{i}"))
    return clipped, use_norm


__all__ = ["clip_by_global_norm", "clip_by_norm", "global_norm"]
