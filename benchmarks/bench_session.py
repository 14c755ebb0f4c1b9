"""Session.run overhead: a=(b+c)*(c+2) on scalars, and the cost per node of a scalar chain.

Prints one table (µs per run, median of rounds) with hand-written NumPy measured in the same
process as the floor, and TF1 (``tensorflow.compat.v1``) when a Python that has it is given:

    python benchmarks/bench_session.py [--rounds 5] [--tf-python /path/to/venv/bin/python]

Targets (issue 2): at most 10 µs per run for the small graph, at most 1 µs per additional node.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import timeit

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

CHAIN = 100


def _time_us(fn, number: int, rounds: int) -> float:
    """Median over rounds of the mean time of one call, in µs."""
    fn()
    return statistics.median(timeit.repeat(fn, number=number, repeat=rounds)) / number * 1e6


# ---------------------------------------------------------------------------------------------
# flowgraph
# ---------------------------------------------------------------------------------------------
def bench_flowgraph(rounds: int) -> dict[str, float]:
    import flowgraph as tf

    out = {}
    g = tf.Graph()
    with g.as_default():
        b = tf.constant(2.0)
        c = tf.constant(3.0)
        a = (b + c) * (c + 2.0)
    with tf.Session(graph=g) as sess:
        out["abc_const"] = _time_us(lambda: sess.run(a), 20000, rounds)

    g = tf.Graph()
    with g.as_default():
        b = tf.placeholder(tf.float32)
        c = tf.placeholder(tf.float32)
        a = (b + c) * (c + 2.0)
    with tf.Session(graph=g) as sess:
        out["abc_fed"] = _time_us(lambda: sess.run(a, {b: 2.0, c: 3.0}), 20000, rounds)

    for n in (1, CHAIN + 1):
        g = tf.Graph()
        with g.as_default():
            x = tf.placeholder(tf.float32)
            y = x
            for _ in range(n):
                y = y + 1.0
        with tf.Session(graph=g) as sess:
            out[f"chain_{n}"] = _time_us(lambda: sess.run(y, {x: 1.0}), 2000 if n > 1 else 20000, rounds)
    out["per_node"] = (out[f"chain_{CHAIN + 1}"] - out["chain_1"]) / CHAIN
    return out


# ---------------------------------------------------------------------------------------------
# Hand-written NumPy: the floor a Python engine on NumPy kernels can approach
# ---------------------------------------------------------------------------------------------
def bench_numpy(rounds: int) -> dict[str, float]:
    out = {}
    b0, c0, two = np.asarray(2.0, np.float32), np.asarray(3.0, np.float32), np.asarray(2.0, np.float32)
    out["abc_const"] = _time_us(lambda: np.multiply(np.add(b0, c0), np.add(c0, two)), 20000, rounds)

    def fed(b: float, c: float) -> np.float32:
        bb, cc = np.float32(b), np.float32(c)
        return np.multiply(np.add(bb, cc), np.add(cc, two))

    out["abc_fed"] = _time_us(lambda: fed(2.0, 3.0), 20000, rounds)
    one = np.float32(1.0)

    def chain(x: float, n: int) -> np.float32:
        y = np.float32(x)
        for _ in range(n):
            y = np.add(y, one)
        return y

    out["chain_1"] = _time_us(lambda: chain(1.0, 1), 20000, rounds)
    out[f"chain_{CHAIN + 1}"] = _time_us(lambda: chain(1.0, CHAIN + 1), 2000, rounds)
    out["per_node"] = (out[f"chain_{CHAIN + 1}"] - out["chain_1"]) / CHAIN
    return out


# ---------------------------------------------------------------------------------------------
# TF1 peer (optional, in its own interpreter)
# ---------------------------------------------------------------------------------------------
_TF_SCRIPT = r"""
import json, os, statistics, sys, timeit
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow.compat.v1 as tf
tf.disable_v2_behavior()
rounds, chain = int(sys.argv[1]), int(sys.argv[2])
def t(fn, number):
    fn()
    return statistics.median(timeit.repeat(fn, number=number, repeat=rounds)) / number * 1e6
out = {}
cfg = tf.ConfigProto(inter_op_parallelism_threads=int(sys.argv[3]))
g = tf.Graph()
with g.as_default():
    a = (tf.constant(2.0) + tf.constant(3.0)) * (tf.constant(3.0) + 2.0)
with tf.Session(graph=g, config=cfg) as s:
    out["abc_const"] = t(lambda: s.run(a), 2000)
g = tf.Graph()
with g.as_default():
    b = tf.placeholder(tf.float32); c = tf.placeholder(tf.float32)
    a = (b + c) * (c + 2.0)
