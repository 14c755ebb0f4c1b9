"""MPI collectives as graph ops: allreduce (single and fused), allgather, broadcast.

Each op owns a :class:`~flowgraph.distribute.channel.Channel` (its own communicator), so several
collectives may run at once on the parallel scheduler's threads. Host buffers pass through
mpi4py's buffer interface, nothing is pickled; the reduction lands in a receive buffer reused from
run to run. Tensors on a GPU go through NCCL when it is there (``cupy.cuda.nccl``: the NCCL kernel
of each collective sits right after its MPI kernel) and are staged through host memory over MPI
otherwise. Before an op's first exchange the ranks compare its names, shapes and dtypes.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from flowgraph.distribute import comm as _comm
from flowgraph.distribute.channel import (
    Channel,
    choose_transport,
    collective_timeout,
    nccl_dtype,
    nccl_module,
    set_collective_timeout,
)
from flowgraph.errors import InvalidArgumentError
from flowgraph.graph import Operation, Tensor, convert_to_tensor, get_default_graph
from flowgraph.registry import OpDef, register_op

__all__ = ["allgather", "allreduce", "allreduce_n", "broadcast", "broadcast_global_variables", "broadcast_n",
           "collective_timeout", "set_collective_timeout"]


class _Buffer:
    """A receive buffer reused across runs once nothing downstream still holds the last one.

    Fresh multi-megabyte arrays cost page faults on every run; reusing one is safe exactly when
    its only references are this cache and the refcount call itself.
    """

    def __init__(self) -> None:
        self._buf: np.ndarray | None = None

    def get(self, shape: tuple, dtype: Any) -> np.ndarray:
        """An array of ``shape`` and ``dtype``: last run's when nothing else holds it any more."""
        b = self._buf
        if b is None or b.shape != shape or b.dtype != dtype or sys.getrefcount(b) > 3:
            b = self._buf = np.empty(shape, dtype=dtype)
        return b


def _channel(op: Operation) -> Channel:
    return op.attrs["channel"]


def _host(rt: Any, x: Any) -> np.ndarray:
    return np.asarray(rt.to_host(x), order="C")  # keeps 0-d arrays 0-d, unlike ascontiguousarray


def _meta(op: Operation, values: list) -> list:
    names = [t.name if isinstance(t, Tensor) else str(t) for t in op.inputs]
    return [[name, list(np.shape(v)), str(v.dtype)] for name, v in zip(names, values)]


def _gather_meta(op: Operation, x: Any) -> list:
    """An allgather's description: first dimensions may differ between ranks."""
    return [[op.inputs[0].name, ["*"] + list(x.shape[1:]), str(x.dtype)]]


def _dynamic(tensors: list, skip_first: bool = False) -> bool:
    """Whether a static shape leaves a dimension open, so the ranks must compare every call."""
    for t in tensors:
        dims = t._dims
        if dims is None or any(d is None for d in dims[1 if skip_first else 0 :]):
            return True
    return False


def _transport(op: Operation, rt: Any, kind: str) -> str:
    """NCCL when ``choose_transport`` says so and NCCL has the dtype; MPI otherwise."""
    transport = choose_transport(rt, kind)
    if transport == "nccl":
        nccl, _ = nccl_module(rt.xp)
        if nccl_dtype(nccl, op.inputs[0].dtype.as_numpy_dtype) is None:
            return "mpi"  # bool, complex, int16: NCCL has no such type; stage through the host
    return transport


def _split(flat: Any, like: list) -> Any:
    """Views of ``flat`` shaped like each of ``like`` in turn (one array for one input)."""
    if len(like) == 1:
        return flat.reshape(like[0].shape)
    outs, offset = [], 0
    for x in like:
        outs.append(flat[offset : offset + x.size].reshape(x.shape))
        offset += x.size
    return tuple(outs)


