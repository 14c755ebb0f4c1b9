"""Neural-network ops: activations, softmax, cross-entropies, bias_add, batch norm, dropout, losses.

Fused ops (softmax cross-entropy, bias_add, fused batch norm) keep TF1's op types and outputs so
their gradients are a few graph ops (e.g. ``backprop = softmax - labels``), not a chain of
element-wise ops. Activation gradients are their own ops (``ReluGrad``...) whose gradients are
registered too, so second-order derivatives work.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from flowgraph import dtypes as _dtypes
from flowgraph.errors import InvalidArgumentError
from flowgraph.graph import Tensor, convert_to_tensor, get_default_graph
from flowgraph.ops import array as _array_ops
from flowgraph.ops import batch_minor
from flowgraph.ops import math as _math_ops
from flowgraph.ops.array import reshape, shape, stop_gradient
from flowgraph.ops.math import (
    add,
    cast,
    matmul,
    multiply,
    negative,
    reduce_mean,
    reduce_sum,
    subtract,
    zeros_like,
)
from flowgraph.ops.op_helpers import check_same_dtype, describe, make_op
from flowgraph.ops.random import random_uniform
from flowgraph.registry import NotDifferentiable, OpDef, register_op
from flowgraph.runtime import batch_split, intra_op
from flowgraph.shapes import TensorShape

_SELU_SCALE = 1.0507009873554804934193349852946
_SELU_ALPHA = 1.6732632423543772848170429916717


def _merge_dims(op_type: str, a: Tensor, b: Tensor) -> tuple | None:
    """The merged static shape of two same-shaped operands; the error names both."""
    try:
        return a.shape.merge_with(b.shape).as_tuple()
    except ValueError:
        raise ValueError(f"{op_type} needs operands of the same shape: {describe(a)} vs {describe(b)}.") from None


def _require_float(op_type: str, x: Tensor) -> None:
    if not x.dtype.is_floating:
        raise TypeError(f"{op_type} needs a floating-point input; {describe(x)} is {x.dtype.name}.")


def _require_real(op_type: str, x: Tensor) -> None:
    if not (x.dtype.is_floating or x.dtype.is_integer):
        raise TypeError(f"{op_type} needs a numeric input; {describe(x)} is {x.dtype.name}.")


# ---------------------------------------------------------------------------------------------
# Element-wise activations and their gradient ops
# ---------------------------------------------------------------------------------------------
class _Activation(OpDef):
    """``y = f(x)`` element-wise; ``floats_only`` for the smooth ones."""

    batch_rule = "elementwise"

    floats_only = True

    def infer(self, op):
        x = op.inputs[0]
        (_require_float if self.floats_only else _require_real)(self.type, x)
        return [(x.dtype, x._dims)]


class _ActivationGrad(OpDef):
    """``(gradients, features-or-outputs) -> backprops``, element-wise."""

    batch_rule = "elementwise"

    def infer(self, op):
        g, x = op.inputs[0], op.inputs[1]
        check_same_dtype(self.type, g, x)
        return [(g.dtype, _merge_dims(self.type, g, x))]


def _activation(op_type: str, features: Any, name: str | None, attrs: dict | None = None) -> Tensor:
    x = convert_to_tensor(features, name="features")
    return make_op(op_type, [x], attrs, name=name, default=op_type)


def _where_negative(v: Tensor, y: Tensor) -> Tensor:
    """``v`` where ``y < 0``, else 0 (the second derivative of the exponential branch of elu/selu)."""
    return _math_ops.where(_math_ops.less(y, 0.0), v, zeros_like(v))


def _relu_grad(g: Tensor, x: Tensor) -> Tensor:
    return make_op("ReluGrad", [g, x])


@register_op
class Relu(_Activation):
    floats_only = False

    splits = True
    fresh_output = True
    donatable = 0

    def donating_kernel(self, op, rt):
        if rt.xp is not np:
            return None

        def relu_in_place(x):
            if type(x) is np.ndarray and x.flags.writeable:
                return np.maximum(x, 0, out=x)
            return np.maximum(x, 0)

        return relu_in_place

    def kernel(self, op, rt):
        xp, intra = rt.xp, intra_op.of(rt)
        if xp is not np or intra.threads == 1:
            return lambda x: xp.maximum(x, 0)

        def relu(x):
            if intra.ways(x.size * intra_op.ELEMENT_WORK) == 1:
                return np.maximum(x, 0)
            return intra_op.elementwise(intra, lambda o, a: np.maximum(a, 0, out=o), np.empty_like(x), x)

        return relu

    def gradient(self, op, g):
        return [_relu_grad(g, op.outputs[0])]


@register_op
class ReluGrad(_ActivationGrad):
    splits = True
    fresh_output = True
    donatable = 0  # the incoming gradient, when only this op reads it

    def donating_kernel(self, op, rt):
        if rt.xp is not np:
            return None

        def relu_grad_in_place(g, x):
            if type(g) is np.ndarray and g.flags.writeable and g.shape == x.shape and g.dtype.kind == "f":
                return np.multiply(g, x > 0, out=g)
            return g * (x > 0)

        return relu_grad_in_place

    def folded_into(self, op, producer):
        # ReluGrad(MaxPoolGrad(x, y, g), x) routes g to each window's first maximum p, where
        # x[p] == y, so the mask x[p] > 0 is y > 0: applied to g on the pooled grid (a quarter of
        # the elements for 2x2 windows), exactly the same numbers.
        if producer.type != "MaxPoolGrad" or producer.inputs[0] is not op.inputs[1]:
            return None

        def masked_before(pool_grad):
            return lambda x, y, g: pool_grad(x, y, g * (y > 0))

        return masked_before

    def kernel(self, op, rt):
        intra = intra_op.of(rt)
        if rt.xp is not np or intra.threads == 1:
            return lambda g, x: g * (x > 0)

        def relu_grad(g, x):
            if g.shape != x.shape or intra.ways(g.size * intra_op.ELEMENT_WORK) == 1:
                return g * (x > 0)
            out = np.empty_like(g, dtype=np.result_type(g.dtype, np.bool_))
            return intra_op.elementwise(intra, lambda o, gg, xx: np.multiply(gg, xx > 0, out=o), out, g, x)

        return relu_grad

    def gradient(self, op, gg):
        x = op.inputs[1]
        return [_relu_grad(gg, x), zeros_like(x)]


@register_op
class Relu6(_Activation):
    floats_only = False

    def kernel(self, op, rt):
        xp = rt.xp
        return lambda x: xp.clip(x, 0, 6)

    def gradient(self, op, g):
        return [make_op("Relu6Grad", [g, op.outputs[0]])]


@register_op
class Relu6Grad(_ActivationGrad):
    def kernel(self, op, rt):
        return lambda g, x: g * ((x > 0) & (x < 6))

    def gradient(self, op, gg):
        x = op.inputs[1]
        return [make_op("Relu6Grad", [gg, x]), zeros_like(x)]


@register_op
class LeakyRelu(_Activation):
    def kernel(self, op, rt):
        xp = rt.xp
        alpha = op.attrs["alpha"]
        return lambda x: xp.where(x > 0, x, x * x.dtype.type(alpha))

    def gradient(self, op, g):
        return [make_op("LeakyReluGrad", [g, op.inputs[0]], {"alpha": op.attrs["alpha"]})]


@register_op
class LeakyReluGrad(_ActivationGrad):
    def kernel(self, op, rt):
        xp = rt.xp
        alpha = op.attrs["alpha"]
        return lambda g, x: xp.where(x > 0, g, g * g.dtype.type(alpha))

    def gradient(self, op, gg):
        x = op.inputs[1]
        return [make_op("LeakyReluGrad", [gg, x], {"alpha": op.attrs["alpha"]}), zeros_like(x)]


@register_op
class Elu(_Activation):
    def kernel(self, op, rt):
        xp = rt.xp
        return lambda x: xp.where(x < 0, xp.expm1(xp.minimum(x, 0)), x)

    def gradient(self, op, g):
        return [make_op("EluGrad", [g, op.outputs[0]])]


@register_op
class EluGrad(_ActivationGrad):
    """``g * (y + 1)`` where ``y < 0``, else ``g`` (``y`` is Elu's output)."""

    def kernel(self, op, rt):
        xp = rt.xp
        return lambda g, y: xp.where(y < 0, g * (y + 1), g)

    def gradient(self, op, gg):
        dy, y = op.inputs
        return [make_op("EluGrad", [gg, y]), _where_negative(multiply(gg, dy), y)]


@register_op
class Selu(_Activation):
    def kernel(self, op, rt):
        xp = rt.xp

        def selu(x):
            s, a = x.dtype.type(_SELU_SCALE), x.dtype.type(_SELU_SCALE * _SELU_ALPHA)
            return xp.where(x < 0, a * xp.expm1(xp.minimum(x, 0)), s * x)

        return selu

    def gradient(self, op, g):
        return [make_op("SeluGrad", [g, op.outputs[0]])]


@register_op
class SeluGrad(_ActivationGrad):
    """``g * (y + scale * alpha)`` where ``y < 0``, else ``g * scale``."""

    def kernel(self, op, rt):
        xp = rt.xp

        def selu_grad(g, y):
            s, a = y.dtype.type(_SELU_SCALE), y.dtype.type(_SELU_SCALE * _SELU_ALPHA)
            return xp.where(y < 0, g * (y + a), g * s)

        return selu_grad

    def gradient(self, op, gg):
        dy, y = op.inputs
        return [make_op("SeluGrad", [gg, y]), _where_negative(multiply(gg, dy), y)]


def _stable_sigmoid(xp: Any, x: Any) -> Any:
    """1 / (1 + exp(-x)) without overflow: exp is only taken of non-positive numbers."""
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


@register_op
class Softplus(_Activation):
    def kernel(self, op, rt):
        xp = rt.xp
        return lambda x: xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))

    def gradient(self, op, g):
        return [make_op("SoftplusGrad", [g, op.inputs[0]])]


