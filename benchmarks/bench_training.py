"""Training and inference throughput of LeNet-5 and an MLP: flowgraph vs PyTorch CPU vs hand-written NumPy.

Run: python benchmarks/bench_training.py                  # cross-check, then library-default threads and 1 thread
     python benchmarks/bench_training.py --threads 1      # one thread setting only
     python benchmarks/bench_training.py --check-only     # only the same-weights loss cross-check
     python benchmarks/bench_training.py --markdown PATH  # also write the tables as Markdown
     python benchmarks/bench_training.py --combine A.json B.json  # pool the rounds of earlier --json runs
     python benchmarks/bench_training.py --profile [mlp]  # where flowgraph's LeNet-5 (or MLP) step spends its time
     python benchmarks/bench_training.py --micro          # NumPy kernel alternatives behind the profile's advice

Workloads (ANCHORS.md): LeNet-5 training (SGD) at batch 64 and 128, LeNet-5 inference at batch 256,
MLP 784-256-256-10 training (SGD) at batch 64 and 128, and the peak memory of one training step
(flowgraph vs the NumPy reference, by tracemalloc: see ``peak_step_bytes``).

Method. Real MNIST (``flowgraph.datasets.mnist.load_data()``), scaled to [0, 1]; every peer gets the
same batches (the first ``--batches`` of the training set, cycled), prepared once in its native
layout (NHWC arrays for flowgraph and NumPy, NCHW tensors for PyTorch), and the same He-init NumPy
weights (``numpy_reference.he_init``). Each peer runs in a worker process of its own (so idle
OpenMP/OpenBLAS threads of one library never spin against another's); the parent drives them in
turn: per round and peer, ``--warmup`` untimed steps, then the steps that took about ``--seconds``
in calibration. A peer's figure is the median over ``--rounds`` rounds of its images/s; a ratio is
the median of the per-round ratios (the two peers measured moments apart, under the same load).
Threads: ``0`` leaves the libraries' defaults (OpenBLAS and PyTorch one thread per core, flowgraph
``ConfigProto()``); ``1`` caps BLAS with threadpoolctl, PyTorch with ``torch.set_num_threads(1)``
and flowgraph with ``ConfigProto(inter_op_parallelism_threads=1, intra_op_parallelism_threads=1)``.
PyTorch rows are skipped when ``import torch`` fails.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy_reference as npref

import flowgraph as tf
from flowgraph.datasets import mnist

LR = 0.05


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------
def load_mnist() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Train and test images as NHWC float32 in [0, 1], labels int64."""
    (xtr, ytr), (xte, yte) = mnist.load_data()
    f = np.float32(1 / 255)
    return (
        (xtr.astype(np.float32) * f)[..., None],
        ytr.astype(np.int64),
        (xte.astype(np.float32) * f)[..., None],
        yte.astype(np.int64),
    )


def batches(x: np.ndarray, y: np.ndarray, batch: int, count: int, flat: bool) -> list[tuple]:
    """The first ``count`` consecutive batches (contiguous copies), images flattened to 784 if ``flat``."""
    out = []
    for i in range(count):
        xb = x[i * batch : (i + 1) * batch]
        out.append(
            (np.ascontiguousarray(xb.reshape(batch, 784) if flat else xb), y[i * batch : (i + 1) * batch].copy())
        )
    return out


# ---------------------------------------------------------------------------------------------
# flowgraph models
# ---------------------------------------------------------------------------------------------
def fg_lenet(v: dict[str, Any], x: Any) -> Any:
    """LeNet-5 logits from NHWC images ``x`` and the variables ``v`` (keys as in ``numpy_reference``)."""
    nn = tf.nn
    net = nn.relu(nn.bias_add(nn.conv2d(x, v["conv1/w"], [1, 1, 1, 1], "SAME"), v["conv1/b"]))
    net = nn.max_pool(net, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
    net = nn.relu(nn.bias_add(nn.conv2d(net, v["conv2/w"], [1, 1, 1, 1], "VALID"), v["conv2/b"]))
    net = nn.max_pool(net, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
    net = tf.reshape(net, [-1, 400])
    net = nn.relu(tf.matmul(net, v["fc1/w"]) + v["fc1/b"])
    net = nn.relu(tf.matmul(net, v["fc2/w"]) + v["fc2/b"])
    return tf.matmul(net, v["fc3/w"]) + v["fc3/b"]


def fg_mlp(v: dict[str, Any], x: Any) -> Any:
    net = tf.nn.relu(tf.matmul(x, v["fc1/w"]) + v["fc1/b"])
    net = tf.nn.relu(tf.matmul(net, v["fc2/w"]) + v["fc2/b"])
    return tf.matmul(net, v["fc3/w"]) + v["fc3/b"]


class FGModel:
    """A flowgraph graph + session: ``train(x, y)`` runs one SGD step, ``loss``/``predict`` evaluate."""

    def __init__(self, kind: str, params: dict[str, np.ndarray], lr: float, threads: int, serial: bool = False) -> None:
        self.graph = tf.Graph()
        with self.graph.as_default():
            shape = [None, 28, 28, 1] if kind == "lenet" else [None, 784]
            self.x = tf.placeholder(tf.float32, shape, name="x")
            self.y = tf.placeholder(tf.int64, [None], name="y")
            self.v = {k: tf.Variable(a, name=k.replace("/", "_")) for k, a in params.items()}
            self.logits = (fg_lenet if kind == "lenet" else fg_mlp)(self.v, self.x)
            self.loss_t = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels=self.y, logits=self.logits)
            )
            self.train_op = tf.train.GradientDescentOptimizer(lr).minimize(self.loss_t)
            init = tf.global_variables_initializer()
        if threads:
            config = tf.ConfigProto(inter_op_parallelism_threads=threads, intra_op_parallelism_threads=threads)
        else:  # library defaults; ``serial``: no parallel executor (BLAS threads and a worker may still run)
            config = tf.ConfigProto(inter_op_parallelism_threads=1) if serial else None
        self.sess = tf.Session(graph=self.graph, config=config)
        self.sess.run(init)

    def train(self, x: np.ndarray, y: np.ndarray) -> None:
        self.sess.run(self.train_op, {self.x: x, self.y: y})

    def train_loss(self, x: np.ndarray, y: np.ndarray) -> float:
        return float(self.sess.run([self.loss_t, self.train_op], {self.x: x, self.y: y})[0])

    def loss(self, x: np.ndarray, y: np.ndarray) -> float:
        return float(self.sess.run(self.loss_t, {self.x: x, self.y: y}))

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.sess.run(self.logits, {self.x: x})


