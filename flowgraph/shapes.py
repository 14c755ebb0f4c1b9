"""Partially known static shapes (TF1's ``TensorShape`` and ``Dimension``).

Every op infers its output shape at graph construction from these, so shape errors surface at
the user's line rather than deep inside a run.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any


class Dimension:
    """One dimension, possibly unknown (``value is None``); arithmetic with unknowns stays unknown."""

    __slots__ = ("_value",)

    def __init__(self, value: Any) -> None:
        if isinstance(value, Dimension):
            value = value._value
        if value is not None:
            iv = int(value)
            if iv != value or iv < 0:
                raise ValueError(f"Dimension {value!r} must be a non-negative integer or None.")
            value = iv
        self._value = value

    @property
    def value(self) -> int | None:
        return self._value

    def __int__(self) -> int:
        if self._value is None:
            raise TypeError("Cannot convert an unknown Dimension to an int.")
        return self._value

    __index__ = __int__

    def __repr__(self) -> str:
        return f"Dimension({self._value!r})"

    def __str__(self) -> str:
        return "?" if self._value is None else str(self._value)

    def __eq__(self, other: Any) -> Any:
        other = _dim_value(other)
        if self._value is None or other is None:
            return None
        return self._value == other

    def __ne__(self, other: Any) -> Any:
        eq = self.__eq__(other)
        return None if eq is None else not eq

    def __hash__(self) -> int:
        return hash(self._value)

    def _arith(self, other: Any, fn) -> Dimension:
        other = _dim_value(other)
        if self._value is None or other is None:
            return Dimension(None)
        return Dimension(fn(self._value, other))

    def __add__(self, o):
        return self._arith(o, lambda a, b: a + b)

    __radd__ = __add__

    def __sub__(self, o):
        return self._arith(o, lambda a, b: a - b)

    def __mul__(self, o):
        return self._arith(o, lambda a, b: a * b)

    __rmul__ = __mul__

    def __floordiv__(self, o):
        return self._arith(o, lambda a, b: a // b)

    def is_compatible_with(self, other: Any) -> bool:
        other = _dim_value(other)
        return self._value is None or other is None or self._value == other

    def merge_with(self, other: Any) -> Dimension:
        other = _dim_value(other)
        if not self.is_compatible_with(other):
            raise ValueError(f"Dimensions {self} and {other} are not compatible")
        return Dimension(self._value if self._value is not None else other)


def _dim_value(d: Any) -> int | None:
    if isinstance(d, Dimension):
        return d._value
    if d is None:
        return None
    return int(d)


def dimension_value(d: Any) -> int | None:
    """The int (or None) behind a Dimension, int or None."""
    return _dim_value(d)


class TensorShape:
    """A static shape: unknown rank (``dims is None``) or a tuple of ints and Nones."""

    __slots__ = ("_dims",)

    def __init__(self, dims: Any) -> None:
        if isinstance(dims, TensorShape):
            self._dims = dims._dims
        elif dims is None:
            self._dims = None
        elif isinstance(dims, Iterable) and not isinstance(dims, str | bytes):
            self._dims = tuple(_dim_value(d) for d in dims)
            for d in self._dims:
                if d is not None and d < 0:
                    raise ValueError(f"Negative dimension {d} in shape {list(dims)}.")
        else:
            self._dims = (_dim_value(dims),)

    # -- queries -------------------------------------------------------------------------
    @property
    def dims(self) -> list[Dimension] | None:
        return None if self._dims is None else [Dimension(d) for d in self._dims]

    @property
    def ndims(self) -> int | None:
        return None if self._dims is None else len(self._dims)

    rank = ndims

    def as_list(self) -> list[int | None]:
        if self._dims is None:
            raise ValueError("as_list() is not defined on an unknown TensorShape.")
        return list(self._dims)

    def as_tuple(self) -> tuple | None:
        """The dims as a tuple of ints/None (None for unknown rank); flowgraph's internal form."""
        return self._dims

    def is_fully_defined(self) -> bool:
        return self._dims is not None and all(d is not None for d in self._dims)

    def num_elements(self) -> int | None:
        if not self.is_fully_defined():
            return None
        n = 1
        for d in self._dims:
            n *= d
        return n

    def __len__(self) -> int:
        if self._dims is None:
            raise ValueError("Cannot take the length of a shape with unknown rank.")
        return len(self._dims)

    def __iter__(self) -> Iterator:
        if self._dims is None:
            raise ValueError("Cannot iterate over a shape with unknown rank.")
        return iter(Dimension(d) for d in self._dims)

    def __getitem__(self, key: Any) -> Any:
        if self._dims is None:
            if isinstance(key, slice):
                return TensorShape(None)
            return Dimension(None)
        if isinstance(key, slice):
            return TensorShape(self._dims[key])
        return Dimension(self._dims[key])

    def __bool__(self) -> bool:
        return self._dims is not None

    # -- compatibility -------------------------------------------------------------------
    def is_compatible_with(self, other: Any) -> bool:
        other = as_shape(other)
        if self._dims is None or other._dims is None:
            return True
        if len(self._dims) != len(other._dims):
            return False
        return all(a is None or b is None or a == b for a, b in zip(self._dims, other._dims))

    def merge_with(self, other: Any) -> TensorShape:
        other = as_shape(other)
        if self._dims is None:
            return other
        if other._dims is None:
            return self
        if not self.is_compatible_with(other):
            raise ValueError(f"Shapes {self} and {other} are not compatible")
        return TensorShape(a if a is not None else b for a, b in zip(self._dims, other._dims))

    def assert_is_compatible_with(self, other: Any) -> None:
        if not self.is_compatible_with(other):
            raise ValueError(f"Shapes {self} and {as_shape(other)} are incompatible")

    def with_rank(self, rank: int) -> TensorShape:
        if self._dims is None:
            return TensorShape([None] * rank)
        if len(self._dims) != rank:
            raise ValueError(f"Shape {self} must have rank {rank}")
        return self

    def assert_has_rank(self, rank: int) -> None:
        self.with_rank(rank)

    def concatenate(self, other: Any) -> TensorShape:
        other = as_shape(other)
        if self._dims is None or other._dims is None:
            return TensorShape(None)
        return TensorShape(self._dims + other._dims)

    def __eq__(self, other: Any) -> bool:
        try:
            other = as_shape(other)
        except (TypeError, ValueError):
            return NotImplemented
        return self._dims == other._dims

    def __ne__(self, other: Any) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self) -> int:
        return hash(self._dims)

    def __repr__(self) -> str:
        if self._dims is None:
            return "TensorShape(None)"
        return "TensorShape([" + ", ".join(f"Dimension({d})" for d in self._dims) + "])"

    def __str__(self) -> str:
        if self._dims is None:
            return "<unknown>"
        if len(self._dims) == 1:
            return f"({_fmt(self._dims[0])},)"
        return "(" + ", ".join(_fmt(d) for d in self._dims) + ")"


