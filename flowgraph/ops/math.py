"""Math ops: element-wise arithmetic and functions, comparisons, selection, matmul, reductions, scans.

Binary ops never cast: operands must share a dtype (a Python scalar takes the other's dtype).
Gradients of broadcasting ops are written for equal shapes; the backprop driver sums them back.
Smooth functions backprop through TF1's helper ops (``TanhGrad``, ``SqrtGrad``...), which have
gradients of their own, so second-order derivatives work.
"""

from __future__ import annotations

import functools
import math
import operator
from typing import Any

import numpy as np

from flowgraph import dtypes as _dtypes
from flowgraph.graph import Tensor, constant_value, convert_to_tensor, get_default_graph
from flowgraph.ops.op_helpers import (
    check_same_dtype,
    convert_pair,
    describe,
    make_op,
    normalize_axes,
)
from flowgraph.registry import NotDifferentiable, OpDef, register_op
from flowgraph.runtime import batch_split
from flowgraph.shapes import TensorShape, broadcast_dims

# dtype families, as NumPy kind letters, and how TF1's messages list them.
FLOAT = "f"
NUMERIC = "fiu"
BOOL = "b"
_KIND_NAMES = {
    "f": "float16, float32, float64",
    "i": "int8, int16, int32, int64",
    "u": "uint8, uint16",
    "b": "bool",
    "O": "string",
}


def check_kind(op_type: str, x: Tensor, kinds: str, param: str = "x") -> None:
    """TypeError naming the operand when its dtype is outside the op's allowed family."""
    if x.dtype.np.kind not in kinds:
        allowed = ", ".join(_KIND_NAMES[k] for k in kinds)
        raise TypeError(
            f"Value passed to parameter '{param}' of '{op_type}' Op has DataType {x.dtype.name} not in list of "
            f"allowed values: {allowed}; {param} is {describe(x)}."
        )


def _quiet(fn):
    """Runs ``fn`` with NumPy's floating-point warnings off: TF returns inf/nan silently, so do we."""

    def run(*args):
        with np.errstate(all="ignore"):
            return fn(*args)

    return run


def _check_int_divisor(fn, xp):
    """Integer division or modulo by zero is an error in TF1 (NumPy would return 0 with a warning)."""

    def run(x, y):
        if xp.any(y == 0):
            raise ZeroDivisionError("Integer division by zero")
        return fn(x, y)

    return run


# ---------------------------------------------------------------------------------------------
# Element-wise binary ops
# ---------------------------------------------------------------------------------------------
class BinaryOp(OpDef):
    """Element-wise ``f(x, y)`` with NumPy broadcasting; ``ufunc`` names the array-module function."""

    broadcasting = True
    batch_rule = "elementwise"
    ufunc = ""
    out_bool = False
    #: allowed dtype kinds (None: any dtype).
    kinds: str | None = None
    #: True when the kernel can warn on domain edges (x/0, log(0)) and should do so silently.
    quiet = False

    def infer(self, op):
        x, y = op.inputs
        check_same_dtype(self.type, x, y)
        if self.kinds is not None:
            check_kind(self.type, x, self.kinds)
        return [(_dtypes.bool if self.out_bool else x.dtype, broadcast_dims(x._dims, y._dims))]

    def kernel(self, op, rt):
        fn = getattr(rt.xp, self.ufunc)
        if self.quiet:
            return _quiet(fn)
        fast = _PY_OPERATORS.get(self.ufunc)
        if fast is not None and op.inputs[0].dtype.is_floating:
            # Same ufunc for arrays, but NumPy scalars skip the ufunc dispatch (~1 us per call).
            return fast
        return fn


# Float-only: integer NumPy scalars would warn on overflow where arrays wrap silently.
_PY_OPERATORS = {"add": operator.add, "subtract": operator.sub, "multiply": operator.mul}


def binary(op_type: str, x: Any, y: Any, name: str | None, default: str) -> Tensor:
    """Creates a binary op under its own name scope, converting Python operands as TF1 does."""
    g = get_default_graph()
    with g.name_scope(name or default) as scope:
        xt, yt = convert_pair(x, y, op_type)
        return g.create_op(op_type, [xt, yt], name=scope).outputs[0]


def _fits_in(a: Any, b: Any) -> bool:
    """``a`` can hold ``a (op) b`` in place: a writeable array of the result's shape and dtype."""
    if type(a) is not np.ndarray or not a.flags.writeable or a.dtype != getattr(b, "dtype", None):
        return False
    bs = np.shape(b)
    return len(bs) <= a.ndim and all(d == 1 or d == e for d, e in zip(reversed(bs), reversed(a.shape)))


@register_op
class AddV2(BinaryOp):
    ufunc = "add"
    kinds = "fiuO"
    fresh_output = True  # a new array for array operands (scalars are never written into)
    donatable = 0

    def donating_kernel(self, op, rt):
        if rt.xp is not np or not op.inputs[0].dtype.is_floating:
            return None
        add = np.add

        def add_into_a(a, b):
            return add(a, b, out=a) if _fits_in(a, b) else a + b

        return add_into_a

    def gradient(self, op, g):
        return [g, g]


@register_op
class Sub(BinaryOp):
    ufunc = "subtract"
    kinds = NUMERIC

    def gradient(self, op, g):
        return [g, negative(g)]


@register_op
class Mul(BinaryOp):
    ufunc = "multiply"
    kinds = NUMERIC

    def gradient(self, op, g):
        x, y = op.inputs
        return [multiply(g, y), multiply(x, g)]


@register_op
class RealDiv(BinaryOp):
    ufunc = "divide"
    quiet = True

    def infer(self, op):
        out = super().infer(op)
        if not op.inputs[0].dtype.is_floating:
            raise TypeError(f"RealDiv needs floating-point operands, got {describe(op.inputs[0])}; use tf.truediv.")
        return out

    def gradient(self, op, g):
        x, y = op.inputs
        return [divide(g, y), multiply(g, divide(divide(negative(x), y), y))]


@register_op
class DivNoNan(BinaryOp):
    """``x / y``, and 0 wherever ``y`` is 0 (even for ``x`` = 0 or inf)."""

    kinds = FLOAT

    def kernel(self, op, rt):
        xp = rt.xp

        @_quiet
        def div_no_nan_kernel(x, y):
            q = xp.divide(x, y)
            return xp.where(y == 0, q.dtype.type(0), q)

        return div_no_nan_kernel

    def gradient(self, op, g):
        x, y = op.inputs
        return [div_no_nan(g, y), multiply(g, div_no_nan(div_no_nan(negative(x), y), y))]


@register_op
class FloorDiv(BinaryOp):
    """Division rounded toward -inf (Python's ``//``), for integers and floats alike."""

    kinds = NUMERIC

    def kernel(self, op, rt):
        xp = rt.xp
        if op.inputs[0].dtype.is_integer:
            return _check_int_divisor(xp.floor_divide, xp)
        # floor(x / y), as TF computes it: NumPy's float floor_divide rounds 1.0 // 0.1 to 9.
        return _quiet(lambda x, y: xp.floor(xp.divide(x, y)))


@register_op
class FloorMod(BinaryOp):
    """Remainder with the sign of the divisor (Python's ``%``): ``x - floor(x / y) * y``."""

    kinds = NUMERIC

    def kernel(self, op, rt):
        xp = rt.xp
        if op.inputs[0].dtype.is_integer:
            return _check_int_divisor(xp.mod, xp)
        return _quiet(xp.mod)

    def gradient(self, op, g):
        x, y = op.inputs
        return [g, multiply(g, negative(floordiv(x, y)))]


@register_op
class TruncateDiv(BinaryOp):
    """Division rounded toward zero (C semantics)."""

    kinds = NUMERIC

    def kernel(self, op, rt):
        xp = rt.xp
        if op.inputs[0].dtype.is_integer:

            def trunc_div(x, y):
                q = xp.floor_divide(x, y)
                # floor and trunc differ by one where the quotient is negative and inexact.
                fix = (xp.mod(x, y) != 0) & ((x < 0) != (y < 0))
                return (q + fix).astype(q.dtype, copy=False)

            return _check_int_divisor(trunc_div, xp)
        return _quiet(lambda x, y: xp.trunc(xp.divide(x, y)))


@register_op
class TruncateMod(BinaryOp):
    """Remainder with the sign of the dividend (C's ``fmod``)."""

    kinds = NUMERIC

    def kernel(self, op, rt):
        xp = rt.xp
        if op.inputs[0].dtype.is_integer:
            return _check_int_divisor(xp.fmod, xp)
        return _quiet(xp.fmod)


NotDifferentiable("FloorDiv")
NotDifferentiable("TruncateDiv")
NotDifferentiable("TruncateMod")