# ---------------------------------------------------------------------------------------------
# Peers: one worker process per peer, driven round by round from the parent
# ---------------------------------------------------------------------------------------------
PEERS = ("flowgraph", "pytorch", "numpy", "flowgraph_serial")


def _cycle(items: list, fn: Callable) -> Callable[[], None]:
    state = [0]
    n = len(items)

    def step() -> None:
        i = state[0]
        state[0] = i + 1 if i + 1 < n else 0
        fn(*items[i])

    return step


def make_step(peer: str, kind: str, mode: str, data: list[tuple], params: dict, threads: int) -> Callable[[], None]:
    """The step callable of one (peer, workload); ``mode`` is "train" or "infer"."""
    if peer in ("flowgraph", "flowgraph_serial"):
        fg = FGModel(kind, params, LR, threads, serial=peer == "flowgraph_serial")
        step = _cycle(data, fg.train) if mode == "train" else _cycle([(x,) for x, _ in data], fg.predict)
        step.session = fg.sess  # type: ignore[attr-defined]
        return step
    if peer == "numpy":
        ref = (npref.LeNet5 if kind == "lenet" else npref.MLP)(params, LR)
        return _cycle(data, ref.train_step) if mode == "train" else _cycle([(x,) for x, _ in data], ref.predict)
    import torch_reference as tref

    trainer = tref.Trainer((tref.lenet_from_params if kind == "lenet" else tref.mlp_from_params)(params), LR)
    tdata = [(tref.images(x), tref.labels(y)) for x, y in data]
    return _cycle(tdata, trainer.step) if mode == "train" else _cycle([(x,) for x, _ in tdata], trainer.predict)


def _timed(step: Callable[[], None], warmup: int, k: int, cpu_time: bool = False) -> float:
    """Seconds for ``k`` steps after ``warmup`` untimed ones: wall time, or this process's CPU time."""
    clock = time.process_time if cpu_time else time.perf_counter
    for _ in range(warmup):
        step()
    gc.collect()
    t0 = clock()
    for _ in range(k):
        step()
    return clock() - t0


def _executor_used(step: Any) -> str | None:
    """Which way flowgraph's session settled on: "two processes", "parallel" or "serial" (diagnostics;
    None if unknown), for the plan that ran the most."""
    sess = getattr(step, "session", None)
    try:
        plans = [e.plan for e in sess._signatures.values()]  # a private attribute: diagnostics only
        plan = max(plans, key=lambda p: p.__dict__.get("tuning_runs", 0))
        if plan.batch_split is None or plan.intra_pieces is None:
            return "still tuning"
        if plan.batch_split:
            return "two processes"
        return "parallel" if plan.parallel else "serial"
    except AttributeError:
        return None


def worker(peer: str, threads: int, conn: Any) -> None:
    """A peer's process: sets its thread caps once, then serves the parent's commands until "stop".

    Each peer lives in its own process so that idle thread pools of one library (PyTorch's OpenMP
    team, OpenBLAS's threads) never spin against another's, and so the thread caps are per peer.
    """
    torch = None
    if peer == "pytorch":
        try:
            import torch
        except ImportError:
            conn.send({"ok": False, "why": "import torch failed"})
            return
    if threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
        if torch is not None:
            torch.set_num_threads(threads)
    conn.send({"ok": True, "torch_threads": torch.get_num_threads() if torch is not None else None})
    step = None
    while True:
        msg = conn.recv()
        cmd = msg["cmd"]
        if cmd == "stop":
            return
        if cmd == "setup":
            setup = msg
            step = None
            gc.collect()
            step = make_step(peer, msg["kind"], msg["mode"], msg["data"], msg["params"], threads)
            # Calibrate: how many steps take about `seconds` (after the warm-up that builds plans).
            for _ in range(msg["warmup"]):
                step()
            k, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < msg["seconds"] / 4 or k < 3:
                step()
                k += 1
            conn.send((max(5, round(k * msg["seconds"] / (time.perf_counter() - t0))), _executor_used(step)))
        elif cmd == "run":
            conn.send(_timed(step, msg["warmup"], msg["steps"], msg.get("cpu_time", False)))
        elif cmd == "executor":  # asked after the timed rounds, when the session's tuning is over
            conn.send(_executor_used(step))
        elif cmd == "memory":
            step = None  # a fresh model, built under tracemalloc
            gc.collect()
            conn.send(
                peak_step_bytes(lambda s=setup: make_step(peer, s["kind"], s["mode"], s["data"], s["params"], threads))
            )