with tf.Session(graph=g, config=cfg) as s:
    out["abc_fed"] = t(lambda: s.run(a, {b: 2.0, c: 3.0}), 2000)
for n in (1, chain + 1):
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32); y = x
        for _ in range(n):
            y = y + 1.0
    with tf.Session(graph=g, config=cfg) as s:
        out["chain_%d" % n] = t(lambda: s.run(y, {x: 1.0}), 500)
out["per_node"] = (out["chain_%d" % (chain + 1)] - out["chain_1"]) / chain
print(json.dumps(out))
"""


def bench_tf(python: str, rounds: int, inter_op: int) -> dict[str, float] | None:
    try:
        res = subprocess.run(
            [python, "-c", _TF_SCRIPT, str(rounds), str(CHAIN), str(inter_op)],
            capture_output=True,
            text=True,
            timeout=900,
            check=True,
        )
    except subprocess.CalledProcessError as e:
        why = (e.stderr or "").strip().splitlines()[-1:] or [f"exit status {e.returncode}"]
        print(f"(TF1 peer not measured: {why[0]})", file=sys.stderr)
        return None
    except (OSError, subprocess.SubprocessError) as e:
        print(f"(TF1 peer not measured: {e})", file=sys.stderr)
        return None
    return json.loads(res.stdout.strip().splitlines()[-1])


def bench_torch(rounds: int) -> dict[str, float] | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    out = {}
    b, c = torch.tensor(2.0), torch.tensor(3.0)
    out["abc_const"] = _time_us(lambda: (b + c) * (c + 2.0), 20000, rounds)
    out["abc_fed"] = _time_us(
        lambda: (torch.tensor(2.0) + torch.tensor(3.0)) * (torch.tensor(3.0) + 2.0), 20000, rounds
    )

    def chain(n: int):
        y = torch.tensor(1.0)
        for _ in range(n):
            y = y + 1.0
        return y

    out["chain_1"] = _time_us(lambda: chain(1), 20000, rounds)
    out[f"chain_{CHAIN + 1}"] = _time_us(lambda: chain(CHAIN + 1), 2000, rounds)
    out["per_node"] = (out[f"chain_{CHAIN + 1}"] - out["chain_1"]) / CHAIN
    return out


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
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument(
        "--tf-python",
        default=os.environ.get("FLOWGRAPH_BENCH_TF_PYTHON"),
        help="a Python interpreter with tensorflow installed (TF1 peer; optional)",
    )
    ap.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = ap.parse_args()

    results = {"flowgraph": bench_flowgraph(args.rounds), "NumPy (hand-written)": bench_numpy(args.rounds)}
    torch_res = bench_torch(args.rounds)
    if torch_res:
        results["PyTorch eager"] = torch_res
    if args.tf_python:
        for label, threads in (("TF1 graph (default)", 0), ("TF1 graph (caller thread)", -1)):
            res = bench_tf(args.tf_python, args.rounds, threads)
            if res:
                results[label] = res

    print(
        f"# Session.run overhead — {_cpu_model()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"NumPy {np.__version__}; median of {args.rounds} rounds, µs per run"
    )
    rows = [
        ("abc_const", "a=(b+c)*(c+2), constants"),
        ("abc_fed", "same, b and c fed Python floats"),
        ("chain_1", "1-node chain, fed"),
        (f"chain_{CHAIN + 1}", f"{CHAIN + 1}-node chain, fed"),
        ("per_node", "per additional chain node"),
    ]
    names = list(results)
    print("| workload | " + " | ".join(names) + " |")
    print("| --- |" + " --- |" * len(names))
    for key, label in rows:
        print(f"| {label} | " + " | ".join(f"{results[n][key]:.2f}" for n in names) + " |")
    fg, npy = results["flowgraph"], results["NumPy (hand-written)"]
    print()
    print(
        f"flowgraph / NumPy: small graph {fg['abc_const'] / npy['abc_const']:.2f}x (constants), "
        f"{fg['abc_fed'] / npy['abc_fed']:.2f}x (fed); per node {fg['per_node'] / npy['per_node']:.2f}x"
    )
    for peer in names[2:]:
        p = results[peer]
        print(
            f"{peer} / flowgraph: small graph {p['abc_const'] / fg['abc_const']:.1f}x (constants), "
            f"{p['abc_fed'] / fg['abc_fed']:.1f}x (fed); per node {p['per_node'] / fg['per_node']:.1f}x"
        )
    print(
        f"targets: small graph <= 10 µs: {'met' if max(fg['abc_const'], fg['abc_fed']) <= 10 else 'MISSED'}; "
        f"per node <= 1 µs: {'met' if fg['per_node'] <= 1 else 'MISSED'}"
    )
    if args.json:
        print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
