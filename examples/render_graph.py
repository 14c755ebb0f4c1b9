"""Draws graphs with flowgraph.viz: the intro graph, LeNet-5's training graph and a profiled step.

    python examples/render_graph.py                 # writes into out/graphs/
    python examples/render_graph.py --out some/dir  # elsewhere
    python examples/render_graph.py --docs          # also refreshes the README's docs/images/

Writes abc_graph.{svg,png}, lenet5_graph.{svg,png}, lenet5_profile.{svg,png} and
lenet5_step_trace.json (open it in chrome://tracing or ui.perfetto.dev to see which nodes ran
in parallel on which thread). Needs Graphviz's `dot` (`make demo` installs it).
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

import numpy as np

import flowgraph as tf
from flowgraph import viz
from flowgraph.client import timeline

REPO = Path(__file__).resolve().parents[1]


def abc_graph() -> tf.Tensor:
    """a = (b + c) * (c + 2): d and e are independent, so the Session may run them at once."""
    b = tf.placeholder(tf.float32, shape=[None], name="b")
    c = tf.placeholder(tf.float32, shape=[None], name="c")
    d = tf.add(b, c, name="d")
    e = tf.add(c, 2.0, name="e")
    return tf.multiply(d, e, name="a")


def _conv(x: tf.Tensor, size: int, filters: int, padding: str, name: str) -> tf.Tensor:
    with tf.variable_scope(name):
        w = tf.get_variable("weights", [size, size, x.shape[-1], filters],
                            initializer=tf.truncated_normal_initializer(stddev=0.1))
        b = tf.get_variable("biases", [filters], initializer=tf.zeros_initializer())
        return tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, w, strides=[1, 1, 1, 1], padding=padding), b))


def _pool(x: tf.Tensor, name: str) -> tf.Tensor:
    return tf.nn.max_pool(x, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="VALID", name=name)


def _dense(x: tf.Tensor, units: int, name: str, relu: bool = True) -> tf.Tensor:
    with tf.variable_scope(name):
        w = tf.get_variable("weights", [x.shape[-1], units],
                            initializer=tf.truncated_normal_initializer(stddev=0.1))
        b = tf.get_variable("biases", [units], initializer=tf.zeros_initializer())
        y = tf.nn.bias_add(tf.matmul(x, w), b)
        return tf.nn.relu(y) if relu else y


def lenet5() -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Operation]:
    """LeNet-5 on 28x28 MNIST-shaped images: (images, labels, loss, Adam train op)."""
    images = tf.placeholder(tf.float32, [None, 28, 28, 1], name="images")
    labels = tf.placeholder(tf.float32, [None, 10], name="labels")
    h = _pool(_conv(images, 5, 6, "SAME", "conv1"), "pool1")  # 14x14x6
    h = _pool(_conv(h, 5, 16, "VALID", "conv2"), "pool2")  # 5x5x16
    h = tf.reshape(h, [-1, 5 * 5 * 16], name="flatten")
    h = _dense(_dense(h, 120, "fc1"), 84, "fc2")
    logits = _dense(h, 10, "logits", relu=False)
    with tf.name_scope("loss"):
        loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=labels, logits=logits))
    train = tf.train.AdamOptimizer(1e-3).minimize(loss)
    return images, labels, loss, train


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="out/graphs", help="output directory (default: out/graphs)")
    parser.add_argument("--docs", action="store_true", help="also write the README images into docs/images/")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    written = []

    # 1. The intro graph, constants drawn as nodes so every node kind shows.
    g = tf.Graph()
    with g.as_default():
        a = abc_graph()
    for fmt in ("svg", "png"):
        written.append(viz.render(a, out / f"abc_graph.{fmt}", fold_constants=False, legend=True,
                                  title="a = (b + c) * (c + 2)", dpi=110 if fmt == "png" else None))

    # 2. LeNet-5's training graph: backprop (~60 ops) and each variable's Adam update as single nodes.
    g = tf.Graph()
    with g.as_default():
        tf.set_random_seed(0)
        images, labels, loss, train = lenet5()
        init = tf.global_variables_initializer()
    for fmt in ("svg", "png"):
        written.append(viz.render([train, loss], out / f"lenet5_graph.{fmt}", collapse=["gradients", "Adam/*"],
                                  legend=True, title="LeNet-5 + Adam (gradients collapsed)",
                                  dpi=80 if fmt == "png" else None))

    # 3. One traced training step: each layer's backprop and each Adam update as one timed node.
    rng = np.random.default_rng(0)
    feed = {images: rng.random((64, 28, 28, 1), dtype=np.float32),
            labels: np.eye(10, dtype=np.float32)[rng.integers(0, 10, 64)]}
    # Two inter-op threads, one BLAS thread each: ops overlap without fighting over the cores.
    config = tf.ConfigProto(inter_op_parallelism_threads=2, intra_op_parallelism_threads=1)
    with tf.Session(graph=g, config=config) as sess:
        sess.run(init)
        for _ in range(3):  # warm-up: plans built, caches hot
            sess.run(train, feed)
        # The quietest of a few traced steps, so a busy machine's hiccups don't pose as hot spots.
        runs = []
        for _ in range(5):
            md = tf.RunMetadata()
            sess.run([train, loss], feed, options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE),
                     run_metadata=md)
            stats = md.step_stats.dev_stats[0].node_stats
            runs.append((max(s.end_ns for s in stats) - min(s.start_ns for s in stats), md))
        md = min(runs, key=lambda r: r[0])[1]
        trace = timeline.Timeline(md.step_stats).generate_chrome_trace_format()
    (out / "lenet5_step_trace.json").write_text(trace)
    written.append(str(out / "lenet5_step_trace.json"))
    for fmt in ("svg", "png"):
        written.append(viz.render([train, loss], out / f"lenet5_profile.{fmt}", run_metadata=md,
                                  collapse=["gradients/*", "Adam/*"], edge_labels=False,
                                  title="LeNet-5: one profiled training step (batch 64)",
                                  dpi=80 if fmt == "png" else None))

    for p in written:
        print(f"wrote {p} ({os.path.getsize(p) / 1024:.0f} KB)")
    if args.docs:
        docs = REPO / "docs" / "images"
        docs.mkdir(parents=True, exist_ok=True)
        for name in ("abc_graph.svg", "lenet5_profile.png"):
            _publish(out / name, docs / name)
            print(f"wrote {docs / name} ({os.path.getsize(docs / name) / 1024:.0f} KB)")


def _publish(src: Path, dst: Path) -> None:
    """Copies an image for the README; a PNG goes to a 128-colour palette (about 3x smaller) when
    Pillow is installed, which the flat colours of a graph drawing survive unchanged."""
    try:
        from PIL import Image
    except ImportError:
        shutil.copyfile(src, dst)
        return
    if src.suffix != ".png":
        shutil.copyfile(src, dst)
        return
    with Image.open(src) as im:
        im.convert("RGB").quantize(colors=128, dither=Image.Dither.NONE).save(dst, optimize=True)


if __name__ == "__main__":
    main()
