"""Run under mpiexec: every collective on known per-rank inputs; prints one JSON line per rank."""

import json
import pathlib
import sys

import numpy as np

import flowgraph as tf
import flowgraph.distribute as hvd

hvd.init()
r, n = hvd.rank(), hvd.size()
x_val = np.arange(6, dtype=np.float64).reshape(2, 3) * (r + 1)
x = tf.placeholder(tf.float64, [2, 3], name="x")
avg = hvd.allreduce(x, name="avg")
total = hvd.allreduce(x, average=False, name="total")
fused = hvd.allreduce_n([x, x * 2.0], average=False, name="fused")
rows = tf.placeholder(tf.float64, [None, 2], name="rows")
gathered = hvd.allgather(rows, name="gathered")
bcast = hvd.broadcast(x, root_rank=n - 1, name="bcast")
w = tf.constant(np.full((2, 3), float(r + 1)))
(grad,) = tf.gradients(tf.reduce_sum(avg * w), x)
(ggrad,) = tf.gradients(tf.reduce_sum(gathered * gathered), rows)
ints = hvd.allreduce(tf.constant([r + 1, 10], dtype=tf.int32), average=False)
fused_mean = hvd.allreduce_n([x, x * 2.0], name="fused_mean")  # averaged while packed
int_mean = hvd.allreduce(tf.constant([r + 1, 10 * (r + 1)], dtype=tf.int32))  # floor of the mean
with tf.Session() as sess:
    rows_val = np.full((r + 1, 2), float(r))
    fetches = [avg, total, fused, gathered, bcast, grad, ggrad, ints, fused_mean, int_mean]
    out = sess.run(fetches, {x: x_val, rows: rows_val})
rows_out = [np.asarray(o).tolist() if not isinstance(o, list) else [a.tolist() for a in o] for o in out]
pathlib.Path(sys.argv[1], f"rank{r}.json").write_text(json.dumps({"rank": r, "size": n, "out": rows_out}))

