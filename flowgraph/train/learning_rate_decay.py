"""Learning-rate schedules (TF1's ``tf.train.*_decay``): graph ops of the global step.

Each returns a scalar Tensor in the learning rate's dtype, recomputed from ``global_step`` on
every run, so it can be passed straight to an optimizer. Step counts are cast to that dtype first,
as TF1 does, so ``global_step / decay_steps`` is a float division.
"""

from __future__ import annotations

import math
from typing import Any

from flowgraph import dtypes as _dtypes
from flowgraph.graph import Tensor, convert_to_tensor, get_default_graph
from flowgraph.ops import math as math_ops
from flowgraph.ops.control import identity
from flowgraph.ops.math import cast


def _require_step(global_step: Any, fn: str) -> None:
    if global_step is None:
        raise ValueError(f"global_step is required for {fn}.")


def _step_fraction(learning_rate: Any, global_step: Any, decay_steps: Any, staircase: bool) -> tuple[Tensor, Tensor]:
    """(learning rate tensor, ``global_step / decay_steps``, floored when ``staircase``)."""
    lr = convert_to_tensor(learning_rate, name="learning_rate")
    dtype = lr.dtype
    p = cast(global_step, dtype) / cast(decay_steps, dtype)
    if staircase:
        p = math_ops.floor(p)
    return lr, p


def exponential_decay(
    learning_rate: Any,
    global_step: Any,
    decay_steps: Any,
    decay_rate: Any,
    staircase: bool = False,
    name: str | None = None,
) -> Tensor:
    """``learning_rate * decay_rate ** (global_step / decay_steps)`` (integer division if ``staircase``)."""
    _require_step(global_step, "exponential_decay")
    g = get_default_graph()
    with g.name_scope(name or "ExponentialDecay") as scope:
        lr, p = _step_fraction(learning_rate, global_step, decay_steps, staircase)
        rate = cast(decay_rate, lr.dtype)
        return math_ops.multiply(lr, math_ops.pow(rate, p), name=scope)


def natural_exp_decay(
    learning_rate: Any,
    global_step: Any,
    decay_steps: Any,
    decay_rate: Any,
    staircase: bool = False,
    name: str | None = None,
) -> Tensor:
    """``learning_rate * exp(-decay_rate * global_step / decay_steps)``."""
    _require_step(global_step, "natural_exp_decay")
    g = get_default_graph()
    with g.name_scope(name or "NaturalExpDecay") as scope:
        lr, p = _step_fraction(learning_rate, global_step, decay_steps, staircase)
        rate = cast(decay_rate, lr.dtype)
        return math_ops.multiply(lr, math_ops.exp(math_ops.multiply(math_ops.negative(rate), p)), name=scope)


def inverse_time_decay(
    learning_rate: Any,
    global_step: Any,
    decay_steps: Any,
    decay_rate: Any,
    staircase: bool = False,
    name: str | None = None,
) -> Tensor:
    """``learning_rate / (1 + decay_rate * global_step / decay_steps)``."""
    _require_step(global_step, "inverse_time_decay")
    g = get_default_graph()
    with g.name_scope(name or "InverseTimeDecay") as scope:
        lr, p = _step_fraction(learning_rate, global_step, decay_steps, staircase)
        rate = cast(decay_rate, lr.dtype)
        denom = math_ops.add(cast(1, lr.dtype), math_ops.multiply(rate, p))
        return math_ops.divide(lr, denom, name=scope)


def polynomial_decay(
    learning_rate: Any,
    global_step: Any,
    decay_steps: Any,
    end_learning_rate: Any = 0.0001,
    power: Any = 1.0,
    cycle: bool = False,
    name: str | None = None,
) -> Tensor:
    """``(lr - end) * (1 - min(step, decay_steps) / decay_steps) ** power + end``.

    With ``cycle`` the horizon restarts: ``decay_steps`` is multiplied by ``ceil(step / decay_steps)``
    (1 at step 0) instead of holding the step at ``decay_steps``.
    """
    _require_step(global_step, "polynomial_decay")
    g = get_default_graph()
    with g.name_scope(name or "PolynomialDecay") as scope:
        lr = convert_to_tensor(learning_rate, name="learning_rate")
        dtype = lr.dtype
        end = cast(end_learning_rate, dtype)
        power_t = cast(power, dtype)
        step = cast(global_step, dtype)
        steps = cast(decay_steps, dtype)
        if cycle:
            multiplier = math_ops.where(
                math_ops.equal(step, cast(0, dtype)), cast(1, dtype), math_ops.ceil(step / steps)
            )
            steps = math_ops.multiply(steps, multiplier)
        else:
            step = math_ops.minimum(step, steps)
        p = math_ops.divide(step, steps)
        return math_ops.add(math_ops.multiply(lr - end, math_ops.pow(1 - p, power_t)), end, name=scope)


def cosine_decay(
    learning_rate: Any, global_step: Any, decay_steps: Any, alpha: Any = 0.0, name: str | None = None
) -> Tensor:
    """``lr * ((1 - alpha) * 0.5 * (1 + cos(pi * min(step, decay_steps) / decay_steps)) + alpha)``."""
    _require_step(global_step, "cosine_decay")
    g = get_default_graph()
    with g.name_scope(name or "CosineDecay") as scope:
        lr = convert_to_tensor(learning_rate, name="learning_rate")
        dtype = lr.dtype
        steps = cast(decay_steps, dtype)
        step = math_ops.minimum(cast(global_step, dtype), steps)
        fraction = step / steps
        cosine = 0.5 * (1.0 + math_ops.cos(convert_to_tensor(math.pi, dtype=dtype) * fraction))
        alpha_t = cast(alpha, dtype)
        decayed = (1 - alpha_t) * cosine + alpha_t
        return math_ops.multiply(lr, decayed, name=scope)


def piecewise_constant(x: Any, boundaries: list, values: list, name: str | None = None) -> Tensor:
    """``values[0]`` while ``x <= boundaries[0]``, ``values[i]`` while ``boundaries[i-1] < x <= boundaries[i]``,
    ``values[-1]`` once ``x > boundaries[-1]``.

    Boundaries must have ``x``'s dtype (int32 boundaries are promoted for an int64 ``x``); values
    must share one dtype.
    """
    if len(boundaries) != len(values) - 1:
        raise ValueError("The length of boundaries should be 1 less than the length of values")
    g = get_default_graph()
    with g.name_scope(name or "PiecewiseConstant") as scope:
        x_t = convert_to_tensor(x)
        bounds = [convert_to_tensor(b) for b in boundaries]
        vals = [convert_to_tensor(v) for v in values]
        for i, b in enumerate(bounds):
            if b.dtype is not x_t.dtype:
                if b.dtype is _dtypes.int32 and x_t.dtype is _dtypes.int64:
                    bounds[i] = cast(b, _dtypes.int64)
                else:
                    raise ValueError(f"Boundaries ({b.dtype!r}) must have the same dtype as x ({x_t.dtype!r}).")
        for v in vals[1:]:
            if v.dtype is not vals[0].dtype:
                raise ValueError(
                    f"Values must have elements all with the same dtype ({vals[0].dtype!r} vs {v.dtype!r})."
                )
        if not bounds:
            return identity(vals[0], name=scope)
        result = vals[-1]
        for i in range(len(bounds) - 1, -1, -1):
            last = i == 0
            result = math_ops.where(math_ops.less_equal(x_t, bounds[i]), vals[i], result, name=scope if last else None)
        return result


piecewise_constant_decay = piecewise_constant