@register_op
class SoftplusGrad(_ActivationGrad):
    """``g * sigmoid(x)``."""

    def kernel(self, op, rt):
        xp = rt.xp
        return lambda g, x: g * _stable_sigmoid(xp, x)

    def gradient(self, op, gg):
        dy, x = op.inputs
        # d/dx sigmoid(x) = sigmoid(x) * sigmoid(-x): two SoftplusGrads, stable for any x.
        d2x = make_op("SoftplusGrad", [make_op("SoftplusGrad", [multiply(gg, dy), x]), negative(x)])
        return [make_op("SoftplusGrad", [gg, x]), d2x]


@register_op
class Softsign(_Activation):
    def kernel(self, op, rt):
        xp = rt.xp
        return lambda x: x / (1 + xp.abs(x))

    def gradient(self, op, g):
        return [make_op("SoftsignGrad", [g, op.inputs[0]])]


@register_op
class SoftsignGrad(_ActivationGrad):
    """``g / (1 + |x|)**2``."""

    def kernel(self, op, rt):
        xp = rt.xp

        def softsign_grad(g, x):
            d = 1 + xp.abs(x)
            return g / (d * d)

        return softsign_grad

    def gradient(self, op, gg):
        dy, x = op.inputs
        # d/dx (1 + |x|)**-2 = -2 sign(x) (1 + |x|)**-3 = -2 SoftsignGrad(1, x) * (sign(x) - softsign(x))
        t = make_op("SoftsignGrad", [multiply(gg, dy), x])
        sgn = _math_ops.sign(x)
        d2x = multiply(multiply(t, subtract(sgn, make_op("Softsign", [x]))), -2.0)
        return [make_op("SoftsignGrad", [gg, x]), d2x]


def relu(features: Any, name: str | None = None) -> Tensor:
    """``tf.nn.relu``: max(features, 0)."""
    return _activation("Relu", features, name)


def relu6(features: Any, name: str | None = None) -> Tensor:
    """``tf.nn.relu6``: min(max(features, 0), 6)."""
    g = get_default_graph()
    with g.name_scope(name or "Relu6") as scope:
        x = convert_to_tensor(features, name="features")
        return make_op("Relu6", [x], name=scope)


def leaky_relu(features: Any, alpha: float = 0.2, name: str | None = None) -> Tensor:
    """``tf.nn.leaky_relu``: features where positive, alpha * features elsewhere (ints become float32)."""
    g = get_default_graph()
    with g.name_scope(name or "LeakyRelu") as scope:
        x = convert_to_tensor(features, name="features")
        if x.dtype.is_integer:
            x = cast(x, _dtypes.float32)
        if isinstance(alpha, np.ndarray):
            alpha = alpha.item()
        return make_op("LeakyRelu", [x], {"alpha": float(alpha)}, name=scope)


def elu(features: Any, name: str | None = None) -> Tensor:
    """``tf.nn.elu``: exp(x) - 1 where x < 0, else x."""
    return _activation("Elu", features, name)


def selu(features: Any, name: str | None = None) -> Tensor:
    """``tf.nn.selu``: scale * elu with alpha (Klambauer et al. 2017)."""
    return _activation("Selu", features, name)


def softplus(features: Any, name: str | None = None) -> Tensor:
    """``tf.nn.softplus``: log(exp(x) + 1), computed without overflow."""
    return _activation("Softplus", features, name)


