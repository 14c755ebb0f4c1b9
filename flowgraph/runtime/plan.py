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
import numpy as np

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
    #: For a read of a ref output (a variable): the op the value is read for. The read waits for
    #: everything that op waits for, so it sees assignments ordered before that op (TF1's refs).
    for_op: Operation | None = None
    wait_slots: tuple[int, ...] = ()  # slots a read waits for without reading them
    wait_ops: tuple[Operation, ...] = ()  # control inputs of the Identity chain a read goes through
    at_end: bool = False  # a fetched variable value: read after every other step
    #: The runtime the kernel was bound to, when it was bound plainly (no device copies around it):
    #: only then may the plan swap in a buffer-donating variant.
    rt: Any = None
    #: None when the output size is unknown at build time; the first run measures it.
    elements: int | None = 0


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
    #: True while some step's size is unknown and could make the plan worth running in parallel:
    #: the first run then measures the sizes (``retune``) instead of guessing.
    calibrate: bool = False
    inter_op_threads: int = 1
    #: True when a fetched value lives on a GPU: ``Session.run`` copies the results to the host.
    host_copy: bool = False
    #: Fetch positions whose value may be a non-C-ordered view (see ``_c_order_fetches``).
    c_order_at: tuple[int, ...] = ()
    #: Whether kernels may cut their work into intra-op pieces in this plan's runs; None until the
    #: session's first runs have measured it (``Session._tuning_run``).
    intra_pieces: bool | None = True
    #: Run with BLAS capped at one thread (kept by the tuning when that was faster: an idle
    #: multi-threaded OpenBLAS spins on the other cores and slows every kernel around its calls).
    blas_one: bool = False
    #: How the plan's runs split the batch across a forked worker process
    #: (``runtime/batch_split.py``); None where nothing per-example and heavy would move.
    split_program: Any = None
    #: Whether runs split the batch: None until measured (plans with a ``split_program``).
    batch_split: bool | None = False
    #: The ``SplitRunner`` (worker process and shared regions), made on the first split run.
    split_runner: Any = None
    #: True while the session's timing runs of this plan are under way (``Session._tuning_run``).
    tuning: bool = False


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
    """Prunes, orders and slot-allocates the ops one (fetches, feeds) signature needs.

    Variables follow TF1's ref semantics: a consumer reads a variable when it runs (after its
    dependencies, also through Identity chains such as ``v/read``), and a fetched variable value
    is read at the end of the run, so it shows the run's assignments.
    """
    fed = set(feed_tensors)
    # A fetched tensor that is fed is answered from the feed: its op need not run.
    targets = [f if isinstance(f, Operation) else f.op for f in fetch_tensors if f not in fed]
    ops = prune(graph, targets, fed)
    for op in ops:
        if op.type == "Placeholder" and not any(t in fed for t in op._outputs):
            raise InvalidArgumentError(None, op, _missing_feed_message(op))

    required = {c for op in ops for c in op._control_inputs}  # ops that must run though nothing reads them
    end_reads: dict[Tensor, tuple[Operation, tuple[Operation, ...]]] = {}
    for f in fetch_tensors:
        if isinstance(f, Operation):
            required.add(f)
        elif f not in fed:
            src = _ref_source(f, fed)
            if src is not None:
                end_reads[f] = src

    placer = getattr(rt, "placer", None)
    if placer is not None:
        placement = {op: placer.device_of(op) for op in ops}
        placer.log_placement(placement)
        host = placer.host
        runtime_of = placer.runtime
    else:  # a bare runtime: everything on it
        placement = {}
        host = getattr(rt, "device", None)
        runtime_of = None

    def rt_of(op: Operation) -> Any:
        return rt if runtime_of is None else runtime_of(placement.get(op, rt.device))

    slot_of: dict[Tensor, int] = {t: i for i, t in enumerate(feed_tensors)}
    feed_slots = tuple(slot_of[t] for t in feed_tensors)
    n_slots = len(feed_tensors)
    #: The device each slot's value lives on; feeds arrive as host (NumPy) values.
    slot_dev: dict[int, Any] = dict.fromkeys(feed_slots, host)
    const_copies: dict[tuple[int, Any], int] = {}  # (const slot, device) -> the const's slot there
    const_values: dict[int, Any] = {}  # const slot -> its host value
    steps: list[Step] = []
    const_slots: dict[int, Any] = {}

    def put_const(value: Any, op_rt: Any) -> int:
        nonlocal n_slots
        v = op_rt.to_device(value)
        if type(v) is np.ndarray and v.ndim == 0 and v.dtype != object:
            v = v[()]  # a NumPy scalar: scalar kernels on it are several times cheaper than on 0-d arrays
        const_slots[n_slots] = v
        const_values[n_slots] = value
        slot_dev[n_slots] = op_rt.device if runtime_of is not None else host
        n_slots += 1
        return n_slots - 1

    def inputs_on(device: Any, slots: list[int]) -> tuple[list[int], list[int]]:
        """``slots`` as read on ``device``: consts get a copy there once; others to copy per run."""
        out, copy_at = [], []
        for k, s in enumerate(slots):
            if slot_dev.get(s, device) != device:
                if s in const_values:
                    key = (s, device)
                    if key not in const_copies:
                        const_copies[key] = put_const(const_values[s], runtime_of(device))
                    s = const_copies[key]
                else:
                    copy_at.append(k)
            out.append(s)
        return out, copy_at

    for op in ops:
        if op.type == "Const" and not any(t in fed for t in op._outputs):
            slot_of[op._outputs[0]] = put_const(op.attrs["value"], rt_of(op))
            continue
        if op._opdef.ref_output and op not in required:
            continue  # read by each consumer instead
        ref_inputs = getattr(op._opdef, "ref_inputs", ())
        ins = []
        reads = []
        for i, t in enumerate(op._inputs):
            if i in ref_inputs:
                continue
            src = _ref_source(t, fed)
            if src is None:
                ins.append(slot_of[t])
            else:
                reads.append((src, n_slots))
                ins.append(n_slots)
                n_slots += 1
        waits = tuple(s for s in ins if s not in {r for _, r in reads})
        for (var, via), s in reads:
            var_rt = rt_of(var)
            reader = var._opdef.ref_reader(var, var_rt, op)
            slot_dev[s] = var_rt.device if runtime_of is not None else host
            steps.append(Step(var, reader, (), (s,), for_op=op, wait_slots=waits, wait_ops=via))
        op_rt = rt_of(op)
        kernel = op_rt.bind(op)
        # A donating kernel is bound here, outside ``bind``: only where bind adds no device switch.
        plain_rt = None if getattr(getattr(op_rt, "backend", None), "device_id", 0) else op_rt
        if runtime_of is not None:
            ins, copy_at = inputs_on(op_rt.device, ins)
            if copy_at:
                kernel = _with_copies(kernel, copy_at, op_rt.device != host, op_rt.to_device)
                plain_rt = None
        outs = []
        for t in op._outputs:
            if t in fed:
                outs.append(-1)
            else:
                slot_of[t] = n_slots
                slot_dev[n_slots] = op_rt.device if runtime_of is not None else host
                outs.append(n_slots)
                n_slots += 1
        steps.append(Step(op, kernel, tuple(ins), tuple(outs), elements=_elements(op), rt=plain_rt))
    for f, (var, via) in end_reads.items():
        var_rt = rt_of(var)
        slot_of[f] = n_slots
        slot_dev[n_slots] = var_rt.device if runtime_of is not None else host
        steps.append(Step(var, var._opdef.ref_reader(var, var_rt, f.op), (), (n_slots,), for_op=f.op, wait_ops=via,
                          at_end=True))
        n_slots += 1

    fetch_slots = tuple(slot_of[f] if isinstance(f, Tensor) else -1 for f in fetch_tensors)
    steps = _live_steps(steps, fetch_slots, required)
    _copy_fetched_state(steps, fetch_slots)
    c_order_at = _c_order_fetches(steps, fetch_slots)
    _link(steps)
    keep = frozenset(fetch_slots) | frozenset(feed_slots) | frozenset(const_slots)
    readers = _set_frees(steps, n_slots, keep)
    _donate(steps, readers, keep)
    _fold(steps, readers, keep)
    host_copy = any(s >= 0 and slot_dev.get(s, host) != host for s in fetch_slots)
    if runtime_of is None:
        host_copy = bool(getattr(rt, "host_copy", False))
    plan = Plan(steps, n_slots, feed_slots, fetch_slots, const_slots, readers, keep, False,
                inter_op_threads=inter_op_threads, host_copy=host_copy, c_order_at=c_order_at)
    retune(plan)
    return plan


