"""Data-parallel LeNet-5 training: 2 MPI processes against 1, and the fusion buffer on against off.

Run: python benchmarks/bench_distributed.py [--rounds 5] [--seconds 2] [--batch 64]

Workload: LeNet-5 (``bench_training.fg_lenet``, He-init weights, SGD) on real MNIST, ``--batch``
images per process per step, every process and every BLAS on one thread (``OMP_NUM_THREADS=1``,
``OPENBLAS_NUM_THREADS=1``, ``ConfigProto`` with one inter- and one intra-op thread). Scaling is
weak, as with Horovod: two processes train on 2 x ``--batch`` images per step (disjoint shards,
``shard_indices``), so the images/s of the pair over those of one process is the scaling
(target: at least 1.7x). Fusion: the same two-process job with ``DistributedOptimizer``'s default
fusion buffer (LeNet's ten gradients in one allreduce) and with ``fusion_threshold_bytes=0`` (one
allreduce per gradient). A fourth variant, the two processes each training alone (no allreduce),
is the ceiling the machine allows at the moment: on a shared machine the cores, not the
allreduce, may be what limits the scaling.

Method. The parent starts two jobs once, ``mpiexec -n 1`` and ``mpiexec -n 2`` of this file with
``--worker``, and drives them in turn over rank 0's stdin (waiting ranks sleep, they do not spin):
per round, each variant runs a few untimed steps, then a fixed number of steps (calibrated to about
``--seconds`` on one process), timed on the slowest rank. The order of the variants alternates
between rounds; a figure is the median over rounds, a ratio the median of the per-round ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy_reference as npref
from bench_training import LR, fg_lenet, load_mnist

import flowgraph as tf
import flowgraph.distribute as hvd

VARIANTS = {1: "fused", 2: "unfused", 3: "alone"}
WARMUP = 3
N_BATCHES = 40


# ---------------------------------------------------------------------------------------------
# Worker: one MPI job, driven by the parent
# ---------------------------------------------------------------------------------------------
class Trainer:
    """LeNet-5 with ``DistributedOptimizer`` at one fusion threshold (None: the plain optimizer, no
    allreduce); ``timed(steps)`` -> seconds."""

    def __init__(self, fusion_bytes: int | None, batches: list) -> None:
        self.batches = batches
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.x = tf.placeholder(tf.float32, [None, 28, 28, 1], name="x")
            self.y = tf.placeholder(tf.int64, [None], name="y")
            params = npref.he_init(npref.LENET_SHAPES, seed=0)
            v = {k: tf.Variable(a, name=k.replace("/", "_")) for k, a in params.items()}
            logits = fg_lenet(v, self.x)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=self.y, logits=logits))
            opt = tf.train.GradientDescentOptimizer(LR)
            if fusion_bytes is not None:
                opt = hvd.DistributedOptimizer(opt, fusion_threshold_bytes=fusion_bytes)
            self.train_op = opt.minimize(loss)
            sync = hvd.broadcast_global_variables(0)
            init = tf.global_variables_initializer()
            self.allreduces = sum(1 for op in self.graph.get_operations() if op.type == "MPIAllreduce")
        config = tf.ConfigProto(inter_op_parallelism_threads=1, intra_op_parallelism_threads=1)
        self.sess = tf.Session(graph=self.graph, config=config)
        self.sess.run(init)
        self.sess.run(sync)
        self.i = 0

    def step(self) -> None:
        xb, yb = self.batches[self.i % len(self.batches)]
        self.i += 1
        self.sess.run(self.train_op, {self.x: xb, self.y: yb})

    def timed(self, steps: int) -> float:
        from mpi4py import MPI

        for _ in range(WARMUP):
            self.step()
        comm = MPI.COMM_WORLD
        comm.Barrier()
        t0 = time.perf_counter()
        for _ in range(steps):
            self.step()
        mine = np.array([time.perf_counter() - t0])
        slowest = np.empty(1)
        comm.Allreduce(mine, slowest, op=MPI.MAX)
        return float(slowest[0])


def _command() -> tuple[int, int]:
    """(variant code, steps) read by rank 0 from stdin and shared; 0 means quit."""
    from mpi4py import MPI

    buf = np.zeros(2, dtype=np.int64)
    if hvd.rank() == 0:
        words = sys.stdin.readline().split()
        if words and words[0] != "quit":
            buf[:] = [int(words[0]), int(words[1])]
    req = MPI.COMM_WORLD.Ibcast(buf, root=0)
    while not req.Test():  # a blocking Bcast would spin and steal the other job's core
        time.sleep(0.005)
    return int(buf[0]), int(buf[1])


def worker(batch: int) -> None:
    hvd.init()
    rank, size = hvd.rank(), hvd.size()
    x, y, _, _ = load_mnist()
    idx = hvd.shard_indices(len(x), epoch=0, seed=0, rank=rank, size=size)
    batches = [(np.ascontiguousarray(x[idx[i * batch : (i + 1) * batch]]), y[idx[i * batch : (i + 1) * batch]])
               for i in range(N_BATCHES)]
    trainers = {"fused": Trainer(hvd.DEFAULT_FUSION_BYTES, batches)}
    if size > 1:
        trainers["unfused"] = Trainer(0, batches)
        trainers["alone"] = Trainer(None, batches)
    if rank == 0:
        print(json.dumps({"ready": size}), flush=True)
    while True:
        code, steps = _command()
        if code == 0:
            return
        t = trainers[VARIANTS[code]]
        seconds = t.timed(steps)
        if rank == 0:
            print(json.dumps({"seconds": seconds, "steps": steps, "images": steps * batch * size,
                              "allreduces": t.allreduces}), flush=True)


# ---------------------------------------------------------------------------------------------
# Parent
# ---------------------------------------------------------------------------------------------
class Job:
    def __init__(self, n: int, batch: int) -> None:
        mpiexec = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which("mpiexec")
        if mpiexec is None:
            raise SystemExit("mpiexec not found: install the 'mpi' extra (pip install 'flowgraph[mpi]')")
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")
        cmd = [mpiexec, "-n", str(n), sys.executable, __file__, "--worker", "--batch", str(batch)]
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        self._read()

    def _read(self) -> dict:
        while True:
            line = self.p.stdout.readline()
            if not line:
                raise SystemExit(f"a benchmark job ended early (exit {self.p.wait()})")
            if line.startswith("{"):
                return json.loads(line)

    def run(self, variant: str, steps: int) -> dict:
        code = next(k for k, v in VARIANTS.items() if v == variant)
        self.p.stdin.write(f"{code} {steps}\n")
        self.p.stdin.flush()
        return self._read()

    def close(self) -> None:
        self.p.stdin.write("quit\n")
        self.p.stdin.flush()
        self.p.wait(timeout=60)


def _cpu() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        info = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
        return f"{info.get('Model name', '?').strip()}, {info.get('CPU(s)', '?').strip()} CPUs"
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=2.0, help="about how long one timed run takes")
    parser.add_argument("--batch", type=int, default=64, help="images per process per step")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.batch)
        return
    one, two = Job(1, args.batch), Job(2, args.batch)
    try:
        probe = one.run("fused", 10)
        steps = max(10, int(args.seconds / (probe["seconds"] / probe["steps"])))
        runs: dict[str, list] = {"one": [], "fused": [], "unfused": [], "alone": []}
        plan = [("one", one, "fused"), ("fused", two, "fused"), ("unfused", two, "unfused"), ("alone", two, "alone")]
        for r in range(args.rounds):
            for key, job, variant in plan if r % 2 == 0 else plan[::-1]:
                runs[key].append(job.run(variant, steps))
    finally:
        one.close()
        two.close()

    def ips(row: dict) -> float:
        return row["images"] / row["seconds"]

    def step_ms(row: dict) -> float:
        return 1e3 * row["seconds"] / row["steps"]

    def med(key: str, fn) -> float:
        return statistics.median(fn(row) for row in runs[key])

    scaling = statistics.median(ips(b) / ips(a) for a, b in zip(runs["one"], runs["fused"]))
    ceiling = statistics.median(ips(b) / ips(a) for a, b in zip(runs["one"], runs["alone"]))
    fusion = statistics.median(step_ms(u) / step_ms(f) for f, u in zip(runs["fused"], runs["unfused"]))
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"{time.strftime('%Y-%m-%d')}, {_cpu()}, load average at the end {load}")
    print(f"LeNet-5 SGD, batch {args.batch} per process, 1 BLAS thread per process, "
          f"{args.rounds} rounds of {steps} steps")
    print()
    print("| run | allreduces per step | step ms | images/s |")
    print("| --- | --- | --- | --- |")
    print(f"| 1 process | 0 | {med('one', step_ms):.1f} | {med('one', ips):.0f} |")
    print(f"| 2 processes, fusion buffer | {runs['fused'][0]['allreduces']} | {med('fused', step_ms):.1f} "
          f"| {med('fused', ips):.0f} |")
    print(f"| 2 processes, no fusion | {runs['unfused'][0]['allreduces']} | {med('unfused', step_ms):.1f} "
          f"| {med('unfused', ips):.0f} |")
    print(f"| 2 processes, no allreduce (each trains alone) | 0 | {med('alone', step_ms):.1f} "
          f"| {med('alone', ips):.0f} |")
    print()
    print(f"scaling, 2 processes / 1 (images/s): {scaling:.2f}x (target >= 1.7x)")
    print(f"the machine's ceiling now, 2 processes training alone / 1: {ceiling:.2f}x")
    print(f"fusion, step time without / with the fusion buffer: {fusion:.2f}x")


if __name__ == "__main__":
    main()
