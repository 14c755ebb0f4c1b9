"""``tf.train.MomentumOptimizer`` and its fused ``ApplyMomentum`` op."""

from __future__ import annotations

from typing import Any

from flowgraph.graph import Operation, Tensor, get_default_graph
from flowgraph.registry import NotDifferentiable, register_op
from flowgraph.train.optimizer import ApplyOp, Optimizer
from flowgraph.variables import Variable


@register_op
class ApplyMomentum(ApplyOp):
    """``accum = accum * momentum + grad``; ``var -= lr * accum`` (Nesterov:
    ``var -= grad * lr + accum * momentum * lr``). Inputs ``(var, accum, lr, grad, momentum)``."""

    n_refs = 2
    grad_index = 3

    def update_fn(self, op, xp):
        nesterov = bool(op.attrs.get("use_nesterov", False))

        def update(var, accum, lr, grad, momentum):
            acc = accum * momentum
            acc += grad
            if nesterov:
                step = grad * lr
                step += acc * momentum * lr
            else:
                step = acc * lr
            return xp.subtract(var, step, out=step), acc

        return update


NotDifferentiable("ApplyMomentum")


class MomentumOptimizer(Optimizer):
    """SGD with momentum; keeps one slot per variable, ``'momentum'`` (variable ``<var>/Momentum``)."""

    def __init__(
        self,
        learning_rate: Any,
        momentum: Any,
        use_locking: bool = False,
        name: str = "Momentum",
        use_nesterov: bool = False,
    ) -> None:
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._momentum = momentum
        self._use_nesterov = use_nesterov

    def _create_slots(self, var_list: list[Variable]) -> None:
        for v in var_list:
            self._zeros_slot(v, "momentum", self._name)

    def _prepare(self) -> None:
        self._learning_rate_tensor = self._hyper_tensor(self._learning_rate, "learning_rate")
        self._momentum_tensor = self._hyper_tensor(self._momentum, "momentum")

    def _apply_dense(self, grad: Tensor, var: Variable) -> Operation:
        mom = self.get_slot(var, "momentum")
        return get_default_graph().create_op(
            "ApplyMomentum",
            [
                var._ref(),
                mom._ref(),
                self._cast_to(self._learning_rate_tensor, var),
                grad,
                self._cast_to(self._momentum_tensor, var),
            ],
            {"use_locking": self._use_locking, "use_nesterov": self._use_nesterov},
            name="ApplyMomentum",
        )
