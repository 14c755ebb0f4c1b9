"""``tf.train.ExponentialMovingAverage``: shadow copies of variables (or tensors) that trail them.

Each ``apply()`` run moves every shadow toward its source: ``shadow -= (1 - decay) * (shadow - value)``.
With ``num_updates``, the decay is ``min(decay, (1 + num_updates) / (10 + num_updates))``, so the
averages follow the first updates closely. As in TF1, a variable's shadow starts at the variable's
initial value and is named ``<var>/ExponentialMovingAverage``; a tensor's starts at zero and, with
``zero_debias=True``, is divided by ``1 - decay**t`` after ``t`` updates. The averaged variables go
into ``GraphKeys.MOVING_AVERAGE_VARIABLES``; ``variables_to_restore()`` maps shadow names to
variables, so a ``Saver`` built from it loads the averages into an evaluation graph's variables.

One difference from TF1: a variable's shadow is initialised from the variable's initial-value
tensor, not ``var.initialized_value()`` (flowgraph has no ``tf.cond``). Both get the same value when
they are initialised in one run (``global_variables_initializer``); a shadow initialised in a later,
separate run gets a fresh draw of a random initializer.
"""

from __future__ import annotations

from typing import Any

from flowgraph import dtypes as _dtypes
from flowgraph import init_ops
from flowgraph.graph import GraphKeys, Operation, Tensor, convert_to_tensor, get_default_graph
from flowgraph.ops.control import group
from flowgraph.ops.math import cast, minimum, pow  # noqa: A004 - TF's math_ops.pow
from flowgraph.variables import Variable, assign, assign_add, assign_sub

_VALID_DTYPES = (_dtypes.float16, _dtypes.float32, _dtypes.float64)


def assign_moving_average(
    variable: Variable, value: Any, decay: Any, zero_debias: bool = True, name: str | None = None
) -> Tensor:
    """``variable -= (1 - decay) * (variable - value)``; returns the new value.

    With ``zero_debias`` (TF1's default here, not in ``ExponentialMovingAverage``), a biased
    accumulator ``<variable>/biased`` and a step count ``<variable>/local_step`` (both starting at
    zero) are kept and ``variable`` becomes ``biased / (1 - decay**local_step)``.
    """
    g = get_default_graph()
    with g.name_scope(name or "AssignMovingAvg") as scope:
        one_minus_decay = convert_to_tensor(1.0 - convert_to_tensor(decay), name="decay")
        if one_minus_decay.dtype is not variable.dtype:
            one_minus_decay = cast(one_minus_decay, variable.dtype)
        value = convert_to_tensor(value)
        if not zero_debias:
            return assign_sub(variable, (variable - value) * one_minus_decay, name=scope)
        biased, local_step = _debias_variables(variable)
        new_biased = assign_sub(biased, (biased - value) * one_minus_decay)
        step = assign_add(local_step, convert_to_tensor(1.0, dtype=variable.dtype))
        bias_factor = 1 - pow(1.0 - one_minus_decay, step)
        return assign(variable, new_biased / bias_factor, name=scope)


def _debias_variables(unbiased: Variable) -> tuple[Variable, Variable]:
    """The ``biased`` accumulator and ``local_step`` counter of a zero-debiased average (zeros)."""
    g = unbiased.graph
    shape = unbiased.shape.as_list()
    dtype = unbiased.dtype
    with g.name_scope(None), g.control_dependencies(None):
        biased = Variable(
            lambda: init_ops.zeros_initializer(dtype=dtype)(shape, dtype=dtype),
            trainable=False,
            name=f"{unbiased.op.name}/biased",
            dtype=dtype,
        )
        local_step = Variable(
            lambda: init_ops.zeros_initializer(dtype=dtype)([], dtype=dtype),
            trainable=False,
            name=f"{unbiased.op.name}/local_step",
            dtype=dtype,
        )
    return biased, local_step


