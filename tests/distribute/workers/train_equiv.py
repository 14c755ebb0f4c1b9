"""Run alone or under mpiexec: a small MLP trained 5 steps on a fixed batch of 64.

With N ranks each rank takes its 64/N rows and DistributedOptimizer averages the gradients, so
the weights after 5 steps must equal one process training on all 64 rows. Writes the weights to
OUTDIR/rank<r>.json. argv: OUTDIR sgd|adam [fusion_bytes]
"""

import json
import pathlib
import sys

import numpy as np

import flowgraph as tf
import flowgraph.distribute as hvd
from flowgraph import train

out_dir, opt_name = sys.argv[1], sys.argv[2]
fusion = int(sys.argv[3]) if len(sys.argv) > 3 else hvd.DEFAULT_FUSION_BYTES
hvd.init()
r, n = hvd.rank(), hvd.size()
rng = np.random.default_rng(0)
X = rng.standard_normal((64, 5))
Y = rng.integers(0, 3, 64)
# Different starting weights on every rank: broadcast_global_variables must make them equal.
w1_init = np.random.default_rng(100 + r).standard_normal((5, 7)) * 0.5
w1_root = np.random.default_rng(100).standard_normal((5, 7)) * 0.5

x = tf.placeholder(tf.float64, [None, 5])
y = tf.placeholder(tf.int32, [None])
w1 = tf.Variable(w1_init, name="w1")
b1 = tf.Variable(np.zeros(7), name="b1")
w2 = tf.Variable(np.random.default_rng(7).standard_normal((7, 3)) * 0.5, name="w2")
h = tf.matmul(x, w1) + b1
h = h * h
logits = tf.matmul(h, w2)
labels = tf.one_hot(y, 3, dtype=tf.float64)
loss = tf.reduce_mean(tf.reduce_sum(tf.square(logits - labels), axis=1))
base = train.GradientDescentOptimizer(0.05) if opt_name == "sgd" else train.AdamOptimizer(0.01)
opt = hvd.DistributedOptimizer(base, fusion_threshold_bytes=fusion)
step = opt.minimize(loss)
sync = hvd.broadcast_global_variables(0)
per = 64 // n
with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    sess.run(sync)
    w1_after_sync = sess.run(w1)
    for _ in range(5):
        sess.run(step, {x: X[r * per : (r + 1) * per], y: Y[r * per : (r + 1) * per]})
    result = {
        "rank": r,
        "size": n,
        "synced_to_root": bool(np.allclose(w1_after_sync, w1_root)),
        "weights": [v.tolist() for v in sess.run([w1, b1, w2])],
        "allreduce_ops": sum(1 for op in tf.get_default_graph().get_operations() if op.type == "MPIAllreduce"),
    }
pathlib.Path(out_dir, f"rank{r}.json").write_text(json.dumps(result))
