"""A 784-256-256-10 MLP on MNIST, written as a TF1 script (``import flowgraph as tf``).

Run ``python examples/mnist_mlp.py --help`` for the options. This file also holds the training
loop that ``mnist_lenet5.py`` reuses: placeholders, Adam with a per-epoch learning-rate decay, a
progress bar, one checkpoint per epoch (``--checkpoint-dir``, ``--resume``), the test evaluation
with ``tf.metrics.accuracy``, a confusion matrix and an optional training-curve PNG.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any, TextIO

import numpy as np

import flowgraph as tf
from flowgraph.datasets import mnist
from flowgraph.datasets.batching import MNIST_MEAN, MNIST_STD, BatchIterator, normalize, random_shift

# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None, description: str, **defaults: Any) -> argparse.Namespace:
    """The options every MNIST example takes; ``defaults`` sets the per-model values."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument(
        "--epochs", type=int, default=defaults.get("epochs", 10), help="training epochs (default %(default)s)"
    )
    p.add_argument(
        "--batch-size", type=int, default=defaults.get("batch_size", 64), help="images per step (default %(default)s)"
    )
    p.add_argument(
        "--lr", type=float, default=defaults.get("lr", 1e-3), help="Adam learning rate (default %(default)s)"
    )
    p.add_argument(
        "--lr-decay",
        type=float,
        default=defaults.get("lr_decay", 1.0),
        help="learning rate factor applied after every epoch (default %(default)s)",
    )
    p.add_argument(
        "--lr-end",
        type=float,
        default=None,
        help="if set, the learning rate falls exponentially every step, reaching this value at the last step",
    )
    p.add_argument(
        "--lr-schedule",
        choices=("epoch", "cosine", "linear"),
        default=defaults.get("lr_schedule", "epoch"),
        help="epoch: lr * lr_decay**epoch (or --lr-end); cosine / linear: fall every step from --lr to 0 at the "
        "last step, after --warmup (default %(default)s)",
    )
    p.add_argument(
        "--warmup",
        type=float,
        default=defaults.get("warmup", 0.0),
        help="fraction of all steps over which the learning rate rises linearly from 0 to --lr (default %(default)s)",
    )
    p.add_argument(
        "--ema",
        type=float,
        default=defaults.get("ema"),
        metavar="DECAY",
        help="keep tf.train.ExponentialMovingAverage(DECAY, num_updates=global_step) of the weights and "
        "evaluate with the averages",
    )
    p.add_argument(
        "--standardize",
        action="store_true",
        default=defaults.get("standardize", False),
        help="scale inputs to zero mean and unit variance (the training images' mean and std) instead of [0, 1]",
    )
    p.add_argument(
        "--shift",
        type=int,
        default=defaults.get("shift", 0),
        help="random-shift augmentation: max pixels each training image moves (default %(default)s)",
    )
    p.add_argument("--seed", type=int, default=0, help="graph-level and shuffling seed (default %(default)s)")
    p.add_argument("--checkpoint-dir", default=None, help="save a checkpoint there after every epoch")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --checkpoint-dir")
    p.add_argument("--limit", type=int, default=None, help="train on the first N training images only")
    p.add_argument("--test-limit", type=int, default=None, help="evaluate on the first N test images only")
    p.add_argument("--plot", default=None, metavar="PATH", help="write the training curves to this PNG")
    p.add_argument("--data-dir", default=None, help="folder with the MNIST IDX files (default: the usual search)")
    p.add_argument("--quiet", action="store_true", help="no progress bar, only the summary lines")
    p.add_argument(
        "--logdir",
        default=None,
        help="write TensorBoard logs there: loss, accuracy, learning rate, weight histograms, input images",
    )
    p.add_argument(
        "--distributed",
        action="store_true",
        help="data-parallel over MPI: run as `mpiexec -n N python ... --distributed` (needs flowgraph[mpi])",
    )
    p.add_argument(
        "--intra-op-threads",
        type=int,
        default=0,
        help="ConfigProto.intra_op_parallelism_threads (default 0: the session measures its ways of using the "
        "cores on the first steps, a second process for half of each batch among them; 1: one thread only)",
    )
    p.add_argument(
        "--inter-op-threads",
        type=int,
        default=0,
        help="ops run at once (ConfigProto.inter_op_parallelism_threads; 0: one per core, -1: caller's thread only)",
    )
    args = p.parse_args(argv)
    if args.resume and not args.checkpoint_dir:
        p.error("--resume needs --checkpoint-dir")
    if args.epochs < 0 or args.batch_size < 1 or args.lr <= 0:
        p.error("--epochs must be >= 0, --batch-size >= 1 and --lr > 0")
    if not 0.0 <= args.warmup < 1.0:
        p.error("--warmup must be in [0, 1)")
    if args.ema is not None and not 0.0 < args.ema < 1.0:
        p.error("--ema must be in (0, 1)")
    if args.lr_end is not None and args.lr_schedule != "epoch":
        p.error("--lr-end goes with --lr-schedule epoch only")
    return args