def _fmt(d: int | None) -> str:
    return "?" if d is None else str(d)


def as_shape(shape: Any) -> TensorShape:
    return shape if isinstance(shape, TensorShape) else TensorShape(shape)


def unknown_shape(rank: int | None = None) -> TensorShape:
    return TensorShape(None if rank is None else [None] * rank)


def scalar() -> TensorShape:
    return TensorShape(())


def broadcast_dims(a: tuple | None, b: tuple | None) -> tuple | None:
    """NumPy broadcasting on partially known dims; raises ValueError when they can never agree."""
    if a is None or b is None:
        return None
    n = max(len(a), len(b))
    pa = (1,) * (n - len(a)) + a
    pb = (1,) * (n - len(b)) + b
    out = []
    for x, y in zip(pa, pb):
        if x == 1:
            out.append(y)
        elif y == 1:
            out.append(x)
        elif x is None:
            out.append(y)
        elif y is None or x == y:
            out.append(x)
        else:
            raise ValueError(
                f"Dimensions must be equal, but are {x} and {y}: shapes {_tup(a)} and {_tup(b)} do not broadcast"
            )
    return tuple(out)


def _tup(d: tuple) -> str:
    return str(TensorShape(d))


__all__ = ["Dimension", "TensorShape", "as_shape", "unknown_shape", "dimension_value"]