class Peers:
    """The worker processes of one thread setting (PyTorch left out when it cannot be imported)."""

    def __init__(self, threads: int, use_torch: bool, serial_variant: bool = True) -> None:
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        self.procs: dict[str, tuple] = {}
        self.info: dict[str, Any] = {}
        for peer in PEERS:
            if (peer == "pytorch" and not use_torch) or (
                peer == "flowgraph_serial" and (threads or not serial_variant)
            ):
                continue
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=worker, args=(peer, threads, child), daemon=True)
            proc.start()
            hello = parent.recv()
            if not hello["ok"]:
                print(f"{peer}: {hello['why']}; skipping its rows (pip install torch==2.13.0 to add them)")
                proc.join()
                continue
            self.info[peer] = hello
            self.procs[peer] = (proc, parent)

    def ask(self, peer: str, msg: dict) -> Any:
        conn = self.procs[peer][1]
        conn.send(msg)
        return conn.recv()

    def close(self) -> None:
        for proc, conn in self.procs.values():
            conn.send({"cmd": "stop"})
            proc.join()


#: Seconds between two peers' timed runs (see ``measure``).
IDLE_THREADS_SETTLE = 0.3


def measure(
    peers: Peers, names: list[str], setup: dict, batch: int, rounds: int, warmup: int, cpu_time: bool
) -> tuple[dict, str | None]:
    """Interleaved rounds (peer order rotating); returns ({peer: [images/s per round]}, flowgraph's executor)."""
    answers = {name: peers.ask(name, {"cmd": "setup", **setup}) for name in names}
    n_steps = {name: a[0] for name, a in answers.items()}
    rates: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            k = n_steps[name]
            # The previous peer's idle threads spin on after its run (OpenBLAS's for 0.1 s, an
            # OpenMP team's up to 0.2 s) and would take a core from this one: let them sleep first.
            time.sleep(IDLE_THREADS_SETTLE)
            rates[name].append(
                k * batch / peers.ask(name, {"cmd": "run", "warmup": warmup, "steps": k, "cpu_time": cpu_time})
            )
    return rates, peers.ask("flowgraph", {"cmd": "executor"})


def peak_step_bytes(make: Callable[[], Callable[[], None]], warmup: int = 15, repeats: int = 3) -> dict:
    """Peak bytes above the level before one training step, and what the step leaves behind.

    tracemalloc sees every NumPy data buffer (NumPy reports its allocations to it) and all Python
    objects, so it measures the arrays a step creates, whatever the allocator does with freed pages
    (RSS deltas mostly show pages malloc kept from earlier steps). Tracing starts *before* the
    model is built, so every array is tracked, including the parameters: a step that replaces a
    parameter array (flowgraph's updates write fresh arrays) is charged only while old and new
    both live, and the release of the old one counts. ``peak`` is the step's transient working
    set above the steady state, ``left`` the change in live bytes after it (about 0 for both).
    Measured after ``warmup`` steps (plan building and the session's serial-vs-parallel tuning runs
    excluded); the minimum over ``repeats`` steps. flowgraph's sessions run in one process here
    (``FLOWGRAPH_BATCH_SPLIT=off``): tracemalloc cannot see a batch-split worker's arrays, and
    split runs hold the same activations, half in each process.
    """
    gc.collect()
    saved = os.environ.get("FLOWGRAPH_BATCH_SPLIT")
    os.environ["FLOWGRAPH_BATCH_SPLIT"] = "off"
    tracemalloc.start()
    try:
        step = make()
        for _ in range(warmup):
            step()
        peaks, lefts = [], []
        for _ in range(repeats):
            gc.collect()
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            step()
            cur, peak = tracemalloc.get_traced_memory()
            peaks.append(peak - base)
            lefts.append(cur - base)
    finally:
        tracemalloc.stop()
        if saved is None:
            del os.environ["FLOWGRAPH_BATCH_SPLIT"]
        else:
            os.environ["FLOWGRAPH_BATCH_SPLIT"] = saved
    return {"peak": min(peaks), "left": min(lefts)}