def _mean_in_place(total: Any, ranks: int) -> None:
    """``total / ranks`` in place: floats times the reciprocal (as Horovod's postscale; exact for a
    power-of-two rank count, and several times faster than dividing), integers floor-divided."""
    if total.dtype.kind in "fc":
        total *= total.dtype.type(1.0 / ranks)
    else:
        total //= ranks


# ---------------------------------------------------------------------------------------------
# allreduce
# ---------------------------------------------------------------------------------------------
@register_op
class MPIAllreduce(OpDef):
    """Sum (or mean) of a tensor over all ranks; fused form: several tensors in one buffer."""

    heavy = True
    stateful = True

    def infer(self, op):
        return [(t.dtype, t._dims) for t in op.inputs]

    def kernel(self, op, rt):
        ch = _channel(op)
        every_call = _dynamic(op.inputs)
        if _transport(op, rt, "allreduce") == "nccl":
            return _allreduce_nccl(op, rt, ch, every_call)
        average = op.attrs["average"]
        # A sum of booleans saturates: logical or (MPI defines no sum on them).
        SUM = ch.MPI.LOR if op.inputs[0].dtype.is_bool else ch.MPI.SUM
        IN_PLACE = ch.MPI.IN_PLACE
        size = ch.size
        # Floats are averaged on the way into the buffer (x / size summed, as Horovod's prescale):
        # MPI copies the send buffer into the receive buffer before reducing in place anyway, so
        # copying it ourselves, scaled, makes the mean cost nothing. Integers floor the sum.
        prescale = average and size > 1 and (op.inputs[0].dtype.is_floating or op.inputs[0].dtype.is_complex)
        floor_after = average and size > 1 and not prescale
        buffer = _Buffer()
        host_copy, to_host, to_device = rt.host_copy, rt.to_host, rt.to_device

        scale = op.inputs[0].dtype.as_numpy_dtype(1.0 / size) if prescale else None

        def fill(dst, src):
            if prescale:
                np.multiply(src, scale, out=dst)
            else:
                np.copyto(dst, src)

        def reduce_in_place(buf):
            if size > 1:
                ch.call("allreduce", ch.comm.Allreduce, IN_PLACE, buf, SUM)
                if floor_after:
                    buf //= size
            return buf

        if len(op.inputs) == 1:
            # The common case, kept lean: the MPI call leaves the caches cold, so each Python step
            # around it costs several microseconds. The output is the reused buffer itself, in
            # the input's shape.

            def allreduce(x):
                h = to_host(x) if host_copy else x
                if type(h) is not np.ndarray:
                    h = np.asarray(h)
                if ch.needs_check(every_call):
                    ch.check_agreement("allreduce", _meta(op, [h]), every_call)
                out = buffer.get(h.shape, h.dtype)
                if size == 1:
                    np.copyto(out, h)
                elif prescale:
                    np.multiply(h, scale, out=out)
                    ch.call("allreduce", ch.comm.Allreduce, IN_PLACE, out, SUM)
                else:  # MPI's own copy into the receive buffer is a little faster than ours
                    send = h if h.flags.c_contiguous else np.ascontiguousarray(h)
                    ch.call("allreduce", ch.comm.Allreduce, send, out, SUM)
                    if floor_after:
                        out //= size
                return to_device(out) if host_copy else out

            return allreduce

        def allreduce_fused(*xs):
            hosts = [_host(rt, x) for x in xs]
            if ch.needs_check(every_call):
                ch.check_agreement("allreduce", _meta(op, hosts), every_call)
            buf = buffer.get((sum(h.size for h in hosts),), hosts[0].dtype)
            offset = 0
            for h in hosts:  # packed straight into the buffer MPI reduces in place
                fill(buf[offset : offset + h.size], h.reshape(-1))
                offset += h.size
            outs = _split(reduce_in_place(buf), hosts)
            return tuple(to_device(o) for o in outs) if host_copy else outs

        return allreduce_fused

    def gradient(self, op, *grads):
        present = [g for g in grads if g is not None]
        if not present:
            return [None] * len(grads)
        reduced = allreduce_n(present, average=op.attrs["average"], name="allreduce_grad")
        it = iter(reduced)
        return [next(it) if g is not None else None for g in grads]