def softsign(features: Any, name: str | None = None) -> Tensor:
    """``tf.nn.softsign``: x / (|x| + 1)."""
    return _activation("Softsign", features, name)


# ---------------------------------------------------------------------------------------------
# Softmax and log-softmax (log-sum-exp; one axis, the last by default)
# ---------------------------------------------------------------------------------------------
def _per_row(op: Any, kinds: tuple, data: tuple = (0,)) -> Any:
    """Ops normalising along ``attrs["axis"]``: per example unless that axis is the batch."""
    axis, rank = op.attrs.get("axis", -1), batch_split.rank(op.inputs[0])
    if rank is None or axis % rank == 0:
        return None
    return batch_split.rowwise(op, kinds, data)


class _SoftmaxBase(OpDef):
    def batch_split(self, op, kinds):
        return _per_row(op, kinds)

    def infer(self, op):
        (x,) = op.inputs
        _require_float(self.type, x)
        if x._dims is not None and len(x._dims) < 1:
            raise ValueError(f"{self.type}: logits must have >= 1 dimension, got {describe(x)}.")
        return [(x.dtype, x._dims)]


def _softmax_kernel(xp: Any, axis: int, log: bool):
    def softmax(x):
        if x.size == 0:
            return xp.empty_like(x)
        s = x - x.max(axis=axis, keepdims=True)
        if log:
            return s - xp.log(xp.exp(s).sum(axis=axis, keepdims=True))
        xp.exp(s, out=s)
        s /= s.sum(axis=axis, keepdims=True)
        return s

    return softmax


@register_op
class Softmax(_SoftmaxBase):
    def kernel(self, op, rt):
        return _softmax_kernel(rt.xp, op.attrs.get("axis", -1), log=False)

    def gradient(self, op, g):
        y, axis = op.outputs[0], op.attrs.get("axis", -1)
        return [multiply(subtract(g, reduce_sum(multiply(g, y), axis, keepdims=True)), y)]


@register_op
class LogSoftmax(_SoftmaxBase):
    def kernel(self, op, rt):
        return _softmax_kernel(rt.xp, op.attrs.get("axis", -1), log=True)

    def gradient(self, op, g):
        axis = op.attrs.get("axis", -1)
        return [subtract(g, multiply(reduce_sum(g, axis, keepdims=True), _math_ops.exp(op.outputs[0])))]


def _softmax_op(x: Tensor, axis: int, log: bool = False, name: str | None = None) -> Tensor:
    op_type = "LogSoftmax" if log else "Softmax"
    attrs = {} if axis == -1 else {"axis": axis}
    return make_op(op_type, [x], attrs, name=name, default=op_type)


def _softmax_axis(x: Tensor, axis: Any, dim: Any, fn: str) -> int:
    """The softmax axis as a non-negative int, or -1 for the last axis (the op's default)."""
    if dim is not None:
        if axis is not None:
            raise ValueError(f"{fn}: cannot specify both 'axis' and 'dim'.")
        axis = dim
    if axis is None:
        return -1
    a, rank = int(axis), x.shape.ndims
    if rank is None:
        return a
    if not -rank <= a < rank:
        raise InvalidArgumentError(
            None, None,
            f"Dimension ({a}) must be in the range [{-rank}, {rank}) where {rank} is the number of dimensions in "
            f"the input ({fn} of {describe(x)}).",
        )
    a %= rank
    return -1 if a == rank - 1 else a


def softmax(logits: Any, axis: int | None = None, name: str | None = None, dim: int | None = None) -> Tensor:
    """``tf.nn.softmax``: exp(logits) / sum(exp(logits), axis), computed via log-sum-exp."""
    x = convert_to_tensor(logits, name="logits")
    return _softmax_op(x, _softmax_axis(x, axis, dim, "softmax"), name=name)


def log_softmax(logits: Any, axis: int | None = None, name: str | None = None, dim: int | None = None) -> Tensor:
    """``tf.nn.log_softmax``: logits - log(sum(exp(logits), axis))."""
    x = convert_to_tensor(logits, name="logits")
    return _softmax_op(x, _softmax_axis(x, axis, dim, "log_softmax"), log=True, name=name)


# ---------------------------------------------------------------------------------------------
# Cross-entropies
# ---------------------------------------------------------------------------------------------
def _keep_axis(g: Tensor, like: Tensor, axis: int) -> Tensor:
    """``g`` (``like`` reduced over ``axis``) reshaped with that axis kept as size 1, to broadcast."""
    dims = like._dims
    if dims is not None and None not in dims:
        target = list(dims)
        target[axis] = 1
        return reshape(g, target)
    return reshape(g, make_op("ReducedShape", [shape(like)], {"axis": (axis,)}))


def _softmax_second_order(grad_grad: Tensor | None, logits: Tensor, axis: int) -> Tensor | None:
    """The part of a fused xent gradient that flows back through its ``backprop`` output."""
    if grad_grad is None or grad_grad.op.type == "ZerosLike":
        return None
    sm = _softmax_op(logits, axis)
    return multiply(subtract(grad_grad, reduce_sum(multiply(grad_grad, sm), axis, keepdims=True)), sm)


@register_op
class SoftmaxCrossEntropyWithLogits(OpDef):
    """Outputs ``loss = -sum(labels * log_softmax(features))`` and ``backprop = softmax - labels``."""

    def batch_split(self, op, kinds):
        return _per_row(op, kinds, (0, 1))

    def infer(self, op):
        x, z = op.inputs
        _require_float(self.type, x)
        check_same_dtype(self.type, x, z)
        dims = _merge_dims(self.type, x, z)
        if dims is not None and len(dims) < 1:
            raise ValueError(f"{self.type}: logits must have >= 1 dimension, got {describe(x)}.")
        axis = op.attrs.get("axis", -1)
        loss = None if dims is None else tuple(d for i, d in enumerate(dims) if i != axis % len(dims))
        return [(x.dtype, loss), (x.dtype, dims)]

    def kernel(self, op, rt):
        xp = rt.xp
        axis = op.attrs.get("axis", -1)

        def xent(x, z):
            s = x - x.max(axis=axis, keepdims=True)
            e = xp.exp(s)
            se = e.sum(axis=axis, keepdims=True)
            s -= xp.log(se)
            loss = -(z * s).sum(axis=axis)
            e /= se
            e -= z
            return loss, e

        return xent

    def gradient(self, op, grad_loss, grad_grad):
        x, axis = op.inputs[0], op.attrs.get("axis", -1)
        gl = _keep_axis(grad_loss, x, axis)
        dx = multiply(gl, op.outputs[1])
        dz = multiply(gl, negative(_softmax_op(x, axis, log=True)))
        extra = _softmax_second_order(grad_grad, x, axis)
        if extra is not None:
            dx = add(dx, extra)
            dz = subtract(dz, grad_grad)
        return [dx, dz]


