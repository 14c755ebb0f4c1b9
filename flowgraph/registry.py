"""The op registry: one class per op type holds its shape rule, kernel and gradient together.

An op type is a subclass of :class:`OpDef` decorated with :func:`register_op`. ``infer`` gives the
outputs' dtypes and static shapes at construction; ``kernel`` returns a callable bound once per
execution plan (so per-run cost is one call); ``gradient`` builds graph ops, so gradients are
themselves differentiable. ``RegisterGradient`` and ``NotDifferentiable`` write into the same table.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowgraph.graph import Operation, Tensor

_OPS: dict[str, OpDef] = {}
_GRADIENTS: dict[str, Callable | None] = {}
_GRADIENT_SITES: dict[str, str] = {}


class OpDef:
    """Base class of op types. Subclasses set ``type`` and override the three hooks."""

    type: str = ""
    #: True for ops that read or write session state; the planner never reorders them freely.
    stateful: bool = False
    #: True when the kernel is costly enough to be worth a hand-off to a pool thread.
    heavy: bool = False
    #: True when inputs broadcast (NumPy rules); the backprop driver then sums gradients back.
    broadcasting: bool = False
    #: True when the output is a reference to session state (TF1's ref tensor, a variable): each
    #: consumer reads the current value through ``ref_reader`` when it runs, not when this op runs.
    ref_output: bool = False
    #: True for pass-throughs (Identity) whose consumers may read the ref behind them directly.
    forwards_ref: bool = False
    #: True when every output is a newly allocated array, never a view of an input or of state:
    #: a plan may then let this output's sole consumer overwrite it (``donating`` kernels).
    fresh_output: bool = False
    #: True when the CPU kernel may cut its work into intra-op pieces (``runtime/intra_op.py``).
    splits: bool = False
    #: Index of an input that ``donating_kernel``'s kernel may overwrite with the result: the plan
    #: uses it when that input is a ``fresh_output`` only this op reads (no allocation, one pass less).
    donatable: int | None = None
    #: The op's rule in a batch-split run (``runtime/batch_split.py``): "elementwise" (NumPy
    #: broadcasting of per-example inputs), "rows" (input 0 per-example, the others parameters),
    #: or None; ops with other rules override ``batch_split``.
    batch_rule: str | None = None

    def infer(self, op: Operation) -> list[tuple[Any, tuple | None]]:
        """Returns ``[(dtype, dims), ...]`` for each output; raises ValueError/TypeError if invalid."""
        raise TypeError(f"op type {self.type} defines no shape rule")

    def kernel(self, op: Operation, rt: Any) -> Callable:
        """Returns ``f(*input_values) -> value`` (or a tuple for several outputs)."""
        raise TypeError(f"op type {self.type} defines no kernel")

    def donating_kernel(self, op: Operation, rt: Any) -> Callable | None:
        """A kernel like ``kernel``'s that may build its result in input ``donatable`` (None: no such)."""
        return None

    def folded_into(self, op: Operation, producer: Operation) -> Callable | None:
        """For an op whose input 0 only it reads, made by ``producer``: a ``kernel -> kernel`` wrapper
        that makes ``producer``'s kernel compute this op's result as well (the plan then passes that
        value through this op), or None. Exact rewrites only, e.g. ReLU's mask after a max-pool
        gradient applied on the pooled grid instead."""
        return None

    def batch_split(self, op: Operation, kinds: tuple[str, ...]) -> Any:
        """The kinds of the outputs given the inputs' kinds in a batch-split run (a ``Split``), or
        None when the op needs its inputs whole (``runtime/batch_split.py`` defines the kinds)."""
        if self.batch_rule is None:
            return None
        from flowgraph.runtime import batch_split

        if self.batch_rule == "elementwise":
            return batch_split.elementwise(op, kinds)
        return batch_split.rowwise(op, kinds)

    def ref_reader(self, op: Operation, rt: Any, consumer: Operation) -> Callable:
        """For ``ref_output`` ops: a zero-argument function reading the current state for ``consumer``."""
        raise TypeError(f"op type {self.type} has no ref output")

    def static_value(self, op: Operation) -> Any:
        """The output's value when it is known at graph construction (Const, Shape of a known shape)."""
        return None

    def gradient(self, op: Operation, *grads: Tensor) -> Sequence[Tensor | None]:
        """Gradient w.r.t. each input, built from graph ops (None where there is none)."""
        raise LookupError(f"No gradient defined for operation '{op.name}' (op type: {op.type}).")


def register_op(cls: type[OpDef]) -> type[OpDef]:
    """Class decorator: registers one op type; a duplicate names both definitions."""
    name = cls.type or cls.__name__
    cls.type = name
    if name in _OPS:
        prev = inspect.getsourcefile(type(_OPS[name]))  # only on this error path
        raise KeyError(f"Op type '{name}' is registered twice (first in {prev}).")
    _OPS[name] = cls()
    if cls.gradient is not OpDef.gradient and name not in _GRADIENTS:  # own or inherited rule
        _GRADIENTS[name] = _OPS[name].gradient
        _GRADIENT_SITES[name] = _site(cls.gradient)
    return cls


def _site(fn: Any) -> str:
    """file:line of a function, from its code object (cheap: no source parsing at import)."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return "<unknown>"
    return f"{code.co_filename}:{code.co_firstlineno}"


def get_op_def(type_name: str) -> OpDef:
    try:
        return _OPS[type_name]
    except KeyError:
        raise KeyError(f"No op type named '{type_name}' is registered.") from None


def registered_ops() -> dict[str, OpDef]:
    return dict(_OPS)


class RegisterGradient:
    """Decorator registering ``fn(op, *grads)`` as the gradient of an op type (TF1's API)."""

    def __init__(self, op_type: str) -> None:
        if not isinstance(op_type, str):
            raise TypeError("op_type must be a string")
        self._op_type = op_type

    def __call__(self, fn: Callable) -> Callable:
        if self._op_type in _GRADIENTS and _GRADIENT_SITES.get(self._op_type) != _site(fn):
            raise KeyError(
                f"Registering two gradient with name '{self._op_type}'! "
                f"(Previous registration was in {_GRADIENT_SITES.get(self._op_type)})"
            )
        _GRADIENTS[self._op_type] = fn
        _GRADIENT_SITES[self._op_type] = _site(fn)
        return fn


def NotDifferentiable(op_type: str) -> None:  # noqa: N802 - TF1's public name
    """Marks an op type as having no gradient: backprop treats its inputs as unconnected."""
    if not isinstance(op_type, str):
        raise TypeError("op_type must be a string")
    _GRADIENTS[op_type] = None
    _GRADIENT_SITES[op_type] = "NotDifferentiable"


NoGradient = NotDifferentiable

_MISSING = object()


def get_gradient_function(op: Operation) -> Callable | None:
    """The gradient of ``op``, honouring ``gradient_override_map``; raises LookupError if none."""
    type_name = op._gradient_type or op.type
    fn = _GRADIENTS.get(type_name, _MISSING)
    if fn is _MISSING:
        raise LookupError(f"No gradient defined for operation '{op.name}' (op type: {type_name}).")
    return fn


def is_differentiable(type_name: str) -> bool:
    return _GRADIENTS.get(type_name, _MISSING) is not None and type_name in _GRADIENTS
