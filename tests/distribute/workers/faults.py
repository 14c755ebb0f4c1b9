"""Run under mpiexec with a fault mode: mismatch | raise | timeout."""

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
