"""``tf.train.AdamOptimizer`` and its fused ``ApplyAdam`` op."""

from __future__ import annotations

from typing import Any

from flowgraph.graph import Operation, Tensor, get_default_graph
from flowgraph.ops.control import group
from flowgraph.registry import NotDifferentiable, register_op
from flowgraph.train.optimizer import ApplyOp, Optimizer
from flowgraph.variables import Variable


@register_op
class ApplyAdam(ApplyOp):
    """``lr_t = lr * sqrt(1 - beta2_power) / (1 - beta1_power)``; ``m += (grad - m) * (1 - beta1)``;
    ``v += (grad**2 - v) * (1 - beta2)``; ``var -= lr_t * m / (sqrt(v) + epsilon)``.
    Inputs ``(var, m, v, beta1_power, beta2_power, lr, beta1, beta2, epsilon, grad)``."""

    n_refs = 3
    grad_index = 9

    def update_fn(self, op, xp):
        nesterov = bool(op.attrs.get("use_nesterov", False))

        def update(var, m, v, beta1_power, beta2_power, lr, beta1, beta2, epsilon, grad):
            alpha = lr * xp.sqrt(1 - beta2_power) / (1 - beta1_power)
            new_m = grad - m
            new_m *= 1 - beta1
            new_m += m
            new_v = grad * grad
            new_v -= v
            new_v *= 1 - beta2
            new_v += v
            denom = xp.sqrt(new_v)
            denom += epsilon
            if nesterov:
                step = grad * (1 - beta1)
                step += new_m * beta1
                step *= alpha
            else:
                step = new_m * alpha
            step /= denom
            return xp.subtract(var, step, out=step), new_m, new_v

        return update


NotDifferentiable("ApplyAdam")


class AdamOptimizer(Optimizer):
    """Adam (Kingma & Ba) as in TF1: slots ``'m'``, ``'v'`` (``<var>/Adam``, ``<var>/Adam_1``) and the
    non-slot variables ``beta1_power``/``beta2_power``, multiplied by beta1/beta2 after each step."""

    def __init__(
        self,
        learning_rate: Any = 0.001,
        beta1: Any = 0.9,
        beta2: Any = 0.999,
        epsilon: Any = 1e-08,
        use_locking: bool = False,
        name: str = "Adam",
    ) -> None:
        super().__init__(use_locking, name)
        self._lr = learning_rate
        self._beta1 = beta1
        self._beta2 = beta2
        self._epsilon = epsilon

    def _get_beta_accumulators(self) -> tuple[Variable, Variable]:
        g = get_default_graph()
        return self._get_non_slot_variable("beta1_power", graph=g), self._get_non_slot_variable("beta2_power", graph=g)

    def _create_slots(self, var_list: list[Variable]) -> None:
        first_var = min(var_list, key=lambda x: x.name)
        self._create_non_slot_variable(initial_value=self._beta1, name="beta1_power", colocate_with=first_var)
        self._create_non_slot_variable(initial_value=self._beta2, name="beta2_power", colocate_with=first_var)
        for v in var_list:
            self._zeros_slot(v, "m", self._name)
            self._zeros_slot(v, "v", self._name)

    def _prepare(self) -> None:
        self._lr_t = self._hyper_tensor(self._lr, "learning_rate")
        self._beta1_t = self._hyper_tensor(self._beta1, "beta1")
        self._beta2_t = self._hyper_tensor(self._beta2, "beta2")
        self._epsilon_t = self._hyper_tensor(self._epsilon, "epsilon")

    def _apply_dense(self, grad: Tensor, var: Variable) -> Operation:
        m = self.get_slot(var, "m")
        v = self.get_slot(var, "v")
        beta1_power, beta2_power = self._get_beta_accumulators()
        inputs = (
            [var._ref(), m._ref(), v._ref()]
            + [
                self._cast_to(t, var)
                for t in (
                    beta1_power.value(),
                    beta2_power.value(),
                    self._lr_t,
                    self._beta1_t,
                    self._beta2_t,
                    self._epsilon_t,
                )
            ]
            + [grad]
        )
        return get_default_graph().create_op(
            "ApplyAdam", inputs, {"use_locking": self._use_locking, "use_nesterov": False}, name="ApplyAdam"
        )

    def _finish(self, update_ops: list, name_scope: str) -> Operation:
        g = get_default_graph()
        with g.control_dependencies(update_ops):
            beta1_power, beta2_power = self._get_beta_accumulators()
            update_beta1 = beta1_power.assign(beta1_power * self._beta1_t, use_locking=self._use_locking)
            update_beta2 = beta2_power.assign(beta2_power * self._beta2_t, use_locking=self._use_locking)
        return group(*update_ops, update_beta1, update_beta2, name=name_scope)