@register_op
class SparseSoftmaxCrossEntropyWithLogits(OpDef):
    """Like the dense op with one-hot labels given as class ids (out-of-range ids fail the run)."""

    def batch_split(self, op, kinds):
        return batch_split.rowwise(op, kinds, (0, 1))

    def infer(self, op):
        x, lab = op.inputs
        _require_float(self.type, x)
        if lab.dtype not in (_dtypes.int32, _dtypes.int64):
            raise TypeError(f"{self.type}: labels must be int32 or int64, got {describe(lab)}.")
        ld = None if x._dims is None else x._dims[:-1]
        try:
            ld = TensorShape(ld).merge_with(lab.shape).as_tuple()
        except ValueError:
            raise ValueError(
                f"Shape mismatch: The shape of labels (received {lab.shape}) should equal the shape of logits "
                f"except for the last dimension (received {x.shape})."
            ) from None
        full = None if ld is None else ld + ((None,) if x._dims is None else (x._dims[-1],))
        return [(x.dtype, ld), (x.dtype, full)]

    def kernel(self, op, rt):
        xp = rt.xp

        def sparse_xent(x, lab):
            c = x.shape[-1]
            if x.ndim == 2 and xp is np and lab.ndim == 1 and lab.size == x.shape[0]:
                return xent_rows(x, lab, c)
            check_labels(lab, c)
            s = x - x.max(axis=-1, keepdims=True)
            e = xp.exp(s)
            se = e.sum(axis=-1, keepdims=True)
            idx = lab.astype(xp.intp)[..., None]
            loss = (xp.log(se) - xp.take_along_axis(s, idx, axis=-1))[..., 0]
            e /= se
            flat = e.reshape(-1, c)
            flat[xp.arange(flat.shape[0]), idx.ravel()] -= 1
            return loss, e

        def xent_rows(x, lab, c):
            """The common (batch, classes) case with fewer temporaries: fancy indexing by rows."""
            lo, hi = (int(lab.min()), int(lab.max())) if lab.size else (0, 0)
            if lo < 0 or hi >= c:
                check_labels(lab, c)
            rows = np.arange(x.shape[0])
            s = x - x.max(axis=1, keepdims=True)
            e = np.exp(s)
            se = e.sum(axis=1)
            loss = np.log(se)
            loss -= s[rows, lab]
            e /= se[:, None]
            e[rows, lab] -= 1
            return loss, e

        def check_labels(lab, c):
            if lab.size and (int(lab.min()) < 0 or int(lab.max()) >= c):
                bad = int(lab.min()) if int(lab.min()) < 0 else int(lab.max())
                raise InvalidArgumentError(
                    None, op,
                    f"Received a label value of {bad} which is outside the valid range of [0, {c}).  Label values: "
                    f"{' '.join(str(int(v)) for v in lab.ravel()[:32])}"
                    f"\n\t [[node {op.name} (defined at {op.location}) ]]",
                )

        return sparse_xent

    def gradient(self, op, grad_loss, grad_grad):
        x = op.inputs[0]
        dx = multiply(_keep_axis(grad_loss, x, -1 if x._dims is None else len(x._dims) - 1), op.outputs[1])
        extra = _softmax_second_order(grad_grad, x, -1)
        return [dx if extra is None else add(dx, extra), None]


def _ensure_xent_args(fn: str, sentinel: Any, labels: Any, logits: Any) -> None:
    if sentinel is not None:
        raise ValueError(f"Only call `{fn}` with named arguments (labels=..., logits=..., ...)")
    if labels is None or logits is None:
        raise ValueError("Both labels and logits must be provided.")


def softmax_cross_entropy_with_logits_v2(labels: Any, logits: Any, axis: int | None = None, name: str | None = None,
                                         dim: int | None = None) -> Tensor:
    """``tf.nn.softmax_cross_entropy_with_logits_v2``: per-example cross-entropy; labels get gradients."""
    g = get_default_graph()
    with g.name_scope(name or "softmax_cross_entropy_with_logits") as scope:
        x = convert_to_tensor(logits, name="logits")
        z = convert_to_tensor(labels, name="labels")
        _require_float("softmax_cross_entropy_with_logits", x)
        half = x.dtype is _dtypes.float16
        px = cast(x, _dtypes.float32) if half else x
        z = cast(z, px.dtype)
        ax = _softmax_axis(px, axis, dim, "softmax_cross_entropy_with_logits")
        attrs = {} if ax == -1 else {"axis": ax}
        cost = make_op("SoftmaxCrossEntropyWithLogits", [px, z], attrs, name=scope)[0]
        return cast(cost, _dtypes.float16) if half else cost


def softmax_cross_entropy_with_logits(_sentinel: Any = None, labels: Any = None, logits: Any = None, dim: int = -1,
                                      name: str | None = None, axis: int | None = None) -> Tensor:
    """``tf.nn.softmax_cross_entropy_with_logits`` (v1): like _v2, but no gradient flows into labels."""
    _ensure_xent_args("softmax_cross_entropy_with_logits", _sentinel, labels, logits)
    g = get_default_graph()
    with g.name_scope(name or "softmax_cross_entropy_with_logits_sg") as scope:
        labels = stop_gradient(labels, name="labels_stop_gradient")
    return softmax_cross_entropy_with_logits_v2(labels=labels, logits=logits, axis=axis if axis is not None else dim,
                                                name=scope)


def sparse_softmax_cross_entropy_with_logits(_sentinel: Any = None, labels: Any = None, logits: Any = None,
                                             name: str | None = None) -> Tensor:
    """``tf.nn.sparse_softmax_cross_entropy_with_logits``: labels are class ids in [0, num_classes)."""
    _ensure_xent_args("sparse_softmax_cross_entropy_with_logits", _sentinel, labels, logits)
    g = get_default_graph()
    with g.name_scope(name or "SparseSoftmaxCrossEntropyWithLogits"):
        lab = convert_to_tensor(labels)
        x = convert_to_tensor(logits)
        rx, rl = x.shape.ndims, lab.shape.ndims
        if rx == 0:
            raise ValueError(f"Logits cannot be scalars - received shape {x.shape}.")
        if rx is not None and rl is not None and rl != rx - 1:
            raise ValueError(
                f"Rank mismatch: Rank of labels (received {rl}) should equal rank of logits minus 1 (received {rx})."
            )
        half = x.dtype is _dtypes.float16
        px = cast(x, _dtypes.float32) if half else x
        op_type = "SparseSoftmaxCrossEntropyWithLogits"
        cost = make_op(op_type, [px, lab], name=name or op_type)[0]
        return cast(cost, _dtypes.float16) if half else cost