def _nccl_inputs(xp: Any, op: Operation, ch: Channel, xs: tuple, every_call: bool, kind: str) -> list:
    """A NCCL kernel's inputs on the device (a host input fed straight in is copied), agreement checked."""
    xs = [xp.asarray(x) for x in xs]
    if ch.needs_check(every_call):
        ch.check_agreement(kind, _meta(op, xs), every_call, "nccl")
    return xs


def _allreduce_nccl(op: Operation, rt: Any, ch: Channel, every_call: bool) -> Any:
    """The allreduce kernel for GPU tensors: one NCCL allReduce on the channel's stream."""
    xp = rt.xp
    average = op.attrs["average"]

    def allreduce(*xs):
        xs = _nccl_inputs(xp, op, ch, xs, every_call, "allreduce")
        flat = xp.ravel(xs[0]) if len(xs) == 1 else xp.concatenate([xp.ravel(x) for x in xs])
        flat = xp.ascontiguousarray(flat)
        out = xp.empty_like(flat)
        if ch.size == 1:
            out[...] = flat
        else:
            link = ch.nccl_link(xp)
            code = nccl_dtype(link.nccl, flat.dtype)
            link.run(lambda s: link.comm.allReduce(flat.data.ptr, out.data.ptr, flat.size, code, link.nccl.NCCL_SUM, s),
                     "allreduce")
            if average:
                _mean_in_place(out, ch.size)
        return _split(out, xs)

    return allreduce


def allreduce_n(tensors: list, average: bool = True, name: str | None = None) -> list[Tensor]:
    """One fused allreduce of several tensors (one MPI call); returns them reduced, same shapes."""
    _comm.mpi()
    ts = [convert_to_tensor(t) for t in tensors]
    if len({t.dtype for t in ts}) > 1:
        kinds = ", ".join(f"{t.name} ({t.dtype.name})" for t in ts)
        raise TypeError(f"A fused allreduce needs tensors of one dtype: {kinds}")
    if average and ts and ts[0].dtype.is_bool:
        raise TypeError(f"Cannot average booleans over ranks ({ts[0].name}): pass average=False for a logical or.")
    g = get_default_graph()
    op = g.create_op("MPIAllreduce", ts, {"average": bool(average)}, name=name or "MPIAllreduce")
    op.attrs["channel"] = Channel(op.name)
    return list(op.outputs)


def allreduce(tensor: Any, average: bool = True, name: str | None = None) -> Tensor:
    """``tensor`` summed over all ranks (divided by the number of ranks when ``average``; integers
    floor-divided; booleans: logical or, never averaged)."""
    return allreduce_n([tensor], average=average, name=name)[0]


# ---------------------------------------------------------------------------------------------
# allgather
# ---------------------------------------------------------------------------------------------
def _gather_counts(ch: Channel, rows: int, what: str) -> np.ndarray:
    MPI = ch.MPI
    counts = np.empty(ch.size, dtype=np.int64)
    mine = np.array([rows], dtype=np.int64)
    ch.call(what, ch.comm.Allgather, [mine, MPI.INT64_T], [counts, MPI.INT64_T])
    return counts


