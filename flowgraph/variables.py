"""State that lives in a Session: ``Variable``, its assign ops, initializers and ``get_variable``.

A variable's value is kept in the Session's variable store, keyed by its ``VariableV2`` op. Ops that
write a variable take it as a *ref input*: the planner passes them the store slot, never the value,
so assigning an uninitialized variable works and only reading one fails.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from flowgraph import dtypes as _dtypes
from flowgraph.errors import FailedPreconditionError
from flowgraph.graph import GraphKeys, Operation, Tensor, convert_to_tensor, get_default_graph
from flowgraph.ops.control import group
from flowgraph.ops.op_helpers import describe
from flowgraph.registry import NotDifferentiable, OpDef, register_op
from flowgraph.shapes import TensorShape


def uninitialized_error(var_op: Operation, reader: Operation | None = None) -> FailedPreconditionError:
    """The error for reading a variable no initializer has run for, with the likely cause."""
    msg = f"Attempting to use uninitialized value {var_op.name} (variable created at {var_op.location})"
    if reader is not None and reader is not var_op:
        msg += f"\n\t [[node {reader.name} (defined at {reader.location}) ]]"
    late = [i for i in var_op.graph._global_initializers if i._id < var_op._id]
    if late:
        msg += (
            f"\nNote: tf.global_variables_initializer() was built at {late[-1].location}, before this "
            f"variable was created, so it does not initialize '{var_op.name}'. Build the initializer "
            "after all variables exist."
        )
    else:
        msg += "\nRun sess.run(tf.global_variables_initializer()) (or the variable's initializer) first."
    return FailedPreconditionError(None, var_op, msg)


def read_store(store: dict, var_op: Operation, reader: Operation | None = None) -> Any:
    try:
        return store[var_op]
    except KeyError:
        raise uninitialized_error(var_op, reader) from None


@register_op
class VariableV2(OpDef):
    """The variable's state as a ref: each consumer reads the value current when it runs (TF1)."""

    stateful = True
    ref_output = True

    def infer(self, op):
        return [(op.attrs["dtype"], op.attrs["shape"])]

    def kernel(self, op, rt):
        return self.ref_reader(op, rt, op)

    def ref_reader(self, op, rt, consumer):
        store = rt.variables

        def read():
            try:
                return store[op]
            except KeyError:
                raise uninitialized_error(op, consumer) from None

        return read


class AssignBase(OpDef):
    """Writes the store slot of its ref input (input 0); returns the new value."""

    stateful = True
    ref_inputs = (0,)

    def infer(self, op):
        ref, value = op.inputs
        if ref.op.type != "VariableV2":
            raise TypeError(f"{self.type} needs a Variable as its first input, got {describe(ref)}.")
        if ref.dtype is not value.dtype:
            raise TypeError(f"{self.type} of {describe(value)} to variable {ref.op.name} of dtype {ref.dtype.name}.")
        if op.attrs.get("validate_shape", True) and not ref.shape.is_compatible_with(value.shape):
            raise ValueError(
                f"Shapes {ref.shape} and {value.shape} are incompatible: cannot assign {describe(value)} "
                f"to variable {ref.op.name} of shape {ref.shape}."
            )
        dims = ref._dims if op.attrs.get("validate_shape", True) else value._dims
        return [(ref.dtype, dims)]


@register_op
class Assign(AssignBase):
    def kernel(self, op, rt):
        store, var = rt.variables, op.inputs[0].op
        validate = op.attrs.get("validate_shape", True)
        dims = var.outputs[0]._dims
        xp = rt.xp

        def assign(value):
            value = xp.array(value, copy=True)  # a private copy: the value may be a caller's fed buffer
            if validate and dims is not None and tuple(value.shape) != tuple(d if d is not None else s for d, s in zip(dims, value.shape)):
                from flowgraph.errors import InvalidArgumentError

                raise InvalidArgumentError(
                    None, op, f"Assign requires shapes of both tensors to match. lhs shape= {list(dims)} rhs shape= {list(value.shape)}"
                )
            store[var] = value
            return value

        return assign


@register_op
class AssignAdd(AssignBase):
    def kernel(self, op, rt):
        store, var = rt.variables, op.inputs[0].op

        def assign_add(delta):
            new = read_store(store, var, op) + delta
            store[var] = new
            return new

        return assign_add