@register_op
class Pow(BinaryOp):
    ufunc = "power"
    kinds = NUMERIC
    quiet = True

    def gradient(self, op, g):
        x, y = op.inputs
        z = op.outputs[0]
        gx = multiply(g, multiply(y, pow(x, subtract(y, 1))))
        # d/dy = z * log(x), taken as 0 where x <= 0 so x = 0 gives no false singularity.
        mask = greater(x, 0)
        safe_x = where(mask, x, ones_like(x))
        log_x = where(mask, log(safe_x), zeros_like(x))
        return [gx, multiply(g, multiply(z, log_x))]


def _select_gradient(op, g: Tensor, x_wins) -> list[Tensor]:
    """Gradient of Maximum/Minimum: all to x where ``x_wins(x, y)`` (ties included, as in TF1)."""
    x, y = op.inputs
    xmask = x_wins(x, y)
    zeros = zeros_like(g)
    return [where_v2(xmask, g, zeros), where_v2(xmask, zeros, g)]


@register_op
class Maximum(BinaryOp):
    ufunc = "maximum"
    kinds = NUMERIC

    def gradient(self, op, g):
        return _select_gradient(op, g, greater_equal)


@register_op
class Minimum(BinaryOp):
    ufunc = "minimum"
    kinds = NUMERIC

    def gradient(self, op, g):
        return _select_gradient(op, g, less_equal)


@register_op
class SquaredDifference(BinaryOp):
    kinds = NUMERIC

    def kernel(self, op, rt):
        xp = rt.xp

        def squared_difference_kernel(x, y):
            d = xp.subtract(x, y)
            return xp.multiply(d, d, out=d) if isinstance(d, xp.ndarray) else d * d

        return squared_difference_kernel

    def gradient(self, op, g):
        x, y = op.inputs
        gx = multiply(multiply(g, 2.0), subtract(x, y))
        return [gx, negative(gx)]


class _Comparison(BinaryOp):
    out_bool = True
    kinds = NUMERIC


@register_op
class Equal(_Comparison):
    ufunc = "equal"
    kinds = None


@register_op
class NotEqual(_Comparison):
    ufunc = "not_equal"
    kinds = None


@register_op
class Less(_Comparison):
    ufunc = "less"


@register_op
class LessEqual(_Comparison):
    ufunc = "less_equal"


@register_op
class Greater(_Comparison):
    ufunc = "greater"


@register_op
class GreaterEqual(_Comparison):
    ufunc = "greater_equal"


@register_op
class LogicalAnd(_Comparison):
    ufunc = "logical_and"
    kinds = BOOL


@register_op
class LogicalOr(_Comparison):
    ufunc = "logical_or"
    kinds = BOOL


for _t in ("Equal", "NotEqual", "Less", "LessEqual", "Greater", "GreaterEqual", "LogicalAnd", "LogicalOr"):
    NotDifferentiable(_t)


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


def realdiv(x: Any, y: Any, name: str | None = None) -> Tensor:
    """``tf.realdiv``: floating-point ``x / y`` (no casting)."""
    return binary("RealDiv", x, y, name, "RealDiv")


def div(x: Any, y: Any, name: str | None = None) -> Tensor:
    """``tf.div`` (Python 2 semantics): floor division for integers, true division for floats."""
    g = get_default_graph()
    with g.name_scope(name or "div") as scope:
        xt, yt = convert_pair(x, y, "div")
        op_type = "RealDiv" if xt.dtype.is_floating else "FloorDiv"
        return g.create_op(op_type, [xt, yt], name=scope).outputs[0]


def div_no_nan(x: Any, y: Any, name: str | None = None) -> Tensor:
    """``x / y`` that is 0 where ``y`` is 0."""
    return binary("DivNoNan", x, y, name, "div_no_nan")


def floordiv(x: Any, y: Any, name: str | None = None) -> Tensor:
    """``x // y`` rounded toward -inf (``FloorDiv``); integers follow Python's sign rules."""
    return binary("FloorDiv", x, y, name, "floordiv")


def floormod(x: Any, y: Any, name: str | None = None) -> Tensor:
    """``x % y`` with the sign of ``y`` (``FloorMod``)."""
    return binary("FloorMod", x, y, name, "FloorMod")


mod = floormod


def truncatediv(x: Any, y: Any, name: str | None = None) -> Tensor:
    return binary("TruncateDiv", x, y, name, "TruncateDiv")


def truncatemod(x: Any, y: Any, name: str | None = None) -> Tensor:
    return binary("TruncateMod", x, y, name, "TruncateMod")


def pow(x: Any, y: Any, name: str | None = None) -> Tensor:
    """``x ** y`` element-wise; integer bases need non-negative integer exponents."""
    return binary("Pow", x, y, name, "Pow")


def maximum(x: Any, y: Any, name: str | None = None) -> Tensor:
    return binary("Maximum", x, y, name, "Maximum")


def minimum(x: Any, y: Any, name: str | None = None) -> Tensor:
    return binary("Minimum", x, y, name, "Minimum")


def squared_difference(x: Any, y: Any, name: str | None = None) -> Tensor:
    """``(x - y) ** 2`` in one op."""
    return binary("SquaredDifference", x, y, name, "SquaredDifference")


def equal(x: Any, y: Any, name: str | None = None) -> Tensor:
    return binary("Equal", x, y, name, "Equal")


def not_equal(x: Any, y: Any, name: str | None = None) -> Tensor:
    return binary("NotEqual", x, y, name, "NotEqual")


def less(x: Any, y: Any, name: str | None = None) -> Tensor:
    return binary("Less", x, y, name, "Less")


def less_equal(x: Any, y: Any, name: str | None = None) -> Tensor:
    return binary("LessEqual", x, y, name, "LessEqual")


def greater(x: Any, y: Any, name: str | None = None) -> Tensor:
    return binary("Greater", x, y, name, "Greater")


def greater_equal(x: Any, y: Any, name: str | None = None) -> Tensor:
    return binary("GreaterEqual", x, y, name, "GreaterEqual")


def logical_and(x: Any, y: Any, name: str | None = None) -> Tensor:
    return binary("LogicalAnd", x, y, name, "LogicalAnd")


def logical_or(x: Any, y: Any, name: str | None = None) -> Tensor:
    return binary("LogicalOr", x, y, name, "LogicalOr")


def logical_xor(x: Any, y: Any, name: str = "LogicalXor") -> Tensor:
    """``(x | y) & ~(x & y)``, built from the three logical ops as TF1 builds it."""
    xt, yt = convert_pair(x, y, "LogicalXor")
    return logical_and(logical_or(xt, yt), logical_not(logical_and(xt, yt)), name=name)


def scalar_mul(scalar: Any, x: Any, name: str | None = None) -> Tensor:
    """``scalar * x`` where ``scalar`` must be rank 0 (it takes ``x``'s dtype)."""
    xt = convert_to_tensor(x)
    s = convert_to_tensor(scalar, dtype=xt.dtype, name="scalar")
    if s.shape.ndims != 0:
        raise ValueError(f"Only scalar multiply works, got shape {s.shape}: scalar is {describe(s)}.")
    return multiply(s, xt, name=name)


# ---------------------------------------------------------------------------------------------
# Element-wise unary ops
# ---------------------------------------------------------------------------------------------
class UnaryOp(OpDef):
    """Element-wise ``f(x)``; ``ufunc`` names the array-module function."""

    batch_rule = "elementwise"
    ufunc = ""
    kinds: str | None = None
    out_bool = False
    quiet = False

    def infer(self, op):
        (x,) = op.inputs
        if self.kinds is not None:
            check_kind(self.type, x, self.kinds)
        return [(_dtypes.bool if self.out_bool else x.dtype, x._dims)]

    def kernel(self, op, rt):
        fn = getattr(rt.xp, self.ufunc)
        return _quiet(fn) if self.quiet else fn


def unary(op_type: str, x: Any, name: str | None, default: str | None = None) -> Tensor:
    g = get_default_graph()
    with g.name_scope(name or default or op_type) as scope:
        xt = convert_to_tensor(x, name="x")
        return g.create_op(op_type, [xt], name=scope).outputs[0]


@register_op
class Neg(UnaryOp):
    ufunc = "negative"
    kinds = NUMERIC

    def gradient(self, op, g):
        return [negative(g)]


@register_op
class Abs(UnaryOp):
    ufunc = "abs"
    kinds = NUMERIC

    def gradient(self, op, g):
        return [multiply(g, sign(op.inputs[0]))]


@register_op
class Sign(UnaryOp):
    ufunc = "sign"
    kinds = NUMERIC

    def gradient(self, op, g):
        return [zeros_like(op.inputs[0])]


