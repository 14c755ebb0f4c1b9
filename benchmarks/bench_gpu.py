"""Training throughput on a CUDA GPU: flowgraph on '/gpu:0' (CuPy) vs PyTorch CUDA, in one run.

Run: python benchmarks/bench_gpu.py                 # all workloads
     python benchmarks/bench_gpu.py --seconds 2     # longer timing per workload and peer

Workloads: LeNet-5 training (SGD) at batch 64 and 512 on 28x28x1, and a small ResNet (a 3x3 stem
conv, three residual blocks of two 3x3 convs plus the skip, global average pooling, a dense layer)
at batch 128 on 32x32x3. Synthetic data (fixed random batches, the same for both peers); each
peer runs ``--warmup`` untimed steps, then steps until ``--seconds`` have passed, synchronising the
device at the end (flowgraph: fetching the loss copies it to the host; PyTorch:
``torch.cuda.synchronize()``). Prints images/s per peer and the ratio.

Without CuPy and a CUDA device the whole benchmark is skipped with the reason; without PyTorch (or
without its CUDA build) the PyTorch column says so.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def _lenet_fg(tf, x, n_classes=10):
    rng = np.random.default_rng(0)

    def w(*shape):
        fan_in = int(np.prod(shape[:-1]))
        return tf.Variable((rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32))

    h = tf.nn.relu(tf.nn.conv2d(x, w(5, 5, 1, 6), [1, 1, 1, 1], "SAME"))
    h = tf.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
    h = tf.nn.relu(tf.nn.conv2d(h, w(5, 5, 6, 16), [1, 1, 1, 1], "VALID"))
    h = tf.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
    h = tf.reshape(h, [-1, 5 * 5 * 16])
    h = tf.nn.relu(tf.matmul(h, w(400, 120)))
    h = tf.nn.relu(tf.matmul(h, w(120, 84)))
    return tf.matmul(h, w(84, n_classes))


def _resnet_fg(tf, x, width=16, blocks=3, n_classes=10):
    rng = np.random.default_rng(0)

    def w(*shape):
        fan_in = int(np.prod(shape[:-1]))
        return tf.Variable((rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32))

    def conv(h, cin, cout):
        return tf.nn.conv2d(h, w(3, 3, cin, cout), [1, 1, 1, 1], "SAME")

    h = tf.nn.relu(conv(x, 3, width))
    for _ in range(blocks):
        r = tf.nn.relu(conv(h, width, width))
        h = tf.nn.relu(h + conv(r, width, width))
    h = tf.reduce_mean(h, axis=[1, 2])
    return tf.matmul(h, w(width, n_classes))


def _flowgraph_step(model: str, batch: int):
    import flowgraph as tf

    shape = (batch, 28, 28, 1) if model == "lenet" else (batch, 32, 32, 3)
    rng = np.random.default_rng(1)
    xs = rng.standard_normal(shape).astype(np.float32)
    ys = np.eye(10, dtype=np.float32)[rng.integers(0, 10, batch)]
    g = tf.Graph()
    with g.as_default(), tf.device("/gpu:0"):
        x = tf.placeholder(tf.float32, shape)
        y = tf.placeholder(tf.float32, [batch, 10])
        logits = _lenet_fg(tf, x) if model == "lenet" else _resnet_fg(tf, x)
        loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=y, logits=logits))
        train = tf.train.GradientDescentOptimizer(0.01).minimize(loss)
        init = tf.global_variables_initializer()
    sess = tf.Session(graph=g)
    sess.run(init)
    feeds = {x: xs, y: ys}

    def step():
        sess.run(train, feeds)

    def sync():
        sess.run(loss, feeds)  # a fetch copies to the host, so it waits for the queued kernels

    return step, sync, sess.close


def _torch_step(model: str, batch: int):
    import torch
    from torch import nn

    dev = torch.device("cuda")
    if model == "lenet":
        net = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
        )
        shape = (batch, 1, 28, 28)
    else:

        class Block(nn.Module):
            def __init__(self, c):
                super().__init__()
                self.a = nn.Conv2d(c, c, 3, padding=1, bias=False)
                self.b = nn.Conv2d(c, c, 3, padding=1, bias=False)

            def forward(self, h):
                return torch.relu(h + self.b(torch.relu(self.a(h))))

        net = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.ReLU(), *[Block(16) for _ in range(3)],
                            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10, bias=False))
        shape = (batch, 3, 32, 32)
    net = net.to(dev)
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    gen = torch.Generator().manual_seed(1)
    xs = torch.randn(shape, generator=gen).to(dev)
    ys = torch.randint(0, 10, (batch,), generator=gen).to(dev)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(net(xs), ys).backward()
        opt.step()

    return step, torch.cuda.synchronize, lambda: None


def _throughput(make, model: str, batch: int, warmup: int, seconds: float) -> float:
    step, sync, close = make(model, batch)
    try:
        for _ in range(warmup):
            step()
        sync()
        n, t0 = 0, time.perf_counter()
        while True:
            step()
            n += 1
            if n % 5 == 0:
                sync()
                if time.perf_counter() - t0 >= seconds:
                    break
        return n * batch / (time.perf_counter() - t0)
    finally:
        close()


def _torch_reason() -> str | None:
    try:
        import torch
    except ImportError:
        return "PyTorch is not installed"
    if not torch.cuda.is_available():
        return "PyTorch has no CUDA device (CPU build?)"
    return None


WORKLOADS = [("LeNet-5 train", "lenet", 64), ("LeNet-5 train", "lenet", 512), ("ResNet (3 blocks) train", "resnet", 128)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--warmup", type=int, default=5)
    args = ap.parse_args(argv)

    from flowgraph.backend import cupy_module, cupy_unavailable_reason

    if cupy_module() is None:
        print(f"SKIPPED: no usable GPU for flowgraph ({cupy_unavailable_reason()}).")
        return 0
    torch_why = _torch_reason()
    rows = []
    for label, model, batch in WORKLOADS:
        fg = _throughput(_flowgraph_step, model, batch, args.warmup, args.seconds)
        pt = None if torch_why else _throughput(_torch_step, model, batch, args.warmup, args.seconds)
        rows.append((label, batch, fg, pt))
    print(f"{'workload':<26}{'batch':>6}{'flowgraph img/s':>18}{'PyTorch img/s':>16}{'fg/torch':>10}")
    for label, batch, fg, pt in rows:
        pts = f"{pt:16.0f}" if pt is not None else f"{'-':>16}"
        ratio = f"{fg / pt:10.2f}" if pt else f"{'-':>10}"
        print(f"{label:<26}{batch:>6}{fg:18.0f}{pts}{ratio}")
    if torch_why:
        print(f"PyTorch column skipped: {torch_why}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
