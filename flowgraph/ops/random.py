"""Random ops: normal, uniform, truncated normal, shuffle, multinomial (TF1's names and seeds).

Each op stores ``seed``/``seed2`` (see ``flowgraph.random_seed``) and draws from ``rt.rng(op)``: the
same seeds give the same stream in a fresh Session, and each run continues the stream. Draws are
made on the host with NumPy's Generator and moved to the device once.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from flowgraph import dtypes as _dtypes
from flowgraph.errors import InvalidArgumentError
from flowgraph.graph import Tensor, convert_to_tensor, get_default_graph
from flowgraph.ops.array import _dims_from_shape_tensor, _shape_arg
from flowgraph.ops.math import add
from flowgraph.ops.op_helpers import describe
from flowgraph.random_seed import seed_attrs
from flowgraph.registry import NotDifferentiable, OpDef, register_op

_FLOATS = (_dtypes.float16, _dtypes.float32, _dtypes.float64)


def _check_shape_tensor(op_type: str, s: Tensor) -> tuple | None:
    """Static output dims from a shape vector; rejects non-integer or non-vector shapes."""
    if not s.dtype.is_integer:
        raise TypeError(f"{op_type} needs an int32/int64 shape, got {describe(s)}.")
    if s._dims is not None and len(s._dims) != 1:
        raise ValueError(f"{op_type} needs a 1-D shape vector, got {describe(s)}.")
    dims = _dims_from_shape_tensor(s)
    if dims is None:
        return None
    if any(d is not None and d < 0 for d in dims):
        raise ValueError(f"{op_type}: shape {list(dims)} has a negative dimension.")
    return dims


def _host_dims(rt: Any):
    to_host = rt.to_host
    return lambda s: tuple(int(d) for d in np.asarray(to_host(s)).ravel())


def _draw_dtype(npdt: np.dtype) -> np.dtype:
    """NumPy's Generator draws float32/float64 natively; float16 is drawn as float32 and cast."""
    return npdt if npdt in (np.float32, np.float64) else np.dtype(np.float32)


class _RandomFromShape(OpDef):
    """A random tensor of ``attrs['dtype']`` whose shape is input 0."""

    stateful = True

    def infer(self, op):
        dt = op.attrs["dtype"]
        if dt not in _FLOATS:
            raise TypeError(f"{self.type} needs a floating-point dtype, got {dt.name}.")
        return [(dt, _check_shape_tensor(self.type, op.inputs[0]))]


@register_op
class RandomStandardNormal(_RandomFromShape):
    def kernel(self, op, rt):
        gen, dims, dev = rt.rng(op), _host_dims(rt), rt.to_device
        npdt = op.attrs["dtype"].np
        draw = _draw_dtype(npdt)
        return lambda s: dev(gen.standard_normal(dims(s), dtype=draw).astype(npdt, copy=False))


@register_op
class RandomUniform(_RandomFromShape):
    """Uniform on [0, 1)."""

    def kernel(self, op, rt):
        gen, dims, dev = rt.rng(op), _host_dims(rt), rt.to_device
        npdt = op.attrs["dtype"].np
        draw = _draw_dtype(npdt)
        below_one = np.nextafter(npdt.type(1), npdt.type(0))

        def uniform(s):
            u = gen.random(dims(s), dtype=draw)
            if draw != npdt:  # rounding to float16 may reach 1.0
                u = np.minimum(u.astype(npdt), below_one)
            return dev(u)

        return uniform


@register_op
class TruncatedNormal(_RandomFromShape):
    """Standard normal with every value beyond two standard deviations drawn again."""

    def kernel(self, op, rt):
        gen, dims, dev = rt.rng(op), _host_dims(rt), rt.to_device
        npdt = op.attrs["dtype"].np
        draw = _draw_dtype(npdt)

        def truncated(s):
            x = gen.standard_normal(dims(s), dtype=draw)
            bad = np.abs(x) > 2.0
            n = int(bad.sum())
            while n:
                x[bad] = gen.standard_normal(n, dtype=draw)
                bad = np.abs(x) > 2.0
                n = int(bad.sum())
            return dev(x.astype(npdt, copy=False))

        return truncated


