"""``tf.train.AdagradOptimizer`` and its fused ``ApplyAdagrad`` op."""

from __future__ import annotations

from typing import Any

from flowgraph.graph import Operation, Tensor, get_default_graph
from flowgraph.registry import NotDifferentiable, register_op
from flowgraph.train.optimizer import ApplyOp, Optimizer
from flowgraph.variables import Variable


@register_op
class ApplyAdagrad(ApplyOp):
    """``accum += grad**2``; ``var -= grad * lr * rsqrt(accum)``. Inputs ``(var, accum, lr, grad)``."""

    n_refs = 2
    grad_index = 3

    def update_fn(self, op, xp):
        update_slots = bool(op.attrs.get("update_slots", True))

        def update(var, accum, lr, grad):
            acc = accum + grad * grad if update_slots else accum
            rs = xp.sqrt(acc)
            xp.reciprocal(rs, out=rs)
            step = grad * lr
            step *= rs
            return xp.subtract(var, step, out=step), acc

        return update


NotDifferentiable("ApplyAdagrad")


class AdagradOptimizer(Optimizer):
    """Adagrad; keeps one slot per variable, ``'accumulator'`` (``<var>/Adagrad``), starting at
    ``initial_accumulator_value``."""

    def __init__(
        self,
        learning_rate: Any,
        initial_accumulator_value: float = 0.1,
        use_locking: bool = False,
        name: str = "Adagrad",
    ) -> None:
        if initial_accumulator_value <= 0.0:
            raise ValueError(f"initial_accumulator_value must be positive: {initial_accumulator_value}")
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._initial_accumulator_value = initial_accumulator_value

    def _create_slots(self, var_list: list[Variable]) -> None:
        for v in var_list:
            self._make_slot(v, "accumulator", self._name, self._initial_accumulator_value)

    def _prepare(self) -> None:
        self._learning_rate_tensor = self._hyper_tensor(self._learning_rate, "learning_rate")

    def _apply_dense(self, grad: Tensor, var: Variable) -> Operation:
        acc = self.get_slot(var, "accumulator")
        return get_default_graph().create_op(
            "ApplyAdagrad",
            [var._ref(), acc._ref(), self._cast_to(self._learning_rate_tensor, var), grad],
            {"use_locking": self._use_locking, "update_slots": True},
            name="ApplyAdagrad",
        )