def sigmoid_cross_entropy_with_logits(_sentinel: Any = None, labels: Any = None, logits: Any = None,
                                      name: str | None = None) -> Tensor:
    """``tf.nn.sigmoid_cross_entropy_with_logits``: max(x, 0) - x * z + log(1 + exp(-|x|))."""
    _ensure_xent_args("sigmoid_cross_entropy_with_logits", _sentinel, labels, logits)
    g = get_default_graph()
    with g.name_scope(name or "logistic_loss") as scope:
        x = convert_to_tensor(logits, name="logits")
        z = convert_to_tensor(labels, name="labels")
        _check_same_shape(x, z)
        zeros = zeros_like(x)
        cond = _math_ops.greater_equal(x, zeros)
        relu_logits = _math_ops.where(cond, x, zeros)
        neg_abs_logits = _math_ops.where(cond, negative(x), x)
        return add(subtract(relu_logits, multiply(x, z)), _math_ops.log1p(_math_ops.exp(neg_abs_logits)), name=scope)


def weighted_cross_entropy_with_logits(labels: Any = None, logits: Any = None, pos_weight: Any = None,
                                       name: str | None = None, targets: Any = None) -> Tensor:
    """``tf.nn.weighted_cross_entropy_with_logits``: sigmoid cross-entropy with positives weighted."""
    if targets is not None:
        if labels is not None:
            raise ValueError("Cannot specify both 'labels' and 'targets'.")
        labels = targets
    g = get_default_graph()
    with g.name_scope(name or "logistic_loss") as scope:
        x = convert_to_tensor(logits, name="logits")
        z = convert_to_tensor(labels, name="labels")
        _check_same_shape(x, z)
        # (1 - z) * x + (1 + (q - 1) * z) * (log(1 + exp(-|x|)) + max(-x, 0)); Python operators so a
        # numeric pos_weight takes the labels' dtype.
        log_weight = 1 + (pos_weight - 1) * z
        soft = add(_math_ops.log1p(_math_ops.exp(negative(_math_ops.abs(x)))), relu(negative(x)))
        return add((1 - z) * x, log_weight * soft, name=scope)


def _check_same_shape(x: Tensor, z: Tensor) -> None:
    if not x.shape.is_compatible_with(z.shape):
        raise ValueError(f"logits and labels must have the same shape ({x.shape} vs {z.shape})")


# ---------------------------------------------------------------------------------------------
# bias_add
# ---------------------------------------------------------------------------------------------
def _channel_axis(data_format: str, rank: int | None) -> int:
    return 1 if data_format == "NCHW" else (-1 if rank is None else rank - 1)


@register_op
class BiasAdd(OpDef):
    """``value + bias`` along the channel axis (last for NHWC, 1 for NCHW)."""

    batch_rule = "rows"

    splits = True
    fresh_output = True
    donatable = 0

    def infer(self, op):
        x, b = op.inputs
        check_same_dtype("BiasAdd", x, b)
        _require_real("BiasAdd", x)
        fmt = op.attrs["data_format"]
        if x._dims is not None and len(x._dims) < 2:
            raise ValueError(f"BiasAdd: value must be at least rank 2, got {describe(x)}.")
        if b._dims is not None and len(b._dims) != 1:
            raise ValueError(f"BiasAdd: bias must be rank 1, got {describe(b)}.")
        if x._dims is None:
            return [(x.dtype, None)]
        dims = list(x._dims)
        c = _channel_axis(fmt, len(dims))
        bc = None if b._dims is None else b._dims[0]
        if dims[c] is not None and bc is not None and dims[c] != bc:
            raise ValueError(
                f"BiasAdd: dimension {c} of value {describe(x)} must match the size of bias {describe(b)} "
                f"({dims[c]} vs {bc}; data_format {fmt})."
            )
        dims[c] = dims[c] if dims[c] is not None else bc
        return [(x.dtype, tuple(dims))]

    def donating_kernel(self, op, rt):
        if rt.xp is not np:
            return None
        nchw = op.attrs["data_format"] == "NCHW"

        def bias_add_in_place(x, b):
            bb = b.reshape((-1,) + (1,) * (x.ndim - 2)) if nchw else b
            if type(x) is np.ndarray and x.flags.writeable and x.dtype == b.dtype:
                return np.add(x, bb, out=x)
            return x + bb

        return bias_add_in_place

    def kernel(self, op, rt):
        if op.attrs["data_format"] == "NCHW":
            return lambda x, b: x + b.reshape((-1,) + (1,) * (x.ndim - 2))
        intra = intra_op.of(rt)
        if rt.xp is not np or intra.threads == 1:
            return lambda x, b: x + b

        def bias_add(x, b):
            if intra.ways(x.size * intra_op.ELEMENT_WORK) == 1:
                return x + b
            out = np.empty_like(x, dtype=np.result_type(x, b))
            # b as a read-only view of x's shape, so a slab of channels (batch-minor) takes its part of b
            return intra_op.elementwise(intra, lambda o, xx, bb: np.add(xx, bb, out=o), out, x, np.broadcast_to(b, x.shape))

        return bias_add

    def gradient(self, op, g):
        return [g, make_op("BiasAddGrad", [g], {"data_format": op.attrs["data_format"]})]


@register_op
class BiasAddGrad(OpDef):
    """Sums ``out_backprop`` over every axis but the channel one, as one GEMM with a ones vector."""

    def batch_split(self, op, kinds):
        return batch_split.rowwise(op, kinds, out=batch_split.P)

    fresh_output = True

    def infer(self, op):
        (g,) = op.inputs
        if g._dims is not None and len(g._dims) < 2:
            raise ValueError(f"BiasAddGrad: input must be at least rank 2, got {describe(g)}.")
        c = None if g._dims is None else g._dims[_channel_axis(op.attrs["data_format"], len(g._dims))]
        return [(g.dtype, (c,))]

    def kernel(self, op, rt):
        xp = rt.xp
        nchw = op.attrs["data_format"] == "NCHW"

        def bias_add_grad(g):
            ones = xp.ones
            if nchw:
                n, c = g.shape[0], g.shape[1]
                g3 = g.reshape(n, c, -1)
                return xp.matmul(ones(n, g.dtype), xp.matmul(g3, ones(g3.shape[2], g.dtype)))
            if xp is np and batch_minor.is_batch_minor(g):
                return batch_minor.bias_add_grad(xp, g)
            g2 = g.reshape(-1, g.shape[-1])
            return xp.matmul(ones(g2.shape[0], g.dtype), g2)

        return bias_add_grad

    def gradient(self, op, gg):
        # BiasAddGrad is linear; its adjoint spreads the channel vector over the input's shape.
        g = op.inputs[0]
        return [make_op("BiasAdd", [zeros_like(g), gg], {"data_format": op.attrs["data_format"]})]


