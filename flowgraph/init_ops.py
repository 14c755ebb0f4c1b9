"""Variable initializers (TF1's ``init_ops``): callables ``init(shape, dtype=None, partition_info=None)``
that add the ops producing a variable's first value.

Random initializers pass their ``seed`` to the random op, so with a graph seed or an op seed the
same program gives the same values in every fresh Session. The variance-scaling family (Glorot/
Xavier, He, LeCun) computes fans from the shape: for a convolution kernel ``[kh, kw, in, out]`` the
receptive field ``kh * kw`` multiplies both channel counts.
"""

from __future__ import annotations

import math
import types
from typing import Any

import numpy as np

from flowgraph import dtypes as _dtypes
from flowgraph.graph import Tensor, as_numpy_value, get_default_graph
from flowgraph.ops import array as array_ops
from flowgraph.ops import random as random_ops
from flowgraph.ops.sources import constant
from flowgraph.shapes import TensorShape

#: Standard deviation of a unit normal truncated to [-2, 2]: dividing by it keeps the variance asked for.
_TRUNCATED_STDDEV = 0.87962566103423978


def _dims(shape: Any) -> list[int]:
    dims = TensorShape(shape).as_list()
    if None in dims:
        raise ValueError(f"An initializer needs a fully defined shape, got {dims}.")
    return [int(d) for d in dims]


def _assert_float_dtype(dtype: _dtypes.DType) -> _dtypes.DType:
    if not dtype.is_floating:
        raise ValueError(f"Expected floating point type, got {dtype!r}.")
    return dtype


def _filled(value: Any, shape: Any, dtype: _dtypes.DType, name: str) -> Tensor:
    """A Const of ``shape`` holding one repeated value, stored as a zero-stride view (O(1) memory,
    where ``tf.constant`` would hold every element in the graph).

    Kernels never write into inputs and ``Assign`` copies views, so the view is safe to share.
    """
    dims = _dims(shape)
    cell = np.asarray(value, dtype=dtype.np)
    view = np.broadcast_to(cell, dims)
    return get_default_graph().create_op("Const", [], {"value": view, "dtype": dtype}, name=name).outputs[0]


def _compute_fans(shape: list[int]) -> tuple[int, int]:
    """(fan_in, fan_out): a matrix is [in, out]; conv kernels multiply in/out by the receptive field."""
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive_field = 1
    for d in shape[:-2]:
        receptive_field *= d
    return shape[-2] * receptive_field, shape[-1] * receptive_field


class Initializer:
    """Base class: ``init(shape, dtype=None, partition_info=None) -> Tensor``."""

    dtype: _dtypes.DType = _dtypes.float32

    def __call__(self, shape: Any, dtype: Any = None, partition_info: Any = None) -> Tensor:
        raise TypeError(
            f"{type(self).__name__} is an abstract initializer; use a concrete one such as tf.zeros_initializer."
        )

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict) -> Initializer:
        return cls(**config)

    def _dtype(self, dtype: Any) -> _dtypes.DType:
        return self.dtype if dtype is None else _dtypes.as_dtype(dtype)


class Zeros(Initializer):
    """All zeros."""

    def __init__(self, dtype: Any = _dtypes.float32) -> None:
        self.dtype = _dtypes.as_dtype(dtype)

    def __call__(self, shape: Any, dtype: Any = None, partition_info: Any = None) -> Tensor:
        return array_ops.zeros(_dims(shape), self._dtype(dtype))

    def get_config(self) -> dict:
        return {"dtype": self.dtype.name}


class Ones(Initializer):
    """All ones."""

    def __init__(self, dtype: Any = _dtypes.float32) -> None:
        self.dtype = _dtypes.as_dtype(dtype)

    def __call__(self, shape: Any, dtype: Any = None, partition_info: Any = None) -> Tensor:
        return array_ops.ones(_dims(shape), self._dtype(dtype))

    def get_config(self) -> dict:
        return {"dtype": self.dtype.name}


class Constant(Initializer):
    """A scalar filled out to the shape, or a list/array of the shape's size (a short list is padded
    with its last element, as ``tf.constant`` does unless ``verify_shape``)."""

    def __init__(self, value: Any = 0, dtype: Any = _dtypes.float32, verify_shape: bool = False) -> None:
        if not (np.isscalar(value) or isinstance(value, list | tuple | np.ndarray)):
            raise TypeError(
                f"Invalid type for initial value: {type(value)} (expected Python scalar, list or tuple of values, "
                "or numpy.ndarray)."
            )
        self.value = value
        self.dtype = _dtypes.as_dtype(dtype)
        self._verify_shape = verify_shape

    def __call__(
        self, shape: Any, dtype: Any = None, partition_info: Any = None, verify_shape: bool | None = None
    ) -> Tensor:
        dt = self._dtype(dtype)
        if verify_shape is None:
            verify_shape = self._verify_shape
        if np.isscalar(self.value) or np.ndim(self.value) == 0:
            return _filled(as_numpy_value(self.value, dt), shape, dt, "Const")
        return constant(self.value, dtype=dt, shape=_dims(shape), verify_shape=verify_shape)

    def get_config(self) -> dict:
        return {"value": self.value, "dtype": self.dtype.name}