@register_op
class Square(UnaryOp):
    ufunc = "square"
    kinds = NUMERIC

    def gradient(self, op, g):
        return [multiply(g, multiply(2.0, op.inputs[0]))]


@register_op
class Sqrt(UnaryOp):
    ufunc = "sqrt"
    kinds = FLOAT
    quiet = True

    def gradient(self, op, g):
        return [make_op("SqrtGrad", [op.outputs[0], g])]


@register_op
class Rsqrt(UnaryOp):
    kinds = FLOAT

    def kernel(self, op, rt):
        xp = rt.xp
        return _quiet(lambda x: xp.reciprocal(xp.sqrt(x)))

    def gradient(self, op, g):
        return [make_op("RsqrtGrad", [op.outputs[0], g])]


@register_op
class Exp(UnaryOp):
    ufunc = "exp"
    kinds = FLOAT
    quiet = True

    def gradient(self, op, g):
        return [multiply(g, op.outputs[0])]


@register_op
class Expm1(UnaryOp):
    ufunc = "expm1"
    kinds = FLOAT
    quiet = True

    def gradient(self, op, g):
        return [multiply(g, exp(op.inputs[0]))]


@register_op
class Log(UnaryOp):
    ufunc = "log"
    kinds = FLOAT
    quiet = True

    def gradient(self, op, g):
        return [multiply(g, reciprocal(op.inputs[0]))]


@register_op
class Log1p(UnaryOp):
    ufunc = "log1p"
    kinds = FLOAT
    quiet = True

    def gradient(self, op, g):
        return [multiply(g, reciprocal(add(1.0, op.inputs[0])))]


@register_op
class Sin(UnaryOp):
    ufunc = "sin"
    kinds = FLOAT

    def gradient(self, op, g):
        return [multiply(g, cos(op.inputs[0]))]


@register_op
class Cos(UnaryOp):
    ufunc = "cos"
    kinds = FLOAT

    def gradient(self, op, g):
        return [negative(multiply(g, sin(op.inputs[0])))]


@register_op
class Tan(UnaryOp):
    ufunc = "tan"
    kinds = FLOAT

    def gradient(self, op, g):
        return [multiply(g, square(reciprocal(cos(op.inputs[0]))))]


@register_op
class Asin(UnaryOp):
    ufunc = "arcsin"
    kinds = FLOAT
    quiet = True

    def gradient(self, op, g):
        x = op.inputs[0]
        return [multiply(g, rsqrt(subtract(1.0, square(x))))]


@register_op
class Acos(UnaryOp):
    ufunc = "arccos"
    kinds = FLOAT
    quiet = True

    def gradient(self, op, g):
        x = op.inputs[0]
        return [negative(multiply(g, rsqrt(subtract(1.0, square(x)))))]


@register_op
class Atan(UnaryOp):
    ufunc = "arctan"
    kinds = FLOAT

    def gradient(self, op, g):
        x = op.inputs[0]
        return [multiply(g, reciprocal(add(1.0, square(x))))]


@register_op
class Sinh(UnaryOp):
    ufunc = "sinh"
    kinds = FLOAT
    quiet = True

    def gradient(self, op, g):
        return [multiply(g, cosh(op.inputs[0]))]


@register_op
class Cosh(UnaryOp):
    ufunc = "cosh"
    kinds = FLOAT
    quiet = True

    def gradient(self, op, g):
        return [multiply(g, sinh(op.inputs[0]))]


@register_op
class Tanh(UnaryOp):
    ufunc = "tanh"
    kinds = FLOAT

    def gradient(self, op, g):
        return [make_op("TanhGrad", [op.outputs[0], g])]


@register_op
class Sigmoid(UnaryOp):
    """``1 / (1 + exp(-x))`` evaluated through ``exp(-|x|)``, which never overflows."""

    kinds = FLOAT

    def kernel(self, op, rt):
        xp = rt.xp

        def sigmoid_kernel(x):
            e = xp.exp(-xp.abs(x))
            r = 1 / (1 + e)
            return xp.where(x >= 0, r, e * r)

        return sigmoid_kernel

    def gradient(self, op, g):
        return [make_op("SigmoidGrad", [op.outputs[0], g])]


@register_op
class Reciprocal(UnaryOp):
    kinds = NUMERIC

    def kernel(self, op, rt):
        xp = rt.xp
        if op.inputs[0].dtype.is_integer:
            # 1 / x truncated toward zero: 0 except at +-1 (and 0 for x = 0 rather than a crash).
            return lambda x: xp.where(xp.abs(x) == 1, x, xp.zeros_like(x))
        return _quiet(xp.reciprocal)

    def gradient(self, op, g):
        return [make_op("ReciprocalGrad", [op.outputs[0], g])]


@register_op
class Floor(UnaryOp):
    ufunc = "floor"
    kinds = FLOAT


@register_op
class Ceil(UnaryOp):
    ufunc = "ceil"
    kinds = FLOAT


@register_op
class Round(UnaryOp):
    """Rounds half to even (banker's rounding), as TF1 does."""

    ufunc = "round"
    kinds = NUMERIC


@register_op
class Rint(UnaryOp):
    ufunc = "rint"
    kinds = FLOAT


@register_op
class IsNan(UnaryOp):
    ufunc = "isnan"
    kinds = FLOAT
    out_bool = True


@register_op
class IsInf(UnaryOp):
    ufunc = "isinf"
    kinds = FLOAT
    out_bool = True


@register_op
class IsFinite(UnaryOp):
    ufunc = "isfinite"
    kinds = FLOAT
    out_bool = True


@register_op
class LogicalNot(UnaryOp):
    ufunc = "logical_not"
    kinds = BOOL


for _t in ("Floor", "Ceil", "Round", "Rint", "IsNan", "IsInf", "IsFinite", "LogicalNot"):
    NotDifferentiable(_t)


# ---------------------------------------------------------------------------------------------
# Gradient helpers: f'(x) from the forward output y, each differentiable itself
# ---------------------------------------------------------------------------------------------
class GradHelperOp(OpDef):
    """``(y, dy) -> dx`` for an element-wise function with output ``y``; shapes must match."""

    batch_rule = "elementwise"

    def infer(self, op):
        y, dy = op.inputs
        check_same_dtype(self.type, y, dy)
        check_kind(self.type, y, FLOAT, "y")
        if not y.shape.is_compatible_with(dy.shape):
            raise ValueError(f"{self.type} needs inputs of one shape: y is {describe(y)}, dy is {describe(dy)}")
        return [(y.dtype, y.shape.merge_with(dy.shape).as_tuple())]


@register_op
class TanhGrad(GradHelperOp):
    """``dy * (1 - y^2)``."""

    def kernel(self, op, rt):
        return lambda y, dy: dy * (1 - y * y)

    def gradient(self, op, g):
        y, dy = op.inputs
        return [multiply(multiply(g, -2.0), multiply(dy, y)), make_op("TanhGrad", [y, g])]


@register_op
class SigmoidGrad(GradHelperOp):
    """``dy * y * (1 - y)``."""

    def kernel(self, op, rt):
        return lambda y, dy: dy * (y * (1 - y))

    def gradient(self, op, g):
        y, dy = op.inputs
        return [multiply(multiply(g, dy), subtract(1.0, multiply(2.0, y))), make_op("SigmoidGrad", [y, g])]


@register_op
class SqrtGrad(GradHelperOp):
    """``0.5 * dy / y``."""

    def kernel(self, op, rt):
        return _quiet(lambda y, dy: (0.5 * dy) / y)

    def gradient(self, op, g):
        y = op.inputs[0]
        ga = divide(g, y)
        return [negative(multiply(ga, op.outputs[0])), multiply(0.5, ga)]


@register_op
class RsqrtGrad(GradHelperOp):
    """``-0.5 * dy * y^3``."""

    def kernel(self, op, rt):
        return _quiet(lambda y, dy: (-0.5 * dy) * (y * y * y))

    def gradient(self, op, g):
        y, dy = op.inputs
        return [multiply(multiply(g, -1.5), multiply(dy, square(y))), make_op("RsqrtGrad", [y, g])]


@register_op
class ReciprocalGrad(GradHelperOp):
    """``-dy * y^2``."""

    def kernel(self, op, rt):
        return _quiet(lambda y, dy: -dy * (y * y))

    def gradient(self, op, g):
        y, dy = op.inputs
        return [multiply(multiply(g, -2.0), multiply(dy, y)), make_op("ReciprocalGrad", [y, g])]


def negative(x: Any, name: str | None = None) -> Tensor:
    return unary("Neg", x, name, "Neg")


def abs(x: Any, name: str | None = None) -> Tensor:
    return unary("Abs", x, name, "Abs")


