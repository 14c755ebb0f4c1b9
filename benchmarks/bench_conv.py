"""Convolution and pooling, forward + backward: flowgraph's ops (through ``Session.run``) vs PyTorch CPU.

Run: python benchmarks/bench_conv.py [--threads N] [--rounds R] [--cpu-time] [--mallopt]
Prints the median milliseconds of each side and the ratio flowgraph / torch (lower is better; the
target is <= 1.5). Shapes: LeNet-5 conv1 (28x28x1 -> 5x5x6 SAME, no input gradient, as in training),
conv2 (14x14x6 -> 5x5x16 VALID), a 3x3 64-channel ResNet layer on 32x32, and the 2x2 pools.
flowgraph computes in NHWC, torch in its native NCHW; both get the same values.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import flowgraph as tf
from flowgraph.ops import conv as nn

CONVS = {
    # name: (N, H, W, C, K, O, padding, stride, input gradient)
    "lenet_conv1": (64, 28, 28, 1, 5, 6, "SAME", 1, False),
    "lenet_conv2": (64, 14, 14, 6, 5, 16, "VALID", 1, True),
    "resnet_3x3x64": (32, 32, 32, 64, 3, 64, "SAME", 1, True),
}
POOLS = {
    # name: (op, N, H, W, C, k, s)
    "maxpool_lenet1": ("max", 64, 28, 28, 6, 2, 2),
    "maxpool_lenet2": ("max", 64, 10, 10, 16, 2, 2),
    "avgpool_lenet1": ("avg", 64, 28, 28, 6, 2, 2),
}


CLOCK = time.perf_counter


def best_ms(fns: list, rounds: int) -> list[float]:
    """Best-of-``rounds`` milliseconds of each callable, run alternately so both see the same load.

    The minimum, not the median: on a shared 2-core machine other processes only ever add time.
    """
    for fn in fns:
        fn()
        fn()
    times = [[] for _ in fns]
    for _ in range(rounds):
        for fn, ts in zip(fns, times):
            t0 = CLOCK()
            fn()
            ts.append(CLOCK() - t0)
    return [min(ts) * 1e3 for ts in times]


def fg_conv(spec, x, w, g, config):
    """A session step computing the conv and its gradients, and its values."""
    pad, s, xgrad = spec[6:]
    graph = tf.Graph()
    with graph.as_default():
        xt = tf.placeholder(tf.float32, x.shape)
        wt = tf.placeholder(tf.float32, w.shape)
        gt = tf.placeholder(tf.float32, g.shape)
        y = nn.conv2d(xt, wt, strides=s, padding=pad)
        fetches = [y] + tf.gradients(y, [xt, wt] if xgrad else [wt], grad_ys=gt)
    sess = tf.Session(graph=graph, config=config)
    feed = {xt: x, wt: w, gt: g}
    return lambda: sess.run(fetches, feed), sess.run(fetches, feed)


def torch_conv(torch, spec, x, w, g):
    pad, s, xgrad = spec[6:]
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).requires_grad_(xgrad)
    wt = torch.from_numpy(np.ascontiguousarray(w.transpose(3, 2, 0, 1))).requires_grad_(True)
    gt = torch.from_numpy(np.ascontiguousarray(g.transpose(0, 3, 1, 2)))
    padding = "same" if pad == "SAME" else 0
    inputs = [xt, wt] if xgrad else [wt]

    def step():
        y = torch.nn.functional.conv2d(xt, wt, stride=s, padding=padding)
        return [y] + list(torch.autograd.grad(y, inputs, gt))

    vals = [v.detach().numpy() for v in step()]
    vals[0] = vals[0].transpose(0, 2, 3, 1)
    if xgrad:
        vals[1] = vals[1].transpose(0, 2, 3, 1)
    vals[-1] = vals[-1].transpose(2, 3, 1, 0)
    return step, vals


def fg_pool(spec, x, g, config):
    kind, k, s = spec[0], spec[5], spec[6]
    graph = tf.Graph()
    with graph.as_default():
        xt = tf.placeholder(tf.float32, x.shape)
        gt = tf.placeholder(tf.float32, g.shape)
        pool = nn.max_pool if kind == "max" else nn.avg_pool
        y = pool(xt, k, s, "VALID")
        fetches = [y] + tf.gradients(y, xt, grad_ys=gt)
    sess = tf.Session(graph=graph, config=config)
    feed = {xt: x, gt: g}
    return lambda: sess.run(fetches, feed), sess.run(fetches, feed)


def torch_pool(torch, spec, x, g):
    kind, k, s = spec[0], spec[5], spec[6]
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).requires_grad_(True)
    gt = torch.from_numpy(np.ascontiguousarray(g.transpose(0, 3, 1, 2)))
    pool = torch.nn.functional.max_pool2d if kind == "max" else torch.nn.functional.avg_pool2d

    def step():
        y = pool(xt, k, s)
        return [y] + list(torch.autograd.grad(y, [xt], gt))

    return step, [v.detach().numpy().transpose(0, 2, 3, 1) for v in step()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=0, help="BLAS/torch threads (0: library default)")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument(
        "--cpu-time",
        action="store_true",
        help="time by process CPU time (steadier on a loaded machine; meaningful with --threads 1)",
    )
    ap.add_argument(
        "--mallopt",
        action="store_true",
        help="keep freed memory in the heap (glibc mallopt), so large arrays reuse already-faulted pages",
    )
    args = ap.parse_args()
    if args.mallopt:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD: serve arrays up to 32 MiB from the heap
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD: do not hand freed heap back to the kernel
    if args.cpu_time:
        global CLOCK
        CLOCK = time.process_time
    config = None
    try:
        import torch
    except ImportError:
        torch = None
        print("torch is not importable: printing flowgraph times only (pip install torch==2.13.0 for ratios)")
    if args.threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)
        if torch is not None:
            torch.set_num_threads(args.threads)
        config = tf.ConfigProto(inter_op_parallelism_threads=args.threads, intra_op_parallelism_threads=args.threads)
    rng = np.random.default_rng(0)
    print(f"{'workload':<16}{'flowgraph ms':>14}{'torch ms':>10}{'ratio':>8}  max |diff|")
    for name, spec in CONVS.items():
        n, h, wd, c, k, o, pad, s, _ = spec
        oh = -(-h // s) if pad == "SAME" else (h - k) // s + 1
        x = rng.standard_normal((n, h, wd, c), dtype=np.float32)
        w = rng.standard_normal((k, k, c, o), dtype=np.float32) * np.float32(1 / np.sqrt(k * k * c))
        g = rng.standard_normal((n, oh, oh, o), dtype=np.float32)
        _report(name, fg_conv(spec, x, w, g, config), torch and torch_conv(torch, spec, x, w, g), args.rounds)
    for name, spec in POOLS.items():
        _, n, h, w, c, k, s = spec
        x = rng.standard_normal((n, h, w, c), dtype=np.float32)
        g = rng.standard_normal((n, (h - k) // s + 1, (w - k) // s + 1, c), dtype=np.float32)
        _report(name, fg_pool(spec, x, g, config), torch and torch_pool(torch, spec, x, g), args.rounds)


def _report(name: str, fg: tuple, th: tuple | None, rounds: int) -> None:
    if not th:
        print(f"{name:<16}{best_ms([fg[0]], rounds)[0]:>14.3f}")
        return
    t_fg, t_th = best_ms([fg[0], th[0]], rounds)
    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(fg[1], th[1]))
    print(f"{name:<16}{t_fg:>14.3f}{t_th:>10.3f}{t_fg / t_th:>8.2f}  {diff:.2e}")


if __name__ == "__main__":
    main()