# ---------------------------------------------------------------------------------------------
# Correctness: the same weights and batches give the same losses on every peer
# ---------------------------------------------------------------------------------------------
def cross_check(data: tuple, torch: Any, threads: int) -> list[dict]:
    """LeNet: 10 SGD steps (batch 64, lr 0.05); MLP: 100 SGD steps (batch 64, lr 0.05); test losses after."""
    xtr, ytr, xte, yte = data
    out = []
    for kind, steps_n, shapes in (("lenet", 10, npref.LENET_SHAPES), ("mlp", 100, npref.MLP_SHAPES)):
        flat = kind == "mlp"
        params = npref.he_init(shapes, seed=0)
        train = batches(xtr, ytr, 64, steps_n, flat)
        test_x = xte.reshape(-1, 784) if flat else xte
        row: dict[str, Any] = {"model": kind, "steps": steps_n}
        ref = (npref.LeNet5 if kind == "lenet" else npref.MLP)(params, LR)
        fg = FGModel(kind, params, LR, threads)
        row["first_loss"] = {"numpy": ref.loss(*train[0]), "flowgraph": fg.loss(*train[0])}
        for x, y in train:
            ref.train_step(x, y)
            fg.train(x, y)
        row["test_loss"] = {
            "numpy": _chunked_loss(ref.loss, test_x, yte),
            "flowgraph": _chunked_loss(fg.loss, test_x, yte),
        }
        wdiff = max(float(np.max(np.abs(fg.sess.run(fg.v[k]) - ref.p[k]))) for k in params)
        row["max_weight_diff_fg_numpy"] = wdiff
        if torch is not None:
            import torch_reference as tref

            tr = tref.Trainer((tref.lenet_from_params if kind == "lenet" else tref.mlp_from_params)(params), LR)
            row["first_loss"]["pytorch"] = tr.loss(tref.images(train[0][0]), tref.labels(train[0][1]))
            for x, y in train:
                tr.step(tref.images(x), tref.labels(y))
            row["test_loss"]["pytorch"] = _chunked_loss(
                lambda a, b, tr=tr: tr.loss(tref.images(a), tref.labels(b)), test_x, yte
            )
        out.append(row)
    return out


def _chunked_loss(fn: Callable, x: np.ndarray, y: np.ndarray, chunk: int = 1000) -> float:
    total = 0.0
    for i in range(0, len(x), chunk):
        total += fn(x[i : i + chunk], y[i : i + chunk]) * len(x[i : i + chunk])
    return total / len(x)


# ---------------------------------------------------------------------------------------------
# One thread setting, in this process
# ---------------------------------------------------------------------------------------------
WORKLOADS = [
    # (label, kind, mode, batch)
    ("LeNet-5 train b64", "lenet", "train", 64),
    ("LeNet-5 train b128", "lenet", "train", 128),
    ("LeNet-5 infer b256", "lenet", "infer", 256),
    ("MLP train b64", "mlp", "train", 64),
    ("MLP train b128", "mlp", "train", 128),
]


def run_setting(args: argparse.Namespace, threads: int, xtr: np.ndarray, ytr: np.ndarray, use_torch: bool) -> dict:
    """All workloads under one thread setting (0: library defaults)."""
    peers = Peers(threads, use_torch, not args.no_serial_variant)
    result: dict[str, Any] = {
        "threads": threads or "default",
        "rows": [],
        "memory": [],
        "cpu_time": args.cpu_time and threads == 1,
    }
    if "pytorch" in peers.info:
        result["torch_threads"] = peers.info["pytorch"]["torch_threads"]
    names = list(peers.procs)
    try:
        for label, kind, mode, batch in WORKLOADS:
            if args.only and not any(s in label for s in args.only):
                continue
            setup = {
                "kind": kind, "mode": mode, "warmup": args.warmup, "seconds": args.seconds,
                "params": npref.he_init(npref.LENET_SHAPES if kind == "lenet" else npref.MLP_SHAPES, seed=0),
                "data": batches(xtr, ytr, batch, args.batches, flat=kind == "mlp"),
            }  # fmt: skip
            rates, executor = measure(
                peers, names, setup, batch, args.rounds, args.warmup, args.cpu_time and threads == 1
            )
            row = {
                "workload": label,
                "batch": batch,
                "executor": executor,
                "rates": rates,
                "median": {k: statistics.median(v) for k, v in rates.items()},
            }
            for peer in ("pytorch", "numpy"):
                if peer in rates:
                    row[f"fg/{peer}"] = statistics.median(f / p for f, p in zip(rates["flowgraph"], rates[peer]))
            result["rows"].append(row)
            med = row["median"]
            print(
                f"{label:<20} "
                + "  ".join(f"{k} {v:>9,.0f}/s" for k, v in med.items())
                + "  "
                + "  ".join(f"{k} {row[k]:.2f}x" for k in ("fg/pytorch", "fg/numpy") if k in row)
                + f"  (flowgraph executor: {executor}; load {os.getloadavg()[0]:.2f})",
                flush=True,
            )
            if mode == "train" and not args.no_memory:
                fgm, npm = peers.ask("flowgraph", {"cmd": "memory"}), peers.ask("numpy", {"cmd": "memory"})
                mem = {"workload": label, "flowgraph": fgm["peak"], "numpy": npm["peak"],
                       "flowgraph_left": fgm["left"], "numpy_left": npm["left"]}  # fmt: skip
                mem["ratio"] = mem["flowgraph"] / mem["numpy"]
                result["memory"].append(mem)
                print(
                    f"  peak memory of one step: flowgraph {mem['flowgraph'] / 2**20:.2f} MiB, "
                    f"numpy {mem['numpy'] / 2**20:.2f} MiB, ratio {mem['ratio']:.2f} (left after the step: "
                    f"{fgm['left'] / 2**10:.0f} / {npm['left'] / 2**10:.0f} KiB)",
                    flush=True,
                )
    finally:
        peers.close()
    return result


