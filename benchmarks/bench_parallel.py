"""The parallel scheduler on a wide graph: 8 independent chains of 4x (512x512 float32 matmul + tanh),
joined by add_n, with 1 and with 2 inter-op threads (BLAS pinned to 1 thread by threadpoolctl).

Each setting runs in its own process (thread pools and BLAS are sized once per process). Prints ms
per run, the speedup of 2 threads over 1, and hand-written NumPy (serial vs 2 Python threads) as the
peer; TF1 too when a Python that has it is given:

    python benchmarks/bench_parallel.py [--runs 10] [--tf-python /path/to/venv/bin/python]

Target (issue 2): at least 1.7x with 2 threads on a 2-core machine. A last row replaces every kernel
by a GIL-free 2 ms wait: it shows the scheduler's overlap on its own, even on a machine whose cores
are busy with other work (where every engine's real speedup collapses towards 1x).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CHAINS, DEPTH, N = 8, 4, 512


def _weights():
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, N)).astype(np.float32)
    ws = [[(rng.standard_normal((N, N)) / np.sqrt(N)).astype(np.float32) for _ in range(DEPTH)] for _ in range(CHAINS)]
    return x, ws


def _median_ms(fn, runs: int) -> float:
    fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def child_flowgraph(threads: int, runs: int) -> float:
    from threadpoolctl import threadpool_limits

    sys.path.insert(0, os.path.join(HERE, ".."))
    import flowgraph as tf

    threadpool_limits(1, user_api="blas")
    xv, ws = _weights()
    x = tf.placeholder(tf.float32, [N, N])
    outs = []
    for chain in ws:
        h = x
        for w in chain:
            h = tf.tanh(tf.matmul(h, tf.constant(w)))
        outs.append(h)
    y = tf.add_n(outs)
    with tf.Session(config=tf.ConfigProto(inter_op_parallelism_threads=threads, intra_op_parallelism_threads=1)) as s:
        return _median_ms(lambda: s.run(y, {x: xv}), runs)


def child_scheduler(threads: int, runs: int) -> float:
    """The same graph with every matmul and tanh replaced by a 2 ms GIL-free wait: the scheduler's own
    overlap, independent of how many cores are free (ideal: 64 waits = 128 ms on 1 thread, 64 on 2)."""
    import time as _time

    sys.path.insert(0, os.path.join(HERE, ".."))
    import flowgraph as tf
    from flowgraph.ops import math as fg_math

    def waiting_kernel(self, op, rt):
        def wait(*args):
            _time.sleep(0.002)
            return args[0]

        return wait

    fg_math.MatMul.kernel = waiting_kernel
    fg_math.Tanh.kernel = waiting_kernel
    xv, _ = _weights()
    x = tf.placeholder(tf.float32, [N, N])
    outs = []
    for _ in range(CHAINS):
        h = x
        for _ in range(DEPTH):
            h = tf.tanh(tf.matmul(h, x))
        outs.append(h)
    y = tf.add_n(outs)
    with tf.Session(config=tf.ConfigProto(inter_op_parallelism_threads=threads)) as s:
        return _median_ms(lambda: s.run(y, {x: xv}), runs)


def child_numpy(threads: int, runs: int) -> float:
    import threading

    import numpy as np
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")
    xv, ws = _weights()

    def chain(c: list, out: list, i: int) -> None:
        h = xv
        for w in c:
            h = np.tanh(h @ w)
        out[i] = h

    def run() -> np.ndarray:
        out = [None] * CHAINS
        if threads == 1:
            for i, c in enumerate(ws):
                chain(c, out, i)
        else:

            def worker(k: int) -> None:
                for i in range(k, CHAINS, threads):
                    chain(ws[i], out, i)

            ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
        return sum(out[1:], out[0])

    return _median_ms(run, runs)


_TF_SCRIPT = r"""
import os, statistics, sys, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np
import tensorflow.compat.v1 as tf
tf.disable_v2_behavior()
threads, runs, C, D, N = (int(a) for a in sys.argv[1:6])
try:
    from threadpoolctl import threadpool_limits
    threadpool_limits(1, user_api="blas")
