"""flowgraph's allreduce op against a bare mpi4py Allreduce of the same bytes.

Run: mpiexec -n 2 python benchmarks/bench_allreduce.py
Prints, on rank 0, bandwidth (GB/s of payload) for each size and the ratio op / bare.
"""

import time

import numpy as np
from mpi4py import MPI

import flowgraph as tf
import flowgraph.distribute as hvd


def bare(buf: np.ndarray, reps: int) -> float:
    comm = MPI.COMM_WORLD
    out = np.empty_like(buf)
    comm.Barrier()
    t0 = time.perf_counter()
    for _ in range(reps):
        comm.Allreduce(buf, out, op=MPI.SUM)
    return (time.perf_counter() - t0) / reps


def op(buf: np.ndarray, reps: int) -> float:
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, buf.shape)
        y = hvd.allreduce(x, average=False)
        with tf.Session() as sess:
            sess.run(y, {x: buf})
            MPI.COMM_WORLD.Barrier()
            t0 = time.perf_counter()
            for _ in range(reps):
                sess.run(y.op, {x: buf})
            return (time.perf_counter() - t0) / reps


def main() -> None:
    hvd.init()
    rows = []
    for nbytes in (64 << 10, 1 << 20, 4 << 20, 16 << 20):
        buf = np.random.default_rng(0).random(nbytes // 4, dtype=np.float32)
        reps = max(5, int(2e8 // nbytes))
        best_bare = min(bare(buf, reps) for _ in range(3))
        best_op = min(op(buf, reps) for _ in range(3))
        rows.append((nbytes, nbytes / best_bare / 1e9, nbytes / best_op / 1e9, best_bare / best_op))
    if hvd.rank() == 0:
        print(f"ranks: {hvd.size()}")
        print("| payload | bare mpi4py GB/s | flowgraph op GB/s | op / bare |")
        print("| --- | --- | --- | --- |")
        for nbytes, b, o, ratio in rows:
            print(f"| {nbytes >> 10} KiB | {b:.2f} | {o:.2f} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