def sign(x: Any, name: str | None = None) -> Tensor:
    return unary("Sign", x, name, "Sign")


def square(x: Any, name: str | None = None) -> Tensor:
    return unary("Square", x, name, "Square")


def sqrt(x: Any, name: str | None = None) -> Tensor:
    return unary("Sqrt", x, name, "Sqrt")


def rsqrt(x: Any, name: str | None = None) -> Tensor:
    return unary("Rsqrt", x, name, "Rsqrt")


def exp(x: Any, name: str | None = None) -> Tensor:
    return unary("Exp", x, name, "Exp")


def expm1(x: Any, name: str | None = None) -> Tensor:
    return unary("Expm1", x, name, "Expm1")


def log(x: Any, name: str | None = None) -> Tensor:
    return unary("Log", x, name, "Log")


def log1p(x: Any, name: str | None = None) -> Tensor:
    return unary("Log1p", x, name, "Log1p")


def sin(x: Any, name: str | None = None) -> Tensor:
    return unary("Sin", x, name, "Sin")


def cos(x: Any, name: str | None = None) -> Tensor:
    return unary("Cos", x, name, "Cos")


def tan(x: Any, name: str | None = None) -> Tensor:
    return unary("Tan", x, name, "Tan")


def asin(x: Any, name: str | None = None) -> Tensor:
    return unary("Asin", x, name, "Asin")


def acos(x: Any, name: str | None = None) -> Tensor:
    return unary("Acos", x, name, "Acos")


def atan(x: Any, name: str | None = None) -> Tensor:
    return unary("Atan", x, name, "Atan")


def sinh(x: Any, name: str | None = None) -> Tensor:
    return unary("Sinh", x, name, "Sinh")


def cosh(x: Any, name: str | None = None) -> Tensor:
    return unary("Cosh", x, name, "Cosh")


def tanh(x: Any, name: str | None = None) -> Tensor:
    return unary("Tanh", x, name, "Tanh")


def sigmoid(x: Any, name: str | None = None) -> Tensor:
    """``1 / (1 + exp(-x))``, exact and finite for any finite ``x``."""
    return unary("Sigmoid", x, name, "Sigmoid")


def log_sigmoid(x: Any, name: str | None = None) -> Tensor:
    """``log(sigmoid(x))`` without overflow: ``min(x, 0) - log1p(exp(-|x|))``.

    ``min(x, 0)`` is written ``(x - |x|) / 2`` so the derivative at 0 is the true 0.5.
    """
    g = get_default_graph()
    with g.name_scope(name or "LogSigmoid") as scope:
        xt = convert_to_tensor(x, name="x")
        check_kind("LogSigmoid", xt, FLOAT)
        ax = abs(xt)
        return subtract(multiply(subtract(xt, ax), 0.5), log1p(exp(negative(ax))), name=scope)


def reciprocal(x: Any, name: str | None = None) -> Tensor:
    return unary("Reciprocal", x, name, "Reciprocal")


def floor(x: Any, name: str | None = None) -> Tensor:
    return unary("Floor", x, name, "Floor")


def ceil(x: Any, name: str | None = None) -> Tensor:
    return unary("Ceil", x, name, "Ceil")


def round(x: Any, name: str | None = None) -> Tensor:
    """Rounds half to even; an integer tensor is returned as is (as TF1 does)."""
    xt = convert_to_tensor(x, name="x")
    if xt.dtype.is_integer:
        return xt
    return unary("Round", xt, name, "Round")


def rint(x: Any, name: str | None = None) -> Tensor:
    return unary("Rint", x, name, "Rint")


def is_nan(x: Any, name: str | None = None) -> Tensor:
    return unary("IsNan", x, name, "IsNan")


def is_inf(x: Any, name: str | None = None) -> Tensor:
    return unary("IsInf", x, name, "IsInf")


def is_finite(x: Any, name: str | None = None) -> Tensor:
    return unary("IsFinite", x, name, "IsFinite")


def logical_not(x: Any, name: str | None = None) -> Tensor:
    return unary("LogicalNot", x, name, "LogicalNot")


# ---------------------------------------------------------------------------------------------
# n-ary sum, ones/zeros like
# ---------------------------------------------------------------------------------------------
@register_op
class AddN(OpDef):
    """Sum of same-shaped tensors (no broadcasting, as in TF1); sums into a fresh buffer."""

    def batch_split(self, op, kinds):
        if all(k == batch_split.P for k in kinds):  # a sum of partial sums is one
            return batch_split.Split((batch_split.P,))
        return batch_split.elementwise(op, kinds)

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
    def batch_split(self, op, kinds):
        if kinds == (batch_split.P,):  # a partial has the whole value's shape
            return batch_split.Split((batch_split.R,))
        return batch_split.elementwise(op, kinds)

    def kernel(self, op, rt):
        xp = rt.xp
        return lambda x: xp.ones_like(x)

    def gradient(self, op, g):
        return [None]


@register_op
class ZerosLike(UnaryOp):
    def batch_split(self, op, kinds):
        if kinds == (batch_split.P,):  # a partial has the whole value's shape
            return batch_split.Split((batch_split.R,))
        return batch_split.elementwise(op, kinds)

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

    batch_rule = "elementwise"

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


def to_float(x: Any, name: str = "ToFloat") -> Tensor:
    return cast(x, _dtypes.float32, name=name)


def to_double(x: Any, name: str = "ToDouble") -> Tensor:
    return cast(x, _dtypes.float64, name=name)


def to_int32(x: Any, name: str = "ToInt32") -> Tensor:
    return cast(x, _dtypes.int32, name=name)


def to_int64(x: Any, name: str = "ToInt64") -> Tensor:
    return cast(x, _dtypes.int64, name=name)


# ---------------------------------------------------------------------------------------------
# Selection: tf.where (Select / SelectV2 / Where), clip_by_value
# ---------------------------------------------------------------------------------------------
@register_op
class Select(OpDef):
    """TF1's ``where(c, x, y)``: ``x``, ``y`` of one shape; ``c`` of that shape, a scalar, or a
    vector selecting whole rows along the first dimension."""

    def infer(self, op):
        c, x, y = op.inputs
        check_kind("Select", c, BOOL, "condition")
        check_same_dtype("Select", x, y)
        if not x.shape.is_compatible_with(y.shape):
            raise ValueError(f"Select needs x and y of one shape: x is {describe(x)}, y is {describe(y)}")
        out = x.shape.merge_with(y.shape)
        cr, xr = c.shape.ndims, out.ndims
        if cr is not None and xr is not None and cr != 0:
            if cr == 1 and xr > 1:
                if not TensorShape(c._dims).is_compatible_with(out[:1]):
                    raise ValueError(
                        f"Select: a vector condition must match the first dimension of x: condition is "
                        f"{describe(c)}, x is {describe(x)}"
                    )
            elif not c.shape.is_compatible_with(out):
                raise ValueError(f"Select needs condition of x's shape: condition is {describe(c)}, x is {describe(x)}")
            elif cr == xr:
                out = out.merge_with(c.shape)
        return [(x.dtype, out.as_tuple())]

    def kernel(self, op, rt):
        xp = rt.xp

        def select_kernel(c, x, y):
            if np.shape(x) != np.shape(y):
                raise ValueError(f"'then' and 'else' must have the same size, but received: {np.shape(x)} vs. {np.shape(y)}")
            if np.ndim(c) == 1 and np.ndim(x) > 1:
                if c.shape[0] != x.shape[0]:
                    raise ValueError(f"condition of shape {c.shape} does not match the first dimension of {x.shape}")
                c = c.reshape(c.shape + (1,) * (x.ndim - 1))
            elif np.ndim(c) != 0 and np.shape(c) != np.shape(x):
                raise ValueError(f"condition of shape {np.shape(c)} does not match x of shape {np.shape(x)}")
            return xp.where(c, x, y)

        return select_kernel

    def gradient(self, op, g):
        c = op.inputs[0]
        zeros = zeros_like(g)
        return [None, where(c, g, zeros), where(c, zeros, g)]


@register_op
class SelectV2(OpDef):
    """``where_v2(c, x, y)``: all three broadcast against each other (NumPy's ``where``)."""

    broadcasting = True

    def infer(self, op):
        c, x, y = op.inputs
        check_kind("SelectV2", c, BOOL, "condition")
        check_same_dtype("SelectV2", x, y)
        try:
            dims = broadcast_dims(broadcast_dims(c._dims, x._dims), y._dims)
        except ValueError:
            raise ValueError(
                f"SelectV2 operands do not broadcast: condition is {describe(c)}, x is {describe(x)}, y is {describe(y)}"
            ) from None
        return [(x.dtype, dims)]

    def kernel(self, op, rt):
        return rt.xp.where

    def gradient(self, op, g):
        c = op.inputs[0]
        zeros = zeros_like(g)
        return [None, where_v2(c, g, zeros), where_v2(c, zeros, g)]


