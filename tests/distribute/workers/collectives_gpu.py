"""Run under mpiexec on a machine with a GPU per rank: the collectives on /gpu:<local_rank> over NCCL."""

import json
import pathlib
import sys

import numpy as np

import flowgraph as tf
import flowgraph.distribute as hvd

hvd.init()
r, n = hvd.rank(), hvd.size()
x_val = np.arange(6, dtype=np.float32).reshape(2, 3) * (r + 1)
with tf.device(f"/gpu:{hvd.local_rank()}"):
    x = tf.placeholder(tf.float32, [2, 3], name="x")
    rows = tf.placeholder(tf.float32, [None, 2], name="rows")
    avg = hvd.allreduce(x * 1.0, name="avg")
    fused = hvd.allreduce_n([x * 1.0, x * 2.0], average=False, name="fused")
    gathered = hvd.allgather(rows * 1.0, name="gathered")
    bcast = hvd.broadcast(x * 1.0, root_rank=n - 1, name="bcast")
    (grad,) = tf.gradients(tf.reduce_sum(avg * float(r + 1)), x)
with tf.Session() as sess:
    out = sess.run([avg, fused, gathered, bcast, grad], {x: x_val, rows: np.full((r + 1, 2), float(r), np.float32)})
ops = [avg.op, fused[0].op, gathered.op, bcast.op]
row = {
    "rank": r,
    "out": [np.asarray(o).tolist() if not isinstance(o, list) else [np.asarray(a).tolist() for a in o] for o in out],
    "nccl": [op.attrs["channel"].nccl is not None for op in ops],
}
pathlib.Path(sys.argv[1], f"rank{r}.json").write_text(json.dumps(row))