def _with_copies(kernel: Any, copy_at: list[int], to_gpu: bool, to_device: Any) -> Any:
    """``kernel`` reading the inputs at ``copy_at`` from another device: copies them onto its own first.

    Decided when the plan is built; a kernel whose inputs all live on its device is not wrapped.
    """
    from flowgraph.backend import to_host

    convert = to_device if to_gpu else to_host
    if len(copy_at) == 1:
        (k,) = copy_at

        def copy_one(*args: Any) -> Any:
            args = list(args)
            args[k] = convert(args[k])
            return kernel(*args)

        return copy_one

    def copy_some(*args: Any) -> Any:
        args = list(args)
        for k in copy_at:
            args[k] = convert(args[k])
        return kernel(*args)

    return copy_some


def _copy_fetched_state(steps: list[Step], fetch_slots: tuple[int, ...]) -> None:
    """Fetched values that may be a variable's stored array are copied, so callers cannot alias state.

    Such values come from variable reads and stateful ops (assignments), possibly through Identity;
    everything else a kernel returns is already a fresh array.
    """
    producer = {s: st for st in steps for s in st.out_slots if s >= 0}
    wrapped: set[int] = set()
    for s in fetch_slots:
        st = producer.get(s)
        if st is None or id(st) in wrapped:
            continue
        src = st
        while src is not None and src.for_op is None and not src.op._opdef.stateful and src.op._opdef.forwards_ref:
            src = producer.get(src.in_slots[0]) if src.in_slots else None
        if src is not None and (src.for_op is not None or src.op._opdef.stateful):
            st.kernel = _copying(st.kernel, len(st.out_slots))
            wrapped.add(id(st))