def _bias_format(data_format: str | None) -> str:
    if data_format is None:
        return "NHWC"
    if data_format.startswith("NC"):
        return "NCHW"
    if data_format.startswith("N") and data_format.endswith("C"):
        return "NHWC"
    raise ValueError("data_format must be of the form `N...C` or `NC...`")


def bias_add(value: Any, bias: Any, data_format: str | None = None, name: str | None = None) -> Tensor:
    """``tf.nn.bias_add``: adds a 1-D bias along the channel axis of ``value``."""
    fmt = _bias_format(data_format)
    g = get_default_graph()
    with g.name_scope(name or "BiasAdd") as scope:
        x = convert_to_tensor(value, name="input")
        b = convert_to_tensor(bias, dtype=x.dtype, name="bias")
        return make_op("BiasAdd", [x, b], {"data_format": fmt}, name=scope)


def xw_plus_b(x: Any, weights: Any, biases: Any, name: str | None = None) -> Tensor:
    """``tf.nn.xw_plus_b``: matmul(x, weights) + biases."""
    g = get_default_graph()
    with g.name_scope(name or "xw_plus_b") as scope:
        x = convert_to_tensor(x, name="x")
        w = convert_to_tensor(weights, name="weights")
        b = convert_to_tensor(biases, name="biases")
        return bias_add(matmul(x, w), b, name=scope)


# ---------------------------------------------------------------------------------------------
# l2_loss, in_top_k
# ---------------------------------------------------------------------------------------------
@register_op
class L2Loss(OpDef):
    """sum(t ** 2) / 2 as one BLAS dot product."""

    def infer(self, op):
        (x,) = op.inputs
        _require_float("L2Loss", x)
        return [(x.dtype, ())]

    def kernel(self, op, rt):
        xp = rt.xp

        def l2(x):
            f = x.reshape(-1)
            return xp.asarray(xp.dot(f, f) / 2, dtype=x.dtype)

        return l2

    def gradient(self, op, g):
        return [multiply(op.inputs[0], g)]


def l2_loss(t: Any, name: str | None = None) -> Tensor:
    """``tf.nn.l2_loss``: sum(t ** 2) / 2."""
    return make_op("L2Loss", [convert_to_tensor(t, name="t")], name=name, default="L2Loss")


@register_op
class InTopKV2(OpDef):
    """Whether each target's prediction is among the row's top ``k``; ties count as in."""

    def infer(self, op):
        p, t, k = op.inputs
        _require_float("InTopKV2", p)
        if t.dtype not in (_dtypes.int32, _dtypes.int64):
            raise TypeError(f"InTopKV2: targets must be int32 or int64, got {describe(t)}.")
        if p._dims is not None and len(p._dims) != 2:
            raise ValueError(f"InTopKV2: predictions must be 2-dimensional, got {describe(p)}.")
        if t._dims is not None and len(t._dims) != 1:
            raise ValueError(f"InTopKV2: targets must be 1-dimensional, got {describe(t)}.")
        if k._dims is not None and len(k._dims) != 0:
            raise ValueError(f"InTopKV2: k must be a scalar, got {describe(k)}.")
        batch = TensorShape(None if p._dims is None else p._dims[:1])
        try:
            dims = batch.merge_with(t.shape).as_tuple()
        except ValueError:
            raise ValueError(
                f"InTopKV2: first dimension of predictions {describe(p)} must match length of targets {describe(t)}."
            ) from None
        return [(_dtypes.bool, dims)]

    def kernel(self, op, rt):
        xp = rt.xp

        def in_top_k(p, t, k):
            b, c = p.shape
            if t.shape[0] != b:
                raise InvalidArgumentError(
                    None, op,
                    f"First dimension of predictions {b} must match length of targets {t.shape[0]} (op {op.name})",
                )
            valid = (t >= 0) & (t < c)
            tp = p[xp.arange(b), xp.clip(t, 0, max(c - 1, 0))] if c else xp.zeros(b, p.dtype)
            more = (p > tp[:, None]).sum(axis=1)
            ok = valid & xp.isfinite(tp) & xp.isfinite(p).all(axis=1)
            return ok & (more < int(k))

        return in_top_k


NotDifferentiable("InTopKV2")


def in_top_k(predictions: Any, targets: Any, k: Any, name: str | None = None) -> Tensor:
    """``tf.nn.in_top_k``: True where fewer than ``k`` predictions beat the target's (ties are in)."""
    g = get_default_graph()
    with g.name_scope(name or "in_top_k"):
        p = convert_to_tensor(predictions)
        t = convert_to_tensor(targets)
        kt = convert_to_tensor(k, dtype=t.dtype)
        return make_op("InTopKV2", [p, t, kt], name=name or "InTopKV2")


# ---------------------------------------------------------------------------------------------
# Batch normalization
# ---------------------------------------------------------------------------------------------
def _bn_param_dtype(x: _dtypes.DType) -> _dtypes.DType:
    return _dtypes.float32 if x is _dtypes.float16 else x


def _bn_layout(fmt: str, ndim: int) -> tuple[int, tuple[int, ...]]:
    """(channel axis, reduction axes) for a 4-D tensor in ``fmt``."""
    c = 1 if fmt == "NCHW" else ndim - 1
    return c, tuple(i for i in range(ndim) if i != c)