@register_op
class Where(OpDef):
    """Coordinates of the true (non-zero) entries: int64 ``[N, rank]``, in row-major order."""

    def infer(self, op):
        (c,) = op.inputs
        check_kind("Where", c, NUMERIC + BOOL, "condition")
        return [(_dtypes.int64, (None, c.shape.ndims))]

    def kernel(self, op, rt):
        xp = rt.xp
        return lambda c: xp.argwhere(c).astype(np.int64, copy=False)


NotDifferentiable("Where")


def _where_front(op_type: str, condition: Any, x: Any, y: Any, name: str | None) -> Tensor:
    g = get_default_graph()
    if x is None and y is None:
        with g.name_scope(name or "Where") as scope:
            c = convert_to_tensor(condition, preferred_dtype=_dtypes.bool, name="condition")
            return g.create_op("Where", [c], name=scope).outputs[0]
    if x is None or y is None:
        raise ValueError("x and y must both be non-None or both be None.")
    with g.name_scope(name or op_type) as scope:
        c = convert_to_tensor(condition, preferred_dtype=_dtypes.bool, name="condition")
        xt, yt = convert_pair(x, y, op_type)
        return g.create_op(op_type, [c, xt, yt], name=scope).outputs[0]


def where(condition: Any, x: Any = None, y: Any = None, name: str | None = None) -> Tensor:
    """TF1's ``tf.where``: coordinates of true entries (1 argument), or select from ``x``/``y``.

    With ``x`` and ``y`` they share a shape; ``condition`` has that shape, or is a vector
    choosing whole rows (first dimension), or a scalar.
    """
    return _where_front("Select", condition, x, y, name)


def where_v2(condition: Any, x: Any = None, y: Any = None, name: str | None = None) -> Tensor:
    """``tf.where_v2``: like ``where`` but ``condition``, ``x`` and ``y`` broadcast together."""
    return _where_front("SelectV2", condition, x, y, name)


def clip_by_value(t: Any, clip_value_min: Any, clip_value_max: Any, name: str | None = None) -> Tensor:
    """``min(max(t, lo), hi)`` element-wise; the bounds may not broadcast ``t`` to a larger shape."""
    g = get_default_graph()
    with g.name_scope(name or "clip_by_value") as scope:
        values = convert_to_tensor(t, name="t")
        t_min = minimum(values, clip_value_max)
        if not values.shape.is_compatible_with(t_min.shape):
            raise ValueError(
                f"clip_by_value: clip_value_max would broadcast {describe(values)} to shape {t_min.shape}."
            )
        t_max = maximum(t_min, clip_value_min, name=scope)
        if not values.shape.is_compatible_with(t_max.shape):
            raise ValueError(
                f"clip_by_value: clip_value_min would broadcast {describe(values)} to shape {t_max.shape}."
            )
        return t_max


# ---------------------------------------------------------------------------------------------
# matmul
# ---------------------------------------------------------------------------------------------
@register_op
class MatMul(OpDef):
    """``a @ b`` for rank-2 operands, with optional transposes (one BLAS GEMM)."""

    heavy = True
    fresh_output = True

    def batch_split(self, op, kinds):
        ta, tb = op.attrs["transpose_a"], op.attrs["transpose_b"]
        if kinds == (batch_split.S, batch_split.R) and not ta:  # rows of a times b
            return batch_split.Split((batch_split.S,))
        if kinds == (batch_split.S, batch_split.S) and ta and not tb:  # a^T b sums over the rows
            return batch_split.Split((batch_split.P,))
        return None

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


@register_op
class BatchMatMulV2(OpDef):
    """Batched ``x @ y`` over the last two axes; batch dimensions broadcast (NumPy's ``matmul``)."""

    heavy = True
    broadcasting = True

    def infer(self, op):
        x, y = op.inputs
        check_same_dtype("BatchMatMulV2", x, y)
        check_kind("BatchMatMulV2", x, NUMERIC)
        for t in (x, y):
            if t._dims is not None and len(t._dims) < 2:
                raise ValueError(
                    f"Shape must be at least rank 2 but is rank {len(t._dims)} for 'BatchMatMulV2': "
                    f"x is {describe(x)}, y is {describe(y)}"
                )
        if x._dims is None or y._dims is None:
            return [(x.dtype, None)]
        adj_x, adj_y = op.attrs["adj_x"], op.attrs["adj_y"]
        try:
            batch = broadcast_dims(x._dims[:-2], y._dims[:-2])
        except ValueError:
            raise ValueError(
                f"BatchMatMulV2: batch dimensions do not broadcast: x is {describe(x)}, y is {describe(y)}"
            ) from None
        r, k1 = (x._dims[-1], x._dims[-2]) if adj_x else x._dims[-2:]
        k2, c = (y._dims[-1], y._dims[-2]) if adj_y else y._dims[-2:]
        if k1 is not None and k2 is not None and k1 != k2:
            raise ValueError(
                f"Dimensions must be equal, but are {k1} and {k2} for 'BatchMatMulV2' with input shapes "
                f"{x.shape} and {y.shape}: x is {describe(x)}, y is {describe(y)}"
            )
        return [(x.dtype, batch + (r, c))]

    def kernel(self, op, rt):
        xp = rt.xp
        adj_x, adj_y = op.attrs["adj_x"], op.attrs["adj_y"]

        def batch_matmul(x, y):
            if adj_x:
                x = xp.swapaxes(x, -1, -2)
            if adj_y:
                y = xp.swapaxes(y, -1, -2)
            return xp.matmul(x, y)

        return batch_matmul

    def gradient(self, op, g):
        x, y = op.inputs
        adj_x, adj_y = op.attrs["adj_x"], op.attrs["adj_y"]
        if not adj_x and not adj_y:
            return [matmul(g, y, adjoint_b=True), matmul(x, g, adjoint_a=True)]
        if not adj_x:
            return [matmul(g, y), matmul(g, x, adjoint_a=True)]
        if not adj_y:
            return [matmul(y, g, adjoint_b=True), matmul(x, g)]
        return [matmul(y, g, adjoint_a=True, adjoint_b=True), matmul(g, x, adjoint_a=True, adjoint_b=True)]


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
    """``tf.matmul``: rank-2 GEMM, or batched (rank >= 3 or unknown rank, broadcasting batch dims)."""
    if transpose_a and adjoint_a:
        raise ValueError("Only one of transpose_a and adjoint_a can be True.")
    if transpose_b and adjoint_b:
        raise ValueError("Only one of transpose_b and adjoint_b can be True.")
    g = get_default_graph()
    with g.name_scope(name or "MatMul") as scope:
        at, bt = convert_pair(a, b, "MatMul")
        ta, tb = bool(transpose_a or adjoint_a), bool(transpose_b or adjoint_b)
        ra, rb = at.shape.ndims, bt.shape.ndims
        if ra is None or rb is None or ra > 2 or rb > 2:
            return g.create_op("BatchMatMulV2", [at, bt], {"adj_x": ta, "adj_y": tb}, name=scope).outputs[0]
        return g.create_op("MatMul", [at, bt], {"transpose_a": ta, "transpose_b": tb}, name=scope).outputs[0]


def _tensordot_axes(axes: Any, a: Tensor, b: Tensor) -> tuple[Any, Any]:
    """``axes`` as the contracted axes of ``a`` and of ``b``: lists of non-negative ints where the
    rank is known; for an unknown rank, an int N (a's last N / b's first N) or a list as given."""
    ra, rb = a.shape.ndims, b.shape.ndims
    if isinstance(axes, Tensor):
        v = constant_value(axes)
        if v is None:
            raise ValueError(f"tensordot needs 'axes' known when the graph is built; {axes.name} is not a constant.")
        axes = v
    if isinstance(axes, np.ndarray):
        axes = axes.tolist()
    if isinstance(axes, int | np.integer):
        n = int(axes)
        if n < 0:
            raise ValueError(f"'axes' must be at least 0, got {n}.")
        for t, r in ((a, ra), (b, rb)):
            if r is not None and n > r:
                raise ValueError(f"'axes' ({n}) must not exceed the rank of {describe(t)}.")
        a_axes = list(range(ra - n, ra)) if ra is not None else ("last", n)
        b_axes = list(range(n)) if rb is not None else ("first", n)
        return a_axes, b_axes
    if not isinstance(axes, list | tuple) or len(axes) != 2:
        raise ValueError(f"'axes' must be an integer or have length 2, got {axes!r}.")
    pair = [[int(ax)] if isinstance(ax, int | np.integer) else [int(v) for v in ax] for ax in axes]
    if len(pair[0]) != len(pair[1]):
        raise ValueError(f"Different number of contraction axes 'a' and 'b', {len(pair[0])} != {len(pair[1])}.")
    out = []
    for side, t, rank in ((pair[0], a, ra), (pair[1], b, rb)):
        if rank is not None:
            for ax in side:
                if not -rank <= ax < rank:
                    raise ValueError(f"Invalid tensordot axis {ax} for {describe(t)}.")
            side = [ax % rank for ax in side]
            if len(set(side)) != len(side):
                raise ValueError(f"tensordot contraction axes repeat for {describe(t)}: {side}.")
        out.append(side)
    return out[0], out[1]