def _c_order_fetches(steps: list[Step], fetch_slots: tuple[int, ...]) -> tuple[int, ...]:
    """Positions of the fetches that may come out of a kernel in another memory order than C's.

    Convolution kernels hand (C, H, W, N)-ordered views between ops (``ops/batch_minor.py``), and
    any op downstream of them may return one; ``Session.run`` returns those fetches C-ordered, as TF
    does. Only rank-4 outputs (or heavy ops' outputs of unknown rank) qualify, so small scalar
    graphs pay nothing.
    """
    producer = {s: (st, k) for st in steps if st.for_op is None for k, s in enumerate(st.out_slots) if s >= 0}
    out = []
    for i, s in enumerate(fetch_slots):
        hit = producer.get(s)
        if hit is not None:
            st, k = hit
            dims = st.op.outputs[k]._dims
            if (len(dims) == 4) if dims is not None else bool(getattr(st.op._opdef, "heavy", False)):
                out.append(i)
    return tuple(out)


def c_order(v: Any) -> Any:
    """``v`` as a C-contiguous array when it is a NumPy array in another order (else ``v`` itself)."""
    return np.ascontiguousarray(v) if type(v) is np.ndarray and not v.flags.c_contiguous else v


def _fresh(v: Any) -> Any:
    return v.copy() if isinstance(v, np.ndarray) or hasattr(v, "__cuda_array_interface__") else v


def _copying(kernel: Any, n_outputs: int) -> Any:
    if n_outputs == 1:
        return lambda *args: _fresh(kernel(*args))
    return lambda *args: tuple(_fresh(v) for v in kernel(*args))


def _link(steps: list[Step]) -> None:
    """Sets each step's dependency count and consumers (data, control, and a read's waits)."""
    index_of = {st.op: i for i, st in enumerate(steps) if st.for_op is None}
    producer = {s: i for i, st in enumerate(steps) for s in st.out_slots if s >= 0}
    deps_of = []
    for st in steps:
        deps = {producer[s] for s in st.in_slots + st.wait_slots if s in producer}
        waits_for = st.op._control_inputs if st.for_op is None else st.for_op._control_inputs + list(st.wait_ops)
        deps.update(index_of[c] for c in waits_for if c in index_of)
        deps_of.append(deps)
    # End-of-run reads wait for every step that nothing else waits for, hence for all of them.
    has_consumer = {d for deps in deps_of for d in deps}
    sinks = {i for i, st in enumerate(steps) if not st.at_end and i not in has_consumer}
    for i, st in enumerate(steps):
        deps = deps_of[i] | sinks if st.at_end else deps_of[i]
        st.n_deps = len(deps)
        for d in deps:
            steps[d].consumers.append(i)


def _donate(steps: list[Step], readers: list[int], keep: frozenset) -> None:
    """Swaps in ``OpDef.donating_kernel`` where input ``OpDef.donatable`` is a fresh array no one
    else reads (a MatMul output feeding a bias add, a gradient feeding its SGD update)."""
    producer = {s: st for st in steps for s in st.out_slots if s >= 0}

    def donatable(s: int) -> bool:
        src = producer.get(s)
        return readers[s] == 1 and s not in keep and src is not None and src.for_op is None and src.op._opdef.fresh_output

    for st in steps:
        arg = st.op._opdef.donatable
        if arg is not None and st.rt is not None and arg < len(st.in_slots) and donatable(st.in_slots[arg]):
            kernel = st.op._opdef.donating_kernel(st.op, st.rt)
            if kernel is not None:
                st.kernel = kernel