class RandomUniform(Initializer):
    """Uniform on ``[minval, maxval)``; ``maxval=None`` means 1 for floats (integers need it)."""

    def __init__(
        self, minval: Any = 0, maxval: Any = None, seed: int | None = None, dtype: Any = _dtypes.float32
    ) -> None:
        self.minval = minval
        self.maxval = maxval
        self.seed = seed
        self.dtype = _dtypes.as_dtype(dtype)

    def __call__(self, shape: Any, dtype: Any = None, partition_info: Any = None) -> Tensor:
        return random_ops.random_uniform(_dims(shape), self.minval, self.maxval, self._dtype(dtype), seed=self.seed)

    def get_config(self) -> dict:
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed, "dtype": self.dtype.name}


class RandomNormal(Initializer):
    """Normal with ``mean`` and ``stddev``."""

    def __init__(
        self, mean: Any = 0.0, stddev: Any = 1.0, seed: int | None = None, dtype: Any = _dtypes.float32
    ) -> None:
        self.mean = mean
        self.stddev = stddev
        self.seed = seed
        self.dtype = _assert_float_dtype(_dtypes.as_dtype(dtype))

    def __call__(self, shape: Any, dtype: Any = None, partition_info: Any = None) -> Tensor:
        return random_ops.random_normal(_dims(shape), self.mean, self.stddev, self._dtype(dtype), seed=self.seed)

    def get_config(self) -> dict:
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed, "dtype": self.dtype.name}


class TruncatedNormal(Initializer):
    """Normal with ``mean`` and ``stddev``, values beyond two stddev redrawn."""

    def __init__(
        self, mean: Any = 0.0, stddev: Any = 1.0, seed: int | None = None, dtype: Any = _dtypes.float32
    ) -> None:
        self.mean = mean
        self.stddev = stddev
        self.seed = seed
        self.dtype = _assert_float_dtype(_dtypes.as_dtype(dtype))

    def __call__(self, shape: Any, dtype: Any = None, partition_info: Any = None) -> Tensor:
        return random_ops.truncated_normal(_dims(shape), self.mean, self.stddev, self._dtype(dtype), seed=self.seed)

    def get_config(self) -> dict:
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed, "dtype": self.dtype.name}


class VarianceScaling(Initializer):
    """Variance ``scale / n`` with ``n`` the fan in, fan out or their mean (``mode``).

    ``distribution``: ``'truncated_normal'`` (TF1's default; ``'normal'`` is its old spelling) draws a
    normal truncated at two stddev, its stddev divided by 0.8796... so the variance stays ``scale / n``;
    ``'untruncated_normal'`` a plain normal; ``'uniform'`` draws from ``[-sqrt(3 * scale / n), +...]``.
    """

    def __init__(
        self,
        scale: float = 1.0,
        mode: str = "fan_in",
        distribution: str = "truncated_normal",
        seed: int | None = None,
        dtype: Any = _dtypes.float32,
    ) -> None:
        if scale <= 0.0:
            raise ValueError("`scale` must be positive float.")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"Invalid `mode` argument: {mode!r} (expected 'fan_in', 'fan_out' or 'fan_avg').")
        distribution = distribution.lower()
        if distribution not in ("normal", "uniform", "truncated_normal", "untruncated_normal"):
            raise ValueError(
                f"Invalid `distribution` argument: {distribution!r} (expected 'truncated_normal', 'untruncated_normal' "
                "or 'uniform')."
            )
        self.scale = scale
        self.mode = mode
        self.distribution = distribution
        self.seed = seed
        self.dtype = _assert_float_dtype(_dtypes.as_dtype(dtype))

    def __call__(self, shape: Any, dtype: Any = None, partition_info: Any = None) -> Tensor:
        dt = self._dtype(dtype)
        dims = _dims(shape)
        fan_shape = _dims(partition_info.full_shape) if partition_info is not None else dims
        fan_in, fan_out = _compute_fans(fan_shape)
        scale = self.scale
        if self.mode == "fan_in":
            scale /= max(1.0, fan_in)
        elif self.mode == "fan_out":
            scale /= max(1.0, fan_out)
        else:
            scale /= max(1.0, (fan_in + fan_out) / 2.0)
        if self.distribution in ("normal", "truncated_normal"):
            stddev = math.sqrt(scale) / _TRUNCATED_STDDEV
            return random_ops.truncated_normal(dims, 0.0, stddev, dt, seed=self.seed)
        if self.distribution == "untruncated_normal":
            return random_ops.random_normal(dims, 0.0, math.sqrt(scale), dt, seed=self.seed)
        limit = math.sqrt(3.0 * scale)
        return random_ops.random_uniform(dims, -limit, limit, dt, seed=self.seed)

    def get_config(self) -> dict:
        return {
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            "seed": self.seed,
            "dtype": self.dtype.name,
        }