class ExponentialMovingAverage:
    """Keeps moving averages of variables (or tensors) by adding shadow variables and an update op.

    >>> ema = tf.train.ExponentialMovingAverage(0.999, num_updates=global_step)  # doctest: +SKIP
    >>> with tf.control_dependencies([train_step]):                              # doctest: +SKIP
    ...     train_op = ema.apply(tf.trainable_variables())
    >>> ema.average(w)  # the shadow variable of w                               # doctest: +SKIP
    """

    def __init__(
        self, decay: Any, num_updates: Any = None, zero_debias: bool = False, name: str = "ExponentialMovingAverage"
    ) -> None:
        self._decay = decay
        self._num_updates = num_updates
        self._zero_debias = zero_debias
        self._name = name
        self._averages: dict[Any, Variable] = {}

    @property
    def name(self) -> str:
        return self._name

    def apply(self, var_list: Any = None) -> Operation:
        """Creates the shadows (once per source) and returns an op that updates them all.

        ``var_list`` holds float variables or tensors (default: the trainable variables).
        """
        g = get_default_graph()
        if var_list is None:
            var_list = g.get_collection(GraphKeys.TRAINABLE_VARIABLES)
        var_list = list(var_list)
        for var in var_list:
            if var.dtype.base_dtype not in _VALID_DTYPES:
                raise TypeError(f"The variables must be half, float, or double: {var.name}")
            if _key(var) in self._averages:
                raise ValueError(f"Moving average already computed for: {var.name}")
        zero_debiased: set[Any] = set()
        for var in var_list:
            if isinstance(var, Variable):
                avg = _shadow_variable(var, self._name)
                g.add_to_collection(GraphKeys.MOVING_AVERAGE_VARIABLES, var)
            else:
                avg = _zeros_shadow(convert_to_tensor(var), self._name)
                if self._zero_debias:
                    zero_debiased.add(_key(var))
            self._averages[_key(var)] = avg
        with g.name_scope(self._name) as scope:
            decay = convert_to_tensor(self._decay, name="decay")
            if self._num_updates is not None:
                num_updates = cast(self._num_updates, _dtypes.float32, name="num_updates")
                decay = minimum(decay, (1.0 + num_updates) / (10.0 + num_updates))
            updates = [
                assign_moving_average(self._averages[_key(var)], var, decay, zero_debias=_key(var) in zero_debiased)
                for var in var_list
            ]
            return group(*updates, name=scope)

    def average(self, var: Any) -> Variable | None:
        """The shadow variable of ``var``, or None if ``apply`` never saw it."""
        return self._averages.get(_key(var))

    def average_name(self, var: Any) -> str:
        """The name of ``var``'s shadow (also before ``apply`` creates it): ``<var>/ExponentialMovingAverage``."""
        avg = self._averages.get(_key(var))
        if avg is not None:
            return avg.op.name
        return var.graph.unique_name(f"{var.op.name}/{self._name}", mark_as_used=False)

    def variables_to_restore(self, moving_avg_variables: Any = None) -> dict[str, Variable]:
        """``{checkpoint name: variable}`` restoring each averaged variable from its shadow's name.

        Default ``moving_avg_variables``: the trainable variables plus ``MOVING_AVERAGE_VARIABLES``.
        The other global variables map to their own names.
        """
        g = get_default_graph()
        if moving_avg_variables is None:
            moving_avg_variables = g.get_collection(GraphKeys.TRAINABLE_VARIABLES) + g.get_collection(
                GraphKeys.MOVING_AVERAGE_VARIABLES
            )
        unique = list(dict.fromkeys(moving_avg_variables))
        name_map = {self.average_name(v): v for v in unique}
        averaged_names = {v.name for v in unique}
        for v in g.get_collection(GraphKeys.GLOBAL_VARIABLES):
            if v.name not in averaged_names and v.op.name not in name_map:
                name_map[v.op.name] = v
        return name_map


def _key(var: Any) -> Any:
    return var.op if isinstance(var, Variable) else var


def _shadow_variable(var: Variable, name: str) -> Variable:
    """A non-trainable copy of ``var`` named ``<var>/<name>``, starting at ``var``'s initial value."""
    g = var.graph
    with g.as_default(), g.name_scope(None), g.control_dependencies(None):
        return Variable(
            var.initial_value,
            trainable=False,
            name=f"{var.op.name}/{name}",
            validate_shape=var.shape.is_fully_defined(),
        )


def _zeros_shadow(tensor: Tensor, name: str) -> Variable:
    """A non-trainable zero variable shaped like ``tensor``, named ``<tensor's op>/<name>``."""
    if not tensor.shape.is_fully_defined():
        raise ValueError(
            f"ExponentialMovingAverage needs a fully defined shape to average the tensor {tensor.name}, "
            f"not {tensor.shape}."
        )
    g = tensor.graph
    shape = tensor.shape.as_list()
    dtype = tensor.dtype
    with g.as_default(), g.name_scope(None), g.control_dependencies(None):
        return Variable(
            lambda: init_ops.zeros_initializer(dtype=dtype)(shape, dtype=dtype),
            trainable=False,
            name=f"{tensor.op.name}/{name}",
            dtype=dtype,
        )
