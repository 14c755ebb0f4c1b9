"""Training and inference throughput of LeNet-5 and an MLP: flowgraph vs PyTorch CPU vs hand-written NumPy.

Run: python benchmarks/bench_training.py                 # default threads, then 1 thread (two subprocesses)
     python benchmarks/bench_training.py --threads 1     # one setting in this process
     python benchmarks/bench_training.py --check-only    # only the same-weights loss cross-check
     python benchmarks/bench_training.py --markdown PATH # also write the tables as Markdown

Workloads (ANCHORS.md): LeNet-5 training (SGD) at batch 64 and 128, LeNet-5 inference at batch 256,
MLP 784-256-256-10 training (SGD) at batch 64 and 128, and the peak memory of one LeNet-5 / MLP
training step (flowgraph vs the NumPy reference, by tracemalloc: see ``peak_step_bytes``).

Method. Real MNIST (``flowgraph.datasets.mnist.load_data()``), scaled to [0, 1]; every peer gets the
same pool of batches, prepared once in its own native layout (NHWC arrays for flowgraph and NumPy,
NCHW tensors for PyTorch), and the same He-init NumPy weights (``numpy_reference.he_init``).
Each round runs every peer in turn (the order rotates per round): ``--warmup`` steps, then timed
steps for about ``--seconds`` seconds; a peer's figure is the median over ``--rounds`` rounds of its
images/s, and each ratio is the median of the per-round ratios (both peers measured moments apart,
under the same load). Threads: the default uses the libraries' defaults (OpenBLAS and PyTorch one
thread per core, flowgraph ``ConfigProto()``); ``--threads 1`` caps BLAS with threadpoolctl, PyTorch with
``torch.set_num_threads(1)`` and flowgraph with ``inter_op_parallelism_threads=1``. Thread settings
run in separate processes (flowgraph's ``intra_op_parallelism_threads`` caps BLAS process-wide).
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
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy_reference as npref  # noqa: E402

import flowgraph as tf  # noqa: E402
from flowgraph.datasets import mnist  # noqa: E402

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
        out.append((np.ascontiguousarray(xb.reshape(batch, 784) if flat else xb), y[i * batch : (i + 1) * batch].copy()))
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

    def __init__(self, kind: str, params: dict[str, np.ndarray], lr: float, threads: int) -> None:
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
        config = tf.ConfigProto(inter_op_parallelism_threads=threads, intra_op_parallelism_threads=threads) if threads else None
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
# Peers: one "step" callable per (peer, workload), cycling over the shared batches
# ---------------------------------------------------------------------------------------------
def _cycle(items: list, fn: Callable) -> Callable[[], None]:
    state = [0]
    n = len(items)

    def step() -> None:
        i = state[0]
        state[0] = i + 1 if i + 1 < n else 0
        fn(*items[i])

    return step


def make_steps(kind: str, mode: str, data: list[tuple], params: dict, threads: int, torch: Any) -> dict[str, Callable]:
    """{peer: step callable} for one workload; ``mode`` is "train" or "infer"."""
    steps: dict[str, Callable] = {}
    fg = FGModel(kind, params, LR, threads)
    ref = (npref.LeNet5 if kind == "lenet" else npref.MLP)(params, LR)
    if mode == "train":
        steps["flowgraph"] = _cycle(data, fg.train)
        steps["numpy"] = _cycle(data, ref.train_step)
    else:
        steps["flowgraph"] = _cycle([(x,) for x, _ in data], fg.predict)
        steps["numpy"] = _cycle([(x,) for x, _ in data], ref.predict)
    if torch is not None:
        import torch_reference as tref

        model = (tref.lenet_from_params if kind == "lenet" else tref.mlp_from_params)(params)
        trainer = tref.Trainer(model, LR)
        tdata = [(tref.images(x), tref.labels(y)) for x, y in data]
        if mode == "train":
            steps["pytorch"] = _cycle(tdata, trainer.step)
        else:
            steps["pytorch"] = _cycle([(x,) for x, _ in tdata], trainer.predict)
    return steps


def measure(steps: dict[str, Callable], batch: int, rounds: int, warmup: int, seconds: float) -> dict:
    """Interleaved rounds; returns {peer: [images/s per round]}."""
    names = list(steps)
    n_steps = {}
    for name in names:  # calibrate: steps per round so each peer runs about `seconds`
        fn = steps[name]
        for _ in range(warmup):
            fn()
        t0 = time.perf_counter()
        k = 0
        while time.perf_counter() - t0 < seconds / 4 or k < 3:
            fn()
            k += 1
        n_steps[name] = max(5, int(k * 4 * (seconds / (time.perf_counter() - t0)) / 4))
    rates: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            fn = steps[name]
            for _ in range(warmup):
                fn()
            gc.collect()
            k = n_steps[name]
            t0 = time.perf_counter()
            for _ in range(k):
                fn()
            rates[name].append(k * batch / (time.perf_counter() - t0))
    return rates


def peak_step_bytes(step: Callable, repeats: int = 3) -> int:
    """Peak bytes allocated above the starting level during one call of ``step`` (min over ``repeats``).

    tracemalloc sees every NumPy data buffer (NumPy reports its allocations to it) and all Python
    objects, so for NumPy-based code it measures exactly the arrays and objects a step creates,
    whatever the allocator does with freed pages (RSS deltas would mostly show pages kept by
    malloc from earlier steps). Memory alive before the step (parameters, cached buffers, the
    inputs) is not counted: the figure is the step's working set. Run after warm-up steps, so
    one-off plan building is excluded.
    """
    best = None
    for _ in range(repeats):
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        step()
        peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
        best = peak if best is None else min(best, peak)
    return best


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
        row["test_loss"] = {"numpy": _chunked_loss(ref.loss, test_x, yte), "flowgraph": _chunked_loss(fg.loss, test_x, yte)}
        wdiff = max(float(np.max(np.abs(fg.sess.run(fg.v[k]) - ref.p[k]))) for k in params)
        row["max_weight_diff_fg_numpy"] = wdiff
        if torch is not None:
            import torch_reference as tref

            tr = tref.Trainer((tref.lenet_from_params if kind == "lenet" else tref.mlp_from_params)(params), LR)
            row["first_loss"]["pytorch"] = tr.loss(tref.images(train[0][0]), tref.labels(train[0][1]))
            for x, y in train:
                tr.step(tref.images(x), tref.labels(y))
            row["test_loss"]["pytorch"] = _chunked_loss(lambda a, b: tr.loss(tref.images(a), tref.labels(b)), test_x, yte)
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


def run_setting(args: argparse.Namespace) -> dict:
    torch = None
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            print("torch is not importable: skipping the PyTorch rows (pip install torch==2.13.0 to add them)")
    if args.threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)
        if torch is not None:
            torch.set_num_threads(args.threads)
    data = load_mnist()
    xtr, ytr = data[0], data[1]
    result: dict[str, Any] = {"threads": args.threads or "default", "rows": [], "memory": []}
    if torch is not None:
        result["torch_threads"] = torch.get_num_threads()
    if not args.skip_check:
        result["check"] = cross_check(data, torch, args.threads)
        for row in result["check"]:
            print(f"check {row['model']}: " + json.dumps({k: row[k] for k in ('test_loss', 'max_weight_diff_fg_numpy')}), flush=True)
    if args.check_only:
        return result
    for label, kind, mode, batch in WORKLOADS:
        if args.only and not any(s in label for s in args.only):
            continue
        params = npref.he_init(npref.LENET_SHAPES if kind == "lenet" else npref.MLP_SHAPES, seed=0)
        data_b = batches(xtr, ytr, batch, args.batches, flat=kind == "mlp")
        steps = make_steps(kind, mode, data_b, params, args.threads, torch)
        rates = measure(steps, batch, args.rounds, args.warmup, args.seconds)
        row = {"workload": label, "batch": batch, "rates": rates, "median": {k: statistics.median(v) for k, v in rates.items()}}
        for peer in ("pytorch", "numpy"):
            if peer in rates:
                row[f"fg/{peer}"] = statistics.median(f / p for f, p in zip(rates["flowgraph"], rates[peer]))
        result["rows"].append(row)
        med = row["median"]
        print(f"{label:<20} " + "  ".join(f"{k} {v:>9,.0f}/s" for k, v in med.items())
              + "  " + "  ".join(f"{k} {row[k]:.2f}x" for k in ("fg/pytorch", "fg/numpy") if k in row), flush=True)
        del steps
        gc.collect()
    if not args.only:
        for kind, batch in (("lenet", 64), ("lenet", 128), ("mlp", 128)):
            params = npref.he_init(npref.LENET_SHAPES if kind == "lenet" else npref.MLP_SHAPES, seed=0)
            data_b = batches(xtr, ytr, batch, 2, flat=kind == "mlp")
            fg = FGModel(kind, params, LR, args.threads)
            ref = (npref.LeNet5 if kind == "lenet" else npref.MLP)(params, LR)
            for _ in range(3):
                fg.train(*data_b[0])
                ref.train_step(*data_b[0])
            mem = {
                "model": kind, "batch": batch,
                "flowgraph": peak_step_bytes(lambda: fg.train(*data_b[1])),
                "numpy": peak_step_bytes(lambda: ref.train_step(*data_b[1])),
                "input_bytes": data_b[0][0].nbytes,
            }  # fmt: skip
            mem["ratio"] = mem["flowgraph"] / mem["numpy"]
            result["memory"].append(mem)
            print(f"peak step memory {kind} b{batch}: flowgraph {mem['flowgraph'] / 2**20:.2f} MiB, "
                  f"numpy {mem['numpy'] / 2**20:.2f} MiB, ratio {mem['ratio']:.2f}", flush=True)
    return result


# ---------------------------------------------------------------------------------------------
# Driver: both thread settings in subprocesses, Markdown output
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
    try:
        import torch

        info["torch"] = torch.__version__
    except ImportError:
        info["torch"] = "(absent)"
    return info


def markdown(info: dict, results: list[dict], command: str) -> str:
    lines = [
        f"Date {info['date']}; CPU `{info['cpu']}` ({info['cpus']} vCPUs); load average before "
        f"{info['load_before'][0]:.2f}, after {info.get('load_after', (float('nan'),))[0]:.2f}; Python {info['python']}, NumPy "
        f"{info['numpy']}, PyTorch {info['torch']}, `OPENBLAS_CORETYPE` {info['OPENBLAS_CORETYPE']}.",
        "",
        f"Command: `{command}`",
        "",
    ]
    for res in results:
        th = res["threads"]
        lines += [f"### Threads: {th}" + (f" (PyTorch {res['torch_threads']})" if "torch_threads" in res else ""), ""]
        lines += ["| workload | flowgraph (img/s) | PyTorch CPU (img/s) | hand-written NumPy (img/s) | flowgraph / PyTorch | flowgraph / NumPy |",
                  "| --- | ---: | ---: | ---: | ---: | ---: |"]
        for row in res["rows"]:
            m = row["median"]
            lines.append(
                f"| {row['workload']} | {m['flowgraph']:,.0f} | "
                + (f"{m['pytorch']:,.0f}" if "pytorch" in m else "—")
                + f" | {m['numpy']:,.0f} | "
                + (f"{row['fg/pytorch']:.2f}x" if "fg/pytorch" in row else "—")
                + f" | {row['fg/numpy']:.2f}x |"
            )
        lines.append("")
        if res.get("memory"):
            lines += ["| peak memory of one training step | flowgraph (MiB) | hand-written NumPy (MiB) | flowgraph / NumPy |",
                      "| --- | ---: | ---: | ---: |"]
            for mem in res["memory"]:
                lines.append(f"| {mem['model']} b{mem['batch']} | {mem['flowgraph'] / 2**20:.2f} | {mem['numpy'] / 2**20:.2f} | {mem['ratio']:.2f}x |")
            lines.append("")
        if res.get("check"):
            lines += ["| cross-check (same He-init weights, same batches, lr 0.05) | flowgraph | PyTorch | NumPy | max weight diff flowgraph vs NumPy |",
                      "| --- | ---: | ---: | ---: | ---: |"]
            for row in res["check"]:
                t = row["test_loss"]
                lines.append(
                    f"| {row['model']}: test loss after {row['steps']} steps (batch 64) | {t['flowgraph']:.4f} | "
                    + (f"{t['pytorch']:.4f}" if "pytorch" in t else "—")
                    + f" | {t['numpy']:.4f} | {row['max_weight_diff_fg_numpy']:.1e} |"
                )
            lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=None, help="run one setting here: 0 = library defaults, N = N threads")
    ap.add_argument("--settings", default="0,1", help="thread settings the driver runs (default %(default)s)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=1.5, help="timed seconds per peer per round")
    ap.add_argument("--batches", type=int, default=16, help="distinct batches cycled through")
    ap.add_argument("--only", nargs="*", help="only workloads whose label contains one of these strings")
    ap.add_argument("--no-torch", action="store_true", help="leave PyTorch out even when importable")
    ap.add_argument("--skip-check", action="store_true", help="skip the same-weights loss cross-check")
    ap.add_argument("--check-only", action="store_true")
    ap.add_argument("--json", default=None, help="write the raw results here")
    ap.add_argument("--markdown", default=None, help="write the Markdown tables here")
    args, rest = ap.parse_known_args()
    if args.threads is not None:
        res = run_setting(args)
        if args.json:
            Path(args.json).write_text(json.dumps(res, indent=1))
        return
    info = machine()
    command = "python benchmarks/bench_training.py " + " ".join(sys.argv[1:])
    results = []
    for th in (int(s) for s in args.settings.split(",")):
        out = Path(f"/tmp/bench_training_{os.getpid()}_{th}.json")
        child = [sys.executable, __file__, "--threads", str(th), "--json", str(out)]
        child += [a for a in sys.argv[1:] if a not in ("--markdown", args.markdown, "--json", args.json, "--settings", args.settings)]
        print(f"== threads: {th or 'default'}", flush=True)
        subprocess.run(child, check=True)
        results.append(json.loads(out.read_text()))
        out.unlink()
    info["load_after"] = os.getloadavg()
    md = markdown(info, results, command)
    print()
    print(md)
    if args.markdown:
        Path(args.markdown).write_text(md + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps({"info": info, "results": results}, indent=1))


if __name__ == "__main__":
    main()