@register_op
class RandomUniformInt(OpDef):
    """Integers uniform on [minval, maxval)."""

    stateful = True

    def infer(self, op):
        s, lo, hi = op.inputs
        for t in (lo, hi):
            if t.dtype not in (_dtypes.int32, _dtypes.int64) or (t._dims is not None and len(t._dims) != 0):
                raise ValueError(f"RandomUniformInt needs scalar int32/int64 minval and maxval, got {describe(t)}.")
        if lo.dtype is not hi.dtype:
            raise TypeError(f"RandomUniformInt: minval {describe(lo)} and maxval {describe(hi)} differ in dtype.")
        return [(lo.dtype, _check_shape_tensor(self.type, s))]

    def kernel(self, op, rt):
        gen, dims, dev, to_host = rt.rng(op), _host_dims(rt), rt.to_device, rt.to_host
        npdt = op.outputs[0].dtype.np

        def uniform_int(s, lo, hi):
            lo, hi = int(to_host(lo)), int(to_host(hi))
            if lo >= hi:
                raise InvalidArgumentError(
                    None, op, f"Need minval < maxval: {lo} >= {hi}\n\t [[node {op.name} (defined at {op.location}) ]]"
                )
            return dev(gen.integers(lo, hi, size=dims(s), dtype=npdt))

        return uniform_int


@register_op
class RandomShuffle(OpDef):
    """A random permutation along the first dimension (TF1 registers no gradient for it)."""

    stateful = True

    def infer(self, op):
        (x,) = op.inputs
        return [(x.dtype, x._dims)]

    def kernel(self, op, rt):
        gen, dev = rt.rng(op), rt.to_device

        def shuffle(x):
            if x.ndim == 0 or x.shape[0] <= 1:
                return x
            return x[dev(gen.permutation(x.shape[0]))]

        return shuffle


@register_op
class Multinomial(OpDef):
    """``num_samples`` class indices per row of unnormalized log-probabilities."""

    stateful = True

    def infer(self, op):
        logits, n = op.inputs
        if not logits.dtype.is_floating:
            raise TypeError(f"Multinomial needs floating-point logits, got {describe(logits)}.")
        if logits._dims is not None and len(logits._dims) != 2:
            raise ValueError(f"logits should be a matrix [batch_size, num_classes], got {describe(logits)}.")
        if n._dims is not None and len(n._dims) != 0:
            raise ValueError(f"num_samples should be a scalar, got {describe(n)}.")
        from flowgraph.graph import constant_value

        nv = constant_value(n)
        batch = None if logits._dims is None else logits._dims[0]
        return [(op.attrs["output_dtype"], (batch, None if nv is None else int(nv)))]

    def kernel(self, op, rt):
        gen, dev, to_host = rt.rng(op), rt.to_device, rt.to_host
        npdt = op.attrs["output_dtype"].np

        def multinomial(logits, n):
            logits = np.asarray(to_host(logits), dtype=np.float64)
            n = int(to_host(n))
            b, c = logits.shape
            if c == 0 and n > 0 and b > 0:
                raise InvalidArgumentError(None, op, f"num_classes should be positive, got 0 (op {op.name})")
            # Inverse-CDF sampling, all rows at once: row r's CDF is shifted into [r, r + 1), so one
            # sorted search over the concatenated CDFs finds every sample.
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            cdf = np.cumsum(p, axis=1)
            cdf /= cdf[:, -1:]
            cdf += np.arange(b)[:, None]
            u = gen.random((b, n)) + np.arange(b)[:, None]
            idx = np.searchsorted(cdf.ravel(), u.ravel(), side="right").reshape(b, n) - np.arange(b)[:, None] * c
            return dev(np.minimum(idx, c - 1).astype(npdt))

        return multinomial


for _t in ("RandomStandardNormal", "RandomUniform", "TruncatedNormal", "RandomUniformInt", "Multinomial"):
    NotDifferentiable(_t)


# ---------------------------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------------------------
def _float_dtype(dtype: Any, fn: str) -> _dtypes.DType:
    dt = _dtypes.as_dtype(dtype)
    if dt not in _FLOATS:
        raise TypeError(
            f"{fn}: value passed to parameter 'dtype' has DataType {dt.name} not in list of allowed values: "
            "float16, float32, float64"
        )
    return dt


