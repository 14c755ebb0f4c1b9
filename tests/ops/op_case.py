"""The op-test case record shared by every ``cases_*.py`` table (one row per op behaviour)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class OpCase:
    """One behaviour of one op, checked by ``test_op_cases.py``.

    ``build(*tensors)`` makes the op from placeholders holding ``inputs``; ``reference(*arrays)``
    is the NumPy answer. Float64 inputs listed in ``grad_inputs`` (default: all float64 inputs)
    get their gradient checked against central differences; ``second_order`` also checks the
    gradient of the gradient. Use distinct dimensions so swapped axes cannot hide.
    """

    name: str
    build: Callable[..., Any]
    inputs: list[np.ndarray]
    reference: Callable[..., Any]
    grad: bool = True
    grad_inputs: tuple[int, ...] | None = None
    second_order: bool = False
    rtol: float = 1e-6
    atol: float = 1e-6
    grad_rtol: float = 1e-4
    grad_atol: float = 1e-5
    eps: float = 1e-6
    marks: list = field(default_factory=list)

    def __repr__(self) -> str:
        return self.name


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def randn(*shape: int, seed: int = 0, dtype: Any = np.float64) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def uniform(lo: float, hi: float, *shape: int, seed: int = 0, dtype: Any = np.float64) -> np.ndarray:
    return np.random.default_rng(seed).uniform(lo, hi, shape).astype(dtype)
