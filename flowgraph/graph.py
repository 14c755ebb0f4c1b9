"""The static dataflow graph: ``Graph``, ``Operation`` and ``Tensor``, with TF1's naming and scopes.

The graph knows nothing about execution. Each Operation records the user's source line that
created it, so every later error (bad shape, missing feed, failing kernel) can point there.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from flowgraph import dtypes as _dtypes
from flowgraph.registry import OpDef, get_op_def
from flowgraph.shapes import TensorShape

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_VALID_NAME = re.compile(r"^[A-Za-z0-9.][A-Za-z0-9_.\-/>]*$")


class GraphGrowthWarning(UserWarning):
    """Ops keep being added to a graph that is already being run (usually inside a training loop)."""


class GraphKeys:
    """Standard collection names (TF1's ``tf.GraphKeys``)."""

    GLOBAL_VARIABLES = "variables"
    LOCAL_VARIABLES = "local_variables"
    MODEL_VARIABLES = "model_variables"
    TRAINABLE_VARIABLES = "trainable_variables"
    SUMMARIES = "summaries"
    QUEUE_RUNNERS = "queue_runners"
    MOVING_AVERAGE_VARIABLES = "moving_average_variables"
    REGULARIZATION_LOSSES = "regularization_losses"
    LOSSES = "losses"
    UPDATE_OPS = "update_ops"
    GLOBAL_STEP = "global_step"
    TRAIN_OP = "train_op"
    INIT_OP = "init_op"
    LOCAL_INIT_OP = "local_init_op"
    SAVERS = "savers"
    METRIC_VARIABLES = "metric_variables"
    ACTIVATIONS = "activations"
    WEIGHTS = "weights"
    BIASES = "biases"
    VARIABLES = GLOBAL_VARIABLES


def user_frame() -> tuple[str, int, str]:
    """(file, line, function) of the innermost caller outside the flowgraph package."""
    f = sys._getframe(1)
    while f is not None:
        fname = f.f_code.co_filename
        if not fname.startswith(_PACKAGE_DIR) and not fname.startswith("<frozen"):
            return fname, f.f_lineno, f.f_code.co_name
        f = f.f_back
    return "<unknown>", 0, "<module>"


class Tensor:
    """One output of an Operation: a symbolic handle, evaluated by ``Session.run``."""

    __slots__ = ("_op", "_value_index", "_dtype", "_dims", "_consumers", "__weakref__")

    # Makes ``np_array + tensor`` defer to Tensor.__radd__ instead of broadcasting element-wise.
    __array_priority__ = 100

    def __init__(self, op: Operation, value_index: int, dtype: _dtypes.DType, dims: tuple | None) -> None:
        self._op = op
        self._value_index = value_index
        self._dtype = dtype
        self._dims = dims
        self._consumers: list[Operation] = []

    @property
    def op(self) -> Operation:
        return self._op

    @property
    def graph(self) -> Graph:
        return self._op._graph

    @property
    def name(self) -> str:
        return f"{self._op._name}:{self._value_index}"

    @property
    def value_index(self) -> int:
        return self._value_index

    @property
    def dtype(self) -> _dtypes.DType:
        return self._dtype

    @property
    def shape(self) -> TensorShape:
        return TensorShape(self._dims)

    def get_shape(self) -> TensorShape:
        return TensorShape(self._dims)

    def set_shape(self, shape: Any) -> None:
        """Refines the static shape; raises ValueError when incompatible."""
        merged = self.shape.merge_with(shape)
        self._dims = merged.as_tuple()

    @property
    def device(self) -> str:
        return self._op.device

    def consumers(self) -> list[Operation]:
        return list(self._consumers)

    def eval(self, feed_dict: dict | None = None, session: Any = None) -> Any:
        from flowgraph.session import _session_for

        return _session_for(self.graph, session).run(self, feed_dict)

    def __repr__(self) -> str:
        return f"<tf.Tensor '{self.name}' shape={self.shape} dtype={self._dtype.name}>"

    def __str__(self) -> str:
        return f'Tensor("{self.name}", shape={self.shape}, dtype={self._dtype.name})'

    # ``==`` and hashing stay object identity (TF1 graph mode), inherited from ``object`` so that
    # dict look-ups keyed by tensors (plans, feeds) cost no Python call.

    def __bool__(self) -> bool:
        raise TypeError(
            "Using a `tf.Tensor` as a Python `bool` is not allowed. Use `if t is not None:` "
            "instead of `if t:` to test if a tensor is defined, and use flowgraph ops such as "
            "tf.cond to execute subgraphs conditioned on the value of a tensor."
        )

    def __iter__(self) -> Iterator:
        if self._dims is None or not self._dims:
            raise TypeError("Tensor objects are only iterable when their first dimension is known.")
        n = self._dims[0]
        if n is None:
            raise TypeError("Tensor objects are only iterable when their first dimension is known.")
        for i in range(n):
            yield self[i]

    def __len__(self) -> int:
        raise TypeError(
            f"len is not well defined for symbolic Tensors ({self.name}). Please call `x.shape` rather than `len(x)`."
        )

    def _as_graph_tensor(self) -> Tensor:
        return self


class Operation:
    """A node: an op type applied to input tensors, with attributes and control inputs."""

    __slots__ = (
        "_graph",
        "_name",
        "_opdef",
        "_inputs",
        "_control_inputs",
        "_outputs",
        "_attrs",
        "_id",
        "_traceback",
        "_device",
        "_gradient_type",
        "_control_outputs",
        "__weakref__",
    )

    def __init__(
        self,
        graph: Graph,
        opdef: OpDef,
        name: str,
        inputs: Sequence[Tensor],
        attrs: dict,
        control_inputs: Sequence[Operation],
        traceback: tuple[str, int, str],
        op_id: int,
    ) -> None:
        self._graph = graph
        self._opdef = opdef
        self._name = name
        self._inputs = tuple(inputs)
        self._control_inputs = list(control_inputs)
        self._attrs = attrs
        self._id = op_id
        self._traceback = traceback
        self._device = ""
        self._gradient_type: str | None = None
        self._control_outputs: list[Operation] = []
        self._outputs: tuple[Tensor, ...] = ()

    @property
    def name(self) -> str:
        return self._name

    @property
    def type(self) -> str:
        return self._opdef.type

    @property
    def graph(self) -> Graph:
        return self._graph

    @property
    def inputs(self) -> tuple[Tensor, ...]:
        return self._inputs

    @property
    def outputs(self) -> list[Tensor]:
        return list(self._outputs)

    @property
    def control_inputs(self) -> list[Operation]:
        return list(self._control_inputs)

    @property
    def device(self) -> str:
        return self._device

    @property
    def node_def(self) -> dict:
        return {"name": self._name, "op": self.type, "input": [t.name for t in self._inputs], "attr": dict(self._attrs)}

    @property
    def attrs(self) -> dict:
        return self._attrs

    @property
    def traceback(self) -> tuple[str, int, str]:
        """(file, line, function) of the user code that created this op."""
        return self._traceback

    @property
    def location(self) -> str:
        f, line, _ = self._traceback
        return f"{f}:{line}"

    def get_attr(self, name: str) -> Any:
        try:
            return self._attrs[name]
        except KeyError:
            raise ValueError(f"Operation '{self._name}' has no attr named '{name}'.") from None

    def values(self) -> tuple[Tensor, ...]:
        return self._outputs

    def run(self, feed_dict: dict | None = None, session: Any = None) -> None:
        from flowgraph.session import _session_for

        _session_for(self._graph, session).run(self, feed_dict)

    def _add_control_input(self, op: Operation) -> None:
        if op not in self._control_inputs:
            self._control_inputs.append(op)
            op._control_outputs.append(self)
            self._graph._version += 1

    def __repr__(self) -> str:
        return f"<tf.Operation '{self._name}' type={self.type}>"


class Graph:
    """A dataflow graph: ops, the name scopes and collections they were created in."""

    def __init__(self) -> None:
        self._ops: list[Operation] = []
        self._ops_by_name: dict[str, Operation] = {}
        self._names_in_use: dict[str, int] = {}
        self._collections: dict[str, list] = {}
        self._lock = threading.RLock()
        self._finalized = False
        self._version = 0  # bumped when an existing op changes (a control input added): plans are stale
        self._seed: int | None = None
        self._local = threading.local()
        self._variable_store: dict[str, Any] = {}
        self._variable_scope_counts: dict[str, int] = {}  # how often each variable scope was opened
        self._global_initializers: list[Operation] = []  # for the "initializer built too early" hint
        self._gradient_override_map: dict[str, str] = {}
        self._runs = 0  # how many Session.run calls used this graph; drives the growth warning
        self._growth_warned: set = set()
        self._growth_counts: dict = {}

    # -- thread-local construction state ----------------------------------------------------
    def _state(self) -> threading.local:
        st = self._local
        if not hasattr(st, "name_stack"):
            st.name_stack = ""
            st.control_stack = []
            st.var_scope = None
            st.device_stack = []
        return st

    # -- default graph -------------------------------------------------------------------------
    @contextlib.contextmanager
    def as_default(self) -> Iterator[Graph]:
        _default_stack().append(self)
        try:
            yield self
        finally:
            _default_stack().pop()

    # -- naming -------------------------------------------------------------------------------
    def get_name_scope(self) -> str:
        return self._state().name_stack

    def unique_name(self, name: str, mark_as_used: bool = True) -> str:
        """TF1's rule: ``name``, then ``name_1``, ``name_2``...; scope prefix included."""
        stack = self._state().name_stack
        if stack:
            name = stack + "/" + name
        key = name.lower()
        with self._lock:  # threads building into one graph must not draw the same name
            i = self._names_in_use.get(key, 0)
            if mark_as_used:
                self._names_in_use[key] = i + 1
            if i > 0:
                base = key
                while key in self._names_in_use:
                    key = f"{base}_{i}"
                    i += 1
                if mark_as_used:
                    self._names_in_use[key] = 1
                name = f"{name}_{i - 1}"
        return name

    @contextlib.contextmanager
    def name_scope(self, name: str | None) -> Iterator[str]:
        st = self._state()
        old = st.name_stack
        if name is None or name == "":
            new = ""
        elif name.endswith("/"):
            new = name[:-1]
        else:
            if not _VALID_NAME.match(name):
                raise ValueError(f"'{name}' is not a valid scope name")
            new = self.unique_name(name)
        st.name_stack = new
        try:
            yield (new + "/") if new else ""
        finally:
            st.name_stack = old

    # -- control dependencies and devices ----------------------------------------------------
    @contextlib.contextmanager
    def control_dependencies(self, control_inputs: Sequence | None) -> Iterator[None]:
        st = self._state()
        old = st.control_stack
        if control_inputs is None:
            st.control_stack = []
        else:
            ops = []
            for c in control_inputs:
                c = _as_op(c, self)
                ops.append(c)
            st.control_stack = old + ops
        try:
            yield
        finally:
            st.control_stack = old

    @contextlib.contextmanager
    def device(self, device_name: str | None) -> Iterator[None]:
        st = self._state()
        st.device_stack.append(device_name or "")
        try:
            yield
        finally:
            st.device_stack.pop()

    @contextlib.contextmanager
    def gradient_override_map(self, op_type_map: dict[str, str]) -> Iterator[None]:
        """Ops of the mapped types created inside use the named gradient instead of their own."""
        old = self._gradient_override_map
        self._gradient_override_map = {**old, **op_type_map}
        try:
            yield
        finally:
            self._gradient_override_map = old

    # -- op creation --------------------------------------------------------------------------
    def create_op(
        self,
        op_type: str | OpDef,
        inputs: Sequence[Tensor],
        attrs: dict | None = None,
        name: str | None = None,
    ) -> Operation:
        """Adds one op: names it uniquely, infers its outputs, records the user's line."""
        opdef = op_type if isinstance(op_type, OpDef) else get_op_def(op_type)
        where = user_frame()
        if self._finalized:
            raise RuntimeError(
                f"Graph is finalized and cannot be modified: an op of type {opdef.type} was "
                f"created at {where[0]}:{where[1]}."
            )
        for t in inputs:
            if not isinstance(t, Tensor):
                raise TypeError(f"Input to op {opdef.type} must be a Tensor, got {t!r}.")
            if t._op._graph is not self:
                other = next((u for u in inputs if u._op._graph is self), None)
                peer = f"its other input {other.name}" if other is not None else "the default graph"
                raise ValueError(
                    f"Tensor {t.name} (created at {t._op.location}) must be from the same graph as {peer}: "
                    f"cannot build op {opdef.type} at {where[0]}:{where[1]} across graphs."
                )
        if name is not None and not name.endswith("/") and not _VALID_NAME.match(name):
            raise ValueError(f"'{name}' is not a valid node name (op {opdef.type} at {where[0]}:{where[1]}).")
        with self._lock:
            st = self._state()
            if name is None:
                name = opdef.type
            if name.endswith("/"):
                full = name[:-1]  # a scope name already made unique
            else:
                full = self.unique_name(name)
            control = [c for c in st.control_stack if c is not None]
            # TF1 drops control inputs already implied by a data input's producer.
            producers = {id(t._op) for t in inputs}
            control = [c for c in dict.fromkeys(control) if id(c) not in producers]
            op = Operation(self, opdef, full, inputs, dict(attrs or {}), control, where, len(self._ops))
            try:
                specs = opdef.infer(op)
            except (ValueError, TypeError) as e:
                self._release_name(full)
                node = f"{opdef.type}({', '.join(t._op._name for t in inputs)})"
                shapes = ", ".join(_shape_str(t._dims) for t in inputs)
                raise type(e)(
                    f"{e}\n\tfor '{{{{node {full}}}}} = {node}' with input shapes: {shapes}, created at {where[0]}:{where[1]}"
                ) from None
            op._outputs = tuple(Tensor(op, i, _dtypes.as_dtype(dt), dims) for i, (dt, dims) in enumerate(specs))
            if st.device_stack:
                op._device = st.device_stack[-1]
            override = self._gradient_override_map.get(opdef.type)
            if override is not None:
                op._gradient_type = override
            for t in inputs:
                t._consumers.append(op)
            for c in control:
                c._control_outputs.append(op)
            self._ops.append(op)
            self._ops_by_name[full] = op
            if self._runs >= 3:
                self._note_growth(where)
        return op

    def _release_name(self, full: str) -> None:
        key = full.lower()
        if self._names_in_use.get(key) == 1 and key not in self._ops_by_name:
            del self._names_in_use[key]

    def _note_growth(self, where: tuple[str, int, str]) -> None:
        """Warns once per line that keeps adding ops between runs (a graph built inside a loop)."""
        key = (where[0], where[1])
        last_run, distinct, n = self._growth_counts.get(key, (-1, 0, 0))
        if self._runs != last_run:
            distinct += 1
        n += 1
        self._growth_counts[key] = (self._runs, distinct, n)
        if key in self._growth_warned or distinct < 3:
            return
        self._growth_warned.add(key)
        warnings.warn_explicit(
            f"Ops keep being added to a graph that has already been run {self._runs} times: {n} new ops "
            f"so far from {where[0]}:{where[1]}, created between runs. Building ops inside a training loop "
            "makes the graph grow on every step until the program slows and runs out of memory; build "
            "them once before the loop (and call graph.finalize() to catch this).",
            GraphGrowthWarning,
            where[0],
            where[1],
        )

    def _repr_svg_(self) -> str | None:
        """Jupyter shows a graph as its rendering (None, so text, when Graphviz is missing)."""
        from flowgraph.viz import graph_repr_svg

        return graph_repr_svg(self)

    # -- queries -------------------------------------------------------------------------------
    def get_operations(self) -> list[Operation]:
        return list(self._ops)

    def get_operation_by_name(self, name: str) -> Operation:
        if not isinstance(name, str):
            raise TypeError(f"Operation names are strings (or similar), not {type(name).__name__}.")
        if ":" in name:
            raise ValueError(
                f"Name '{name}' appears to refer to a Tensor, not an Operation."
            )
        try:
            return self._ops_by_name[name]
        except KeyError:
            raise KeyError(f"The name '{name}' refers to an Operation not in the graph.") from None

    def get_tensor_by_name(self, name: str) -> Tensor:
        if not isinstance(name, str):
            raise TypeError(f"Tensor names are strings (or similar), not {type(name).__name__}.")
        op_name, sep, idx = name.rpartition(":")
        if not sep or not idx.isdigit():
            if name in self._ops_by_name:
                raise ValueError(
                    f"The name '{name}' refers to an Operation, not a Tensor. Tensor names must be of the form "
                    "\"<op_name>:<output_index>\"."
                )
            raise ValueError(
                f"The name '{name}' looks like an (invalid) Operation name, not a Tensor. "
                "Tensor names must be of the form \"<op_name>:<output_index>\"."
            )
        op = self._ops_by_name.get(op_name)
        if op is None:
            raise KeyError(f"The name '{name}' refers to a Tensor which does not exist. The operation, '{op_name}', does not exist in the graph.")
        i = int(idx)
        if i >= len(op._outputs):
            raise KeyError(
                f"The name '{name}' refers to a Tensor which does not exist. The operation, '{op_name}', "
                f"exists but only has {len(op._outputs)} outputs."
            )
        return op._outputs[i]

    def as_graph_element(self, obj: Any, allow_tensor: bool = True, allow_operation: bool = True) -> Any:
        if isinstance(obj, str):
            if ":" in obj and allow_tensor:
                return self.get_tensor_by_name(obj)
            if allow_operation:
                return self.get_operation_by_name(obj)
            raise ValueError(f"Name '{obj}' refers to an Operation, not a Tensor.")
        if hasattr(obj, "_as_graph_element"):
            obj = obj._as_graph_element()
        if isinstance(obj, Tensor | Operation):
            if obj.graph is not self:
                raise ValueError(f"{obj!r} is not an element of this graph.")
            return obj
        raise TypeError(f"Can not convert a {type(obj).__name__} into a Tensor or Operation.")

    @property
    def version(self) -> int:
        return self._version

    @property
    def seed(self) -> int | None:
        return self._seed

    @seed.setter
    def seed(self, value: int | None) -> None:
        self._seed = value

    @property
    def finalized(self) -> bool:
        return self._finalized

    def finalize(self) -> None:
        """Makes the graph read-only: any later op creation raises RuntimeError naming the line."""
        self._finalized = True

    def _unsafe_unfinalize(self) -> None:
        self._finalized = False

    # -- collections -------------------------------------------------------------------------
    def add_to_collection(self, name: str, value: Any) -> None:
        with self._lock:
            self._collections.setdefault(name, []).append(value)

    def add_to_collections(self, names: Any, value: Any) -> None:
        if isinstance(names, str):
            names = [names]
        for n in dict.fromkeys(names):
            self.add_to_collection(n, value)

    def get_collection(self, name: str, scope: str | None = None) -> list:
        items = self._collections.get(name, [])
        if scope is None:
            return list(items)
        pat = re.compile(scope)
        return [i for i in items if hasattr(i, "name") and pat.match(i.name)]

    def get_collection_ref(self, name: str) -> list:
        return self._collections.setdefault(name, [])

    def clear_collection(self, name: str) -> None:
        self._collections.pop(name, None)

    def get_all_collection_keys(self) -> list[str]:
        return [k for k, v in self._collections.items() if v]


def _shape_str(dims: tuple | None) -> str:
    """TF's bracket form of a static shape: ``[2,?]``, ``[]``, ``<unknown>``."""
    if dims is None:
        return "<unknown>"
    return "[" + ",".join("?" if d is None else str(d) for d in dims) + "]"


def _as_op(c: Any, graph: Graph) -> Operation:
    if hasattr(c, "_as_graph_element"):
        c = c._as_graph_element()
    if isinstance(c, Tensor):
        return c.op
    if isinstance(c, Operation):
        return c
    if hasattr(c, "op") and isinstance(c.op, Operation):
        return c.op
    raise TypeError(f"Control input must be an Operation or Tensor: {c!r}")


# -- the default graph ------------------------------------------------------------------------
_GLOBAL_DEFAULT: list[Graph] = [Graph()]
_STACKS = threading.local()


def _default_stack() -> list[Graph]:
    s = getattr(_STACKS, "stack", None)
    if s is None:
        s = _STACKS.stack = []
    return s


def get_default_graph() -> Graph:
    s = _default_stack()
    return s[-1] if s else _GLOBAL_DEFAULT[0]


def reset_default_graph() -> None:
    """Replaces the global default graph; illegal inside a ``with g.as_default()`` block (as in TF1)."""
    if _default_stack():
        raise AssertionError(
            "Do not use tf.reset_default_graph() to clear nested graphs. If you need a cleared graph, "
            "exit the nesting and create a new graph."
        )
    _GLOBAL_DEFAULT[0] = Graph()


# -- conversion -------------------------------------------------------------------------------
def convert_to_tensor(value: Any, dtype: Any = None, name: str | None = None, preferred_dtype: Any = None) -> Tensor:
    """Tensor-like -> Tensor: Tensors and Variables pass through (dtype checked), values become Consts."""
    if isinstance(value, Tensor):
        t = value
    elif hasattr(value, "_as_graph_tensor"):
        t = value._as_graph_tensor()
    elif isinstance(value, list | tuple) and _holds_tensor(value):
        # TF1 packs a (nested) list that mixes tensors and numbers into one tensor.
        from flowgraph.ops.array import stack

        items = [convert_to_tensor(v, dtype=dtype, preferred_dtype=preferred_dtype) if isinstance(v, list | tuple) else v for v in value]
        first = next(i for i in items if isinstance(i, Tensor) or hasattr(i, "_as_graph_tensor"))
        first = first if isinstance(first, Tensor) else first._as_graph_tensor()
        want = dtype if dtype is not None else first.dtype
        t = stack([convert_to_tensor(i, dtype=want) for i in items], name=name or "packed")
    else:
        if dtype is None and preferred_dtype is not None:
            try:
                return _constant(value, _dtypes.as_dtype(preferred_dtype), name or "Const")
            except (TypeError, ValueError):
                pass
        return _constant(value, None if dtype is None else _dtypes.as_dtype(dtype), name or "Const")
    if dtype is not None:
        dt = _dtypes.as_dtype(dtype)
        if t.dtype is not dt:
            raise ValueError(f"Tensor conversion requested dtype {dt.name} for Tensor with dtype {t.dtype.name}: {t!r}")
    return t


def _holds_tensor(value: list | tuple) -> bool:
    return any(
        isinstance(v, Tensor) or hasattr(v, "_as_graph_tensor") or (isinstance(v, list | tuple) and _holds_tensor(v))
        for v in value
    )


def _constant(value: Any, dtype: _dtypes.DType | None, name: str) -> Tensor:
    from flowgraph.ops.sources import constant

    return constant(value, dtype=dtype, name=name)


def as_numpy_value(value: Any, dtype: _dtypes.DType | None) -> np.ndarray:
    """A Python/NumPy value as an array of ``dtype`` (TF1's inference when None).

    TF1's rules: NumPy values are cast to the requested dtype; Python values must fit its kind (a
    float is refused for an integer dtype, a number for bool), integers wrap as NumPy casts them.
    """
    if dtype is None:
        dtype = _dtypes.infer_dtype(value)
    if dtype is _dtypes.string:
        return as_bytes_array(value)
    from_numpy = isinstance(value, np.ndarray | np.generic)
    arr = np.asarray(value)
    kind = arr.dtype.kind
    if kind in "OUSV":
        raise TypeError(f"Cannot convert {_short_repr(value)} to a tensor of dtype {dtype.name}.")
    if arr.dtype == dtype.np:
        return arr
    if not from_numpy and ((dtype.is_integer and kind in "fc") or (dtype.is_bool and kind != "b")):
        raise TypeError(f"Expected {dtype.name}, but got {_short_repr(value)} of type '{type(value).__name__}'")
    with np.errstate(all="ignore"):
        return arr.astype(dtype.np)


def _short_repr(v: Any) -> str:
    r = repr(v)
    return r if len(r) <= 60 else r[:57] + "..."


def as_bytes_array(value: Any) -> np.ndarray:
    """A string tensor's value: an object array of ``bytes`` (TF1 returns bytes, str is UTF-8 encoded)."""
    arr = np.array(value, dtype=object)
    flat = arr.reshape(-1)
    for i, v in enumerate(flat):
        if isinstance(v, str):
            flat[i] = v.encode()
        elif isinstance(v, np.bytes_ | np.str_):
            flat[i] = bytes(v) if isinstance(v, np.bytes_) else str(v).encode()
        elif not isinstance(v, bytes):
            raise TypeError(f"Expected string, got {v!r} of type '{type(v).__name__}' instead.")
    return arr


def constant_value(tensor: Any) -> Any:
    """The tensor's value if it is known when the graph is built, else None (``tf.get_static_value``)."""
    if not isinstance(tensor, Tensor):
        return tensor
    if len(tensor._op._outputs) != 1:
        return None
    return tensor._op._opdef.static_value(tensor._op)
