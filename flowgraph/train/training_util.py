"""The global step: one int64 scalar variable per graph counting training steps (TF1's rules).

It is found through the ``GLOBAL_STEP`` collection, or failing that by the tensor name
``global_step:0``; optimizers increment it after their updates when passed ``global_step=``.
"""

from __future__ import annotations

from typing import Any

from flowgraph import dtypes as _dtypes
from flowgraph import logging
from flowgraph.graph import Graph, GraphKeys, Tensor, get_default_graph
from flowgraph.variables import Variable, get_variable


def global_step(sess: Any, global_step_tensor: Any) -> int:
    """The current value of ``global_step_tensor`` in ``sess``, as a Python int."""
    return int(sess.run(global_step_tensor))


def assert_global_step(global_step_tensor: Any) -> None:
    """Raises TypeError unless ``global_step_tensor`` is an integer scalar Variable or Tensor."""
    if not isinstance(global_step_tensor, Variable | Tensor):
        raise TypeError(f'Existing "global_step" must be a Variable or Tensor: {global_step_tensor}.')
    if not global_step_tensor.dtype.is_integer:
        raise TypeError(f'Existing "global_step" does not have integer type: {global_step_tensor.dtype!r}')
    shape = global_step_tensor.shape
    if shape.ndims != 0 and shape.is_fully_defined():
        raise TypeError(f'Existing "global_step" is not scalar: {shape}')


def get_global_step(graph: Graph | None = None) -> Any:
    """The global step of ``graph`` (default graph), or None when there is none."""
    graph = graph or get_default_graph()
    found = graph.get_collection(GraphKeys.GLOBAL_STEP)
    if len(found) == 1:
        step = found[0]
    elif not found:
        try:
            step = graph.get_tensor_by_name("global_step:0")
        except KeyError:
            return None
    else:
        logging.error("Multiple tensors in global_step collection.")
        return None
    assert_global_step(step)
    return step


def create_global_step(graph: Graph | None = None) -> Variable:
    """Creates the int64 ``global_step`` variable (zero, non-trainable); ValueError if one exists."""
    graph = graph or get_default_graph()
    if get_global_step(graph) is not None:
        raise ValueError('"global_step" already exists.')
    from flowgraph.init_ops import zeros_initializer

    with graph.as_default(), graph.name_scope(None), graph.control_dependencies(None):
        return get_variable(
            GraphKeys.GLOBAL_STEP,
            shape=[],
            dtype=_dtypes.int64,
            initializer=zeros_initializer(),
            trainable=False,
            collections=[GraphKeys.GLOBAL_VARIABLES, GraphKeys.GLOBAL_STEP],
        )


def get_or_create_global_step(graph: Graph | None = None) -> Any:
    """The graph's global step, created first if missing."""
    graph = graph or get_default_graph()
    step = get_global_step(graph)
    if step is None:
        step = create_global_step(graph)
    return step