def learning_rate(args: argparse.Namespace, step: int, total: int) -> float:
    """The learning rate of global step ``step`` (0-based) out of ``total`` (``--lr-schedule``, ``--warmup``)."""
    warm = int(round(args.warmup * total))
    if step < warm:
        return args.lr * (step + 1) / warm
    if args.lr_schedule == "epoch":
        if args.lr_end is not None:
            return args.lr * (args.lr_end / args.lr) ** (step / max(total, 1))
        steps_per_epoch = max(total // max(args.epochs, 1), 1)
        return args.lr * args.lr_decay ** (step // steps_per_epoch)
    progress = (step - warm) / max(total - warm, 1)
    if args.lr_schedule == "cosine":  # tf.train.cosine_decay with alpha=0
        return args.lr * 0.5 * (1.0 + math.cos(math.pi * progress))
    return args.lr * (1.0 - progress)


# ---------------------------------------------------------------------------------------------
# Progress bar
# ---------------------------------------------------------------------------------------------
class ProgressBar:
    """One ``\\r``-updated stderr line per epoch: bar, running loss and accuracy, images/s, ETA."""

    def __init__(
        self, total: int, label: str, stream: TextIO | None = None, width: int = 24, enabled: bool = True
    ) -> None:
        self.total = max(total, 1)
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.enabled = enabled
        self.start = time.perf_counter()
        self._last = 0.0

    def line(self, done: int, loss: float, acc: float) -> str:
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        rate = done / elapsed
        frac = min(done / self.total, 1.0)
        filled = round(frac * self.width)
        eta = (self.total - done) / rate if rate > 0 else 0.0
        bar = "#" * filled + "." * (self.width - filled)
        return (
            f"{self.label} [{bar}] {100 * frac:5.1f}%  loss {loss:.4f}  acc {100 * acc:6.2f}%  "
            f"{rate:7,.0f} img/s  {'ETA' if done < self.total else 'in'} {eta if done < self.total else elapsed:5.1f}s"
        )

    def update(self, done: int, loss: float, acc: float, force: bool = False) -> None:
        now = time.perf_counter()
        if not self.enabled or (not force and now - self._last < 0.1):
            return
        self._last = now
        self.stream.write("\r" + self.line(done, loss, acc))
        self.stream.flush()

    def close(self, done: int, loss: float, acc: float) -> None:
        if self.enabled:
            self.update(done, loss, acc, force=True)
            self.stream.write("\n")
            self.stream.flush()


# ---------------------------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------------------------
def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """``m[i, j]`` = how many images of class ``i`` were predicted as ``j``."""
    m = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(m, (np.asarray(labels, np.int64), np.asarray(predictions, np.int64)), 1)
    return m


def format_confusion(m: np.ndarray) -> str:
    n = m.shape[0]
    w = max(5, len(str(m.max())) + 1)
    head = "true\\pred" + "".join(f"{j:>{w}}" for j in range(n)) + f"{'recall':>9}"
    rows = [head]
    for i in range(n):
        recall = m[i, i] / max(m[i].sum(), 1)
        rows.append(f"{i:>9}" + "".join(f"{v:>{w}}" for v in m[i]) + f"{100 * recall:8.2f}%")
    return "\n".join(rows)


def plot_history(history: dict, path: str, title: str) -> bool:
    """Writes loss and accuracy per epoch to ``path``; False (with a message) without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        print(f"matplotlib is not installed: skipping the plot {path} (pip install matplotlib).", file=sys.stderr)
        return False
    epochs = np.arange(1, len(history["train_loss"]) + 1)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(epochs, history["train_loss"], "o-", label="train loss")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("cross-entropy")
    ax1.legend()
    ax2.plot(epochs, 100 * np.asarray(history["train_acc"]), "o-", label="train")
    ax2.plot(epochs, 100 * np.asarray(history["test_acc"]), "s-", label="test")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("accuracy (%)")
    ax2.legend()
    for ax in (ax1, ax2):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------
def load_mnist(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Images as float32 NHWC in [0, 1] (``--standardize``: zero mean, unit variance), labels as int64;
    ``--limit``/``--test-limit`` applied."""
    (x_train, y_train), (x_test, y_test) = mnist.load_data(args.data_dir)
    if args.limit:
        x_train, y_train = x_train[: args.limit], y_train[: args.limit]
    if args.test_limit:
        x_test, y_test = x_test[: args.test_limit], y_test[: args.test_limit]
    stats = (MNIST_MEAN, MNIST_STD) if args.standardize else (None, None)  # the training set's mean and std
    x_train = normalize(x_train, *stats)[..., None]
    x_test = normalize(x_test, *stats)[..., None]
    return x_train, y_train.astype(np.int64), x_test, y_test.astype(np.int64)


def build_graph(
    build_model: Callable[[Any, Any], Any], seed: int, distributed: bool = False, ema: float | None = None
) -> SimpleNamespace:
    """The training graph: placeholders, loss, Adam step, test-accuracy metric, summaries, Saver (finalized).

    With ``distributed``, gradients are averaged over the MPI ranks and ``g.sync`` copies rank 0's
    initial weights to every rank. With ``ema`` (a decay), every step also updates a
    ``tf.train.ExponentialMovingAverage`` of the trainable variables; ``g.use_averages`` puts the
    averages into the weights (keeping a copy) and ``g.use_trained`` puts the trained weights back.
    """
    g = SimpleNamespace(graph=tf.Graph())
    with g.graph.as_default():
        tf.set_random_seed(seed)
        g.images = tf.placeholder(tf.float32, [None, 28, 28, 1], name="images")
        g.labels = tf.placeholder(tf.int64, [None], name="labels")
        g.training = tf.placeholder_with_default(False, [], name="training")
        g.learning_rate = tf.placeholder(tf.float32, [], name="learning_rate")
        logits = build_model(g.images, g.training)
        g.loss = tf.losses.sparse_softmax_cross_entropy(labels=g.labels, logits=logits)
        g.predictions = tf.argmax(logits, axis=1)
        g.batch_acc = tf.reduce_mean(tf.cast(tf.equal(g.predictions, g.labels), tf.float32))
        global_step = g.global_step = tf.train.get_or_create_global_step()
        optimizer = tf.train.AdamOptimizer(g.learning_rate)
        if distributed:
            import flowgraph.distribute as hvd

            optimizer = hvd.DistributedOptimizer(optimizer)
        with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):  # batch-norm statistics
            g.train_op = optimizer.minimize(g.loss, global_step=global_step)
        g.use_averages = g.use_trained = None
        if ema is not None:
            averages = tf.train.ExponentialMovingAverage(ema, num_updates=global_step)
            weights = tf.trainable_variables()
            with tf.control_dependencies([g.train_op]):
                g.train_op = averages.apply(weights)
            with tf.name_scope("averaged_weights"):
                # Copies of the trained weights, in no collection: not saved, not reset by the initializers.
                backups = [
                    tf.Variable(w.initial_value, trainable=False, collections=[], name="backup") for w in weights
                ]
                saved = [tf.assign(b, w) for b, w in zip(backups, weights)]
                with tf.control_dependencies(saved):  # the copies are made before the weights are overwritten
                    g.use_averages = tf.group(*[tf.assign(w, averages.average(w)) for w in weights])
                g.use_trained = tf.group(*[tf.assign(w, b) for w, b in zip(weights, backups)])
        g.sync = hvd.broadcast_global_variables(0) if distributed else None
        with tf.name_scope("summaries"):
            tf.summary.scalar("loss", g.loss)
            tf.summary.scalar("batch_accuracy", g.batch_acc)
            tf.summary.scalar("learning_rate", g.learning_rate)
            tf.summary.image("inputs", g.images, max_outputs=3)
            for v in tf.trainable_variables():
                tf.summary.histogram(v.op.name.replace("/", "_"), v)
            g.summaries = tf.summary.merge_all()
            g.test_acc_input = tf.placeholder(tf.float32, [], name="test_accuracy_value")
            g.test_acc_summary = tf.summary.scalar("test_accuracy", g.test_acc_input, collections=[])
        g.epoch = tf.Variable(0, trainable=False, name="epoch")
        g.next_epoch = tf.assign_add(g.epoch, 1)
        g.test_acc, g.test_acc_update = tf.metrics.accuracy(g.labels, g.predictions, name="test_accuracy")
        g.saver = tf.train.Saver(max_to_keep=2)
        g.init = tf.global_variables_initializer()
        g.local_init = tf.local_variables_initializer()
    g.graph.finalize()  # the loop below must not add ops
    return g


def evaluate(sess: Any, g: SimpleNamespace, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Streams the test set through ``tf.metrics.accuracy``; returns it and the predictions.

    With moving averages (``--ema``), the averaged weights are evaluated; the trained ones are put back.
    """
    if g.use_averages is not None:
        sess.run(g.use_averages)
    sess.run(g.local_init)
    preds = [np.zeros(0, np.int64)]
    for i in range(0, len(x), 1000):
        p, _ = sess.run([g.predictions, g.test_acc_update], {g.images: x[i : i + 1000], g.labels: y[i : i + 1000]})
        preds.append(p)
    acc = float(sess.run(g.test_acc))
    if g.use_trained is not None:
        sess.run(g.use_trained)
    return acc, np.concatenate(preds)


class _RankSlices:
    """One rank's share of each global batch: the batches of all ranks come from one shuffled epoch."""

    def __init__(self, batches: Any, rank: int, size: int) -> None:
        self._batches, self._rank, self._size = batches, rank, size

    def __len__(self) -> int:
        return len(self._batches)

    @property
    def epoch(self) -> int:
        return self._batches.epoch

    @epoch.setter
    def epoch(self, value: int) -> None:
        self._batches.epoch = value

    def __iter__(self):
        for xb, yb in self._batches:
            n = len(yb) // self._size
            yield xb[self._rank * n : (self._rank + 1) * n], yb[self._rank * n : (self._rank + 1) * n]


def run_epoch(
    sess: Any,
    g: SimpleNamespace,
    batches: Any,
    lr: Any,
    shift: int,
    rng: np.random.Generator,
    bar: ProgressBar,
    writer: Any = None,
    summary_every: int = 100,
) -> dict:
    """One pass over ``batches``; returns the mean loss and accuracy, images/s and seconds.

    ``lr`` is a float, or a function of the step within the epoch (a per-step schedule).
    """
    seen, loss_sum, correct = 0, 0.0, 0.0
    t0 = time.perf_counter()
    for step, (xb, yb) in enumerate(batches):
        if shift:
            xb = random_shift(xb, shift, rng)
        step_lr = lr(step) if callable(lr) else lr
        feed = {g.images: xb, g.labels: yb, g.training: True, g.learning_rate: step_lr}
        if writer is not None and step % summary_every == 0:
            _, loss, acc, summary, gstep = sess.run([g.train_op, g.loss, g.batch_acc, g.summaries, g.global_step], feed)
            writer.add_summary(summary, int(gstep))
        else:
            _, loss, acc = sess.run([g.train_op, g.loss, g.batch_acc], feed)
        seen += len(yb)
        loss_sum += float(loss) * len(yb)
        correct += float(acc) * len(yb)
        bar.update(seen, loss_sum / seen, correct / seen)
    dt = time.perf_counter() - t0
    seen = max(seen, 1)
    bar.close(seen, loss_sum / seen, correct / seen)
    return {"loss": loss_sum / seen, "acc": correct / seen, "images_per_s": seen / max(dt, 1e-9), "seconds": dt}


def train(
    build_model: Callable[[Any, Any], Any], args: argparse.Namespace, name: str, log: TextIO | None = None
) -> float:
    """Trains ``build_model(images, training) -> logits`` on MNIST; returns the final test accuracy.

    ``images`` is a float32 ``[batch, 28, 28, 1]`` placeholder and ``training`` a bool tensor
    (True while training, False when evaluating) for layers such as dropout.
    """
    log = log if log is not None else sys.stdout
    x_train, y_train, x_test, y_test = load_mnist(args)
    rank, size = 0, 1
    if args.distributed:
        import flowgraph.distribute as hvd

        hvd.init()
        rank, size = hvd.rank(), hvd.size()
        if rank != 0:  # progress, checkpoints, logs and plots come from rank 0 only
            log, args.quiet, args.checkpoint_dir, args.logdir, args.plot = open(os.devnull, "w"), True, None, None, None
            args.resume = False
        # Each rank reads a disjoint, equally long part of every epoch (same permutation everywhere).
        x_train, y_train = x_train[: len(x_train) // size * size], y_train[: len(y_train) // size * size]
    g = build_graph(build_model, args.seed, distributed=args.distributed, ema=args.ema)
    history: dict = {"train_loss": [], "train_acc": [], "test_acc": [], "images_per_s": []}
    ckpt_prefix = os.path.join(args.checkpoint_dir, name) if args.checkpoint_dir else None
    hist_path = os.path.join(args.checkpoint_dir, f"{name}_history.json") if args.checkpoint_dir else None
    batches = BatchIterator(x_train, y_train, args.batch_size * size, shuffle=True, seed=args.seed)
    if size > 1:
        batches = _RankSlices(batches, rank, size)
    writer = tf.summary.FileWriter(args.logdir, g.graph) if args.logdir else None
    config = tf.ConfigProto(
        intra_op_parallelism_threads=args.intra_op_threads, inter_op_parallelism_threads=args.inter_op_threads
    )
    with tf.Session(graph=g.graph, config=config) as sess:
        sess.run(g.init)
        if g.sync is not None:
            sess.run(g.sync)
        start = 0
        latest = tf.train.latest_checkpoint(args.checkpoint_dir) if args.resume else None
        if latest is not None:
            g.saver.restore(sess, latest)
            start = int(sess.run(g.epoch))
            if os.path.exists(hist_path):
                with open(hist_path) as f:
                    history = json.load(f)
            print(f"Resumed from {latest} (epoch {start} done).", file=log)
        elif args.resume:
            print(f"No checkpoint in {args.checkpoint_dir}: starting from scratch.", file=log)
        batches.epoch = start  # the shuffling and shifts of a resumed run match an uninterrupted one
        rng = np.random.default_rng([args.seed, start])
        for epoch in range(start, args.epochs):
            total = max(1, args.epochs * len(batches))

            def schedule(step: int, first: int = epoch * len(batches)) -> float:
                return learning_rate(args, first + step, total)

            lr, last_lr = schedule(0), schedule(len(batches) - 1)
            lr_text = f"{lr:.2e}" if last_lr == lr else f"{lr:.2e}->{last_lr:.2e}"  # first and last step

            bar = ProgressBar(len(x_train), f"epoch {epoch + 1:>2}/{args.epochs}", enabled=not args.quiet)
            stats = run_epoch(sess, g, batches, schedule, args.shift, rng, bar, writer)
            stats["images_per_s"] *= size  # all ranks together
            acc, _ = evaluate(sess, g, x_test, y_test)
            if writer is not None:
                writer.add_summary(sess.run(g.test_acc_summary, {g.test_acc_input: acc}), epoch + 1)
                writer.flush()
            sess.run(g.next_epoch)
            for key, value in (
                ("train_loss", stats["loss"]),
                ("train_acc", stats["acc"]),
                ("test_acc", acc),
                ("images_per_s", stats["images_per_s"]),
            ):
                history[key].append(value)
            print(
                f"epoch {epoch + 1}/{args.epochs}: loss {stats['loss']:.4f}  train acc {100 * stats['acc']:.2f}%  "
                f"test acc {100 * acc:.2f}%  lr {lr_text}  {stats['images_per_s']:,.0f} img/s  {stats['seconds']:.1f}s",
                file=log,
            )
            if ckpt_prefix:
                os.makedirs(args.checkpoint_dir, exist_ok=True)
                g.saver.save(sess, ckpt_prefix, global_step=epoch + 1)
                with open(hist_path, "w") as f:
                    json.dump(history, f)
        acc, preds = evaluate(sess, g, x_test, y_test)
    if writer is not None:
        writer.close()
        print(f"TensorBoard logs in {args.logdir}: tensorboard --logdir {args.logdir}", file=log)
    print(f"\nfinal test accuracy: {100 * acc:.2f}% on {len(x_test)} images", file=log)
    print("confusion matrix (rows: true digit, columns: predicted digit):", file=log)
    print(format_confusion(confusion_matrix(y_test, preds)), file=log)
    if args.plot and history["train_loss"] and plot_history(history, args.plot, f"{name} on MNIST"):
        print(f"training curves written to {args.plot}", file=log)
    return acc


# ---------------------------------------------------------------------------------------------
# The MLP
# ---------------------------------------------------------------------------------------------
def mlp(images: Any, training: Any) -> Any:
    """784 -> 256 -> 256 -> 10, ReLU, He-initialised, dropout 0.2 on the hidden layers while training."""
    he = tf.variance_scaling_initializer(scale=2.0)
    net = tf.layers.flatten(images)
    for i in (1, 2):
        net = tf.layers.dense(net, 256, activation=tf.nn.relu, kernel_initializer=he, name=f"fc{i}")
        net = tf.layers.dropout(net, rate=0.2, training=training, name=f"dropout{i}")
    return tf.layers.dense(net, 10, kernel_initializer=he, name="logits")


def main(argv: Sequence[str] | None = None) -> float:
    """Parses ``argv`` (default: the command line), trains the MLP, returns its test accuracy."""
    args = parse_args(argv, __doc__.splitlines()[0], epochs=10, batch_size=128, lr=1e-3, lr_decay=0.8)
    return train(mlp, args, "mnist_mlp")


if __name__ == "__main__":
    main()