def _tensordot_reshape(t: Tensor, axes: Any, contracted_first: bool) -> tuple[Tensor, Any, list | None]:
    """``t`` as a matrix [free, contracted] (or [contracted, free]), with its free dims: a list when
    static, else an int32 vector; and the free dims as far as they are known (None: unknown rank)."""
    from flowgraph.ops import array as array_ops

    dims = t._dims
    if dims is not None:
        free = [i for i in range(len(dims)) if i not in axes]
        perm = axes + free if contracted_first else free + axes
        moved = t if perm == list(range(len(perm))) else array_ops.transpose(t, perm)
        free_static = [dims[i] for i in free]
        if None not in dims:
            n_free = int(np.prod(free_static, dtype=np.int64))
            n_axes = int(np.prod([dims[i] for i in axes], dtype=np.int64))
            shape2 = [n_axes, n_free] if contracted_first else [n_free, n_axes]
            return array_ops.reshape(moved, shape2), free_static, free_static
        free_t = convert_to_tensor(np.asarray(free, np.int32))
        axes_t = convert_to_tensor(np.asarray(axes, np.int32))
    else:
        # Unknown rank: the contracted and free axes are computed in the graph.
        rank_t = array_ops.rank(t)
        if isinstance(axes, tuple):  # ("last", n) or ("first", n)
            kind, n = axes
            axes_t = array_ops.range_(rank_t - n, rank_t) if kind == "last" else array_ops.range_(0, n)
        else:
            axes_t = floormod(convert_to_tensor(np.asarray(axes, np.int32)), rank_t)
        all_axes = array_ops.range_(0, rank_t)
        hit = reduce_any(equal(array_ops.expand_dims(all_axes, 1), array_ops.expand_dims(axes_t, 0)), axis=1)
        free_t = cast(array_ops.reshape(where(logical_not(hit)), [-1]), _dtypes.int32)
        perm = array_ops.concat([axes_t, free_t] if contracted_first else [free_t, axes_t], 0)
        moved = array_ops.transpose(t, perm)
        free_static = None
    shape_t = array_ops.shape(t)
    free_dims = array_ops.gather(shape_t, free_t)
    n_free = reduce_prod(free_dims)
    n_axes = reduce_prod(array_ops.gather(shape_t, axes_t))
    shape2 = array_ops.stack([n_axes, n_free] if contracted_first else [n_free, n_axes])
    return array_ops.reshape(moved, shape2), free_dims, free_static


def tensordot(a: Any, b: Any, axes: Any, name: str | None = None) -> Tensor:
    """Sums ``a`` and ``b`` over paired axes (``axes``: an int N for a's last N with b's first N, or
    a pair of axis lists); the result has a's free axes, then b's.

    Built from transpose, reshape and one GEMM, so it differentiates like them.
    """
    from flowgraph.ops import array as array_ops

    g = get_default_graph()
    with g.name_scope(name or "Tensordot") as scope:
        at, bt = convert_pair(a, b, "Tensordot")
        a_axes, b_axes = _tensordot_axes(axes, at, bt)
        if isinstance(a_axes, list) and isinstance(b_axes, list) and at._dims is not None and bt._dims is not None:
            for i, j in zip(a_axes, b_axes):
                da, db = at._dims[i], bt._dims[j]
                if da is not None and db is not None and da != db:
                    raise ValueError(
                        f"tensordot: contracted dimension {i} of a ({da}) does not match dimension {j} of b "
                        f"({db}): a is {describe(at)}, b is {describe(bt)}"
                    )
        a_mat, a_free, a_static = _tensordot_reshape(at, a_axes, contracted_first=False)
        b_mat, b_free, b_static = _tensordot_reshape(bt, b_axes, contracted_first=True)
        product = matmul(a_mat, b_mat)
        if isinstance(a_free, list) and isinstance(b_free, list):
            return array_ops.reshape(product, a_free + b_free, name=scope)
        parts = [convert_to_tensor(np.asarray(f, np.int32)) if isinstance(f, list) else f for f in (a_free, b_free)]
        out = array_ops.reshape(product, array_ops.concat(parts, 0), name=scope)
        if a_static is not None and b_static is not None:
            out.set_shape(a_static + b_static)
        return out


# ---------------------------------------------------------------------------------------------
# Reductions
# ---------------------------------------------------------------------------------------------
class ReductionOp(OpDef):
    """Reduces over ``axis`` (None = all); ``keepdims`` keeps reduced axes as size 1."""

    kinds: str | None = None

    def infer(self, op):
        (x,) = op.inputs
        if self.kinds is not None:
            check_kind(self.type, x, self.kinds, "input")
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


def _legacy_args(axis: Any, keepdims: Any, reduction_indices: Any, keep_dims: Any) -> tuple[Any, bool]:
    """Folds TF1's deprecated ``reduction_indices``/``keep_dims`` into ``axis``/``keepdims``."""
    if reduction_indices is not None:
        if axis is not None:
            raise ValueError("Cannot specify both 'axis' and 'reduction_indices'.")
        axis = reduction_indices
    if keep_dims is not None:
        if keepdims is not None:
            raise ValueError("Cannot specify both 'keepdims' and 'keep_dims'.")
        keepdims = keep_dims
    return axis, bool(keepdims)


def reduction(op_type: str, input_tensor: Any, axis: Any, keepdims: Any, name: str | None, default: str,
              reduction_indices: Any = None, keep_dims: Any = None) -> Tensor:
    """Shared front end of ``reduce_*``: TF1's legacy argument names and axis checks."""
    axis, keepdims = _legacy_args(axis, keepdims, reduction_indices, keep_dims)
    g = get_default_graph()
    with g.name_scope(name or default) as scope:
        x = convert_to_tensor(input_tensor, name="input")
        axes = normalize_axes(axis, x.shape.ndims)
        return g.create_op(op_type, [x], {"axis": axes, "keepdims": keepdims}, name=scope).outputs[0]


def _runtime_reduced_shape(shape: tuple, axis: tuple | None, keep: bool) -> tuple:
    n = len(shape)
    axes = range(n) if axis is None else {a % n for a in axis}
    if keep:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


@register_op
class Sum(ReductionOp):
    def batch_split(self, op, kinds):
        return batch_split.linear_reduction(op, kinds)

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
    def batch_split(self, op, kinds):
        if not op.outputs[0].dtype.is_floating:
            return None  # integer means round: shares of them do not add up
        return batch_split.linear_reduction(op, kinds, batch_split.batch_share)

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
        if xp is not np:
            return lambda x: xp.mean(x, axis=axis, dtype=npdt, keepdims=keep)
        axes = None if axis is None else (axis,) if isinstance(axis, int) else tuple(axis)
        add_reduce = np.add.reduce

        def mean(x):
            # np.mean's own bookkeeping costs more than a small reduction: sum, then divide by the count
            # (the same two steps np.mean takes, so the same float result).
            n = x.size if axes is None else math.prod(x.shape[a] for a in axes) if x.ndim else 1
            if not n:
                return xp.mean(x, axis=axis, dtype=npdt, keepdims=keep)
            return add_reduce(x, axis=axes, dtype=npdt, keepdims=keep) / n

        return mean

    def gradient(self, op, g):
        from flowgraph.ops.array import broadcast_reduced, reduction_count

        x = op.inputs[0]
        n = reduction_count(x, op.outputs[0])
        return [broadcast_reduced(divide(g, n), x, op.attrs["axis"], op.attrs["keepdims"])]


class _ExtremumReduction(ReductionOp):
    """Max or Min; an empty reduction gives the identity (-inf / +inf, or the integer limits)."""

    kinds = NUMERIC
    fn = ""
    lowest = True

    def kernel(self, op, rt):
        xp = rt.xp
        axis, keep = op.attrs["axis"], op.attrs["keepdims"]
        dt = op.outputs[0].dtype
        if dt.is_floating:
            identity = -np.inf if self.lowest else np.inf
        else:
            identity = dt.min if self.lowest else dt.max
        fn = getattr(xp, self.fn)

        def extremum(x):
            if x.size == 0:
                return xp.full(_runtime_reduced_shape(x.shape, axis, keep), identity, dtype=dt.np)
            return fn(x, axis=axis, keepdims=keep)

        return extremum