class GlorotUniform(VarianceScaling):
    """Glorot/Xavier uniform: ``[-limit, limit]``, ``limit = sqrt(6 / (fan_in + fan_out))``."""

    def __init__(self, seed: int | None = None, dtype: Any = _dtypes.float32) -> None:
        super().__init__(scale=1.0, mode="fan_avg", distribution="uniform", seed=seed, dtype=dtype)

    def get_config(self) -> dict:
        return {"seed": self.seed, "dtype": self.dtype.name}


class GlorotNormal(VarianceScaling):
    """Glorot/Xavier normal: truncated normal with stddev ``sqrt(2 / (fan_in + fan_out))``."""

    def __init__(self, seed: int | None = None, dtype: Any = _dtypes.float32) -> None:
        super().__init__(scale=1.0, mode="fan_avg", distribution="truncated_normal", seed=seed, dtype=dtype)

    def get_config(self) -> dict:
        return {"seed": self.seed, "dtype": self.dtype.name}


def he_normal(seed: int | None = None) -> VarianceScaling:
    """He normal: truncated normal with stddev ``sqrt(2 / fan_in)``."""
    return VarianceScaling(scale=2.0, mode="fan_in", distribution="truncated_normal", seed=seed)


def he_uniform(seed: int | None = None) -> VarianceScaling:
    """He uniform: ``[-limit, limit]``, ``limit = sqrt(6 / fan_in)``."""
    return VarianceScaling(scale=2.0, mode="fan_in", distribution="uniform", seed=seed)


def lecun_normal(seed: int | None = None) -> VarianceScaling:
    """LeCun normal: truncated normal with stddev ``sqrt(1 / fan_in)``."""
    return VarianceScaling(scale=1.0, mode="fan_in", distribution="truncated_normal", seed=seed)


def lecun_uniform(seed: int | None = None) -> VarianceScaling:
    """LeCun uniform: ``[-limit, limit]``, ``limit = sqrt(3 / fan_in)``."""
    return VarianceScaling(scale=1.0, mode="fan_in", distribution="uniform", seed=seed)


# TF1's public spellings.
zeros_initializer = Zeros
ones_initializer = Ones
constant_initializer = Constant
random_uniform_initializer = RandomUniform
random_normal_initializer = RandomNormal
truncated_normal_initializer = TruncatedNormal
variance_scaling_initializer = VarianceScaling
glorot_uniform_initializer = GlorotUniform
glorot_normal_initializer = GlorotNormal


def _initializers_namespace() -> types.ModuleType:
    """``tf.initializers``: the short names, plus the variable-initializer ops TF1 files there."""
    from flowgraph import variables

    ns = types.ModuleType("flowgraph.initializers", "TF1's tf.initializers namespace.")
    for short, obj in {
        "zeros": Zeros,
        "ones": Ones,
        "constant": Constant,
        "random_uniform": RandomUniform,
        "random_normal": RandomNormal,
        "truncated_normal": TruncatedNormal,
        "variance_scaling": VarianceScaling,
        "glorot_uniform": GlorotUniform,
        "glorot_normal": GlorotNormal,
        "he_normal": he_normal,
        "he_uniform": he_uniform,
        "lecun_normal": lecun_normal,
        "lecun_uniform": lecun_uniform,
        "global_variables": variables.global_variables_initializer,
        "local_variables": variables.local_variables_initializer,
        "variables": variables.variables_initializer,
    }.items():
        setattr(ns, short, obj)
    return ns


initializers = _initializers_namespace()

# Public names re-exported as ``tf.<name>`` (``tf.initializers`` is the namespace above).
__all__ = [
    "constant_initializer",
    "glorot_normal_initializer",
    "glorot_uniform_initializer",
    "ones_initializer",
    "random_normal_initializer",
    "random_uniform_initializer",
    "truncated_normal_initializer",
    "variance_scaling_initializer",
    "zeros_initializer",
]
