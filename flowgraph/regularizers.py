"""Weight regularizers: functions ``weights -> scalar loss`` handed to ``get_variable`` and layers.

Two TF1 families live here because they scale differently:

* ``l1_regularizer`` / ``l2_regularizer`` (TF1's ``tf.contrib.layers``): ``scale * sum|w|`` and
  ``scale * sum(w**2) / 2`` (the half comes from ``tf.nn.l2_loss``);
* ``l1`` / ``l2`` / ``l1_l2`` (TF1's ``tf.keras.regularizers``): ``l * sum|w|`` and ``l * sum(w**2)``.

``get_variable(..., regularizer=r)`` and the ``tf.layers`` ``*_regularizer`` arguments call ``r``
once per variable and add the result to ``REGULARIZATION_LOSSES``.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

from flowgraph.graph import GraphKeys, Tensor, convert_to_tensor, get_default_graph
from flowgraph.logging import info as _log_info
from flowgraph.ops.math import abs as _abs
from flowgraph.ops.math import add_n, multiply, reduce_sum, square
from flowgraph.ops.nn import l2_loss

Regularizer = Callable[[Any], "Tensor | None"]


def _check_scale(scale: Any, what: str) -> bool:
    """Validates a contrib-style scale; returns False when it disables the regularizer."""
    if isinstance(scale, numbers.Integral):  # TF1 raises ValueError here, not TypeError
        raise ValueError(f"scale cannot be an integer: {scale}")  # noqa: TRY004
    if not isinstance(scale, numbers.Real):
        raise TypeError(f"{what}: scale must be a float, got {scale!r} of type {type(scale).__name__}.")
    if scale < 0.0:
        raise ValueError(f"Setting a scale less than 0 on a regularizer: {scale:g}")
    if scale == 0.0:
        _log_info("Scale of 0 disables regularizer.")
        return False
    return True


def _none(_weights: Any) -> None:
    return None


def l1_regularizer(scale: float, scope: str | None = None) -> Regularizer:
    """``tf.contrib.layers.l1_regularizer``: ``scale * sum(|w|)``; a scale of 0 gives no loss."""
    if not _check_scale(scale, "l1_regularizer"):
        return _none

    def l1(weights: Any) -> Tensor:
        w = convert_to_tensor(weights)
        with get_default_graph().name_scope(scope or "l1_regularizer") as name:
            s = convert_to_tensor(scale, dtype=w.dtype, name="scale")
            return multiply(s, reduce_sum(_abs(w)), name=name)

    return l1


def l2_regularizer(scale: float, scope: str | None = None) -> Regularizer:
    """``tf.contrib.layers.l2_regularizer``: ``scale * sum(w**2) / 2``; a scale of 0 gives no loss."""
    if not _check_scale(scale, "l2_regularizer"):
        return _none

    def l2(weights: Any) -> Tensor:
        w = convert_to_tensor(weights)
        with get_default_graph().name_scope(scope or "l2_regularizer") as name:
            s = convert_to_tensor(scale, dtype=w.dtype, name="scale")
            return multiply(s, l2_loss(w), name=name)

    return l2


def sum_regularizer(regularizer_list: list, scope: str | None = None) -> Regularizer:
    """``tf.contrib.layers.sum_regularizer``: the sum of several regularizers' losses (None if all are None)."""
    regs = [r for r in regularizer_list if r is not None]

    def total(weights: Any) -> Tensor | None:
        losses = [loss for loss in (r(weights) for r in regs) if loss is not None]
        if not losses:
            return None
        with get_default_graph().name_scope(scope or "sum_regularizer") as name:
            return add_n(losses, name=name)

    return total


def apply_regularization(regularizer: Regularizer, weights_list: list | None = None) -> Tensor:
    """``tf.contrib.layers.apply_regularization``: sums ``regularizer(w)`` over the weights and records it.

    ``weights_list`` defaults to the WEIGHTS collection; the sum is added to REGULARIZATION_LOSSES.
    """
    g = get_default_graph()
    if weights_list is None:
        weights_list = g.get_collection(GraphKeys.WEIGHTS)
    if not weights_list:
        raise ValueError("No weights to regularize.")
    with g.name_scope("get_regularization_penalty"):
        penalties = [p for p in (regularizer(w) for w in weights_list) if p is not None]
        if not penalties:
            raise ValueError("The regularizer returned no penalty for any of the weights.")
        total = add_n(penalties) if len(penalties) > 1 else penalties[0]
    g.add_to_collection(GraphKeys.REGULARIZATION_LOSSES, total)
    return total


# -- tf.keras.regularizers ------------------------------------------------------------------------
class L1L2:
    """``tf.keras.regularizers.L1L2``: ``l1 * sum|w| + l2 * sum(w**2)`` (no halving, unlike contrib)."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        self.l1 = float(l1)
        self.l2 = float(l2)
        if self.l1 < 0 or self.l2 < 0:
            raise ValueError(f"Regularization factors must be >= 0, got l1={self.l1}, l2={self.l2}.")

    def __call__(self, x: Any) -> Tensor:
        w = convert_to_tensor(x)
        terms = []
        if self.l1:
            terms.append(multiply(convert_to_tensor(self.l1, dtype=w.dtype), reduce_sum(_abs(w))))
        if self.l2:
            terms.append(multiply(convert_to_tensor(self.l2, dtype=w.dtype), reduce_sum(square(w))))
        if not terms:
            return convert_to_tensor(0.0, dtype=w.dtype)
        return terms[0] if len(terms) == 1 else add_n(terms)

    def get_config(self) -> dict:
        return {"l1": self.l1, "l2": self.l2}


def l1(l: float = 0.01) -> L1L2:
    """``tf.keras.regularizers.l1``: ``l * sum(|w|)``."""
    return L1L2(l1=l)


def l2(l: float = 0.01) -> L1L2:
    """``tf.keras.regularizers.l2``: ``l * sum(w**2)``."""
    return L1L2(l2=l)


def l1_l2(l1: float = 0.01, l2: float = 0.01) -> L1L2:
    """``tf.keras.regularizers.l1_l2``."""
    return L1L2(l1=l1, l2=l2)


__all__ = [
    "L1L2",
    "apply_regularization",
    "l1",
    "l1_l2",
    "l1_regularizer",
    "l2",
    "l2_regularizer",
    "sum_regularizer",
]
