"""A 784-256-256-10 MLP on MNIST, written as a TF1 script (``import flowgraph as tf``).

Run ``python examples/mnist_mlp.py --help`` for the options. This file also holds the training
loop that ``mnist_lenet5.py`` reuses: placeholders, Adam with a per-epoch learning-rate decay, a
progress bar, one checkpoint per epoch (``--checkpoint-dir``, ``--resume``), the test evaluation
with ``tf.metrics.accuracy``, a confusion matrix and an optional training-curve PNG.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

import numpy as np

import flowgraph as tf
from flowgraph.datasets import mnist
from flowgraph.datasets.batching import BatchIterator, normalize, random_shift

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
    args = p.parse_args(argv)
    if args.resume and not args.checkpoint_dir:
        p.error("--resume needs --checkpoint-dir")
    if args.epochs < 0 or args.batch_size < 1 or args.lr <= 0:
        p.error("--epochs must be >= 0, --batch-size >= 1 and --lr > 0")
    return args


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
    """Images as float32 NHWC in [0, 1], labels as int64; ``--limit``/``--test-limit`` applied."""
    (x_train, y_train), (x_test, y_test) = mnist.load_data(args.data_dir)
    if args.limit:
        x_train, y_train = x_train[: args.limit], y_train[: args.limit]
    if args.test_limit:
        x_test, y_test = x_test[: args.test_limit], y_test[: args.test_limit]
    x_train = normalize(x_train)[..., None]
    x_test = normalize(x_test)[..., None]
    return x_train, y_train.astype(np.int64), x_test, y_test.astype(np.int64)


def train(
    build_model: Callable[[Any, Any], Any], args: argparse.Namespace, name: str, log: TextIO | None = None
) -> float:
    """Trains ``build_model(images, training) -> logits`` on MNIST; returns the final test accuracy.

    ``images`` is a float32 ``[batch, 28, 28, 1]`` placeholder and ``training`` a bool tensor
    (True while training, False when evaluating) for layers such as dropout.
    """
    log = log if log is not None else sys.stdout
    x_train, y_train, x_test, y_test = load_mnist(args)
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(args.seed)
        images = tf.placeholder(tf.float32, [None, 28, 28, 1], name="images")
        labels = tf.placeholder(tf.int64, [None], name="labels")
        training = tf.placeholder_with_default(False, [], name="training")
        learning_rate = tf.placeholder_with_default(np.float32(args.lr), [], name="learning_rate")
        logits = build_model(images, training)
        loss = tf.losses.sparse_softmax_cross_entropy(labels=labels, logits=logits)
        predictions = tf.argmax(logits, axis=1)
        batch_acc = tf.reduce_mean(tf.cast(tf.equal(predictions, labels), tf.float32))
        global_step = tf.train.get_or_create_global_step()
        with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
            train_op = tf.train.AdamOptimizer(learning_rate).minimize(loss, global_step=global_step)
        epoch_var = tf.Variable(0, trainable=False, name="epoch")
        next_epoch = tf.assign_add(epoch_var, 1)
        test_acc, test_acc_update = tf.metrics.accuracy(labels, predictions, name="test_accuracy")
        saver = tf.train.Saver(max_to_keep=2)
        init = tf.global_variables_initializer()
        local_init = tf.local_variables_initializer()
    graph.finalize()

    def evaluate(sess: Any) -> tuple[float, np.ndarray]:
        sess.run(local_init)
        preds = []
        for i in range(0, len(x_test), 1000):
            p, _ = sess.run(
                [predictions, test_acc_update], {images: x_test[i : i + 1000], labels: y_test[i : i + 1000]}
            )
            preds.append(p)
        return float(sess.run(test_acc)), np.concatenate(preds) if preds else np.zeros(0, np.int64)

    history: dict = {"train_loss": [], "train_acc": [], "test_acc": [], "images_per_s": []}
    ckpt_prefix = os.path.join(args.checkpoint_dir, name) if args.checkpoint_dir else None
    hist_path = os.path.join(args.checkpoint_dir, f"{name}_history.json") if args.checkpoint_dir else None
    batches = BatchIterator(x_train, y_train, args.batch_size, shuffle=True, seed=args.seed)
    aug_rng = np.random.default_rng(args.seed)
    with tf.Session(graph=graph) as sess:
        sess.run(init)
        start = 0
        if args.resume:
            latest = tf.train.latest_checkpoint(args.checkpoint_dir)
            if latest is None:
                print(f"No checkpoint in {args.checkpoint_dir}: starting from scratch.", file=log)
            else:
                saver.restore(sess, latest)
                start = int(sess.run(epoch_var))
                if hist_path and os.path.exists(hist_path):
                    with open(hist_path) as f:
                        history = json.load(f)
                print(f"Resumed from {latest} (epoch {start} done).", file=log)
        batches.epoch = start
        aug_rng = np.random.default_rng([args.seed, start])
        n = len(x_train)
        for epoch in range(start, args.epochs):
            lr = args.lr * args.lr_decay**epoch
            bar = ProgressBar(n, f"epoch {epoch + 1:>2}/{args.epochs}", enabled=not args.quiet)
            seen, loss_sum, correct = 0, 0.0, 0.0
            t0 = time.perf_counter()
            for xb, yb in batches:
                if args.shift:
                    xb = random_shift(xb, args.shift, aug_rng)
                feed = {images: xb, labels: yb, training: True, learning_rate: lr}
                _, l_val, a_val = sess.run([train_op, loss, batch_acc], feed)
                k = len(yb)
                seen += k
                loss_sum += float(l_val) * k
                correct += float(a_val) * k
                bar.update(seen, loss_sum / seen, correct / seen)
            dt = time.perf_counter() - t0
            bar.close(seen, loss_sum / max(seen, 1), correct / max(seen, 1))
            acc, _ = evaluate(sess)
            history["train_loss"].append(loss_sum / max(seen, 1))
            history["train_acc"].append(correct / max(seen, 1))
            history["test_acc"].append(acc)
            history["images_per_s"].append(seen / dt if dt > 0 else 0.0)
            sess.run(next_epoch)
            print(
                f"epoch {epoch + 1}/{args.epochs}: loss {loss_sum / max(seen, 1):.4f}  train acc "
                f"{100 * correct / max(seen, 1):.2f}%  test acc {100 * acc:.2f}%  lr {lr:.2e}  "
                f"{seen / dt if dt > 0 else 0:,.0f} img/s  {dt:.1f}s",
                file=log,
            )
            if ckpt_prefix:
                os.makedirs(args.checkpoint_dir, exist_ok=True)
                saver.save(sess, ckpt_prefix, global_step=epoch + 1)
                with open(hist_path, "w") as f:
                    json.dump(history, f)
        acc, preds = evaluate(sess)
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
