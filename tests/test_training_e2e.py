"""End to end on real MNIST (data/mnist): a small CNN's loss falls, an MLP learns, the examples run."""

import importlib.util
import io
import os
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import flowgraph as tf
from flowgraph import layers, losses
from flowgraph import nn as tf_nn
from flowgraph import train as tf_train
from flowgraph.datasets import mnist
from flowgraph.datasets.batching import BatchIterator, normalize

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(autouse=True)
def one_blas_thread():
    """CI runs two pytest workers on two cores: a second BLAS thread per worker only spins."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(scope="module")
def data():
    (x_train, y_train), (x_test, y_test) = mnist.load_data(download=False)
    return (
        normalize(x_train[:5000])[..., None],
        y_train[:5000].astype(np.int64),
        normalize(x_test[:1000])[..., None],
        y_test[:1000].astype(np.int64),
    )


def build(model, lr):
    images = tf.placeholder(tf.float32, [None, 28, 28, 1])
    labels = tf.placeholder(tf.int64, [None])
    logits = model(images)
    loss = losses.sparse_softmax_cross_entropy(labels=labels, logits=logits)
    train_op = tf_train.AdamOptimizer(lr).minimize(loss)
    accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), labels), tf.float32))
    return images, labels, loss, train_op, accuracy


def test_small_cnn_loss_falls_on_1000_images(data):
    x_train, y_train, _, _ = data

    def cnn(images):
        net = layers.conv2d(images, 8, 3, padding="same", activation=tf_nn.relu)
        net = layers.max_pooling2d(net, 2, 2)
        net = layers.conv2d(net, 16, 3, activation=tf_nn.relu)
        net = layers.max_pooling2d(net, 2, 2)
        return layers.dense(layers.flatten(net), 10)

    with tf.Graph().as_default():
        tf.set_random_seed(0)
        images, labels, loss, train_op, _ = build(cnn, 3e-3)
        x, y = x_train[:1000], y_train[:1000]
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            first = sess.run(loss, {images: x, labels: y})
            for _ in range(3):
                for xb, yb in BatchIterator(x, y, 50, seed=0):
                    sess.run(train_op, {images: xb, labels: yb})
            last = sess.run(loss, {images: x, labels: y})
    assert first > 2.0
    assert last < 0.6 * first and last < 0.8, (first, last)


def test_mlp_reaches_sanity_accuracy(data):
    x_train, y_train, x_test, y_test = data

    def mlp(images):
        net = layers.dense(layers.flatten(images), 128, activation=tf_nn.relu)
        return layers.dense(net, 10)

    with tf.Graph().as_default():
        tf.set_random_seed(1)
        images, labels, _, train_op, accuracy = build(mlp, 1e-3)
        batches = BatchIterator(x_train, y_train, 64, seed=1)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            steps = 0
            while steps < 300:
                for xb, yb in batches:
                    sess.run(train_op, {images: xb, labels: yb})
                    steps += 1
            acc = sess.run(accuracy, {images: x_test, labels: y_test})
    assert acc > 0.88, acc


def load_example(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_lenet5_example_trains_checkpoints_and_resumes(tmp_path, capsys):
    lenet = load_example("mnist_lenet5")
    ckpt = tmp_path / "ckpt"
    common = ["--limit", "640", "--test-limit", "500", "--checkpoint-dir", str(ckpt), "--quiet"]
    acc1 = lenet.main(["--epochs", "1", *common])
    assert 0.0 <= acc1 <= 1.0
    assert any(name.startswith("mnist_lenet5-1") for name in os.listdir(ckpt))
    acc2 = lenet.main(["--epochs", "2", "--resume", *common])
    out = capsys.readouterr().out
    assert "Resumed from" in out and "epoch 1 done" in out
    assert "epoch 2/2" in out and "epoch 1/2" not in out
    assert "confusion matrix" in out and "final test accuracy" in out
    assert acc2 > 0.5, acc2


def test_mlp_example_progress_bar_and_plot(tmp_path, capsys):
    mlp = load_example("mnist_mlp")
    plot = tmp_path / "curves.png"
    acc = mlp.main(
        ["--epochs", "1", "--limit", "2000", "--batch-size", "64", "--test-limit", "500", "--plot", str(plot)]
    )
    captured = capsys.readouterr()
    assert "\r" in captured.err and "img/s" in captured.err and "loss" in captured.err
    assert acc > 0.75, acc
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "matplotlib is not installed" in captured.err
    else:
        assert plot.stat().st_size > 1000


def test_example_helpers():
    mlp = load_example("mnist_mlp")
    m = mlp.confusion_matrix(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]), num_classes=3)
    np.testing.assert_array_equal(m, [[1, 0, 0], [0, 1, 1], [0, 0, 1]])
    text = mlp.format_confusion(m)
    assert "recall" in text and " 50.00%" in text
    bar = mlp.ProgressBar(100, "epoch 1/1", stream=io.StringIO())
    assert "[############............]  50.0%" in bar.line(50, 0.5, 0.9)
    with pytest.raises(SystemExit):
        mlp.parse_args(["--resume"], "x")


def test_lenet5_example_writes_tensorboard_logs(tmp_path):
    pytest.importorskip("tensorboard", reason="the 'tensorboard' extra is not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    load_example("mnist_lenet5").main(["--epochs", "1", "--limit", "640", "--test-limit", "200", "--quiet", "--logdir", str(tmp_path)])
    ea = EventAccumulator(str(tmp_path), size_guidance={"images": 0, "histograms": 0, "scalars": 0})
    ea.Reload()
    tags = ea.Tags()
    assert {"summaries/loss", "summaries/batch_accuracy", "summaries/test_accuracy"} <= set(tags["scalars"])
    assert "summaries/conv1_kernel" in tags["histograms"]
    assert len(tags["images"]) == 3
    assert tags["graph"]