def _extremum_gradient(op, g: Tensor) -> list[Tensor]:
    """Gradient of Max/Min: to the entries equal to the result, shared equally between ties (TF1)."""
    from flowgraph.ops.array import broadcast_reduced

    x, y = op.inputs[0], op.outputs[0]
    axis, keep = op.attrs["axis"], op.attrs["keepdims"]
    indicators = cast(equal(broadcast_reduced(y, x, axis, keep), x), g.dtype)
    num_selected = broadcast_reduced(reduce_sum(indicators, axis, keep), x, axis, keep)
    return [multiply(divide(indicators, num_selected), broadcast_reduced(g, x, axis, keep))]


@register_op
class Max(_ExtremumReduction):
    fn = "amax"
    lowest = True

    def gradient(self, op, g):
        return _extremum_gradient(op, g)


@register_op
class Min(_ExtremumReduction):
    fn = "amin"
    lowest = False

    def gradient(self, op, g):
        return _extremum_gradient(op, g)


@register_op
class Prod(ReductionOp):
    kinds = NUMERIC

    def kernel(self, op, rt):
        xp = rt.xp
        axis, keep = op.attrs["axis"], op.attrs["keepdims"]
        dt = op.outputs[0].dtype.np
        return lambda x: xp.prod(x, axis=axis, dtype=dt, keepdims=keep)

    def gradient(self, op, g):
        """Product of all the other reduced entries, built from exclusive cumprods so zeros are fine.

        For reduced axes a1..ak, the entries that differ from element i first at axis am (and
        agree before it) contribute ``excl_am(prod over a(m+1)..ak of x)``; the product over m of
        these factors is the product of all entries but i.
        """
        from flowgraph.ops.array import broadcast_reduced, reshape, shape

        x = op.inputs[0]
        axis, keep = op.attrs["axis"], op.attrs["keepdims"]
        grad = broadcast_reduced(g, x, axis, keep)
        if axis is None:
            flat = reshape(x, [-1])
            others = reshape(_exclusive_product(flat, 0), shape(x))
        else:
            others = None
            for m, a in enumerate(axis):
                rest = list(axis[m + 1:])
                z = reduce_prod(x, rest, keepdims=True) if rest else x
                factor = _exclusive_product(z, a)
                others = factor if others is None else multiply(others, factor)
        return [multiply(grad, others)]


def _exclusive_product(z: Tensor, axis: int) -> Tensor:
    """For each entry, the product of the others along ``axis``."""
    return multiply(cumprod(z, axis, exclusive=True), cumprod(z, axis, exclusive=True, reverse=True))


class _BoolReduction(ReductionOp):
    kinds = BOOL
    fn = ""

    def kernel(self, op, rt):
        fn = getattr(rt.xp, self.fn)
        axis, keep = op.attrs["axis"], op.attrs["keepdims"]
        return lambda x: fn(x, axis=axis, keepdims=keep)


@register_op
class AnyReduction(_BoolReduction):
    type = "Any"
    fn = "any"


@register_op
class AllReduction(_BoolReduction):
    type = "All"
    fn = "all"


NotDifferentiable("Any")
NotDifferentiable("All")


def reduce_sum(input_tensor: Any, axis: Any = None, keepdims: Any = None, name: str | None = None,
               reduction_indices: Any = None, keep_dims: Any = None) -> Tensor:
    return reduction("Sum", input_tensor, axis, keepdims, name, "Sum", reduction_indices, keep_dims)


def reduce_mean(input_tensor: Any, axis: Any = None, keepdims: Any = None, name: str | None = None,
                reduction_indices: Any = None, keep_dims: Any = None) -> Tensor:
    return reduction("Mean", input_tensor, axis, keepdims, name, "Mean", reduction_indices, keep_dims)


def reduce_max(input_tensor: Any, axis: Any = None, keepdims: Any = None, name: str | None = None,
               reduction_indices: Any = None, keep_dims: Any = None) -> Tensor:
    return reduction("Max", input_tensor, axis, keepdims, name, "Max", reduction_indices, keep_dims)


def reduce_min(input_tensor: Any, axis: Any = None, keepdims: Any = None, name: str | None = None,
               reduction_indices: Any = None, keep_dims: Any = None) -> Tensor:
    return reduction("Min", input_tensor, axis, keepdims, name, "Min", reduction_indices, keep_dims)


def reduce_prod(input_tensor: Any, axis: Any = None, keepdims: Any = None, name: str | None = None,
                reduction_indices: Any = None, keep_dims: Any = None) -> Tensor:
    return reduction("Prod", input_tensor, axis, keepdims, name, "Prod", reduction_indices, keep_dims)


def reduce_any(input_tensor: Any, axis: Any = None, keepdims: Any = None, name: str | None = None,
               reduction_indices: Any = None, keep_dims: Any = None) -> Tensor:
    return reduction("Any", input_tensor, axis, keepdims, name, "Any", reduction_indices, keep_dims)


def reduce_all(input_tensor: Any, axis: Any = None, keepdims: Any = None, name: str | None = None,
               reduction_indices: Any = None, keep_dims: Any = None) -> Tensor:
    return reduction("All", input_tensor, axis, keepdims, name, "All", reduction_indices, keep_dims)


def reduce_logsumexp(input_tensor: Any, axis: Any = None, keepdims: Any = None, name: str | None = None,
                     reduction_indices: Any = None, keep_dims: Any = None) -> Tensor:
    """``log(sum(exp(x)))`` computed around the maximum, so it neither overflows nor underflows."""
    from flowgraph.ops.array import reshape, shape, stop_gradient

    axis, keepdims = _legacy_args(axis, keepdims, reduction_indices, keep_dims)
    g = get_default_graph()
    with g.name_scope(name or "ReduceLogSumExp"):
        x = convert_to_tensor(input_tensor, name="input_tensor")
        raw_max = reduce_max(x, axis, keepdims=True)
        # An infinite (or empty: -inf) maximum would turn x - max into nan; shift by 0 there.
        my_max = stop_gradient(where(is_finite(raw_max), raw_max, zeros_like(raw_max)))
        result = log(reduce_sum(exp(subtract(x, my_max)), axis, keepdims=keepdims))
        if not keepdims:
            my_max = reshape(my_max, shape(result))
        return add(result, my_max)


def reduce_variance(input_tensor: Any, axis: Any = None, keepdims: bool = False, name: str | None = None) -> Tensor:
    """Population variance over ``axis`` (``tf.math.reduce_variance``)."""
    g = get_default_graph()
    with g.name_scope(name or "reduce_variance"):
        x = convert_to_tensor(input_tensor, name="input_tensor")
        means = reduce_mean(x, axis, keepdims=True)
        return reduce_mean(square(subtract(x, means)), axis, keepdims=keepdims)


def reduce_std(input_tensor: Any, axis: Any = None, keepdims: bool = False, name: str | None = None) -> Tensor:
    """Population standard deviation over ``axis`` (``tf.math.reduce_std``)."""
    g = get_default_graph()
    with g.name_scope(name or "reduce_std"):
        return sqrt(reduce_variance(input_tensor, axis, keepdims=keepdims))


def count_nonzero(input_tensor: Any = None, axis: Any = None, keepdims: Any = None, dtype: Any = _dtypes.int64,
                  name: str | None = None, reduction_indices: Any = None, keep_dims: Any = None,
                  input: Any = None) -> Tensor:
    """Number of non-zero (or true) entries over ``axis``, as ``dtype`` (int64 by default)."""
    if input is not None:
        if input_tensor is not None:
            raise ValueError("Cannot specify both 'input' and 'input_tensor'.")
        input_tensor = input
    axis, keepdims = _legacy_args(axis, keepdims, reduction_indices, keep_dims)
    g = get_default_graph()
    with g.name_scope(name or "count_nonzero"):
        x = convert_to_tensor(input_tensor, name="input_tensor")
        zero = convert_to_tensor(np.zeros((), x.dtype.np) if x.dtype is not _dtypes.string else "", dtype=x.dtype)
        nonzero = cast(not_equal(x, zero), _dtypes.int64)
        return cast(reduce_sum(nonzero, axis, keepdims=keepdims), dtype)


