"""Run under mpiexec: the collectives' NCCL kernels on ``fakegpu`` (NCCL made of MPI, no GPU).

Builds the ops as usual, binds each kernel to a runtime that says "gpu" with ``fakegpu`` as its
array module, runs it on known per-rank inputs and writes OUTDIR/rank<r>.json.
"""

import json
import pathlib
import sys
import types

import numpy as np

import fakegpu
import flowgraph as tf
import flowgraph.distribute as hvd
from fakegpu.cuda import nccl

hvd.init()
r, n = hvd.rank(), hvd.size()
rt = types.SimpleNamespace(backend=types.SimpleNamespace(name="gpu"), xp=fakegpu, host_copy=True,
                           to_host=np.asarray, to_device=fakegpu.asarray)
x_val = np.arange(6, dtype=np.float32).reshape(2, 3) * (r + 1)
x = tf.placeholder(tf.float32, [2, 3], name="x")
rows = tf.placeholder(tf.float64, [None, 2], name="rows")
ops = {
    "avg": hvd.allreduce(x, name="avg").op,
    "fused": hvd.allreduce_n([x, x], average=False, name="fused")[0].op,
    "ints": hvd.allreduce(tf.placeholder(tf.int32, [2]), name="ints").op,
    "gathered": hvd.allgather(rows, name="gathered").op,
    "bcast": hvd.broadcast(x, root_rank=n - 1, name="bcast").op,
    "flags": hvd.allreduce(tf.placeholder(tf.bool, [2]), average=False, name="flags").op,
}
inputs = {
    "avg": [x_val],
    "fused": [x_val, 2 * x_val],
    "ints": [np.array([r + 1, 10 * (r + 1)], dtype=np.int32)],
    "gathered": [np.full((r + 1, 2), float(r))],
    "bcast": [x_val],
}
out = {}
for name, args in inputs.items():
    op = ops[name]
    got = op._opdef.kernel(op, rt)(*[fakegpu.asarray(a) for a in args])
    got = list(got) if isinstance(got, tuple) else [got]
    out[name] = {
        "values": [np.asarray(g).tolist() for g in got],
        "types": [f"{type(g).__module__}.{type(g).__name__}" for g in got],
        "dtypes": [str(g.dtype) for g in got],
        "nccl": op.attrs["channel"].nccl is not None,
    }
# bool has no NCCL type: that op keeps the MPI kernel (host staging) on the same "GPU".
flags = ops["flags"]._opdef.kernel(ops["flags"], rt)(fakegpu.asarray(np.array([True, r == 0])))
out["flags"] = {"values": [np.asarray(flags).tolist()], "nccl": ops["flags"].attrs["channel"].nccl is not None}
out["communicators"] = [{"same_id": c.same_id, "calls": c.calls} for c in nccl.communicators]
pathlib.Path(sys.argv[1], f"rank{r}.json").write_text(json.dumps({"rank": r, "out": out}))
