"""``tf.train.RMSPropOptimizer`` and its fused ``ApplyRMSProp`` / ``ApplyCenteredRMSProp`` ops."""

from __future__ import annotations

from typing import Any

from flowgraph.graph import Operation, Tensor, get_default_graph
from flowgraph.registry import NotDifferentiable, register_op
from flowgraph.train.optimizer import ApplyOp, Optimizer
from flowgraph.variables import Variable


@register_op
class ApplyRMSProp(ApplyOp):
    """``ms += (grad**2 - ms) * (1 - rho)``; ``mom = mom * momentum + grad * lr / sqrt(ms + epsilon)``;
    ``var -= mom``. Inputs ``(var, ms, mom, lr, rho, momentum, epsilon, grad)``."""

    n_refs = 3
    grad_index = 7

    def update_fn(self, op, xp):
        def update(var, ms, mom, lr, rho, momentum, epsilon, grad):
            new_ms = grad * grad
            new_ms -= ms
            new_ms *= 1 - rho
            new_ms += ms
            denom = new_ms + epsilon
            xp.sqrt(denom, out=denom)
            new_mom = grad * lr
            new_mom /= denom
            new_mom += mom * momentum
            return var - new_mom, new_ms, new_mom

        return update


@register_op
class ApplyCenteredRMSProp(ApplyOp):
    """RMSProp normalised by the gradient's estimated variance: ``mg += (grad - mg) * (1 - rho)``,
    ``mom = mom * momentum + grad * lr * rsqrt(ms - mg**2 + epsilon)``.
    Inputs ``(var, mg, ms, mom, lr, rho, momentum, epsilon, grad)``."""

    n_refs = 4
    grad_index = 8

    def update_fn(self, op, xp):
        def update(var, mg, ms, mom, lr, rho, momentum, epsilon, grad):
            one_minus_rho = 1 - rho
            new_ms = grad * grad
            new_ms -= ms
            new_ms *= one_minus_rho
            new_ms += ms
            new_mg = grad - mg
            new_mg *= one_minus_rho
            new_mg += mg
            denom = new_ms - new_mg * new_mg
            denom += epsilon
            xp.sqrt(denom, out=denom)
            xp.reciprocal(denom, out=denom)
            new_mom = grad * lr
            new_mom *= denom
            new_mom += mom * momentum
            return var - new_mom, new_mg, new_ms, new_mom

        return update


NotDifferentiable("ApplyRMSProp")
NotDifferentiable("ApplyCenteredRMSProp")


class RMSPropOptimizer(Optimizer):
    """RMSProp. Slots: ``'rms'`` (starts at 1, as in TF1), ``'momentum'``, and ``'mg'`` when centered;
    created in that order as ``<var>/RMSProp``, ``<var>/RMSProp_1``[, ``<var>/RMSProp_2``]."""

    def __init__(
        self,
        learning_rate: Any,
        decay: Any = 0.9,
        momentum: Any = 0.0,
        epsilon: Any = 1e-10,
        use_locking: bool = False,
        centered: bool = False,
        name: str = "RMSProp",
    ) -> None:
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._decay = decay
        self._momentum = momentum
        self._epsilon = epsilon
        self._centered = centered

    def _create_slots(self, var_list: list[Variable]) -> None:
        for v in var_list:
            self._make_slot(v, "rms", self._name, 1.0)
            if self._centered:
                self._zeros_slot(v, "mg", self._name)
            self._zeros_slot(v, "momentum", self._name)

    def _prepare(self) -> None:
        self._learning_rate_tensor = self._hyper_tensor(self._learning_rate, "learning_rate")
        self._decay_tensor = self._hyper_tensor(self._decay, "decay")
        self._momentum_tensor = self._hyper_tensor(self._momentum, "momentum")
        self._epsilon_tensor = self._hyper_tensor(self._epsilon, "epsilon")

    def _apply_dense(self, grad: Tensor, var: Variable) -> Operation:
        rms = self.get_slot(var, "rms")
        mom = self.get_slot(var, "momentum")
        hyper = [
            self._cast_to(t, var)
            for t in (self._learning_rate_tensor, self._decay_tensor, self._momentum_tensor, self._epsilon_tensor)
        ]
        attrs = {"use_locking": self._use_locking}
        g = get_default_graph()
        if self._centered:
            mg = self.get_slot(var, "mg")
            return g.create_op(
                "ApplyCenteredRMSProp",
                [var._ref(), mg._ref(), rms._ref(), mom._ref(), *hyper, grad],
                attrs,
                name="ApplyCenteredRMSProp",
            )
        return g.create_op(
            "ApplyRMSProp", [var._ref(), rms._ref(), mom._ref(), *hyper, grad], attrs, name="ApplyRMSProp"
        )
