"""MPI collectives as graph ops: allreduce (single and fused), allgather, broadcast.

Each collective op gets its own duplicated communicator when it is created (every rank builds
the same graph in the same order), so several collectives may run at once on the parallel
scheduler's threads without their messages mixing. Buffers pass through mpi4py's buffer
interface; nothing is pickled. Before an op's first exchange the ranks compare its name, shape
and dtype, and every wait polls so a stalled or failed rank is reported instead of hanging.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import numpy as np

from flowgraph import dtypes as _dtypes
from flowgraph.distribute import comm as _comm
from flowgraph.errors import DeadlineExceededError, InvalidArgumentError, UnavailableError
from flowgraph.graph import Operation, Tensor, convert_to_tensor, get_default_graph
from flowgraph.registry import OpDef, register_op

_META_BYTES = 1024


def collective_timeout() -> float:
    """Seconds a collective waits for the other ranks (``FLOWGRAPH_COLLECTIVE_TIMEOUT``, default 600)."""
    return _settings["timeout"]


def set_collective_timeout(seconds: float) -> None:
    if seconds <= 0:
        raise ValueError(f"timeout must be positive, got {seconds}")
    _settings["timeout"] = float(seconds)


_settings = {"timeout": float(os.environ.get("FLOWGRAPH_COLLECTIVE_TIMEOUT", "600"))}


class _Channel:
    """One op's communicator plus what is needed to wait on it safely."""

    def __init__(self, op_name: str) -> None:
        self.MPI = _comm.mpi()
        self.comm = _comm.world().Dup()
        self.op_name = op_name
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        self.seq = 0
        self.arrived = [0] * self.size
        self.checked = False

    def _drain_arrivals(self) -> None:
        MPI = self.MPI
        status = MPI.Status()
        buf = np.empty(1, dtype=np.int64)
        while self.comm.Iprobe(source=MPI.ANY_SOURCE, tag=_comm.TAG_ARRIVE, status=status):
            src = status.Get_source()
            self.comm.Recv([buf, MPI.INT64_T], source=src, tag=_comm.TAG_ARRIVE)
            self.arrived[src] = max(self.arrived[src], int(buf[0]))

    def run(self, start: Any, what: str) -> None:
        """Announces arrival, starts the non-blocking collective, and polls it to completion."""
        MPI = self.MPI
        self.seq += 1
        self.arrived[self.rank] = self.seq
        note = np.array([self.seq], dtype=np.int64)
        notes = [self.comm.Isend([note, MPI.INT64_T], dest=r, tag=_comm.TAG_ARRIVE) for r in range(self.size) if r != self.rank]
        req = start()
        deadline = time.monotonic() + collective_timeout()
        spins = 0
        next_check = time.monotonic() + 0.01
        while not req.Test():
            # MPICH progresses a non-blocking collective only inside MPI calls: poll hard, but
            # yield the GIL each time so other scheduler threads keep running backprop.
            spins += 1
            time.sleep(0 if spins < 20000 else 0.0001)
            now = time.monotonic()
            if now >= next_check:
                next_check = now + 0.01
                msg = _comm.remote_error()
                if msg is not None:
                    raise UnavailableError(None, None, f"{what} '{self.op_name}' stopped: another rank failed.\n{msg}")
                if now > deadline:
                    self._drain_arrivals()
                    missing = [r for r in range(self.size) if self.arrived[r] < self.seq]
                    raise DeadlineExceededError(
                        None,
                        None,
                        f"{what} '{self.op_name}' timed out after {collective_timeout():g} s on rank {self.rank}: "
                        f"ranks {missing} have not arrived (set FLOWGRAPH_COLLECTIVE_TIMEOUT or "
                        "flowgraph.distribute.set_collective_timeout to wait longer).",
                    )
        MPI.Request.Waitall(notes)
        self._drain_arrivals()

    def check_agreement(self, kind: str, tensors: list[tuple[str, tuple, str]]) -> None:
        """Every rank must run the same collective on the same names, shapes and dtypes."""
        if self.checked or self.size == 1:
            self.checked = True
            return
        mine = json.dumps({"kind": kind, "tensors": tensors}).encode()
        if len(mine) > _META_BYTES - 4:
            mine = json.dumps({"kind": kind, "tensors": tensors[:20], "n": len(tensors)}).encode()[: _META_BYTES - 4]
        send = np.zeros(_META_BYTES, dtype=np.uint8)
        send[:4] = np.frombuffer(np.array([len(mine)], dtype=np.int32).tobytes(), dtype=np.uint8)
        send[4 : 4 + len(mine)] = np.frombuffer(mine, dtype=np.uint8)
        recv = np.empty((self.size, _META_BYTES), dtype=np.uint8)
        self.run(lambda: self.comm.Iallgather([send, self.MPI.BYTE], [recv, self.MPI.BYTE]), f"{kind} (agreement check)")
        views = []
        for r in range(self.size):
            n = int(np.frombuffer(recv[r, :4].tobytes(), dtype=np.int32)[0])
            views.append(json.loads(recv[r, 4 : 4 + n].tobytes().decode()))
        if any(v != views[0] for v in views):
            detail = "; ".join(f"rank {r}: {json.dumps(v['tensors'])}" for r, v in enumerate(views))
            raise InvalidArgumentError(
                None,
                None,
                f"Ranks disagree on collective '{self.op_name}' ({kind}): every rank must reduce tensors with the "
                f"same names, shapes and dtypes. {detail}",
            )
        self.checked = True