@register_op
class AssignSub(AssignBase):
    def kernel(self, op, rt):
        store, var = rt.variables, op.inputs[0].op

        def assign_sub(delta):
            new = read_store(store, var, op) - delta
            store[var] = new
            return new

        return assign_sub


for _t in ("Assign", "AssignAdd", "AssignSub", "VariableV2"):
    NotDifferentiable(_t)


@register_op
class IsVariableInitialized(OpDef):
    stateful = True
    ref_inputs = (0,)

    def infer(self, op):
        return [(_dtypes.bool, ())]

    def kernel(self, op, rt):
        store, var = rt.variables, op.inputs[0].op
        return lambda: np.bool_(var in store)


@register_op
class ReportUninitializedVariables(OpDef):
    """Names (a string vector) of the listed variables that have no value in this session."""

    stateful = True

    def infer(self, op):
        return [(_dtypes.string, (None,))]

    def kernel(self, op, rt):
        store, var_ops = rt.variables, op.attrs["var_ops"]
        return lambda: np.array([v.name.encode() for v in var_ops if v not in store], dtype=object)


NotDifferentiable("IsVariableInitialized")
NotDifferentiable("ReportUninitializedVariables")


class Variable:
    """``tf.Variable``: a VariableV2 op plus its ``Assign`` initializer and ``read`` snapshot."""

    def __init__(
        self,
        initial_value: Any = None,
        trainable: bool | None = None,
        collections: list | None = None,
        validate_shape: bool = True,
        caching_device: Any = None,
        name: str | None = None,
        variable_def: Any = None,
        dtype: Any = None,
        expected_shape: Any = None,
        import_scope: Any = None,
        constraint: Callable | None = None,
        use_resource: Any = None,
        synchronization: Any = None,
        aggregation: Any = None,
        shape: Any = None,
    ) -> None:
        if initial_value is None:
            raise ValueError("initial_value must be specified.")
        if trainable is None:
            trainable = True
        g = get_default_graph()
        with g.name_scope(name or "Variable") as scope:
            if callable(initial_value):
                with g.name_scope("Initializer"):
                    init = convert_to_tensor(initial_value(), dtype=dtype, name="initial_value")
            else:
                init = convert_to_tensor(initial_value, dtype=dtype, name="initial_value")
            if dtype is not None and init.dtype is not _dtypes.as_dtype(dtype):
                raise TypeError(f"initial_value has dtype {init.dtype.name}, not the requested {dtype}.")
            dims = init._dims if shape is None else TensorShape(shape).as_tuple()
            if validate_shape and (dims is None or None in dims):
                raise ValueError(
                    f"initial_value must have a shape specified: {describe(init)}. Pass validate_shape=False "
                    "for a variable whose shape is only known at run time."
                )
            self._variable = g.create_op(
                "VariableV2", [], {"dtype": init.dtype, "shape": dims if validate_shape else None}, name=scope
            ).outputs[0]
            self._initial_value = init
            self._initializer_op = g.create_op(
                "Assign", [self._variable, init], {"validate_shape": validate_shape}, name="Assign"
            )
            with g.control_dependencies(None):
                self._snapshot = g.create_op("Identity", [self._variable], name="read").outputs[0]
        self._trainable = bool(trainable)
        self._constraint = constraint
        self._graph = g
        if collections is None:
            collections = [GraphKeys.GLOBAL_VARIABLES]
        collections = list(collections)
        if trainable and GraphKeys.TRAINABLE_VARIABLES not in collections:
            collections.append(GraphKeys.TRAINABLE_VARIABLES)
        g.add_to_collections(collections, self)

    # -- identity -----------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._variable.name

    @property
    def op(self) -> Operation:
        return self._variable.op

    @property
    def graph(self):
        return self._graph

    @property
    def dtype(self) -> _dtypes.DType:
        return self._variable.dtype

    @property
    def shape(self) -> TensorShape:
        return self._variable.shape

    def get_shape(self) -> TensorShape:
        return self._variable.shape

    @property
    def device(self) -> str:
        return self._variable.op.device

    @property
    def trainable(self) -> bool:
        return self._trainable

    @property
    def constraint(self) -> Callable | None:
        return self._constraint

    @property
    def initializer(self) -> Operation:
        return self._initializer_op

    @property
    def initial_value(self) -> Tensor:
        return self._initial_value

    def value(self) -> Tensor:
        return self._snapshot

    def read_value(self) -> Tensor:
        return get_default_graph().create_op("Identity", [self._variable], name="read").outputs[0]

    def _as_graph_tensor(self) -> Tensor:
        return self._snapshot

    def _as_graph_element(self) -> Tensor:
        return self._snapshot

    def _ref(self) -> Tensor:
        return self._variable

    # -- updates ------------------------------------------------------------------------------
    def _assign_op(self, op_type: str, value: Any, name: str | None) -> Tensor:
        g = get_default_graph()
        v = convert_to_tensor(value, dtype=self.dtype)
        return g.create_op(op_type, [self._variable, v], {"validate_shape": True}, name=name or op_type).outputs[0]

    def assign(self, value: Any, use_locking: bool = False, name: str | None = None, read_value: bool = True) -> Any:
        t = self._assign_op("Assign", value, name)
        return t if read_value else t.op

    def assign_add(self, delta: Any, use_locking: bool = False, name: str | None = None, read_value: bool = True) -> Any:
        t = self._assign_op("AssignAdd", delta, name)
        return t if read_value else t.op

    def assign_sub(self, delta: Any, use_locking: bool = False, name: str | None = None, read_value: bool = True) -> Any:
        t = self._assign_op("AssignSub", delta, name)
        return t if read_value else t.op

    def load(self, value: Any, session: Any = None) -> None:
        """Writes ``value`` into the variable in ``session`` without adding ops (feeds the initializer)."""
        from flowgraph.session import _session_for

        _session_for(self._graph, session).run(self._initializer_op, {self._initial_value: value})

    def eval(self, session: Any = None) -> Any:
        return self._snapshot.eval(session=session)

    def is_initialized(self, name: str | None = None) -> Tensor:
        return get_default_graph().create_op("IsVariableInitialized", [self._variable], name=name or "IsVariableInitialized").outputs[0]

    def __repr__(self) -> str:
        return f"<tf.Variable '{self.name}' shape={self.shape} dtype={self.dtype.name}_ref>"

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: Any) -> bool:
        return self is other

    def __getitem__(self, item: Any) -> Tensor:
        return self._snapshot[item]

    def __iter__(self):
        return iter(self._snapshot)

    def __bool__(self) -> bool:
        return bool(self._snapshot)