# ---------------------------------------------------------------------------------------------
# Profile of flowgraph's LeNet-5 training step
# ---------------------------------------------------------------------------------------------
def profile(args: argparse.Namespace, threads: int, kind: str = "lenet", batch: int = 64, steps: int = 60) -> None:
    """Step-stats breakdown (RunOptions FULL_TRACE) by op type and by node, then cProfile's top functions."""
    import cProfile
    import pstats
    from collections import defaultdict

    if threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    xtr, ytr = load_mnist()[:2]
    data = batches(xtr, ytr, batch, args.batches, flat=kind == "mlp")
    fg = FGModel(kind, npref.he_init(npref.LENET_SHAPES if kind == "lenet" else npref.MLP_SHAPES), LR, threads)
    step = _cycle(data, fg.train)
    for _ in range(20):
        step()
    plain = []
    for _ in range(steps):
        t0 = time.perf_counter_ns()
        step()
        plain.append(time.perf_counter_ns() - t0)
    options = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE)
    by_type: dict[str, list] = defaultdict(list)
    by_node: dict[tuple, list] = defaultdict(list)
    traced, op_sum = [], []
    for i in range(steps):
        x, y = data[i % len(data)]
        md = tf.RunMetadata()
        t0 = time.perf_counter_ns()
        fg.sess.run(fg.train_op, {fg.x: x, fg.y: y}, options=options, run_metadata=md)
        traced.append(time.perf_counter_ns() - t0)
        per_type: dict[str, int] = defaultdict(int)
        for st in md.step_stats.dev_stats[0].node_stats:
            d = st.end_ns - st.start_ns
            per_type[st.op_type] += d
            by_node[(st.node_name, st.op_type)].append(d)
        for k, v in per_type.items():
            by_type[k].append(v)
        op_sum.append(sum(per_type.values()))
    wall = statistics.median(plain)
    print(
        f"{'LeNet-5' if kind == 'lenet' else 'MLP'} training step, batch {batch}, threads {threads or 'default'}: median {wall / 1e3:,.0f} us untraced "
        f"({batch * 1e9 / wall:,.0f} images/s), {statistics.median(traced) / 1e3:,.0f} us traced; kernels "
        f"{statistics.median(op_sum) / 1e3:,.0f} us; the rest (executor, feeds, tracing) "
        f"{(statistics.median(traced) - statistics.median(op_sum)) / 1e3:,.0f} us of the traced step"
    )
    print(f"\n{'op type':<40}{'us/step':>9}{'% of step':>11}{'nodes':>7}")
    counts: dict[str, int] = defaultdict(int)
    for name, t in by_node:
        counts[t] += 1
    for t, v in sorted(by_type.items(), key=lambda kv: -statistics.median(kv[1])):
        m = statistics.median(v)
        if m >= 0.002 * wall:
            print(f"{t:<40}{m / 1e3:>9,.0f}{100 * m / wall:>10.1f}%{counts[t]:>7}")
    print(f"\n{'node':<56}{'op type':<30}{'us':>7}{'%':>7}")
    for (name, t), v in sorted(by_node.items(), key=lambda kv: -statistics.median(kv[1]))[:16]:
        m = statistics.median(v)
        print(f"{name[:55]:<56}{t[:29]:<30}{m / 1e3:>7,.0f}{100 * m / wall:>6.1f}%")
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(steps):
        step()
    prof.disable()
    print(f"\ncProfile, {steps} untraced steps, top functions by own time:")
    pstats.Stats(prof).sort_stats("tottime").print_stats(18)
    try:
        import torch
        import torch_reference as tref
        from torch.profiler import ProfilerActivity
        from torch.profiler import profile as torch_profile
    except ImportError:
        return
    if threads:
        torch.set_num_threads(threads)
    params = npref.he_init(npref.LENET_SHAPES if kind == "lenet" else npref.MLP_SHAPES)
    trainer = tref.Trainer((tref.lenet_from_params if kind == "lenet" else tref.mlp_from_params)(params), LR)
    tstep = _cycle([(tref.images(x), tref.labels(y)) for x, y in data], trainer.step)
    for _ in range(20):
        tstep()
    t0 = time.perf_counter_ns()
    for _ in range(steps):
        tstep()
    t_wall = (time.perf_counter_ns() - t0) / steps
    with torch_profile(activities=[ProfilerActivity.CPU]) as tp:
        for _ in range(steps):
            tstep()
    print(
        f"\nPyTorch, same step: {t_wall / 1e3:,.0f} us unprofiled ({batch * 1e9 / t_wall:,.0f} images/s); "
        f"top ATen ops by self CPU time (us per step):"
    )
    rows = sorted(tp.key_averages(), key=lambda e: -e.self_cpu_time_total)
    for e in rows[:12]:
        print(f"  {e.key[:52]:<54}{e.self_cpu_time_total / steps:>9,.0f}{e.count // steps:>5} calls")