class _Buffer:
    """A receive buffer reused across runs once nothing downstream still holds the last one.

    Fresh multi-megabyte arrays cost page faults on every run; reusing one is safe exactly when
    its only references are this cache and the refcount call itself.
    """

    def __init__(self) -> None:
        self._buf: np.ndarray | None = None

    def get(self, n: int, dtype: Any) -> np.ndarray:
        b = self._buf
        if b is None or b.size != n or b.dtype != dtype or sys.getrefcount(b) > 3:
            b = self._buf = np.empty(n, dtype=dtype)
        return b


def _channel(op: Operation) -> _Channel:
    return op.attrs["channel"]


def _host(rt: Any, x: Any) -> np.ndarray:
    return np.asarray(rt.to_host(x), order="C")  # keeps 0-d arrays 0-d, unlike ascontiguousarray


def _meta(op: Operation, values: list) -> list:
    return [[t.name if isinstance(t, Tensor) else str(t), list(np.shape(v)), str(np.asarray(v).dtype)] for t, v in zip(op.inputs, values)]


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
        average = op.attrs["average"]
        MPI = ch.MPI
        send_buf, recv_buf = _Buffer(), _Buffer()

        def allreduce(*xs):
            hosts = [_host(rt, x) for x in xs]
            ch.check_agreement("allreduce", _meta(op, hosts))
            n = sum(h.size for h in hosts)
            if len(hosts) == 1:
                send = hosts[0].reshape(-1)
            else:
                send = send_buf.get(n, hosts[0].dtype)
                np.concatenate([h.reshape(-1) for h in hosts], out=send)
            recv = recv_buf.get(n, send.dtype)
            if ch.size == 1:
                recv[...] = send
            else:
                ch.run(lambda: ch.comm.Iallreduce(send, recv, op=MPI.SUM), "allreduce")
            if average and ch.size > 1:
                if recv.dtype.kind == "f":
                    recv /= ch.size
                else:
                    recv //= ch.size
            outs = []
            offset = 0
            for h in hosts:
                outs.append(rt.to_device(recv[offset : offset + h.size].reshape(h.shape)))
                offset += h.size
            return outs[0] if len(outs) == 1 else tuple(outs)

        return allreduce

    def gradient(self, op, *grads):
        gs = [g if g is not None else None for g in grads]
        present = [g for g in gs if g is not None]
        if not present:
            return [None] * len(gs)
        reduced = allreduce_n(present, average=op.attrs["average"], name="allreduce_grad")
        it = iter(reduced)
        return [next(it) if g is not None else None for g in gs]


def allreduce_n(tensors: list, average: bool = True, name: str | None = None) -> list[Tensor]:
    """One fused allreduce of several tensors (one MPI call); returns them reduced, same shapes."""
    _comm.mpi()
    ts = [convert_to_tensor(t) for t in tensors]
    if len({t.dtype for t in ts}) > 1:
        raise TypeError("A fused allreduce needs tensors of one dtype: " + ", ".join(f"{t.name} ({t.dtype.name})" for t in ts))
    g = get_default_graph()
    op = g.create_op("MPIAllreduce", ts, {"average": bool(average)}, name=name or "MPIAllreduce")
    op.attrs["channel"] = _Channel(op.name)
    return list(op.outputs)


def allreduce(tensor: Any, average: bool = True, name: str | None = None) -> Tensor:
    """``tensor`` summed over all ranks (divided by the number of ranks when ``average``)."""
    return allreduce_n([tensor], average=average, name=name)[0]