@register_op
class FusedBatchNormV3(OpDef):
    """Per-channel normalization; outputs y, batch_mean, batch_variance and three reserve spaces.

    Training: y uses the biased batch variance; ``batch_variance`` is Bessel-corrected (n / (n - 1))
    for the running average, as in TF1. Inference: y uses the given mean and variance.
    """

    def infer(self, op):
        x, scale, offset, mean, var = op.inputs
        if x.dtype not in (_dtypes.float16, _dtypes.float32, _dtypes.float64):
            raise TypeError(f"FusedBatchNormV3: x must be float16/32/64, got {describe(x)}.")
        u = _bn_param_dtype(x.dtype)
        for t in (scale, offset, mean, var):
            if t.dtype is not u:
                raise TypeError(f"FusedBatchNormV3: {describe(t)} must be {u.name} for x {describe(x)}.")
        if x._dims is not None and len(x._dims) != 4:
            raise ValueError(f"FusedBatchNormV3: x must be 4-dimensional, got {describe(x)}.")
        c = None if x._dims is None else x._dims[_bn_layout(op.attrs["data_format"], 4)[0]]
        checked = (scale, offset) if op.attrs["is_training"] else (scale, offset, mean, var)
        for t in checked:
            if t._dims is not None and (len(t._dims) != 1 or (c is not None and t._dims[0] not in (None, c))):
                raise ValueError(
                    f"FusedBatchNormV3: {describe(t)} must be a vector of {c} channels for x {describe(x)}."
                )
            if c is None and t._dims is not None:
                c = t._dims[0]
        vec = (u, (c,))
        return [(x.dtype, x._dims), vec, vec, vec, vec, (u, (0,))]

    def kernel(self, op, rt):
        xp = rt.xp
        fmt, eps, training = op.attrs["data_format"], op.attrs["epsilon"], op.attrs["is_training"]

        def fused_batch_norm(x, scale, offset, mean, var):
            c_ax, axes = _bn_layout(fmt, x.ndim)
            u = scale.dtype
            xf = x.astype(u, copy=False)
            if training:
                n = x.size // max(x.shape[c_ax], 1)
                mean = xf.mean(axis=axes, dtype=u)
                var = _channel_var(xp, xf, mean, c_ax, axes)
                batch_var = var * u.type(n / max(n - 1, 1))
            else:
                batch_var = var
            a = scale / xp.sqrt(var + u.type(eps))
            b = offset - mean * a
            bshape = (-1, 1, 1) if c_ax == 1 else (-1,)
            y = (xf * a.reshape(bshape) + b.reshape(bshape)).astype(x.dtype, copy=False)
            return y, mean, batch_var, mean, var, xp.empty((0,), u)

        return fused_batch_norm

    def gradient(self, op, dy, *_unused):
        x, scale = op.inputs[0], op.inputs[1]
        outs = make_op(
            "FusedBatchNormGradV3",
            [dy, x, scale, op.outputs[3], op.outputs[4], op.outputs[5]],
            {k: op.attrs[k] for k in ("epsilon", "data_format", "is_training")},
        )
        return [outs[0], outs[1], outs[2], None, None]


def _channel_var(xp: Any, xf: Any, mean: Any, c_ax: int, axes: tuple) -> Any:
    bshape = (-1, 1, 1) if c_ax == 1 else (-1,)
    d = xf - mean.reshape(bshape)
    d *= d
    return d.mean(axis=axes, dtype=xf.dtype)


@register_op
class FusedBatchNormGradV3(OpDef):
    """Backprop of FusedBatchNormV3 to x, scale and offset from the saved mean and variance."""

    def infer(self, op):
        dy, x, scale = op.inputs[:3]
        vec = (scale.dtype, scale._dims)
        empty = (scale.dtype, (0,))
        return [(x.dtype, _merge_dims("FusedBatchNormGradV3", dy, x)), vec, vec, empty, empty]

    def kernel(self, op, rt):
        xp = rt.xp
        fmt, eps, training = op.attrs["data_format"], op.attrs["epsilon"], op.attrs["is_training"]

        def fused_batch_norm_grad(dy, x, scale, mean, var, _reserve):
            c_ax, axes = _bn_layout(fmt, x.ndim)
            u = scale.dtype
            bshape = (-1, 1, 1) if c_ax == 1 else (-1,)
            inv = 1 / xp.sqrt(var + u.type(eps))
            dyf = dy.astype(u, copy=False)
            xhat = (x.astype(u, copy=False) - mean.reshape(bshape)) * inv.reshape(bshape)
            doffset = dyf.sum(axis=axes, dtype=u)
            dscale = (dyf * xhat).sum(axis=axes, dtype=u)
            if training:
                n = x.size // max(x.shape[c_ax], 1)
                k = (scale * inv / u.type(n)).reshape(bshape)
                dx = k * (dyf * u.type(n) - doffset.reshape(bshape) - xhat * dscale.reshape(bshape))
            else:
                dx = dyf * (scale * inv).reshape(bshape)
            empty = xp.empty((0,), u)
            return dx.astype(x.dtype, copy=False), dscale, doffset, empty, empty

        return fused_batch_norm_grad

    def gradient(self, op, g_dx, g_dscale, g_doffset, *_unused):
        # Second order: rebuild the backprop from differentiable ops (in training the batch
        # statistics are recomputed from x, so their dependence on x is kept) and differentiate it.
        from flowgraph.gradients import gradients

        dy, x, scale, saved_mean, saved_var = op.inputs[:5]
        fmt, eps, training = op.attrs["data_format"], op.attrs["epsilon"], op.attrs["is_training"]
        c_ax, axes = _bn_layout(fmt, 4)
        u = scale.dtype
        xf, dyf = cast(x, u), cast(dy, u)

        def channel(v: Tensor) -> Tensor:
            return reshape(v, [-1, 1, 1]) if c_ax == 1 else v

        if training:
            mean = reduce_mean(xf, axes, keepdims=True)
            var = reduce_mean(_math_ops.squared_difference(xf, mean), axes, keepdims=True)
        else:
            mean, var = channel(saved_mean), channel(saved_var)
        inv = _math_ops.rsqrt(add(var, eps))
        xhat = multiply(subtract(xf, mean), inv)
        doffset = reduce_sum(dyf, axes)
        dscale = reduce_sum(multiply(dyf, xhat), axes)
        if training:
            centered = subtract(subtract(dyf, reduce_mean(dyf, axes, keepdims=True)),
                                multiply(xhat, reduce_mean(multiply(dyf, xhat), axes, keepdims=True)))
            dx = multiply(multiply(channel(scale), inv), centered)
        else:
            dx = multiply(dyf, multiply(channel(scale), inv))
        dx = cast(dx, x.dtype)
        d_dy, d_x, d_scale = gradients([dx, dscale, doffset], [dy, x, scale], grad_ys=[g_dx, g_dscale, g_doffset])
        return [d_dy, d_x, d_scale, None, None, None]


def fused_batch_norm(x: Any, scale: Any, offset: Any, mean: Any = None, variance: Any = None, epsilon: float = 0.001,
                     data_format: str = "NHWC", is_training: bool = True, name: str | None = None):
    """``tf.nn.fused_batch_norm``: returns ``(y, batch_mean, batch_var)`` for a 4-D ``x``.

    In training, ``mean``/``variance`` must be None and ``batch_var`` is the Bessel-corrected
    variance (for the moving average); in inference they are required and passed through.
    """
    if data_format not in ("NHWC", "NCHW"):
        raise ValueError(f"data_format must be 'NHWC' or 'NCHW', got {data_format!r}.")
    if is_training and (mean is not None or variance is not None):
        raise ValueError("Both 'mean' and 'variance' must be None when is_training is True.")
    if not is_training and (mean is None or variance is None):
        raise ValueError("Both 'mean' and 'variance' must be a 1D tensor when is_training is False.")
    x = convert_to_tensor(x, name="input")
    u = _bn_param_dtype(x.dtype)
    scale = convert_to_tensor(scale, name="scale")
    offset = convert_to_tensor(offset, name="offset")
    if mean is None:
        mean = convert_to_tensor(np.zeros((0,), u.np), name="Const")
    if variance is None:
        variance = convert_to_tensor(np.zeros((0,), u.np), name="Const")
    mean = convert_to_tensor(mean, name="mean")
    variance = convert_to_tensor(variance, name="variance")
    # cuDNN's lower bound on epsilon, which TF1 applies on every device.
    epsilon = max(float(epsilon), 1.001e-5)
    attrs = {"epsilon": epsilon, "data_format": data_format, "is_training": bool(is_training)}
    outs = make_op("FusedBatchNormV3", [x, scale, offset, mean, variance], attrs, name=name, default="FusedBatchNormV3")
    return outs[0], outs[1], outs[2]