# ---------------------------------------------------------------------------------------------
# Micro-benchmarks: the kernels that dominate the profile, as written now and alternatives
# ---------------------------------------------------------------------------------------------
def _us(fn: Callable, seconds: float = 0.3) -> float:
    """Median microseconds per call over 7 runs of about seconds/7 each."""
    for _ in range(3):
        fn()
    t0, k = time.perf_counter(), 0
    while time.perf_counter() - t0 < seconds / 7 or k < 3:
        fn()
        k += 1
    runs = []
    for _ in range(7):
        t0 = time.perf_counter()
        for _ in range(k):
            fn()
        runs.append((time.perf_counter() - t0) / k)
    return statistics.median(runs) * 1e6


def micro(args: argparse.Namespace, threads: int, n: int = 64) -> None:
    """Per group: the formula flowgraph's kernel uses (first line; its in-graph time is in ``--profile``),
    then alternatives giving the same values, with the speed-up over the first line.

    Self-contained NumPy (no flowgraph internals), so it keeps working while the kernels change.
    """
    if threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    rng = np.random.default_rng(0)
    f32 = np.float32
    x = rng.standard_normal((n, 28, 28, 6), dtype=f32)  # conv1's output: LeNet's largest activation
    b = rng.standard_normal(6, dtype=f32)
    b_tiled = np.tile(b, 28 * 28)
    zeros = np.zeros_like(x)
    h = rng.standard_normal((128, 256), dtype=f32)  # an MLP hidden layer
    zeros_h = np.zeros_like(h)
    ones_128 = np.ones(128, f32)
    groups: dict[str, list] = {
        f"BiasAdd, NHWC ({n}, 28, 28, 6) + (6,)": [
            ("x + b (flowgraph's BiasAdd kernel)", lambda: x + b, None),
            (
                "(x.reshape(N, -1) + tile(b, H*W)).reshape(x.shape), tile cached per shape",
                lambda: (x.reshape(n, -1) + b_tiled).reshape(x.shape),
                lambda: x + b,
            ),
        ],
        f"Relu, ({n}, 28, 28, 6)": [
            ("np.maximum(x, 0) (flowgraph's Relu kernel)", lambda: np.maximum(x, 0), None),
            ("np.maximum(x, zeros), zeros cached per shape", lambda: np.maximum(x, zeros), lambda: np.maximum(x, 0)),
        ],
        "Relu, MLP hidden (128, 256)": [
            ("np.maximum(h, 0)", lambda: np.maximum(h, 0), None),
            ("np.maximum(h, zeros), zeros cached per shape", lambda: np.maximum(h, zeros_h), lambda: np.maximum(h, 0)),
        ],
        "bias gradient (SumToShape), MLP (128, 256) -> (256,)": [
            ("np.sum(g, axis=0) (flowgraph's SumToShape kernel)", lambda: np.sum(h, axis=0, dtype=f32), None),
            ("ones @ g (a GEMV, as BiasAddGrad does)", lambda: ones_128 @ h, lambda: np.sum(h, axis=0, dtype=f32)),
        ],
    }
    # Pooling and its gradient by layout: NHWC as flowgraph computes it, channel-major (C, N, H, W)
    # as the NumPy reference computes conv1's pool.
    xc = np.ascontiguousarray(x.transpose(3, 0, 1, 2))
    y, yc = npref._max_pool(x), npref._max_pool(xc, last=True)
    gy, gyc = y * 0.5, np.ascontiguousarray((y * 0.5).transpose(3, 0, 1, 2))
    groups[f"MaxPool 2x2, ({n}, 28, 28, 6), by layout"] = [
        ("NHWC: np.maximum over 4 strided views (as flowgraph's MaxPool)", lambda: npref._max_pool(x), None),
        ("channel-major (C, N, H, W): the same", lambda: npref._max_pool(xc, last=True), None),
    ]
    groups[f"MaxPoolGrad 2x2 (first-max masks), ({n}, 28, 28, 6), by layout"] = [
        ("NHWC (as flowgraph's MaxPoolGrad)", lambda: npref._max_pool_grad(x, y, gy), None),
        ("channel-major (C, N, H, W)", lambda: npref._max_pool_grad(xc, yc, gyc, last=True), None),
    ]
    # conv1: one-channel 5x5 SAME conv, taps-first patches (25, N*784) as flowgraph builds them.
    x1 = rng.random((n, 28, 28, 1), dtype=f32)
    w1 = rng.standard_normal((25, 6), dtype=f32)
    xp = np.zeros((n, 32, 32), f32)
    xp[:, 2:30, 2:30] = x1[..., 0]
    cols = npref._patches_taps_first(xp, 5)
    groups[f"conv1 forward GEMM on taps-first patches (25, {n}*784)"] = [
        ("cols.T @ w -> NHWC (N*784, 6): M=N*784, K=25, N=6", lambda: cols.T @ w1, None),
        ("w.T @ cols -> channel-major (6, N*784): M=6, K=25, N=N*784", lambda: w1.T @ cols, None),
        (
            "w.T @ cols, then transposed to NHWC (one copy)",
            lambda: np.ascontiguousarray((w1.T @ cols).T),
            lambda: cols.T @ w1,
        ),
        ("  the im2col copy itself (taps-first)", lambda: npref._patches_taps_first(xp, 5), None),
    ]
    for title, cases in groups.items():
        print(f"\n{title}")
        base = None
        for label, fn, ref in cases:
            if ref is not None:
                assert np.allclose(fn(), ref(), rtol=1e-5, atol=1e-5), label
            t = _us(fn)
            base = base or t
            print(f"  {label:<92}{t:>9,.0f} us  {base / t:>5.2f}x")