def _forward_operator(name: str) -> None:
    def method(self, *args):
        return getattr(self._snapshot, name)(*args)

    method.__name__ = name
    setattr(Variable, name, method)


for _op in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor", "lt", "le", "gt", "ge"):
    _forward_operator(f"__{_op}__")
    if _op not in ("lt", "le", "gt", "ge"):
        _forward_operator(f"__r{_op}__")
for _op in ("__neg__", "__abs__", "__invert__"):
    _forward_operator(_op)


VariableV1 = Variable


# -- initializers -------------------------------------------------------------------------------
def variables_initializer(var_list: list, name: str = "init") -> Operation:
    """One op that runs the initializers of ``var_list`` (a NoOp when empty)."""
    ops = [v.initializer for v in var_list]
    return group(*ops, name=name)


def global_variables_initializer() -> Operation:
    g = get_default_graph()
    op = variables_initializer(g.get_collection(GraphKeys.GLOBAL_VARIABLES), name="init")
    g._global_initializers.append(op)
    return op


def local_variables_initializer() -> Operation:
    return variables_initializer(get_default_graph().get_collection(GraphKeys.LOCAL_VARIABLES), name="init")


initialize_all_variables = global_variables_initializer
initialize_variables = variables_initializer
initialize_local_variables = local_variables_initializer


def global_variables(scope: str | None = None) -> list:
    return get_default_graph().get_collection(GraphKeys.GLOBAL_VARIABLES, scope)


all_variables = global_variables


def trainable_variables(scope: str | None = None) -> list:
    return get_default_graph().get_collection(GraphKeys.TRAINABLE_VARIABLES, scope)


def local_variables(scope: str | None = None) -> list:
    return get_default_graph().get_collection(GraphKeys.LOCAL_VARIABLES, scope)


