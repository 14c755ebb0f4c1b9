"""``tf.train.GradientDescentOptimizer`` and its fused ``ApplyGradientDescent`` op."""

from __future__ import annotations

from typing import Any

from flowgraph.graph import Operation, Tensor, get_default_graph
from flowgraph.registry import NotDifferentiable, register_op
from flowgraph.train.optimizer import ApplyOp, Optimizer
from flowgraph.variables import Variable


@register_op
class ApplyGradientDescent(ApplyOp):
    """``var -= alpha * delta``; inputs ``(var, alpha, delta)``."""

    n_refs = 1
    grad_index = 2
    donatable = 1  # delta, among the non-ref inputs (alpha, delta)

    def update_fn(self, op, xp):
        def update(var, alpha, delta):
            step = delta * alpha
            return (xp.subtract(var, step, out=step),)

        return update

    def donated_update_fn(self, op, xp):
        def update(var, alpha, delta):
            if delta.shape != var.shape or delta.dtype != var.dtype or not getattr(delta.flags, "writeable", True):
                return self.update_fn(op, xp)(var, alpha, delta)
            xp.multiply(delta, alpha, out=delta)
            return (xp.subtract(var, delta, out=delta),)

        return update


NotDifferentiable("ApplyGradientDescent")


class GradientDescentOptimizer(Optimizer):
    """Plain SGD: ``var -= learning_rate * grad``."""

    def __init__(self, learning_rate: Any, use_locking: bool = False, name: str = "GradientDescent") -> None:
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._learning_rate_tensor: Tensor | None = None

    def _prepare(self) -> None:
        self._learning_rate_tensor = self._hyper_tensor(self._learning_rate, "learning_rate")

    def _apply_dense(self, grad: Tensor, var: Variable) -> Operation:
        lr = self._cast_to(self._learning_rate_tensor, var)
        return get_default_graph().create_op(
            "ApplyGradientDescent",
            [var._ref(), lr, grad],
            {"use_locking": self._use_locking},
            name="ApplyGradientDescent",
        )
