"""flowgraph's allreduce op against a bare mpi4py Allreduce of the same bytes.

Run: mpiexec -n 2 python benchmarks/bench_allreduce.py [--rounds 7]

Each payload is timed in several rounds; a round times the bare call and the op back to back
(their order alternating from round to round, so drift on a busy machine hits both alike). Prints,
on rank 0, the median bandwidth (GB/s of payload) of each and the median of the per-round ratios
op / bare. The op is a ``Session.run`` of ``allreduce(x, average=False)`` fed the same NumPy
array; "op, mean" is the default ``average=True`` (one more pass over the result).
"""

import argparse
import os
import statistics
import time

import numpy as np
from mpi4py import MPI

import flowgraph as tf
import flowgraph.distribute as hvd

SIZES = (64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20)


def _timed(fn, reps: int) -> float:
    comm = MPI.COMM_WORLD
    comm.Barrier()
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    # The slowest rank's time: the collective is only done when it is done everywhere.
    return comm.allreduce((time.perf_counter() - t0) / reps, op=MPI.MAX)


def measure(nbytes: int, rounds: int) -> dict:
    comm = MPI.COMM_WORLD
    buf = np.random.default_rng(comm.Get_rank()).random(nbytes // 4, dtype=np.float32)
    out = np.empty_like(buf)
    reps = max(10, int(2e8 // nbytes))  # about 50 ms per timing at full speed

    def bare():
        comm.Allreduce(buf, out, op=MPI.SUM)

    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, buf.shape)
        total = hvd.allreduce(x, average=False)
        mean = hvd.allreduce(x, average=True)
        sess = tf.Session()
        got = sess.run(total, {x: buf})
        bare()
        np.testing.assert_allclose(got, out, rtol=1e-6)  # the same sum, not just the same time

        def op_sum():
            sess.run(total.op, {x: buf})

        def op_mean():
            sess.run(mean.op, {x: buf})

        op_mean()
        times = {"bare": [], "op": [], "mean": []}
        for r in range(rounds):
            order = [("bare", bare), ("op", op_sum), ("mean", op_mean)]
            for name, fn in order if r % 2 == 0 else order[::-1]:
                times[name].append(_timed(fn, reps))
        sess.close()
    return {
        "bare": nbytes / statistics.median(times["bare"]) / 1e9,
        "op": nbytes / statistics.median(times["op"]) / 1e9,
        "ratio": statistics.median(b / o for b, o in zip(times["bare"], times["op"])),
        "ratio_mean": statistics.median(b / o for b, o in zip(times["bare"], times["mean"])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    hvd.init()
    rows = [(nbytes, measure(nbytes, args.rounds)) for nbytes in SIZES]
    if hvd.rank() == 0:
        load = " ".join(f"{v:.2f}" for v in os.getloadavg())
        print(f"ranks: {hvd.size()}, rounds: {args.rounds}, load average before the run ended: {load}")
        print("| payload | bare mpi4py GB/s | flowgraph op GB/s | op / bare | op, mean / bare |")
        print("| --- | --- | --- | --- | --- |")
        for nbytes, m in rows:
            size = f"{nbytes >> 20} MiB" if nbytes >= 1 << 20 else f"{nbytes >> 10} KiB"
            print(f"| {size} | {m['bare']:.2f} | {m['op']:.2f} | {m['ratio']:.2f}x | {m['ratio_mean']:.2f}x |")


if __name__ == "__main__":
    main()