except ImportError:
    pass  # OPENBLAS_NUM_THREADS=1 is set; TF's own matmul is capped by intra_op_parallelism_threads=1
rng = np.random.default_rng(0)
xv = rng.standard_normal((N, N)).astype(np.float32)
ws = [[(rng.standard_normal((N, N)) / np.sqrt(N)).astype(np.float32) for _ in range(D)] for _ in range(C)]
x = tf.placeholder(tf.float32, [N, N])
outs = []
for chain in ws:
    h = x
    for w in chain:
        h = tf.tanh(tf.matmul(h, tf.constant(w)))
    outs.append(h)
y = tf.add_n(outs)
cfg = tf.ConfigProto(inter_op_parallelism_threads=threads, intra_op_parallelism_threads=1)
with tf.Session(config=cfg) as s:
    s.run(y, {x: xv})
    ts = []
    for _ in range(runs):
        t = time.perf_counter(); s.run(y, {x: xv}); ts.append(time.perf_counter() - t)
print(statistics.median(ts) * 1e3)
"""


def _in_process(kind: str, threads: int, runs: int, tf_python: str | None = None) -> float | None:
    if kind == "tf":
        cmd = [tf_python, "-c", _TF_SCRIPT, str(threads), str(runs), str(CHAINS), str(DEPTH), str(N)]
    else:
        cmd = [
            sys.executable,
            os.path.abspath(__file__),
            "--child",
            kind,
            "--threads",
            str(threads),
            "--runs",
            str(runs),
        ]
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=1200, check=True, env=env)
    except subprocess.CalledProcessError as e:
        why = (e.stderr or "").strip().splitlines()[-1:] or [f"exit status {e.returncode}"]
        print(f"({kind} with {threads} threads not measured: {why[0]})", file=sys.stderr)
        return None
    except (OSError, subprocess.SubprocessError) as e:
        print(f"({kind} with {threads} threads not measured: {e})", file=sys.stderr)
        return None
    return float(res.stdout.strip().splitlines()[-1])


def _cpu_model() -> str:
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--tf-python", default=os.environ.get("FLOWGRAPH_BENCH_TF_PYTHON"))
    ap.add_argument("--child", choices=["flowgraph", "numpy", "scheduler"])
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    if args.child:
        fn = {"flowgraph": child_flowgraph, "numpy": child_numpy, "scheduler": child_scheduler}[args.child]
        print(fn(args.threads, args.runs))
        return

    peers = [
        ("flowgraph", "flowgraph"),
        ("NumPy, Python threads", "numpy"),
        ("flowgraph scheduler, 2 ms GIL-free kernels", "scheduler"),
    ]
    if args.tf_python:
        peers.append(("TF1 graph", "tf"))
    results = {}
    for label, kind in peers:
        one = _in_process(kind, 1, args.runs, args.tf_python)
        two = _in_process(kind, 2, args.runs, args.tf_python)
        if one is not None and two is not None:
            results[label] = (one, two)

    print(
        f"# Wide graph ({CHAINS} chains x {DEPTH} x (matmul {N}x{N} + tanh), add_n) — {_cpu_model()}, "
        f"{os.cpu_count()} CPUs; BLAS 1 thread; median of {args.runs} runs, one process per setting"
    )
    print("| engine | 1 thread (ms) | 2 threads (ms) | speedup |")
    print("| --- | --- | --- | --- |")
    for label, (one, two) in results.items():
        print(f"| {label} | {one:.1f} | {two:.1f} | {one / two:.2f}x |")
    fg = results.get("flowgraph")
    if fg:
        print(f"target: 2-thread speedup >= 1.7x: {'met' if fg[0] / fg[1] >= 1.7 else 'MISSED'} ({fg[0] / fg[1]:.2f}x)")
    print(json.dumps({k: {"1": v[0], "2": v[1]} for k, v in results.items()}))


if __name__ == "__main__":
    main()