def batch_normalization(x: Any, mean: Any, variance: Any, offset: Any, scale: Any, variance_epsilon: float,
                        name: str | None = None) -> Tensor:
    """``tf.nn.batch_normalization``: scale * (x - mean) / sqrt(variance + eps) + offset (composite)."""
    g = get_default_graph()
    with g.name_scope(name or "batchnorm"):
        x = convert_to_tensor(x)
        mean = convert_to_tensor(mean)
        variance = convert_to_tensor(variance)
        inv = _math_ops.rsqrt(add(variance, variance_epsilon))
        if scale is not None:
            inv = multiply(inv, scale)
        shift = subtract(offset, multiply(mean, inv)) if offset is not None else negative(multiply(mean, inv))
        return add(multiply(x, cast(inv, x.dtype)), cast(shift, x.dtype))


def moments(x: Any, axes: Any, shift: Any = None, name: str | None = None, keep_dims: Any = None,
            keepdims: Any = None) -> tuple[Tensor, Tensor]:
    """``tf.nn.moments``: (mean, variance) over ``axes``; variance is the biased (population) one."""
    if keep_dims is not None:
        if keepdims is not None:
            raise ValueError("Cannot specify both 'keep_dims' and 'keepdims'.")
        keepdims = keep_dims
    g = get_default_graph()
    with g.name_scope(name or "moments"):
        x = convert_to_tensor(x)
        half = x.dtype is _dtypes.float16
        y = cast(x, _dtypes.float32) if half else x
        mean = reduce_mean(y, axes, keepdims=True, name="mean")
        variance = reduce_mean(_math_ops.squared_difference(y, stop_gradient(mean)), axes, keepdims=True,
                               name="variance")
        if not keepdims:
            mean = _array_ops.squeeze(mean, axes)
            variance = _array_ops.squeeze(variance, axes)
        if half:
            return cast(mean, _dtypes.float16), cast(variance, _dtypes.float16)
        return mean, variance


def l2_normalize(x: Any, axis: Any = None, epsilon: float = 1e-12, name: str | None = None, dim: Any = None) -> Tensor:
    """``tf.nn.l2_normalize``: x / sqrt(max(sum(x ** 2, axis), epsilon))."""
    if dim is not None:
        if axis is not None:
            raise ValueError("Cannot specify both 'axis' and 'dim'.")
        axis = dim
    g = get_default_graph()
    with g.name_scope(name or "l2_normalize") as scope:
        x = convert_to_tensor(x, name="x")
        square_sum = reduce_sum(_math_ops.square(x), axis, keepdims=True)
        x_inv_norm = _math_ops.rsqrt(_math_ops.maximum(square_sum, epsilon))
        return multiply(x, x_inv_norm, name=scope)


# ---------------------------------------------------------------------------------------------
# dropout
# ---------------------------------------------------------------------------------------------
def _noise_shape(x: Tensor, noise_shape: Any) -> Any:
    if noise_shape is None:
        return shape(x)
    if isinstance(noise_shape, Tensor):
        return noise_shape
    dims = list(TensorShape(noise_shape).as_list())
    if x._dims is not None and len(dims) == len(x._dims):
        dims = [xd if d is None else d for d, xd in zip(dims, x._dims)]
    if any(d is None for d in dims):
        return shape(x)
    return dims


def dropout(x: Any, keep_prob: Any = None, noise_shape: Any = None, seed: int | None = None, name: str | None = None,
            rate: Any = None) -> Tensor:
    """``tf.nn.dropout``: zeroes units with probability ``rate`` (1 - keep_prob), scales the rest by 1/(1 - rate)."""
    if keep_prob is not None:
        if rate is not None:
            raise ValueError("Cannot specify both 'rate' and 'keep_prob'.")
        try:
            rate = 1 - keep_prob
        except TypeError:
            raise ValueError(f"keep_prob must be a floating point number or Tensor (got {keep_prob!r})") from None
    if rate is None:
        raise ValueError("You must provide a rate to dropout.")
    g = get_default_graph()
    with g.name_scope(name or "dropout"):
        xt = convert_to_tensor(x, name="x")
        if not xt.dtype.is_floating:
            raise ValueError(
                "x has to be a floating point tensor since it's going to be scaled. "
                f"Got a {xt.dtype.name} tensor instead."
            )
        if isinstance(rate, numbers.Real):
            if not 0 <= rate < 1:
                raise ValueError(f"rate must be a scalar tensor or a float in the range [0, 1), got {rate:g}")
            if rate == 0:
                return xt
            ret = multiply(xt, convert_to_tensor(1 / (1 - rate), dtype=xt.dtype))
        else:
            rt = convert_to_tensor(rate)
            if rt._dims is not None and len(rt._dims) != 0:
                raise ValueError(f"rate must be a scalar tensor, got {describe(rt)}.")
            rt = cast(rt, xt.dtype, name="rate")
            rate = rt
            ret = _math_ops.divide(xt, subtract(convert_to_tensor(1, dtype=xt.dtype), rt))
        random_tensor = random_uniform(_noise_shape(xt, noise_shape), seed=seed, dtype=xt.dtype)
        keep_mask = _math_ops.greater_equal(random_tensor, rate)
        out = multiply(ret, cast(keep_mask, xt.dtype))
        if out._dims is not None and xt._dims is not None and out._dims != xt._dims:
            out.set_shape(xt.shape)
        return out


__all__ = [
    "batch_normalization",
    "bias_add",
    "dropout",
    "elu",
    "fused_batch_norm",
    "in_top_k",
    "l2_loss",
    "l2_normalize",
    "leaky_relu",
    "log_softmax",
    "moments",
    "relu",
    "relu6",
    "selu",
    "sigmoid_cross_entropy_with_logits",
    "softmax",
    "softmax_cross_entropy_with_logits",
    "softmax_cross_entropy_with_logits_v2",
    "softplus",
    "softsign",
    "sparse_softmax_cross_entropy_with_logits",
    "weighted_cross_entropy_with_logits",
    "xw_plus_b",
]