@register_op
class MPIAllgather(OpDef):
    """Concatenation along axis 0 of every rank's tensor (first dimensions may differ)."""

    heavy = True
    stateful = True

    def infer(self, op):
        (x,) = op.inputs
        if x._dims is None:
            return [(x.dtype, None)]
        if len(x._dims) == 0:
            raise ValueError(f"allgather needs a tensor of rank >= 1, got scalar '{x.name}'.")
        n = _comm.size()
        first = None if x._dims[0] is None else (x._dims[0] * n if op.attrs.get("same_first_dim") else None)
        return [(x.dtype, (first,) + tuple(x._dims[1:]))]

    def kernel(self, op, rt):
        ch = _channel(op)
        every_call = _dynamic(op.inputs, skip_first=True)
        if _transport(op, rt, "allgather") == "nccl":
            return _allgather_nccl(op, rt, ch, every_call)
        MPI = ch.MPI

        def allgather(x):
            h = _host(rt, x)
            if ch.needs_check(every_call):
                ch.check_agreement("allgather", _gather_meta(op, h), every_call)
            counts = _gather_counts(ch, h.shape[0], "allgather (sizes)")
            row = int(np.prod(h.shape[1:], dtype=np.int64))
            out = np.empty((int(counts.sum()),) + h.shape[1:], dtype=h.dtype)
            sizes = (counts * row).astype(np.int64)
            displs = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
            mtype = MPI._typedict[h.dtype.char]
            recv = [out.reshape(-1), (sizes, displs), mtype]
            ch.call("allgather", ch.comm.Allgatherv, [h.reshape(-1), mtype], recv)
            return rt.to_device(out)

        return allgather

    def gradient(self, op, grad):
        total = allreduce(grad, average=False, name="allgather_grad_sum")
        return [_own_rows(total, op.inputs[0])]


def _allgather_nccl(op: Operation, rt: Any, ch: Channel, every_call: bool) -> Any:
    """The allgather kernel for GPU tensors: sizes over MPI, rows padded to the longest, one NCCL allGather."""
    xp = rt.xp

    def allgather(x):
        x = xp.asarray(x)
        if ch.needs_check(every_call):
            ch.check_agreement("allgather", _gather_meta(op, x), every_call, "nccl")
        counts = _gather_counts(ch, x.shape[0], "allgather (sizes)")
        if ch.size == 1:
            return x.copy()
        longest = int(counts.max())
        send = xp.zeros((longest,) + x.shape[1:], dtype=x.dtype)
        send[: x.shape[0]] = x
        recv = xp.empty((ch.size,) + send.shape, dtype=x.dtype)
        link = ch.nccl_link(xp)
        code = nccl_dtype(link.nccl, x.dtype)
        link.run(lambda s: link.comm.allGather(send.data.ptr, recv.data.ptr, send.size, code, s), "allgather")
        return xp.concatenate([recv[r, : int(counts[r])] for r in range(ch.size)])

    return allgather


@register_op
class MPIOwnRows(OpDef):
    """This rank's rows of an allgather result (the slice its own input filled)."""

    stateful = True

    def infer(self, op):
        g, x = op.inputs
        return [(g.dtype, x._dims)]

    def kernel(self, op, rt):
        ch = _channel(op)

        def own_rows(g, x):
            counts = _gather_counts(ch, np.shape(x)[0], "allgather gradient (sizes)")
            start = int(counts[: ch.rank].sum())
            return g[start : start + int(counts[ch.rank])]

        return own_rows

    def gradient(self, op, grad):
        return [None, None]


def _own_rows(total: Tensor, x: Tensor) -> Tensor:
    op = get_default_graph().create_op("MPIOwnRows", [total, x], {}, name="own_rows")
    op.attrs["channel"] = Channel(op.name)
    return op.outputs[0]


def allgather(tensor: Any, name: str | None = None) -> Tensor:
    """Every rank's ``tensor`` concatenated along axis 0, in rank order."""
    _comm.mpi()
    t = convert_to_tensor(tensor)
    op = get_default_graph().create_op("MPIAllgather", [t], {}, name=name or "MPIAllgather")
    op.attrs["channel"] = Channel(op.name)
    return op.outputs[0]