def model_variables(scope: str | None = None) -> list:
    return get_default_graph().get_collection(GraphKeys.MODEL_VARIABLES, scope)


def moving_average_variables(scope: str | None = None) -> list:
    return get_default_graph().get_collection(GraphKeys.MOVING_AVERAGE_VARIABLES, scope)


def report_uninitialized_variables(var_list: list | None = None, name: str = "report_uninitialized_variables") -> Tensor:
    g = get_default_graph()
    if var_list is None:
        var_list = g.get_collection(GraphKeys.GLOBAL_VARIABLES) + g.get_collection(GraphKeys.LOCAL_VARIABLES)
    return g.create_op("ReportUninitializedVariables", [], {"var_ops": [v.op for v in var_list]}, name=name).outputs[0]


def is_variable_initialized(variable: Variable) -> Tensor:
    return variable.is_initialized()


def assign(ref: Any, value: Any, validate_shape: Any = None, use_locking: Any = None, name: str | None = None) -> Tensor:
    var = _as_variable(ref)
    return var.assign(value, name=name)


def assign_add(ref: Any, value: Any, use_locking: Any = None, name: str | None = None) -> Tensor:
    return _as_variable(ref).assign_add(value, name=name)


def assign_sub(ref: Any, value: Any, use_locking: Any = None, name: str | None = None) -> Tensor:
    return _as_variable(ref).assign_sub(value, name=name)


def _as_variable(ref: Any) -> Variable:
    if isinstance(ref, Variable):
        return ref
    raise TypeError(f"Expected a tf.Variable to assign to, got {ref!r}.")


# -- variable_scope / get_variable ---------------------------------------------------------------
class _ReuseMode:
    def __repr__(self) -> str:
        return "AUTO_REUSE"


AUTO_REUSE = _ReuseMode()


class VariableScope:
    """A variable scope: a name prefix for ``get_variable`` plus its reuse mode and defaults."""

    def __init__(self, reuse: Any, name: str = "", initializer: Any = None, regularizer: Any = None,
                 dtype: Any = _dtypes.float32, name_scope: str = "") -> None:
        self.reuse = reuse
        self.name = name
        self.initializer = initializer
        self.regularizer = regularizer
        self.dtype = dtype
        self.original_name_scope = name_scope

    def reuse_variables(self) -> None:
        self.reuse = True

    def set_initializer(self, initializer: Any) -> None:
        self.initializer = initializer

    def set_regularizer(self, regularizer: Any) -> None:
        self.regularizer = regularizer

    def get_variable(self, name: str, *args: Any, **kwargs: Any) -> Variable:
        return get_variable(name, *args, **kwargs)


def get_variable_scope() -> VariableScope:
    st = get_default_graph()._state()
    if st.var_scope is None:
        st.var_scope = VariableScope(False)
    return st.var_scope


@contextlib.contextmanager
def variable_scope(
    name_or_scope: Any,
    default_name: str | None = None,
    values: Any = None,
    initializer: Any = None,
    regularizer: Any = None,
    caching_device: Any = None,
    partitioner: Any = None,
    custom_getter: Any = None,
    reuse: Any = None,
    dtype: Any = None,
    use_resource: Any = None,
    constraint: Any = None,
    auxiliary_name_scope: bool = True,
) -> Iterator[VariableScope]:
    """``tf.variable_scope``: prefixes ``get_variable`` names and opens a matching name scope."""
    g = get_default_graph()
    st = g._state()
    parent = get_variable_scope()
    if name_or_scope is None and default_name is None:
        raise TypeError("If default_name is None then name_or_scope is required")
    counts = g._variable_scope_counts
    reentered = isinstance(name_or_scope, VariableScope)
    if reentered:
        # Re-entering a scope object: its variables' names and defaults, a fresh name scope for ops (TF1).
        full = name_or_scope.name
        base = name_or_scope
    else:
        prefix = (parent.name + "/") if parent.name else ""
        if name_or_scope is None:
            n = counts.get(prefix + default_name, 0)
            counts[prefix + default_name] = n + 1
            short = default_name if n == 0 else f"{default_name}_{n}"
        else:
            short = name_or_scope
            counts[prefix + short] = counts.get(prefix + short, 0) + 1
        full = prefix + short
        base = parent
    new_reuse = True if reuse is True or base.reuse is True and reuse is not AUTO_REUSE else (reuse if reuse is not None else base.reuse)
    if parent.reuse is True:
        new_reuse = True
    scope = VariableScope(
        new_reuse,
        full,
        initializer if initializer is not None else base.initializer,
        regularizer if regularizer is not None else base.regularizer,
        dtype if dtype is not None else base.dtype,
    )
    old = st.var_scope
    st.var_scope = scope
    try:
        if not auxiliary_name_scope:
            scope.original_name_scope = name_or_scope.original_name_scope if reentered else g.get_name_scope()
            yield scope
        else:
            with g.name_scope(full.rsplit("/", 1)[-1]) as ns:
                scope.original_name_scope = name_or_scope.original_name_scope if reentered else ns
                yield scope
    finally:
        st.var_scope = old