# ---------------------------------------------------------------------------------------------
# Driver: thread settings in turn, Markdown output
# ---------------------------------------------------------------------------------------------
def machine() -> dict:
    model = platform.processor()
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    import flowgraph

    info = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "cpu": model,
        "cpus": os.cpu_count(),
        "load_before": os.getloadavg(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "flowgraph": flowgraph.__version__,
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "(unset)"),
    }
    try:  # read-only git queries: which flowgraph was measured
        repo = Path(__file__).resolve().parent.parent
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        )
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "flowgraph"], capture_output=True, text=True, check=False
        )
        info["commit"] = head.stdout.strip() + (" + uncommitted changes in flowgraph/" if dirty.stdout.strip() else "")
    except OSError:
        info["commit"] = "?"
    try:
        import torch

        info["torch"] = torch.__version__
    except ImportError:
        info["torch"] = "(absent)"
    return info


def markdown(info: dict, results: list[dict], check: list | None, command: str) -> str:
    lines = [
        (
            f"Date {info['date']}; CPU `{info['cpu']}` ({info['cpus']} vCPUs); load average before "
            f"{info['load_before'][0]:.2f}, after {info['load_after'][0]:.2f}; Python {info['python']}, NumPy "
            f"{info['numpy']}, PyTorch {info['torch']}, `OPENBLAS_CORETYPE` {info['OPENBLAS_CORETYPE']}."
        ),
        "",
        f"Command: `{command}` (flowgraph at {info['commit']})",
        "",
    ]
    for res in results:
        th = res["threads"]
        title = (
            "library defaults (OpenBLAS and PyTorch: one thread per core; flowgraph `ConfigProto()`)"
            if th == "default"
            else f"{th} thread"
        )
        if res.get("cpu_time"):
            title += ", timed by each worker's process CPU time"
        lines += [
            f"Threads: {title}" + (f"; PyTorch reports {res['torch_threads']}" if "torch_threads" in res else "") + ".",
            "",
        ]
        serial = any("flowgraph_serial" in row["median"] for row in res["rows"])
        lines += [
            (
                "| workload | flowgraph (img/s) | PyTorch CPU (img/s) | hand-written NumPy (img/s) | flowgraph / PyTorch "
                "| flowgraph / NumPy |"
            )
            + (" flowgraph, inter_op_parallelism_threads=1 (img/s) |" if serial else ""),
            "| --- | ---: | ---: | ---: | ---: | ---: |" + (" ---: |" if serial else ""),
        ]
        for row in res["rows"]:
            m = row["median"]
            lines.append(
                f"| {row['workload']} | {m['flowgraph']:,.0f}"
                + (f" ({row['executor']})" if serial and row.get("executor") else "")
                + " | "
                + (f"{m['pytorch']:,.0f}" if "pytorch" in m else "—")
                + f" | {m['numpy']:,.0f} | "
                + (f"{row['fg/pytorch']:.2f}x" if "fg/pytorch" in row else "—")
                + f" | {row['fg/numpy']:.2f}x |"
                + (f" {m['flowgraph_serial']:,.0f} |" if "flowgraph_serial" in m else (" — |" if serial else ""))
            )
        lines.append("")
        if res.get("memory"):
            lines += [
                (
                    "| peak memory of one training step above the steady state (tracemalloc) | flowgraph (MiB) "
                    "| hand-written NumPy (MiB) | flowgraph / NumPy |"
                ),
                "| --- | ---: | ---: | ---: |",
            ]
            for mem in res["memory"]:
                lines.append(
                    f"| {mem['workload']} | {mem['flowgraph'] / 2**20:.2f} | {mem['numpy'] / 2**20:.2f} | {mem['ratio']:.2f}x |"
                )
            lines.append("")
    if check:
        lines += [
            "| cross-check: same He-init weights, same batches (first of the training set, batch 64), SGD lr 0.05 | flowgraph | PyTorch | NumPy | max abs weight diff flowgraph vs NumPy |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for row in check:
            t = row["test_loss"]
            lines.append(
                f"| {row['model']}: test loss (10,000 images) after {row['steps']} steps | {t['flowgraph']:.5f} | "
                + (f"{t['pytorch']:.5f}" if "pytorch" in t else "—")
                + f" | {t['numpy']:.5f} | {row['max_weight_diff_fg_numpy']:.1e} |"
            )
        lines.append("")
    return "\n".join(lines)


def combine(args: argparse.Namespace) -> None:
    """Pools the rounds of several ``--json`` runs (same workloads): medians and per-round ratios over all."""
    runs = [json.loads(Path(f).read_text()) for f in args.combine]
    info = dict(runs[0]["info"])
    info["date"] = ", ".join(r["info"]["date"] for r in runs)
    info["load_before"] = (max(r["info"]["load_before"][0] for r in runs),)
    info["load_after"] = (max(r["info"]["load_after"][0] for r in runs),)
    results = []
    for i, res in enumerate(runs[0]["results"]):
        out = {k: v for k, v in res.items() if k not in ("rows", "memory")}
        out["rows"], out["memory"] = [], runs[-1]["results"][i]["memory"]
        for j, row in enumerate(res["rows"]):
            rates: dict[str, list] = {}
            for r in runs:
                for peer, v in r["results"][i]["rows"][j]["rates"].items():
                    rates.setdefault(peer, []).extend(v)
            new = {"workload": row["workload"], "batch": row["batch"], "rates": rates,
                   "executor": "/".join(str(r["results"][i]["rows"][j].get("executor")) for r in runs)}  # fmt: skip
            new["median"] = {k: statistics.median(v) for k, v in rates.items()}
            for peer in ("pytorch", "numpy"):
                if peer in rates:
                    new[f"fg/{peer}"] = statistics.median(f / p for f, p in zip(rates["flowgraph"], rates[peer]))
            out["rows"].append(new)
        results.append(out)
    command = f"python benchmarks/bench_training.py (run {len(runs)} times, rounds pooled with --combine)"
    md = markdown(info, results, runs[0].get("check"), command)
    print(md)
    if args.markdown:
        Path(args.markdown).write_text(md + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--threads",
        default="0,1",
        help="thread settings, comma-separated: 0 = library defaults, N = N threads (default %(default)s)",
    )
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=5, help="untimed steps before each timed run")
    ap.add_argument("--seconds", type=float, default=1.0, help="timed seconds per peer per round")
    ap.add_argument("--batches", type=int, default=16, help="distinct batches cycled through")
    ap.add_argument("--only", nargs="*", help="only workloads whose label contains one of these strings")
    ap.add_argument(
        "--cpu-time",
        action="store_true",
        help="time the 1-thread setting by each worker's CPU time (steadier on a loaded machine)",
    )
    ap.add_argument("--no-torch", action="store_true", help="leave PyTorch out even when importable")
    ap.add_argument(
        "--no-serial-variant",
        action="store_true",
        help="leave out the extra flowgraph peer with inter_op_parallelism_threads=1 (library-default setting)",
    )
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurements")
    ap.add_argument("--skip-check", action="store_true", help="skip the same-weights loss cross-check")
    ap.add_argument("--check-only", action="store_true")
    ap.add_argument(
        "--profile",
        nargs="?",
        const="lenet",
        choices=("lenet", "mlp"),
        help="profile flowgraph's LeNet-5 (batch 64) or MLP (batch 128) step (1 thread unless --threads)",
    )
    ap.add_argument("--micro", action="store_true", help="time the profile's hot kernels and alternatives")
    ap.add_argument("--json", default=None, help="write the raw results here")
    ap.add_argument(
        "--combine", nargs="+", metavar="JSON", help="pool the rounds of earlier --json runs into one set of tables"
    )
    ap.add_argument("--markdown", default=None, help="write the Markdown tables here")
    args = ap.parse_args()
    if args.combine:
        combine(args)
        return
    if args.profile or args.micro:
        th = 1 if args.threads == "0,1" else int(args.threads)
        if args.profile:
            profile(args, th, args.profile, 64 if args.profile == "lenet" else 128)
        else:
            micro(args, th)
        return
    info = machine()
    torch = None
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            print("torch is not importable: skipping the PyTorch rows (pip install torch==2.13.0 to add them)")
    xtr, ytr, xte, yte = load_mnist()
    check = None
    if not args.skip_check:
        check = cross_check((xtr, ytr, xte, yte), torch, 0)
        for row in check:
            print(
                f"check {row['model']}: test loss "
                + ", ".join(f"{k} {v:.5f}" for k, v in row["test_loss"].items())
                + f"; max |weight diff| flowgraph vs numpy {row['max_weight_diff_fg_numpy']:.1e}",
                flush=True,
            )
    results = []
    if not args.check_only:
        for th in (int(t) for t in args.threads.split(",")):
            print(f"== threads: {th or 'library defaults'}", flush=True)
            results.append(run_setting(args, th, xtr, ytr, torch is not None))
    info["load_after"] = os.getloadavg()
    md = markdown(info, results, check, "python benchmarks/bench_training.py " + " ".join(sys.argv[1:]))
    print()
    print(md)
    if args.markdown:
        Path(args.markdown).write_text(md + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps({"info": info, "check": check, "results": results}, indent=1))


if __name__ == "__main__":
    main()