# ---------------------------------------------------------------------------------------------
# argmax / argmin
# ---------------------------------------------------------------------------------------------
class _ArgReduction(OpDef):
    """Index of the extreme entry along one axis (the first one on ties)."""

    fn = ""

    def infer(self, op):
        (x,) = op.inputs
        check_kind(self.type, x, NUMERIC, "input")
        out = op.attrs["output_type"]
        if out not in (_dtypes.int32, _dtypes.int64):
            raise TypeError(f"{self.type}: output_type must be int32 or int64, got {out.name}.")
        axis = op.attrs["axis"]
        dims = None if x._dims is None else tuple(d for i, d in enumerate(x._dims) if i != axis)
        return [(out, dims)]

    def kernel(self, op, rt):
        fn = getattr(rt.xp, self.fn)
        axis = op.attrs["axis"]
        out = op.attrs["output_type"].np

        def arg_kernel(x):
            if x.shape[axis] == 0:
                raise ValueError(f"Reduction axis {axis} is empty in shape {list(x.shape)}")
            return fn(x, axis=axis).astype(out, copy=False)

        return arg_kernel


@register_op
class ArgMax(_ArgReduction):
    fn = "argmax"


@register_op
class ArgMin(_ArgReduction):
    fn = "argmin"


NotDifferentiable("ArgMax")
NotDifferentiable("ArgMin")


def _arg_front(op_type: str, input: Any, axis: Any, name: str | None, dimension: Any, output_type: Any) -> Tensor:
    if dimension is not None:
        if axis is not None:
            raise ValueError("Cannot specify both 'axis' and 'dimension'.")
        axis = dimension
    if axis is None:
        axis = 0
    g = get_default_graph()
    with g.name_scope(name or op_type) as scope:
        x = convert_to_tensor(input, name="input")
        axes = normalize_axes(axis, x.shape.ndims, op_type)
        if len(axes) != 1:
            raise ValueError(f"{op_type} takes one axis, got {axis!r}.")
        attrs = {"axis": axes[0], "output_type": _dtypes.as_dtype(output_type)}
        return g.create_op(op_type, [x], attrs, name=scope).outputs[0]


def argmax(input: Any, axis: Any = None, name: str | None = None, dimension: Any = None,
           output_type: Any = _dtypes.int64) -> Tensor:
    """Index of the largest entry along ``axis`` (0 when None, as in TF1)."""
    return _arg_front("ArgMax", input, axis, name, dimension, output_type)


def argmin(input: Any, axis: Any = None, name: str | None = None, dimension: Any = None,
           output_type: Any = _dtypes.int64) -> Tensor:
    """Index of the smallest entry along ``axis`` (0 when None, as in TF1)."""
    return _arg_front("ArgMin", input, axis, name, dimension, output_type)


# ---------------------------------------------------------------------------------------------
# Scans: cumsum / cumprod
# ---------------------------------------------------------------------------------------------
class _Scan(OpDef):
    """Running sum or product along ``axis``; ``exclusive`` shifts in the identity, ``reverse``
    scans from the end."""

    fn = ""
    identity = 0

    def infer(self, op):
        (x,) = op.inputs
        check_kind(self.type, x, NUMERIC)
        return [(x.dtype, x._dims)]

    def kernel(self, op, rt):
        xp = rt.xp
        fn = getattr(xp, self.fn)
        axis, exclusive, reverse = op.attrs["axis"], op.attrs["exclusive"], op.attrs["reverse"]
        dt = op.outputs[0].dtype.np
        identity = self.identity

        def scan(x):
            ax = axis % x.ndim
            if reverse:
                x = xp.flip(x, ax)
            out = fn(x, axis=ax, dtype=dt)
            if exclusive:
                shifted = xp.empty_like(out)
                head = [slice(None)] * out.ndim
                body = list(head)
                src = list(head)
                head[ax], body[ax], src[ax] = slice(0, 1), slice(1, None), slice(0, -1)
                shifted[tuple(head)] = identity
                shifted[tuple(body)] = out[tuple(src)]
                out = shifted
            if reverse:
                out = xp.flip(out, ax)
            return out

        return scan


@register_op
class Cumsum(_Scan):
    fn = "cumsum"
    identity = 0

    def gradient(self, op, g):
        a = op.attrs
        return [cumsum(g, a["axis"], exclusive=a["exclusive"], reverse=not a["reverse"])]


@register_op
class Cumprod(_Scan):
    fn = "cumprod"
    identity = 1

    def gradient(self, op, g):
        # As TF1: divides by x, so entries that are exactly 0 get no finite gradient.
        x = op.inputs[0]
        a = op.attrs
        prod_ = cumprod(x, a["axis"], exclusive=a["exclusive"], reverse=a["reverse"])
        out = cumsum(multiply(prod_, g), a["axis"], exclusive=a["exclusive"], reverse=not a["reverse"])
        return [divide(out, x)]


def _scan_front(op_type: str, x: Any, axis: Any, exclusive: bool, reverse: bool, name: str | None) -> Tensor:
    g = get_default_graph()
    with g.name_scope(name or op_type) as scope:
        xt = convert_to_tensor(x, name="x")
        axes = normalize_axes(axis, xt.shape.ndims, op_type)
        if axes is None or len(axes) != 1:
            raise ValueError(f"{op_type} takes one axis, got {axis!r}.")
        attrs = {"axis": axes[0], "exclusive": bool(exclusive), "reverse": bool(reverse)}
        return g.create_op(op_type, [xt], attrs, name=scope).outputs[0]


def cumsum(x: Any, axis: Any = 0, exclusive: bool = False, reverse: bool = False, name: str | None = None) -> Tensor:
    """Running sum along ``axis``: ``[a, b, c] -> [a, a+b, a+b+c]`` (``exclusive``: ``[0, a, a+b]``)."""
    return _scan_front("Cumsum", x, axis, exclusive, reverse, name)


def cumprod(x: Any, axis: Any = 0, exclusive: bool = False, reverse: bool = False, name: str | None = None) -> Tensor:
    """Running product along ``axis`` (``exclusive``: ``[1, a, a*b]``)."""
    return _scan_front("Cumprod", x, axis, exclusive, reverse, name)


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
install_operator("floordiv", floordiv, "floordiv")
install_operator("mod", floormod, "mod")
install_operator("pow", pow, "pow")
install_operator("matmul", functools.partial(matmul), "matmul")
install_operator("and", logical_and, "and")
install_operator("or", logical_or, "or")
install_operator("xor", logical_xor, "xor")
Tensor.__neg__ = lambda self: negative(self, name="Neg")  # type: ignore[attr-defined]
Tensor.__abs__ = lambda self: abs(self)  # type: ignore[attr-defined]
Tensor.__invert__ = lambda self: logical_not(self)  # type: ignore[attr-defined]
# Ordering comparisons build ops; == and != stay Python identity, as in TF1 graph mode.
Tensor.__lt__ = lambda self, other: less(self, other)  # type: ignore[attr-defined]
Tensor.__le__ = lambda self, other: less_equal(self, other)  # type: ignore[attr-defined]
Tensor.__gt__ = lambda self, other: greater(self, other)  # type: ignore[attr-defined]
Tensor.__ge__ = lambda self, other: greater_equal(self, other)  # type: ignore[attr-defined]


# Public names re-exported as ``tf.<name>``; extend when adding an op function.
__all__ = [
    "abs",
    "acos",
    "add",
    "add_n",
    "argmax",
    "argmin",
    "asin",
    "atan",
    "cast",
    "ceil",
    "clip_by_value",
    "cos",
    "cosh",
    "count_nonzero",
    "cumprod",
    "cumsum",
    "div",
    "div_no_nan",
    "divide",
    "equal",
    "exp",
    "expm1",
    "floor",
    "floordiv",
    "floormod",
    "greater",
    "greater_equal",
    "is_finite",
    "is_inf",
    "is_nan",
    "less",
    "less_equal",
    "log",
    "log1p",
    "log_sigmoid",
    "logical_and",
    "logical_not",
    "logical_or",
    "logical_xor",
    "matmul",
    "maximum",
    "minimum",
    "mod",
    "multiply",
    "negative",
    "not_equal",
    "ones_like",
    "pow",
    "realdiv",
    "reciprocal",
    "reduce_all",
    "reduce_any",
    "reduce_logsumexp",
    "reduce_max",
    "reduce_mean",
    "reduce_min",
    "reduce_prod",
    "reduce_sum",
    "rint",
    "round",
    "rsqrt",
    "scalar_mul",
    "sigmoid",
    "sign",
    "sin",
    "sinh",
    "sqrt",
    "square",
    "squared_difference",
    "subtract",
    "tan",
    "tanh",
    "tensordot",
    "to_double",
    "to_float",
    "to_int32",
    "to_int64",
    "truediv",
    "truncatediv",
    "truncatemod",
    "where",
    "where_v2",
    "zeros_like",
]
