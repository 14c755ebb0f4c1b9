"""Ops and training on a CUDA GPU (CuPy) against the CPU; skipped without CuPy and a CUDA device.

Runs a sample of the op case tables (``tests/ops/cases_*.py``) with every op on ``/gpu:0``, a few
training steps of a small CNN on the GPU against the CPU, and a graph split across both devices.
"""

from __future__ import annotations

import importlib.util
import pathlib
import sys

import numpy as np
import pytest

import flowgraph as tf
from flowgraph.backend import cupy_module

pytestmark = pytest.mark.skipif(cupy_module() is None, reason="CuPy or a CUDA device is missing")

OPS_DIR = pathlib.Path(__file__).resolve().parent.parent / "ops"
if str(OPS_DIR) not in sys.path:
    sys.path.insert(0, str(OPS_DIR))

#: How many cases to take from each table (evenly spaced), so the GPU run stays short.
PER_TABLE = 12


def _sample_cases() -> list:
    cases = []
    for path in sorted(OPS_DIR.glob("cases_*.py")):
        if path.stem == "cases_random":  # random streams are drawn on the host per device: not comparable
            continue
        spec = importlib.util.spec_from_file_location(f"_fg_gpu_{path.stem}", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        table = [c for c in mod.CASES if all(np.asarray(a).dtype != object for a in c.inputs)]
        step = max(1, len(table) // PER_TABLE)
        cases.extend(table[::step][:PER_TABLE])
    return cases


CASES = _sample_cases()


def _flat(x):
    return list(x) if isinstance(x, list | tuple) else [x]


def _run_case(case, device: str):
    g = tf.Graph()
    with g.as_default(), tf.device(device):
        phs = [tf.placeholder(tf.as_dtype(a.dtype), shape=a.shape, name=f"in{i}") for i, a in enumerate(case.inputs)]
        outs = _flat(case.build(*phs))
    with tf.Session(graph=g, config=tf.ConfigProto(allow_soft_placement=True)) as sess:
        return outs, sess.run(outs, dict(zip(phs, case.inputs)))


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_op_on_gpu_matches_cpu(case):
    outs, cpu = _run_case(case, "/cpu:0")
    _, gpu = _run_case(case, "/gpu:0")
    for t, c, gv in zip(outs, cpu, gpu):
        assert not hasattr(gv, "__cuda_array_interface__"), f"{t.name}: fetched a device array"
        c, gv = np.asarray(c), np.asarray(gv)
        assert gv.shape == c.shape and gv.dtype == c.dtype, t.name
        if c.dtype.kind in "fc":
            np.testing.assert_allclose(gv, c, rtol=max(case.rtol, 1e-5), atol=max(case.atol, 1e-6), equal_nan=True)
        else:
            np.testing.assert_array_equal(gv, c)


def _cnn_steps(device: str, steps: int = 3):
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((16, 12, 12, 1)).astype(np.float32)
    ys = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 16)]
    g = tf.Graph()
    with g.as_default(), tf.device(device):
        x = tf.placeholder(tf.float32, [None, 12, 12, 1])
        y = tf.placeholder(tf.float32, [None, 10])
        w1 = tf.Variable(rng.standard_normal((3, 3, 1, 4)).astype(np.float32) * 0.3)
        w2 = tf.Variable(rng.standard_normal((6 * 6 * 4, 10)).astype(np.float32) * 0.1)
        h = tf.nn.relu(tf.nn.conv2d(x, w1, [1, 1, 1, 1], "SAME"))
        h = tf.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
        logits = tf.matmul(tf.reshape(h, [-1, 6 * 6 * 4]), w2)
        loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=y, logits=logits))
        train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
        init = tf.global_variables_initializer()
    with tf.Session(graph=g) as sess:
        sess.run(init)
        losses = [sess.run([train, loss], {x: xs, y: ys})[1] for _ in range(steps)]
        return losses, sess.run([w1, w2])


def test_cnn_training_on_gpu_matches_cpu():
    cpu_losses, cpu_w = _cnn_steps("/cpu:0")
    gpu_losses, gpu_w = _cnn_steps("/gpu:0")
    np.testing.assert_allclose(gpu_losses, cpu_losses, rtol=1e-4, atol=1e-4)
    for a, b in zip(gpu_w, cpu_w):
        assert type(a) is np.ndarray
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_mixed_placement_copies_between_cpu_and_gpu():
    cp = cupy_module()
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    g = tf.Graph()
    with g.as_default():
        xp = tf.placeholder(tf.float32, [3, 4])
        with tf.device("/gpu:0"):
            v = tf.Variable(np.ones((4, 2), np.float32), name="v_gpu")
            h = tf.matmul(xp, v)
        with tf.device("/cpu:0"):
            c = tf.reduce_sum(h * 2.0)
        with tf.device("/gpu:0"):
            out = c + tf.reduce_sum(h)
        init = tf.global_variables_initializer()
    with tf.Session(graph=g) as sess:
        sess.run(init)
        assert isinstance(sess._rt.variables[v.op], cp.ndarray)
        hv, cv, ov = sess.run([h, c, out], {xp: x})
    want_h = x @ np.ones((4, 2), np.float32)
    assert type(hv) is np.ndarray
    np.testing.assert_allclose(hv, want_h)
    np.testing.assert_allclose(cv, 2 * want_h.sum())
    np.testing.assert_allclose(ov, 3 * want_h.sum())


def test_log_device_placement_names_the_gpu(capsys):
    g = tf.Graph()
    with g.as_default(), tf.device("/gpu:0"):
        y = tf.add(tf.constant(1.0), 2.0, name="gpu_add")
    with tf.Session(graph=g, config=tf.ConfigProto(log_device_placement=True)) as sess:
        assert sess.run(y) == 3.0
    assert "gpu_add: (AddV2): /device:GPU:0" in capsys.readouterr().out


def test_cuda_out_of_memory_is_resource_exhausted():
    free, _total = cupy_module().cuda.runtime.memGetInfo()
    g = tf.Graph()
    with g.as_default(), tf.device("/gpu:0"):
        dims = tf.placeholder(tf.int64, [1])  # fed, so no host array of that size is ever made
        y = tf.reduce_sum(tf.fill(dims, 0.0), name="sum_too_big")
    with tf.Session(graph=g) as sess, pytest.raises(tf.errors.ResourceExhaustedError, match="bytes"):
        sess.run(y, {dims: [int(free)]})  # float32 elements: about 4x the free memory
