"""Execution plans: the pruned, ordered, slot-allocated form of one (fetches, feeds) signature.

A plan is built once per signature and cached by the Session; running it is then a short loop
(or one straight-line generated function) over bound kernels. networkx is used here, at build
time only: pruning by ancestors, a deterministic topological order and cycle detection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from flowgraph.errors import InvalidArgumentError
from flowgraph.graph import Graph, Operation, Tensor
from flowgraph.ops.sources import _missing_feed_message

#: Ops whose outputs have at most this many elements run inline on the thread that readied them.
TINY_ELEMENTS = 1 << 14


@dataclass
class Step:
    """One op in a plan: its bound kernel, where its inputs and outputs live, who waits on it."""

    op: Operation
    kernel: Any
    in_slots: tuple[int, ...]
    out_slots: tuple[int, ...]  # -1 where an output is fed (its computed value is dropped)
    consumers: list[int] = field(default_factory=list)
    n_deps: int = 0
    heavy: bool = False
    frees: tuple[int, ...] = ()  # slots whose last reader is this step (serial order)


@dataclass
class Plan:
    """Everything ``Session.run`` needs for one signature, computed once."""

    steps: list[Step]
    n_slots: int
    feed_slots: tuple[int, ...]  # slot of each fed tensor, in feed-key order
    fetch_slots: tuple[int, ...]  # slot of each fetched tensor (-1 for an op target)
    const_slots: dict[int, Any]
    slot_readers: list[int]  # how many steps read each slot (for freeing in the threaded executor)
    keep_slots: frozenset  # fetched and fed slots, never freed
    parallel: bool
    serial_fn: Any = None


def prune(graph: Graph, targets: Sequence[Operation], fed: set[Tensor]) -> list[Operation]:
    """Ops needed to produce ``targets``, cut at fed tensors, in deterministic topological order."""
    dag = nx.DiGraph()
    seen: set[Operation] = set()
    stack = list(targets)
    while stack:
        op = stack.pop()
        if op in seen:
            continue
        seen.add(op)
        dag.add_node(op)
        ref_inputs = getattr(op._opdef, "ref_inputs", ())
        for i, t in enumerate(op._inputs):
            if t in fed or i in ref_inputs:
                continue
            dag.add_edge(t._op, op)
            stack.append(t._op)
        for c in op._control_inputs:
            dag.add_edge(c, op)
            stack.append(c)
    try:
        return list(nx.lexicographical_topological_sort(dag, key=lambda o: o._id))
    except nx.NetworkXUnfeasible:
        cycle = nx.find_cycle(dag)
        names = " -> ".join(a.name for a, _ in cycle)
        raise InvalidArgumentError(None, None, f"The graph has a cycle and cannot be run: {names}") from None


def build_plan(
    graph: Graph,
    fetch_tensors: Sequence[Tensor | Operation],
    feed_tensors: Sequence[Tensor],
    rt: Any,
    inter_op_threads: int,
) -> Plan:
    fed = set(feed_tensors)
    targets = [f.op if isinstance(f, Tensor) else f for f in fetch_tensors]
    ops = prune(graph, targets, fed)

    for op in ops:
        if op.type == "Placeholder" and not any(t in fed for t in op._outputs):
            raise InvalidArgumentError(None, op, _missing_feed_message(op))

    slot_of: dict[Tensor, int] = {}
    n_slots = 0
    feed_slots = []
    for t in feed_tensors:
        slot_of[t] = n_slots
        feed_slots.append(n_slots)
        n_slots += 1

    steps: list[Step] = []
    const_slots: dict[int, Any] = {}
    index_of: dict[Operation, int] = {}
    for op in ops:
        if op.type == "Const" and not any(t in fed for t in op._outputs):
            s = n_slots
            n_slots += 1
            slot_of[op._outputs[0]] = s
            const_slots[s] = rt.to_device(op.attrs["value"])
            continue
        outs = []
        for t in op._outputs:
            if t in fed:
                outs.append(-1)
            else:
                slot_of[t] = n_slots
                outs.append(n_slots)
                n_slots += 1
        ref_inputs = getattr(op._opdef, "ref_inputs", ())
        ins = tuple(slot_of[t] for i, t in enumerate(op._inputs) if i not in ref_inputs)
        index_of[op] = len(steps)
        steps.append(Step(op, rt.bind(op), ins, tuple(outs), heavy=_is_heavy(op)))

    producer: dict[int, int] = {}
    for i, st in enumerate(steps):
        for s in st.out_slots:
            if s >= 0:
                producer[s] = i
    for i, st in enumerate(steps):
        deps = {producer[s] for s in st.in_slots if s in producer}
        deps.update(index_of[c] for c in st.op._control_inputs if c in index_of)
        st.n_deps = len(deps)
        for d in deps:
            steps[d].consumers.append(i)

    fetch_slots = tuple(slot_of[f] if isinstance(f, Tensor) else -1 for f in fetch_tensors)
    keep = frozenset(fetch_slots) | frozenset(feed_slots) | frozenset(const_slots)
    readers = [0] * n_slots
    last_reader: dict[int, int] = {}
    for i, st in enumerate(steps):
        for s in st.in_slots:
            readers[s] += 1
            last_reader[s] = i
    frees: dict[int, list[int]] = {}
    for s, i in last_reader.items():
        if s not in keep:
            frees.setdefault(i, []).append(s)
    for i, fs in frees.items():
        steps[i].frees = tuple(fs)

    parallel = inter_op_threads > 1 and _has_parallel_heavy_work(steps)
    return Plan(steps, n_slots, tuple(feed_slots), fetch_slots, const_slots, readers, keep, parallel)


def _is_heavy(op: Operation) -> bool:
    if op._opdef.heavy:
        return True
    for t in op._outputs:
        dims = t._dims
        if dims is None:
            return True
        n = 1
        for d in dims:
            n *= 64 if d is None else d
        if n > TINY_ELEMENTS:
            return True
    return False


def _has_parallel_heavy_work(steps: list[Step]) -> bool:
    """True when two heavy steps are independent, so a second thread can help."""
    heavy = [i for i, s in enumerate(steps) if s.heavy]
    if len(heavy) < 2:
        return False
    # Descendant sets over the step DAG (steps are in topological order).
    desc: list[set[int]] = [set() for _ in steps]
    for i in range(len(steps) - 1, -1, -1):
        for c in steps[i].consumers:
            desc[i].add(c)
            desc[i] |= desc[c]
    for a_pos, a in enumerate(heavy):
        for b in heavy[a_pos + 1 :]:
            if b not in desc[a]:
                return True
    return False