# ---------------------------------------------------------------------------------------------
# allgather
# ---------------------------------------------------------------------------------------------
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
        MPI = ch.MPI

        def allgather(x):
            h = _host(rt, x)
            ch.check_agreement("allgather", [[op.inputs[0].name, ["*"] + list(h.shape[1:]), str(h.dtype)]])
            counts = np.empty(ch.size, dtype=np.int64)
            mine = np.array([h.shape[0]], dtype=np.int64)
            ch.run(lambda: ch.comm.Iallgather([mine, MPI.INT64_T], [counts, MPI.INT64_T]), "allgather (sizes)")
            row = int(np.prod(h.shape[1:], dtype=np.int64))
            out = np.empty((int(counts.sum()),) + h.shape[1:], dtype=h.dtype)
            sizes = (counts * row).astype(np.int64)
            displs = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
            mtype = MPI._typedict[h.dtype.char]
            ch.run(lambda: ch.comm.Iallgatherv([h.reshape(-1), mtype], [out.reshape(-1), (sizes, displs), mtype]), "allgather")
            return rt.to_device(out)

        return allgather

    def gradient(self, op, grad):
        total = allreduce(grad, average=False, name="allgather_grad_sum")
        return [_own_rows(total, op.inputs[0])]


@register_op
class MPIOwnRows(OpDef):
    """This rank's rows of an allgather result (the slice its own input filled)."""

    stateful = True

    def infer(self, op):
        g, x = op.inputs
        return [(g.dtype, x._dims)]

    def kernel(self, op, rt):
        ch = _channel(op)
        MPI = ch.MPI

        def own_rows(g, x):
            counts = np.empty(ch.size, dtype=np.int64)
            mine = np.array([np.shape(x)[0]], dtype=np.int64)
            ch.run(lambda: ch.comm.Iallgather([mine, MPI.INT64_T], [counts, MPI.INT64_T]), "allgather gradient (sizes)")
            start = int(counts[: ch.rank].sum())
            return g[start : start + int(counts[ch.rank])]

        return own_rows

    def gradient(self, op, grad):
        return [None, None]


def _own_rows(total: Tensor, x: Tensor) -> Tensor:
    op = get_default_graph().create_op("MPIOwnRows", [total, x], {}, name="own_rows")
    op.attrs["channel"] = _Channel(op.name)
    return op.outputs[0]


def allgather(tensor: Any, name: str | None = None) -> Tensor:
    """Every rank's ``tensor`` concatenated along axis 0, in rank order."""
    _comm.mpi()
    t = convert_to_tensor(tensor)
    op = get_default_graph().create_op("MPIAllgather", [t], {}, name=name or "MPIAllgather")
    op.attrs["channel"] = _Channel(op.name)
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
            raise InvalidArgumentError(None, op, f"broadcast root_rank {root} is not a rank of this job (size {ch.size}).")

        def broadcast(*xs):
            hosts = [_host(rt, x) for x in xs]
            ch.check_agreement("broadcast", _meta(op, hosts))
            buf = np.concatenate([h.reshape(-1) for h in hosts]) if len(hosts) > 1 else hosts[0].reshape(-1).copy()
            if ch.size > 1:
                ch.run(lambda: ch.comm.Ibcast(buf, root=root), "broadcast")
            outs, offset = [], 0
            for h in hosts:
                outs.append(rt.to_device(buf[offset : offset + h.size].reshape(h.shape)))
                offset += h.size
            return outs[0] if len(outs) == 1 else tuple(outs)

        return broadcast

    def gradient(self, op, *grads):
        # Every rank's output came from the root: the root's input collects all gradients.
        summed = allreduce_n([g for g in grads if g is not None], average=False, name="broadcast_grad_sum")
        it = iter(summed)
        keep = 1.0 if _comm.rank() == op.attrs["root_rank"] else 0.0
        return [next(it) * keep if g is not None else None for g in grads]


def broadcast_n(tensors: list, root_rank: int, name: str | None = None) -> list[Tensor]:
    _comm.mpi()
    ts = [convert_to_tensor(t) for t in tensors]
    if len({t.dtype for t in ts}) > 1:
        raise TypeError("A fused broadcast needs tensors of one dtype: " + ", ".join(f"{t.name} ({t.dtype.name})" for t in ts))
    op = get_default_graph().create_op("MPIBroadcast", ts, {"root_rank": int(root_rank)}, name=name or "MPIBroadcast")
    op.attrs["channel"] = _Channel(op.name)
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


_ = _dtypes
