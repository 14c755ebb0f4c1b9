"""``tf.train.Optimizer``: gradients in, one fused update op per variable out.

Subclasses say how to make their slots (``_create_slots``), how to turn hyperparameters into
tensors (``_prepare``) and which registered ``Apply*`` op updates one variable (``_apply_dense``).
The base class reproduces TF1's graph layout: slots named ``<var>/<Optimizer>[_n]``, updates under
``<name>/update_<var>/``, and a train op named ``<name>`` that also bumps ``global_step``.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from typing import Any

from flowgraph import dtypes as _dtypes
from flowgraph.errors import InvalidArgumentError
from flowgraph.gradients import gradients
from flowgraph.graph import GraphKeys, Operation, Tensor, convert_to_tensor, get_default_graph
from flowgraph.ops.control import group, tuple_
from flowgraph.ops.math import cast, ones_like, zeros_like
from flowgraph.ops.op_helpers import describe
from flowgraph.registry import OpDef
from flowgraph.variables import Variable, read_store

_TRAINABLE_RESOURCE_VARIABLES = "trainable_resource_variables"
_VALID_DTYPES = (_dtypes.float16, _dtypes.float32, _dtypes.float64)


# ---------------------------------------------------------------------------------------------
# The fused update ops share one shape rule and the read-validate-write discipline
# ---------------------------------------------------------------------------------------------
class ApplyOp(OpDef):
    """Base of ``Apply*`` ops: inputs ``[var, slots..., scalars and grad]``; var and slots are refs.

    The kernel reads every ref from the variable store before writing any, so a failure (an
    uninitialized slot, a bad gradient shape) leaves all state untouched; it stores fresh arrays,
    since earlier fetches of a variable may still hold the old ones.
    """

    stateful = True
    #: How many leading inputs are variable refs (the variable, then its slots).
    n_refs = 1
    #: Index of the gradient among the inputs; every other non-ref input is a scalar.
    grad_index = -1

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.ref_inputs = tuple(range(cls.n_refs))

    def infer(self, op):
        ins = op.inputs
        var = ins[0]
        for i in range(self.n_refs):
            ref = ins[i]
            if ref.op.type != "VariableV2":
                raise TypeError(
                    f"{self.type} needs variables as its first {self.n_refs} inputs; input {i} is {describe(ref)}."
                )
            if ref.dtype is not var.dtype:
                raise TypeError(
                    f"{self.type}: slot {ref.op.name} is {ref.dtype.name} but variable {var.op.name} is {var.dtype.name}."
                )
            if not ref.shape.is_compatible_with(var.shape):
                raise ValueError(
                    f"{self.type}: slot {ref.op.name} has shape {ref.shape}, variable {var.op.name} {var.shape}."
                )
        grad_index = self.grad_index % len(ins)
        grad = ins[grad_index]
        if grad.dtype is not var.dtype:
            raise TypeError(
                f"{self.type}: gradient {describe(grad)} does not match the dtype {var.dtype.name} of variable {var.op.name}."
            )
        if not grad.shape.is_compatible_with(var.shape):
            raise ValueError(
                f"{self.type}: var and grad do not have the same shape: variable {var.op.name} is {var.shape}, "
                f"gradient {describe(grad)}."
            )
        for i in range(self.n_refs, len(ins)):
            if i == grad_index:
                continue
            s = ins[i]
            if s.dtype is not var.dtype:
                raise TypeError(
                    f"{self.type}: hyperparameter {describe(s)} must have the variable's dtype {var.dtype.name}."
                )
            if s._dims is not None and len(s._dims) != 0:
                raise ValueError(f"{self.type}: hyperparameter {describe(s)} is not a scalar.")
        return [(var.dtype, var._dims)]

    def kernel(self, op, rt):
        return self._apply_kernel(op, rt, self.update_fn(op, rt.xp))

    def donating_kernel(self, op, rt):
        donated = self.donated_update_fn(op, rt.xp)
        if donated is None:
            return None
        kernel = self._apply_kernel(op, rt, donated)
        kernel.__name__ = "apply_in_gradient_buffer"
        return kernel

    def _apply_kernel(self, op: Operation, rt: Any, update: Callable) -> Callable:
        store = rt.variables
        ref_ops = tuple(t.op for t in op.inputs[: self.n_refs])
        asarray = rt.xp.asarray
        var_op = ref_ops[0]
        grad_arg = self.grad_index % len(op.inputs) - self.n_refs

        def apply(*args: Any) -> Any:
            current = [read_store(store, r, op) for r in ref_ops]
            grad = args[grad_arg]
            if grad.shape != current[0].shape:
                raise InvalidArgumentError(
                    None,
                    op,
                    f"var and grad do not have the same shape{list(current[0].shape)} {list(grad.shape)} "
                    f"(variable {var_op.name}, op {op.name})",
                )
            if current[0].ndim == 0:
                # NumPy turns 0-d results into immutable scalars; update functions use out=, so work in 1-d.
                current = [c.reshape(1) for c in current]
                args = list(args)
                args[grad_arg] = asarray(grad).reshape(1)
                new = [v.reshape(()) for v in update(*current, *args)]
            else:
                new = update(*current, *args)
            for r, value in zip(ref_ops[1:], new[1:]):
                store[r] = value
            store[var_op] = new[0]
            return new[0]

        return apply

    def update_fn(self, op: Operation, xp: Any) -> Callable:
        """``f(var, *slots, *non_ref_inputs) -> (new_var, *new_slots)``: fresh arrays only."""
        raise TypeError(f"op type {self.type} defines no update")

    def donated_update_fn(self, op: Operation, xp: Any) -> Callable | None:
        """Like ``update_fn``, but free to build the new values in the gradient's buffer.

        The plan uses it (``donating_kernel``) when the gradient, input ``donatable`` among the
        non-ref inputs, is a fresh array only this op reads: the update then allocates nothing, as
        a hand-written in-place ``w -= lr * g`` would not.
        """
        return None


# ---------------------------------------------------------------------------------------------
# Optimizer
# ---------------------------------------------------------------------------------------------
def _var_key(var: Variable) -> Operation:
    return var.op


def _flatten(x: Any) -> list:
    if isinstance(x, list | tuple):
        out = []
        for i in x:
            out.extend(_flatten(i))
        return out
    if isinstance(x, dict):
        return _flatten(list(x.values()))
    return [x]


class Optimizer(abc.ABC):
    """Base class of TF1 optimizers: ``compute_gradients`` + ``apply_gradients`` = ``minimize``."""

    GATE_NONE = 0
    GATE_OP = 1
    GATE_GRAPH = 2

    def __init__(self, use_locking: bool, name: str) -> None:
        if not name:
            raise ValueError("Must specify the optimizer name")
        self._use_locking = use_locking
        self._name = name
        self._slots: dict[str, dict[Operation, Variable]] = {}
        self._non_slot_dict: dict[tuple, Variable] = {}

    def get_name(self) -> str:
        return self._name

    # -- the public steps ----------------------------------------------------------------------
    def minimize(
        self,
        loss: Any,
        global_step: Any = None,
        var_list: Any = None,
        gate_gradients: int = GATE_OP,
        aggregation_method: Any = None,
        colocate_gradients_with_ops: bool = False,
        name: str | None = None,
        grad_loss: Any = None,
    ) -> Operation:
        """Adds ops computing the gradients of ``loss`` and applying them; returns the train op."""
        grads_and_vars = self.compute_gradients(
            loss,
            var_list=var_list,
            gate_gradients=gate_gradients,
            aggregation_method=aggregation_method,
            colocate_gradients_with_ops=colocate_gradients_with_ops,
            grad_loss=grad_loss,
        )
        if not [v for g, v in grads_and_vars if g is not None]:
            raise ValueError(
                "No gradients provided for any variable, check your graph for ops that do not support "
                f"gradients, between variables {[str(v) for _, v in grads_and_vars]} and loss {loss}."
            )
        train_op = self.apply_gradients(grads_and_vars, global_step=global_step, name=name)
        warn_if_update_ops_skipped(train_op)
        return train_op

    def compute_gradients(
        self,
        loss: Any,
        var_list: Any = None,
        gate_gradients: int = GATE_OP,
        aggregation_method: Any = None,
        colocate_gradients_with_ops: bool = False,
        grad_loss: Any = None,
    ) -> list[tuple[Tensor | None, Variable]]:
        """``[(gradient, variable)]`` for ``var_list`` (default: the trainable variables); None where unconnected."""
        if callable(loss) and not isinstance(loss, Tensor):
            loss = loss()
        if gate_gradients not in (Optimizer.GATE_NONE, Optimizer.GATE_OP, Optimizer.GATE_GRAPH):
            raise ValueError(
                "gate_gradients must be one of: Optimizer.GATE_NONE, Optimizer.GATE_OP, Optimizer.GATE_GRAPH.  "
                f"Not {gate_gradients}"
            )
        loss = convert_to_tensor(loss)
        self._assert_valid_dtypes([loss])
        if grad_loss is not None:
            grad_loss = convert_to_tensor(grad_loss)
            self._assert_valid_dtypes([grad_loss])
        g = loss.graph
        if var_list is None:
            var_list = g.get_collection(GraphKeys.TRAINABLE_VARIABLES) + g.get_collection(_TRAINABLE_RESOURCE_VARIABLES)
        else:
            var_list = _flatten(var_list)
        if not var_list:
            raise ValueError("No variables to optimize.")
        for v in var_list:
            if not isinstance(v, Variable):
                raise TypeError(f"Trying to optimize unsupported type {v!r}: var_list holds tf.Variable objects only.")
        with g.as_default():
            grads = gradients(
                loss,
                var_list,
                grad_ys=grad_loss,
                gate_gradients=gate_gradients == Optimizer.GATE_OP,
                aggregation_method=aggregation_method,
                colocate_gradients_with_ops=colocate_gradients_with_ops,
            )
            if gate_gradients == Optimizer.GATE_GRAPH:
                grads = tuple_(grads)
        grads_and_vars = list(zip(grads, var_list))
        self._assert_valid_dtypes([v for gr, v in grads_and_vars if gr is not None])
        return grads_and_vars

    def apply_gradients(self, grads_and_vars: Any, global_step: Any = None, name: str | None = None) -> Operation:
        """One fused update op per variable with a gradient, grouped; then ``global_step += 1``."""
        grads_and_vars = tuple(grads_and_vars)
        if not grads_and_vars:
            raise ValueError("No variables provided.")
        converted: list[tuple[Tensor | None, Variable]] = []
        for grad, var in grads_and_vars:
            if grad is not None:
                try:
                    grad = convert_to_tensor(grad)
                except (TypeError, ValueError):
                    raise TypeError(f"Gradient must be convertible to a Tensor or None: {grad!r}") from None
            if not isinstance(var, Variable):
                raise TypeError(
                    f"Trying to update unsupported type {var!r}: apply_gradients takes tf.Variable objects."
                )
            converted.append((grad, var))
        var_list = [v for gr, v in converted if gr is not None]
        if not var_list:
            raise ValueError(f"No gradients provided for any variable: {[str(v) for _, v in converted]}.")
        g = var_list[0].graph
        with g.as_default():
            with g.control_dependencies(None):
                self._create_slots(var_list)
            update_ops: list = []
            with g.name_scope(name or self._name) as scope:
                self._prepare()
                for grad, var in converted:
                    if grad is None:
                        continue
                    with g.name_scope("update_" + var.op.name):
                        update_ops.append(self._update_op(grad, var))
                if global_step is None:
                    apply_updates = self._finish(update_ops, scope)
                else:
                    with g.control_dependencies([self._finish(update_ops, "update")]):
                        apply_updates = _increment(global_step, scope)
            if isinstance(apply_updates, Tensor):
                apply_updates = apply_updates.op
            train_ops = g.get_collection_ref(GraphKeys.TRAIN_OP)
            if apply_updates not in train_ops:
                train_ops.append(apply_updates)
        return apply_updates

    def _update_op(self, grad: Tensor, var: Variable) -> Any:
        update = self._apply_dense(grad, var)
        if var.constraint is None:
            return update
        # The op's output is the updated value: reading the variable again in this run would not see it.
        new_value = update.outputs[0] if isinstance(update, Operation) else update
        with get_default_graph().control_dependencies([update]):
            return var.assign(var.constraint(new_value))

    # -- slots ---------------------------------------------------------------------------------
    def get_slot(self, var: Variable, name: str) -> Variable | None:
        """The slot variable ``name`` (e.g. Adam's ``'m'``) kept for ``var``, or None."""
        named = self._slots.get(name)
        if not named:
            return None
        return named.get(_var_key(var))

    def get_slot_names(self) -> list[str]:
        return sorted(self._slots)

    def variables(self) -> list[Variable]:
        """The optimizer's own variables in the default graph (slots and e.g. beta powers), by name."""
        g = get_default_graph()
        out = [v for (_, vg), v in self._non_slot_dict.items() if vg is g]
        for named in self._slots.values():
            out.extend(v for v in named.values() if v.graph is g)
        return sorted(out, key=lambda v: v.name)

    def _slot_dict(self, slot_name: str) -> dict[Operation, Variable]:
        return self._slots.setdefault(slot_name, {})

    def _zeros_slot(self, var: Variable, slot_name: str, op_name: str) -> Variable:
        return self._make_slot(var, slot_name, op_name, 0.0)

    def _make_slot(self, var: Variable, slot_name: str, op_name: str, fill: float) -> Variable:
        """Creates (once) slot ``slot_name`` of ``var``: a non-trainable variable named ``<var>/<op_name>``."""
        named = self._slot_dict(slot_name)
        key = _var_key(var)
        if key not in named:
            named[key] = create_slot(var, fill, op_name)
        return named[key]

    def _create_non_slot_variable(self, initial_value: Any, name: str, colocate_with: Variable) -> Variable:
        """A variable of the optimizer itself (one per graph), e.g. Adam's ``beta1_power``."""
        graph = colocate_with.graph
        key = (name, graph)
        v = self._non_slot_dict.get(key)
        if v is None:
            with graph.as_default(), graph.control_dependencies(None):
                v = Variable(initial_value, name=name, trainable=False)
            self._non_slot_dict[key] = v
        return v

    def _get_non_slot_variable(self, name: str, graph: Any = None) -> Variable | None:
        return self._non_slot_dict.get((name, graph if graph is not None else get_default_graph()))

    def _non_slot_variables(self) -> list[Variable]:
        return list(self._non_slot_dict.values())

    # -- hooks for subclasses --------------------------------------------------------------------
    def _create_slots(self, var_list: list[Variable]) -> None:
        """Creates the slots the update needs (none by default)."""

    def _prepare(self) -> None:
        """Converts hyperparameters to tensors, inside the optimizer's name scope."""

    @abc.abstractmethod
    def _apply_dense(self, grad: Tensor, var: Variable) -> Operation:
        """The update op of one variable."""

    def _finish(self, update_ops: list, name_scope: str) -> Operation:
        return group(*update_ops, name=name_scope)

    # -- helpers -----------------------------------------------------------------------------------
    @staticmethod
    def _call_if_callable(param: Any) -> Any:
        return param() if callable(param) else param

    @staticmethod
    def _hyper_tensor(value: Any, name: str) -> Tensor:
        return convert_to_tensor(Optimizer._call_if_callable(value), name=name)

    @staticmethod
    def _cast_to(t: Tensor, var: Variable) -> Tensor:
        return cast(t, var.dtype)

    @staticmethod
    def _assert_valid_dtypes(tensors: Sequence[Any]) -> None:
        for t in tensors:
            if t.dtype not in _VALID_DTYPES:
                raise ValueError(f"Invalid type {t.dtype!r} for {t.name}, expected: {list(_VALID_DTYPES)}.")


def create_slot(primary: Variable, fill: float, op_name: str) -> Variable:
    """A non-trainable variable shaped like ``primary``, filled with ``fill``, named ``<primary>/<op_name>``.

    Created outside any name scope and control dependencies (slot names follow the variable, not
    where ``minimize`` was called), so ``w``'s first Adam slot is ``w/Adam`` and its second ``w/Adam_1``.
    """
    from flowgraph import init_ops

    g = primary.graph
    dtype = primary.dtype
    shape = primary.shape
    with g.as_default(), g.name_scope(None), g.control_dependencies(None):
        if shape.is_fully_defined():
            dims = shape.as_list()
            init = (
                init_ops.constant_initializer(fill, dtype=dtype)
                if fill not in (0.0, 1.0)
                else (
                    init_ops.zeros_initializer(dtype=dtype) if fill == 0.0 else init_ops.ones_initializer(dtype=dtype)
                )
            )
            return Variable(
                lambda: init(dims, dtype=dtype), trainable=False, name=f"{primary.op.name}/{op_name}", dtype=dtype
            )

        def like_primary() -> Tensor:
            base = zeros_like(primary.initial_value) if fill == 0.0 else ones_like(primary.initial_value)
            return base if fill in (0.0, 1.0) else base * fill

        return Variable(like_primary, trainable=False, name=f"{primary.op.name}/{op_name}", validate_shape=False)


def _increment(global_step: Any, name: str) -> Tensor:
    if isinstance(global_step, Variable):
        return global_step.assign_add(1, name=name)
    if isinstance(global_step, Tensor) and global_step.op.type == "VariableV2":  # get_global_step() by name
        one = convert_to_tensor(1, dtype=global_step.dtype)
        return (
            get_default_graph()
            .create_op("AssignAdd", [global_step, one], {"validate_shape": True}, name=name)
            .outputs[0]
        )
    raise TypeError(f"global_step must be a tf.Variable (see tf.train.get_or_create_global_step), got {global_step!r}.")


class UpdateOpsNotRunWarning(UserWarning):
    """A train op ignores the UPDATE_OPS collection (batch-norm moving averages would never update)."""


def warn_if_update_ops_skipped(train_op: Any) -> None:
    """Warns once per graph when ``train_op`` does not depend on every op in ``UPDATE_OPS``.

    TF1 leaves this to the user (``with tf.control_dependencies(update_ops):``); forgetting it
    silently freezes batch normalization's moving statistics, so evaluation quietly goes wrong.
    """
    import warnings

    from flowgraph.graph import GraphKeys, Operation, user_frame

    target = train_op if isinstance(train_op, Operation) else train_op.op
    g = target.graph
    updates = [u if isinstance(u, Operation) else u.op for u in g.get_collection(GraphKeys.UPDATE_OPS)]
    if not updates or getattr(g, "_update_ops_warned", False):
        return
    seen: set = set()
    stack = [target]
    while stack:
        op = stack.pop()
        if op in seen:
            continue
        seen.add(op)
        stack.extend(t.op for t in op.inputs)
        stack.extend(op.control_inputs)
    missing = [u for u in updates if u not in seen]
    if not missing:
        return
    g._update_ops_warned = True
    names = ", ".join(u.name for u in missing[:6]) + (" ..." if len(missing) > 6 else "")
    file, line, _ = user_frame()
    warnings.warn_explicit(
        f"The train op '{target.name}' does not run the {len(missing)} op(s) in tf.GraphKeys.UPDATE_OPS ({names}), "
        "so batch normalization's moving averages will never be updated. Build it under "
        "`with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):`.",
        UpdateOpsNotRunWarning,
        file,
        line,
    )
