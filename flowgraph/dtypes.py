"""Data types with TF1's names and inference rules (a Python float is float32, an int int32)."""

from __future__ import annotations

from typing import Any

import numpy as np


class DType:
    """A tensor element type; compares equal to itself, its name and its NumPy dtype."""

    __slots__ = ("name", "np", "is_floating", "is_integer", "is_bool", "is_unsigned")

    def __init__(self, name: str, np_dtype: Any) -> None:
        self.name = name
        self.np = np.dtype(np_dtype)
        kind = self.np.kind
        self.is_floating = kind == "f"
        self.is_integer = kind in "iu"
        self.is_bool = kind == "b"
        self.is_unsigned = kind == "u"

    @property
    def as_numpy_dtype(self) -> type:
        return self.np.type

    @property
    def base_dtype(self) -> DType:
        return self

    @property
    def real_dtype(self) -> DType:
        return self

    @property
    def is_complex(self) -> bool:
        return False

    @property
    def is_quantized(self) -> bool:
        return False

    @property
    def size(self) -> int:
        return self.np.itemsize

    @property
    def min(self) -> Any:
        if self.is_floating:
            return float(np.finfo(self.np).min)
        if self.is_bool:
            return False
        return int(np.iinfo(self.np).min)

    @property
    def max(self) -> Any:
        if self.is_floating:
            return float(np.finfo(self.np).max)
        if self.is_bool:
            return True
        return int(np.iinfo(self.np).max)

    def is_compatible_with(self, other: Any) -> bool:
        return self == as_dtype(other)

    def __eq__(self, other: Any) -> bool:
        if other is self:
            return True
        if other is None:
            return False
        try:
            return as_dtype(other) is self
        except TypeError:
            return False

    def __ne__(self, other: Any) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"<dtype: '{self.name}'>"

    def __reduce__(self):
        return as_dtype, (self.name,)


_pybool = type(True)

float16 = DType("float16", np.float16)
half = float16
float32 = DType("float32", np.float32)
float64 = DType("float64", np.float64)
double = float64
int8 = DType("int8", np.int8)
int16 = DType("int16", np.int16)
int32 = DType("int32", np.int32)
int64 = DType("int64", np.int64)
uint8 = DType("uint8", np.uint8)
uint16 = DType("uint16", np.uint16)
bool = DType("bool", np.bool_)  # noqa: A001 - TF1's public name
string = DType("string", np.object_)

_ALL = (float16, float32, float64, int8, int16, int32, int64, uint8, uint16, bool, string)
_BY_NAME = {d.name: d for d in _ALL}
_BY_NAME.update({"half": float16, "double": float64, "float": float32, "int": int32})
_BY_NP = {d.np: d for d in _ALL}


def as_dtype(type_value: Any) -> DType:
    """Converts a DType, a name, a NumPy dtype or a NumPy scalar type into a DType."""
    if isinstance(type_value, DType):
        return type_value
    if isinstance(type_value, str):
        found = _BY_NAME.get(type_value)
        if found is not None:
            return found
    elif type_value is float:
        return float32
    elif type_value is int:
        return int32
    elif type_value is _pybool:
        return bool
    try:
        key = np.dtype(type_value)
    except TypeError:
        key = None
    if key is not None:
        if key.kind in "US":
            return string
        found = _BY_NP.get(key)
        if found is not None:
            return found
    raise TypeError(f"Cannot convert {type_value!r} to a flowgraph DType.")


def infer_dtype(value: Any) -> DType:
    """TF1's rule for a constant's dtype: Python floats -> float32, ints -> int32, arrays keep theirs."""
    if isinstance(value, np.ndarray | np.generic):
        if value.dtype.kind in "US":
            return string
        return as_dtype(value.dtype)
    if isinstance(value, _pybool):
        return bool
    if isinstance(value, int):
        return int32 if -(2**31) <= value < 2**31 else int64
    if isinstance(value, float):
        return float32
    if isinstance(value, str | bytes):
        return string
    if isinstance(value, list | tuple):
        arr = np.asarray(value)
        if arr.dtype.kind == "f":
            return float32
        if arr.dtype.kind in "iu":
            return int32 if arr.size == 0 or (arr.min() >= -(2**31) and arr.max() < 2**31) else int64
        if arr.dtype.kind == "b":
            return bool
        if arr.dtype.kind in "US":
            return string
        if arr.size == 0:
            return float32
        raise TypeError(f"Cannot infer a dtype for {value!r}.")
    raise TypeError(f"Cannot convert {value!r} (of type {type(value).__name__}) to a Tensor.")


__all__ = [
    "DType",
    "as_dtype",
    "float16",
    "half",
    "float32",
    "float64",
    "double",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "bool",
    "string",
]
