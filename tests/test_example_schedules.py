"""The MNIST examples' one-epoch recipe options: learning-rate schedules, weight averaging, standardized inputs."""

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import flowgraph as tf

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load_example(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def mlp():
    return load_example("mnist_mlp")


@pytest.fixture(autouse=True)
def one_blas_thread():
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def rates(mlp, argv, total):
    args = mlp.parse_args(argv, "x")
    return [mlp.learning_rate(args, s, total) for s in range(total)]


def test_per_epoch_decay_is_unchanged(mlp):
    got = rates(mlp, ["--lr", "0.01", "--lr-decay", "0.5", "--epochs", "3"], 30)
    np.testing.assert_allclose(got, [0.01 * 0.5 ** (s // 10) for s in range(30)], rtol=1e-15)
    got = rates(mlp, ["--lr", "0.01", "--lr-end", "0.0001", "--epochs", "2"], 20)
    np.testing.assert_allclose(got, [0.01 * 0.01 ** (s / 20) for s in range(20)], rtol=1e-12)


def test_warmup_then_cosine_and_linear(mlp):
    total, warm = 100, 10
    cos = rates(mlp, ["--lr", "0.02", "--lr-schedule", "cosine", "--warmup", "0.1"], total)
    lin = rates(mlp, ["--lr", "0.02", "--lr-schedule", "linear", "--warmup", "0.1"], total)
    for s in range(warm):
        assert cos[s] == lin[s] == pytest.approx(0.02 * (s + 1) / warm)
    for s in range(warm, total):
        p = (s - warm) / (total - warm)
        assert cos[s] == pytest.approx(0.02 * 0.5 * (1 + math.cos(math.pi * p)))
        assert lin[s] == pytest.approx(0.02 * (1 - p))
    assert cos[warm] == pytest.approx(0.02) and cos[-1] < 1e-5


def test_cosine_matches_tf_cosine_decay(mlp):
    total = 50
    got = rates(mlp, ["--lr", "0.004", "--lr-schedule", "cosine"], total)
    with tf.Graph().as_default():
        step = tf.placeholder(tf.int64, [])
        lr = tf.train.cosine_decay(0.004, step, total)
        with tf.Session() as sess:
            want = [float(sess.run(lr, {step: s})) for s in range(total)]
    np.testing.assert_allclose(got, want, rtol=1e-5)  # the graph computes in float32


def test_bad_recipe_options_are_refused(mlp):
    for argv in (["--warmup", "1.5"], ["--ema", "1.0"], ["--lr-schedule", "cosine", "--lr-end", "1e-5"]):
        with pytest.raises(SystemExit):
            mlp.parse_args(argv, "x")


def test_standardize_uses_the_mnist_statistics(mlp):
    args = mlp.parse_args(["--standardize", "--limit", "2000", "--test-limit", "100"], "x")
    x_train, _, x_test, _ = mlp.load_mnist(args)
    assert x_train.dtype == np.float32 and x_test.shape == (100, 28, 28, 1)
    assert abs(float(x_train.mean())) < 0.05 and abs(float(x_train.std()) - 1.0) < 0.05
    assert float(x_train.min()) == pytest.approx(-0.1307 / 0.3081, rel=1e-5)


def test_averaged_weights_are_evaluated_and_the_trained_ones_put_back(mlp):
    lenet = load_example("mnist_lenet5")
    args = mlp.parse_args(["--limit", "640", "--test-limit", "300"], "x")
    x, y, x_test, y_test = mlp.load_mnist(args)
    g = mlp.build_graph(lenet.lenet5, seed=0, ema=0.9)
    weights = g.graph.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES)
    names = {v.op.name for v in g.graph.get_collection(tf.GraphKeys.GLOBAL_VARIABLES)}
    assert "conv1/kernel/ExponentialMovingAverage" in names
    assert not any("backup" in n for n in names)  # the copies are not saved in checkpoints
    with tf.Session(graph=g.graph) as sess:
        sess.run(g.init)
        for i in range(0, 640, 64):
            sess.run(g.train_op, {g.images: x[i : i + 64], g.labels: y[i : i + 64], g.learning_rate: 3e-3})
        trained = sess.run(weights)
        averages = sess.run([g.graph.get_tensor_by_name(f"{w.op.name}/ExponentialMovingAverage:0") for w in weights])
        assert any(not np.array_equal(a, t) for a, t in zip(averages, trained))
        acc, preds = mlp.evaluate(sess, g, x_test, y_test)
        for w, t in zip(sess.run(weights), trained):
            np.testing.assert_array_equal(w, t)
        sess.run(g.use_averages)
        for w, a in zip(sess.run(weights), averages):
            np.testing.assert_array_equal(w, a)
        np.testing.assert_array_equal(sess.run(g.predictions, {g.images: x_test}), preds)
        sess.run(g.use_trained)
    assert acc == pytest.approx(float(np.mean(preds == y_test)))


def test_lenet5_one_epoch_recipe_runs(capsys):
    lenet = load_example("mnist_lenet5")
    argv = ["--epochs", "1", "--limit", "1280", "--test-limit", "500", "--quiet", "--batch-size", "32"]
    acc = lenet.main([*argv, "--lr-schedule", "cosine", "--warmup", "0.05", "--ema", "0.99", "--standardize"])
    assert "final test accuracy" in capsys.readouterr().out
    assert acc > 0.6, acc


def test_demo_recipe_is_one_epoch_of_the_lenet5_defaults(mlp):
    lenet = load_example("mnist_lenet5")
    args = mlp.parse_args(lenet.ONE_EPOCH, "x", batch_size=64, shift=1)
    assert (args.epochs, args.batch_size, args.shift, args.lr_schedule) == (1, 64, 1, "cosine")
    assert "mnist_lenet5.ONE_EPOCH" in (EXAMPLES / "demo.py").read_text()