def get_variable(
    name: str,
    shape: Any = None,
    dtype: Any = None,
    initializer: Any = None,
    regularizer: Any = None,
    trainable: bool | None = None,
    collections: list | None = None,
    caching_device: Any = None,
    partitioner: Any = None,
    validate_shape: bool = True,
    use_resource: Any = None,
    custom_getter: Any = None,
    constraint: Any = None,
    synchronization: Any = None,
    aggregation: Any = None,
) -> Variable:
    """``tf.get_variable``: creates ``scope/name`` or, under ``reuse``, returns the existing one."""
    g = get_default_graph()
    scope = get_variable_scope()
    full = f"{scope.name}/{name}" if scope.name else name
    store = g._variable_store
    existing = store.get(full)
    reuse = scope.reuse
    if existing is not None:
        if reuse is False or reuse is None:
            raise ValueError(
                f"Variable {full} already exists, disallowed. Did you mean to set reuse=True or "
                f"reuse=tf.AUTO_REUSE in VarScope? Originally defined at:\n  {existing.op.location}"
            )
        if shape is not None and not existing.shape.is_compatible_with(shape):
            raise ValueError(
                f"Trying to share variable {full}, but specified shape {TensorShape(shape)} and found shape {existing.shape}."
            )
        if dtype is not None and _dtypes.as_dtype(dtype) is not existing.dtype:
            raise ValueError(
                f"Trying to share variable {full}, but specified dtype {_dtypes.as_dtype(dtype).name} and found "
                f"dtype {existing.dtype.name}."
            )
        return existing
    if reuse is True:
        raise ValueError(
            f"Variable {full} does not exist, or was not created with tf.get_variable(). Did you mean to set "
            "reuse=tf.AUTO_REUSE in VarScope?"
        )
    dt = _dtypes.as_dtype(dtype) if dtype is not None else _dtypes.as_dtype(scope.dtype or _dtypes.float32)
    init = initializer if initializer is not None else scope.initializer
    if init is None:
        from flowgraph import init_ops

        init = init_ops.glorot_uniform_initializer() if dt.is_floating else init_ops.zeros_initializer()
    if isinstance(init, type):
        init = init()
    with g.name_scope(None):
        if callable(init) and not isinstance(init, Tensor | np.ndarray):
            if shape is None:
                raise ValueError(f"Shape of a new variable ({full}) must be fully defined, but instead was None.")
            dims = TensorShape(shape).as_list()
            if None in dims:
                raise ValueError(f"Shape of a new variable ({full}) must be fully defined, but instead was {dims}.")

            def initial_value():
                return init(dims, dtype=dt)

            if getattr(init, "dtype", None) is not None and not validate_shape:
                pass
            v = Variable(initial_value, trainable=trainable, collections=collections, validate_shape=validate_shape,
                         name=full, dtype=dt, constraint=constraint)
        else:
            v = Variable(init, trainable=trainable, collections=collections, validate_shape=validate_shape,
                         name=full, dtype=dt if dtype is not None else None, constraint=constraint)
    store[full] = v
    reg = regularizer if regularizer is not None else scope.regularizer
    if reg is not None:
        with g.name_scope(full + "/Regularizer/"):
            loss = reg(v)
        if loss is not None:
            g.add_to_collection(GraphKeys.REGULARIZATION_LOSSES, loss)
    return v