# ---------------------------------------------------------------------------------------------
# broadcast
# ---------------------------------------------------------------------------------------------
@register_op
class MPIBroadcast(OpDef):
    """Rank ``root_rank``'s value of each input, on every rank (fused: one buffer)."""

    heavy = True
    stateful = True

    def infer(self, op):
        return [(t.dtype, t._dims) for t in op.inputs]

    def kernel(self, op, rt):
        ch = _channel(op)
        root = op.attrs["root_rank"]
        if not 0 <= root < ch.size:
            raise InvalidArgumentError(None, op, f"broadcast root_rank {root} is not a rank of this job "
                                       f"(size {ch.size}).")
        every_call = _dynamic(op.inputs)
        if _transport(op, rt, "broadcast") == "nccl":
            return _broadcast_nccl(op, rt, ch, every_call)
        buffer = _Buffer()

        def broadcast(*xs):
            hosts = [_host(rt, x) for x in xs]
            if ch.needs_check(every_call):
                ch.check_agreement("broadcast", _meta(op, hosts), every_call)
            buf = buffer.get((sum(h.size for h in hosts),), hosts[0].dtype)
            np.concatenate([h.reshape(-1) for h in hosts], out=buf)
            if ch.size > 1:
                ch.call("broadcast", ch.comm.Bcast, buf, root)
            outs = _split(buf, hosts)
            if rt.host_copy:
                outs = rt.to_device(outs) if len(hosts) == 1 else tuple(rt.to_device(o) for o in outs)
            return outs

        return broadcast

    def gradient(self, op, *grads):
        # Every rank's output came from the root: the root's input collects all gradients.
        summed = allreduce_n([g for g in grads if g is not None], average=False, name="broadcast_grad_sum")
        it = iter(summed)
        keep = 1.0 if _comm.rank() == op.attrs["root_rank"] else 0.0
        return [next(it) * keep if g is not None else None for g in grads]


def _broadcast_nccl(op: Operation, rt: Any, ch: Channel, every_call: bool) -> Any:
    """The broadcast kernel for GPU tensors: one NCCL bcast of the packed inputs."""
    xp = rt.xp
    root = op.attrs["root_rank"]

    def broadcast(*xs):
        xs = _nccl_inputs(xp, op, ch, xs, every_call, "broadcast")
        buf = xp.concatenate([xp.ravel(x) for x in xs]) if len(xs) > 1 else xp.ravel(xs[0]).copy()
        if ch.size > 1:
            link = ch.nccl_link(xp)
            code = nccl_dtype(link.nccl, buf.dtype)
            link.run(lambda s: link.comm.bcast(buf.data.ptr, buf.size, code, root, s), "broadcast")
        return _split(buf, xs)

    return broadcast


def broadcast_n(tensors: list, root_rank: int, name: str | None = None) -> list[Tensor]:
    _comm.mpi()
    ts = [convert_to_tensor(t) for t in tensors]
    if len({t.dtype for t in ts}) > 1:
        kinds = ", ".join(f"{t.name} ({t.dtype.name})" for t in ts)
        raise TypeError(f"A fused broadcast needs tensors of one dtype: {kinds}")
    op = get_default_graph().create_op("MPIBroadcast", ts, {"root_rank": int(root_rank)}, name=name or "MPIBroadcast")
    op.attrs["channel"] = Channel(op.name)
    return list(op.outputs)


def broadcast(tensor: Any, root_rank: int, name: str | None = None) -> Tensor:
    """Rank ``root_rank``'s value of ``tensor`` on every rank."""
    return broadcast_n([tensor], root_rank, name=name)[0]


def broadcast_global_variables(root_rank: int = 0) -> Operation:
    """One op assigning every global variable rank ``root_rank``'s value (start from equal weights)."""
    from flowgraph.ops.control import group
    from flowgraph.variables import global_variables

    variables = global_variables()
    assigns = []
    by_dtype: dict[Any, list] = {}
    for v in variables:
        by_dtype.setdefault(v.dtype, []).append(v)
    g = get_default_graph()
    with g.name_scope("broadcast_global_variables"):
        for dt, vs in by_dtype.items():
            values = broadcast_n([v.value() for v in vs], root_rank, name=f"MPIBroadcast_{dt.name}")
            assigns.extend(v.assign(val) for v, val in zip(vs, values))
    return group(*assigns, name="broadcast_global_variables")