def _fold(steps: list[Step], readers: list[int], keep: frozenset) -> None:
    """Lets an op's producer compute the op's result too (``OpDef.folded_into``) where the op alone
    reads the producer's output; the op then passes that value on."""
    producer = {s: st for st in steps for s in st.out_slots if s >= 0}
    for st in steps:
        if st.for_op is not None or not st.in_slots or len(st.out_slots) != 1:
            continue
        s = st.in_slots[0]
        src = producer.get(s)
        if src is None or src.for_op is not None or readers[s] != 1 or s in keep or len(src.out_slots) != 1:
            continue
        wrap = st.op._opdef.folded_into(st.op, src.op)
        if wrap is not None:
            src.kernel = wrap(src.kernel)
            st.kernel = _passes_first


def _passes_first(value: Any, *_: Any) -> Any:
    return value


def _set_frees(steps: list[Step], n_slots: int, keep: frozenset) -> list[int]:
    """Marks where each slot's last reader is (serial order); returns how many steps read each slot."""
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
    return readers


def _ref_source(t: Tensor, fed: set[Tensor]) -> tuple[Operation, tuple[Operation, ...]] | None:
    """The ref-output op ``t`` reads through (Identity chains), with the chain's control inputs."""
    via: list[Operation] = []
    while t not in fed:
        op = t._op
        if op._opdef.ref_output:
            return op, tuple(via)
        if not op._opdef.forwards_ref:
            return None
        via.extend(op._control_inputs)
        t = op._inputs[0]
    return None


def _live_steps(steps: list[Step], fetch_slots: tuple[int, ...], required: set[Operation]) -> list[Step]:
    """Drops steps nothing needs: pass-throughs (such as ``v/read``) whose readers read the ref itself."""
    needed = set(fetch_slots)
    live = []
    for st in reversed(steps):
        own = st.for_op is None and (st.op in required or st.op._opdef.stateful)
        if own or any(s in needed for s in st.out_slots):
            needed.update(st.in_slots)
            needed.update(st.wait_slots)
            live.append(st)
    live.reverse()
    return live


def retune(plan: Plan, measured: Sequence[int] | None = None) -> None:
    """Marks heavy steps and decides serial vs parallel, from static sizes or measured ones.

    Unknown sizes count as tiny until measured; ``calibrate`` asks the first run to measure when
    that guess could be what keeps the plan serial.
    """
    steps = plan.steps
    if measured is not None:
        for st, n in zip(steps, measured):
            if st.elements is None:
                st.elements = n
    for st in steps:
        st.heavy = st.op._opdef.heavy or (st.elements is not None and st.elements > TINY_ELEMENTS)
    if plan.inter_op_threads <= 1:
        plan.parallel = plan.calibrate = False
        return
    plan.parallel = _has_parallel_heavy_work(steps, [st.heavy for st in steps])
    plan.calibrate = not plan.parallel and any(st.elements is None for st in steps) and _has_parallel_heavy_work(
        steps, [st.heavy or st.elements is None for st in steps]
    )


def _elements(op: Operation) -> int | None:
    """The largest output's element count, None when a shape is not fully known."""
    most = 0
    for t in op._outputs:
        dims = t._dims
        if dims is None or None in dims:
            return None
        n = 1
        for d in dims:
            n *= d
        most = max(most, n)
    return most


def _has_parallel_heavy_work(steps: list[Step], heavy_flags: list[bool]) -> bool:
    """True when two heavy steps are independent, so a second thread can help.

    Heavy steps are pairwise dependent exactly when each one (in topological order) reaches the
    next, so one bounded search per consecutive pair decides it.
    """
    heavy = [i for i, h in enumerate(heavy_flags) if h]
    for a, b in zip(heavy, heavy[1:]):
        if not _reaches(steps, a, b):
            return True
    return False


def _reaches(steps: list[Step], a: int, b: int) -> bool:
    seen = {a}
    stack = [a]
    while stack:
        for c in steps[stack.pop()].consumers:
            if c == b:
                return True
            if c < b and c not in seen:  # steps are topologically ordered: later ones cannot reach b
                seen.add(c)
                stack.append(c)
    return False