def _scaled(op_type: str, default: str, shape: Any, mean: Any, stddev: Any, dtype: Any, seed: Any,
            name: str | None) -> Tensor:
    """``op(shape) * stddev + mean`` named as TF1 names random_normal/truncated_normal."""
    dt = _float_dtype(dtype, default)
    g = get_default_graph()
    with g.name_scope(name or default) as scope:
        s = _shape_arg(shape)
        mean_t = convert_to_tensor(mean, dtype=dt, name="mean")
        stddev_t = convert_to_tensor(stddev, dtype=dt, name="stddev")
        rnd = g.create_op(op_type, [s], {"dtype": dt, **seed_attrs(seed)}, name=op_type).outputs[0]
        return add(rnd * stddev_t, mean_t, name=scope)


def random_normal(shape: Any, mean: Any = 0.0, stddev: Any = 1.0, dtype: Any = _dtypes.float32,
                  seed: int | None = None, name: str | None = None) -> Tensor:
    """``tf.random_normal``: normal values with the given mean and standard deviation."""
    return _scaled("RandomStandardNormal", "random_normal", shape, mean, stddev, dtype, seed, name)


def truncated_normal(shape: Any, mean: Any = 0.0, stddev: Any = 1.0, dtype: Any = _dtypes.float32,
                     seed: int | None = None, name: str | None = None) -> Tensor:
    """``tf.truncated_normal``: normal values, redrawn when more than 2 stddev from the mean."""
    return _scaled("TruncatedNormal", "truncated_normal", shape, mean, stddev, dtype, seed, name)


def random_uniform(shape: Any, minval: Any = 0, maxval: Any = None, dtype: Any = _dtypes.float32,
                   seed: int | None = None, name: str | None = None) -> Tensor:
    """``tf.random_uniform``: uniform on [minval, maxval); integer dtypes need ``maxval``."""
    dt = _dtypes.as_dtype(dtype)
    if dt not in _FLOATS and dt not in (_dtypes.int32, _dtypes.int64):
        raise ValueError(f"Invalid dtype {dt!r}")
    if maxval is None:
        if dt.is_integer:
            raise ValueError(f"Must specify maxval for integer dtype {dt!r}")
        maxval = 1
    g = get_default_graph()
    with g.name_scope(name or "random_uniform") as scope:
        s = _shape_arg(shape)
        lo = convert_to_tensor(minval, dtype=dt, name="min")
        hi = convert_to_tensor(maxval, dtype=dt, name="max")
        seeds = seed_attrs(seed)
        if dt.is_integer:
            return g.create_op("RandomUniformInt", [s, lo, hi], seeds, name=scope).outputs[0]
        rnd = g.create_op("RandomUniform", [s], {"dtype": dt, **seeds}, name="RandomUniform").outputs[0]
        return add(rnd * (hi - lo), lo, name=scope)


def random_shuffle(value: Any, seed: int | None = None, name: str | None = None) -> Tensor:
    """``tf.random_shuffle``: ``value`` permuted along its first dimension."""
    x = convert_to_tensor(value, name="value")
    g = get_default_graph()
    return g.create_op("RandomShuffle", [x], seed_attrs(seed), name=name or "RandomShuffle").outputs[0]


def multinomial(logits: Any, num_samples: Any, seed: int | None = None, name: str | None = None,
                output_dtype: Any = None) -> Tensor:
    """``tf.multinomial``: ``[batch, num_samples]`` class draws from each row's softmax(logits)."""
    out_dt = _dtypes.as_dtype(output_dtype) if output_dtype is not None else _dtypes.int64
    if out_dt not in (_dtypes.int32, _dtypes.int64):
        raise TypeError(f"multinomial output_dtype must be int32 or int64, got {out_dt.name}.")
    g = get_default_graph()
    with g.name_scope(name or "multinomial"):
        lg = convert_to_tensor(logits, name="logits")
        n = convert_to_tensor(num_samples, dtype=_dtypes.int32, name="num_samples")
        return g.create_op("Multinomial", [lg, n], {"output_dtype": out_dt, **seed_attrs(seed)}).outputs[0]


def categorical(logits: Any, num_samples: Any, dtype: Any = None, seed: int | None = None,
                name: str | None = None) -> Tensor:
    """``tf.random.categorical``: ``multinomial`` with TF's newer argument order."""
    return multinomial(logits, num_samples, seed=seed, name=name or "categorical", output_dtype=dtype)


__all__ = ["multinomial", "random_normal", "random_shuffle", "random_uniform", "truncated_normal"]
