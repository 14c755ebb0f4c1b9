"""Run under mpiexec with a fault mode: mismatch | mismatch_later | raise | timeout."""

import sys
import time

import numpy as np

import flowgraph as tf
import flowgraph.distribute as hvd

mode = sys.argv[1]
hvd.init()
r = hvd.rank()
hvd.set_collective_timeout(3.0)
if mode == "mismatch":
    shape = [2, 3] if r == 0 else [3, 2]
    x = tf.constant(np.ones(shape))
    y = hvd.allreduce(x, name="grads_fc1")
    tf.Session().run(y)
elif mode == "mismatch_later":
    # Shapes agree on the first run and part on the second: a dynamic shape is checked every run.
    x = tf.placeholder(tf.float64, [None, 3])
    y = hvd.allreduce(x, name="grads_dyn")
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(y, {x: np.full((2, 3), r + 1.0)}), np.full((2, 3), 1.5))
        print("first run agreed", r, flush=True)
        sess.run(y, {x: np.ones((2 + r, 3))})
elif mode == "raise":
    x = tf.constant(np.ones(3))
    y = hvd.allreduce(x, name="sync")
    if r == 1:
        raise RuntimeError("boom on rank 1")
    tf.Session().run(y)
elif mode == "timeout":
    x = tf.constant(np.ones(3))
    y = hvd.allreduce(x, name="late_sync")
    if r == 1:
        time.sleep(30)
    tf.Session().run(y)
print("finished", r)
