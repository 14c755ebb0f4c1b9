"""Batch-minor kernels: (C, H, W, N)-ordered activations give the NHWC kernels' results exactly.

Each case runs a graph twice, once with batch-minor kernels and once with them switched off, and
checks both against the plain-loop references of ``cases_conv``; layouts are checked on the
values the kernels hand each other, and fetches come back C-ordered either way.
"""

import pathlib
import sys

import numpy as np
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from cases_conv import (  # noqa: E402
    ref_avg_pool,
    ref_avg_pool_grad,
    ref_conv,
    ref_conv_filter_grad,
    ref_conv_input_grad,
    ref_max_pool,
    ref_max_pool_grad,
)

import flowgraph as tf  # noqa: E402
from flowgraph.ops import batch_minor as bm  # noqa: E402
from flowgraph.ops import conv as nn  # noqa: E402
from flowgraph.runtime import intra_op  # noqa: E402

RNG = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def fresh_graph():
    with tf.Graph().as_default() as g:
        yield g


@pytest.fixture(params=["one thread", "pieces on 3 threads"])
def threads(request, monkeypatch):
    """Every case runs with intra-op pieces off, and with the smallest work split over 3 threads."""
    if request.param == "one thread":
        return 1
    monkeypatch.setattr(intra_op, "MIN_WORK", 1)
    return 3


def run(fetches, feed=None, threads=1):
    with tf.Session(config=tf.ConfigProto(intra_op_parallelism_threads=threads)) as sess:
        return sess.run(fetches, feed)


def both_layouts(monkeypatch, build, expect=(), threads=1):
    """(batch-minor results, NHWC results) of the fetches ``build()`` returns, on fresh graphs.

    ``expect`` names the ``batch_minor`` kernels the first run must have called.
    """
    calls = []
    for name in ("conv_forward", "conv_input_grad", "conv_filter_grad", "bias_add_grad"):
        real = getattr(bm, name)
        monkeypatch.setattr(bm, name, lambda *a, _r=real, _n=name, **k: calls.append(_n) or _r(*a, **k))
    out = []
    for min_batch in (1, 10**9):
        monkeypatch.setattr(bm, "_MIN_BATCH", min_batch)
        with tf.Graph().as_default():
            fetches, feed = build()
            out.append(run(fetches, feed, threads))
        if min_batch == 1:
            assert set(expect) <= set(calls), f"batch-minor kernels not taken: {set(expect) - set(calls)}"
        else:
            assert calls == []
        calls.clear()
    return out


CONVS = [
    # x shape, w shape, strides, padding, dilations
    ((16, 9, 8, 1), (5, 5, 1, 6), (1, 1), "SAME", (1, 1)),  # LeNet conv1 (small GEMM, row bands)
    ((16, 7, 7, 6), (5, 5, 6, 16), (1, 1), "VALID", (1, 1)),  # LeNet conv2
    ((17, 9, 7, 3), (3, 2, 3, 4), (2, 2), "SAME", (1, 1)),  # stride 2, odd sizes
    ((16, 10, 9, 2), (3, 3, 2, 3), (1, 2), "VALID", (2, 1)),  # dilation, mixed strides
    ((16, 8, 8, 4), (3, 3, 4, 5), (3, 3), "VALID", (1, 1)),  # stride leaves unread rows
]


@pytest.mark.parametrize("x_shape, w_shape, strides, padding, dilations", CONVS)
def test_conv_forward_and_both_gradients_match_references(
    monkeypatch, threads, x_shape, w_shape, strides, padding, dilations
):
    x_val, w_val = RNG.standard_normal(x_shape), RNG.standard_normal(w_shape)
    want_y = ref_conv(x_val, w_val, strides, padding, dilations)
    g_val = RNG.standard_normal(want_y.shape)

    def build():
        x = tf.placeholder(tf.float64, x_shape)
        w = tf.constant(w_val)
        y = tf.nn.conv2d(x, w, [1, *strides, 1], padding, dilations=[1, *dilations, 1])
        # A 1x1 max pool is the identity; its gradient (MaxPoolGrad) hands g to the convolution batch-minor.
        same = tf.nn.max_pool(y, [1, 1, 1, 1], [1, 1, 1, 1], "VALID")
        dx, dw = tf.gradients(same, [x, w], grad_ys=tf.constant(g_val))
        return [y, dx, dw], {x: x_val}

    expect = ("conv_forward", "conv_input_grad", "conv_filter_grad")
    for y, dx, dw in both_layouts(monkeypatch, build, expect, threads):
        np.testing.assert_allclose(y, want_y, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(dx, ref_conv_input_grad(x_shape, w_val, g_val, strides, padding, dilations),
                                   rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(dw, ref_conv_filter_grad(x_val, w_shape, g_val, strides, padding, dilations),
                                   rtol=1e-10, atol=1e-10)
        assert y.flags.c_contiguous and dx.flags.c_contiguous  # fetches leave in C order


@pytest.mark.parametrize("rows_per_chunk", [2, 1 / 3])
def test_small_gemms_run_in_column_chunks_with_the_same_result(monkeypatch, threads, rows_per_chunk):
    x_val, w_val = RNG.standard_normal((16, 9, 8, 1)), RNG.standard_normal((5, 5, 1, 6))
    g_val = RNG.standard_normal((16, 9, 8, 6))
    monkeypatch.setattr(bm, "_SMALL_MNK", int(150 * 8 * 16 * rows_per_chunk))  # a chunk: 2 rows, or a third of one

    def build():
        x = tf.placeholder(tf.float64, x_shape := x_val.shape)
        y = tf.nn.conv2d(x, tf.constant(w_val), [1, 1, 1, 1], "SAME")
        assert x_shape == (16, 9, 8, 1)
        return [y, *tf.gradients(y, [x], grad_ys=tf.constant(g_val))], {x: x_val}

    for y, dx in both_layouts(monkeypatch, build, ("conv_forward",), threads):
        np.testing.assert_allclose(y, ref_conv(x_val, w_val, padding="SAME"), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(dx, ref_conv_input_grad(x_val.shape, w_val, g_val, padding="SAME"),
                                   rtol=1e-10, atol=1e-10)
    assert len(bm._column_chunks(9 * 8 * 16, 150, unit=8 * 16)) == (5 if rows_per_chunk == 2 else 9)


@pytest.mark.parametrize("k, s, padding", [(2, 2, "VALID"), (3, 2, "SAME"), (3, 1, "VALID")])
def test_pools_and_their_gradients_follow_a_batch_minor_input(monkeypatch, threads, k, s, padding):
    x_val = RNG.standard_normal((16, 7, 8, 6))
    x_val[:, :2, :2] = 0.5  # ties: the gradient goes to each window's first maximum

    def build():
        x = tf.placeholder(tf.float64, x_val.shape)
        w = tf.constant(np.eye(6).reshape(1, 1, 6, 6))  # identity conv: makes the pool input batch-minor
        h = tf.nn.conv2d(x, w, [1, 1, 1, 1], "VALID")
        mp = tf.nn.max_pool(h, [1, k, k, 1], [1, s, s, 1], padding)
        ap = tf.nn.avg_pool(h, [1, k, k, 1], [1, s, s, 1], padding)
        gm = tf.constant(RNG.standard_normal((16, *mp.shape.as_list()[1:])))
        (dmax,) = tf.gradients(mp, [h], grad_ys=gm)
        (davg,) = tf.gradients(ap, [h], grad_ys=gm)
        return [mp, ap, dmax, davg, gm], {x: x_val}

    for mp, ap, dmax, davg, gm in both_layouts(monkeypatch, build, threads=threads):
        np.testing.assert_allclose(mp, ref_max_pool(x_val, (k, k), (s, s), padding), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(ap, ref_avg_pool(x_val, (k, k), (s, s), padding), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(dmax, ref_max_pool_grad(x_val, gm, (k, k), (s, s), padding), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(davg, ref_avg_pool_grad(x_val.shape, gm, (k, k), (s, s), padding), rtol=1e-12, atol=1e-12)


def test_lenet_block_gradients_agree_across_layouts(monkeypatch, threads):
    """conv -> bias -> relu -> pool -> conv -> relu -> pool -> reshape -> dense: every gradient."""
    x_val = RNG.random((16, 12, 12, 1))
    params = {
        "w1": RNG.standard_normal((5, 5, 1, 6)) * 0.3, "b1": RNG.standard_normal(6) * 0.1,
        "w2": RNG.standard_normal((3, 3, 6, 4)) * 0.3, "b2": RNG.standard_normal(4) * 0.1,
        "w3": RNG.standard_normal((16, 3)) * 0.3,
    }

    def build():
        x = tf.placeholder(tf.float64, x_val.shape)
        v = {k: tf.constant(a) for k, a in params.items()}
        h = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, v["w1"], [1, 1, 1, 1], "SAME"), v["b1"]))
        h = tf.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
        h = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(h, v["w2"], [1, 1, 1, 1], "VALID"), v["b2"]))
        h = tf.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
        loss = tf.reduce_sum(tf.square(tf.matmul(tf.reshape(h, [16, 16]), v["w3"])))
        return [loss, h, *tf.gradients(loss, [x, *v.values()])], {x: x_val}

    minor, major = both_layouts(monkeypatch, build, ("conv_forward", "conv_input_grad", "conv_filter_grad",
                                                     "bias_add_grad"), threads)
    for a, b in zip(minor, major):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_kernels_hand_each_other_batch_minor_views():
    x = RNG.standard_normal((16, 8, 8, 2)).astype(np.float32)
    w = RNG.standard_normal((3, 3, 2, 4)).astype(np.float32)
    gh = nn._Axis(8, 3, 1, 1, "SAME", (0, 0), "Conv2D")
    assert bm.use_for(np, x) and not bm.is_batch_minor(x)
    y, cols = bm.conv_forward(np, x, w, gh, gh)
    assert bm.is_batch_minor(y) and cols.shape == (3 * 3 * 2, 8 * 8 * 16)
    assert bm.is_batch_minor(np.maximum(y, 0)) and bm.is_batch_minor(y + np.ones(4, np.float32))
    np.testing.assert_allclose(bm.bias_add_grad(np, y), y.sum(axis=(0, 1, 2)), rtol=1e-4)
    assert not bm.use_for(np, RNG.standard_normal((4, 8, 8, 2)))  # small batches stay NHWC
    assert not bm.use_for(np, RNG.standard_normal((16, 8, 8, 64)))  # so do wide layers
    assert not bm.use_for(np, bm.logical(np.zeros((64, 8, 8, 16))))  # even after a batch-minor layer


def test_a_wide_layer_after_a_batch_minor_one_runs_nhwc_with_the_same_result(monkeypatch, threads):
    """3 -> 32 channels (batch-minor out), then 32 -> 4 (NHWC): both directions of the hand-over."""
    x_val = RNG.standard_normal((16, 6, 6, 3))
    w1, w2 = RNG.standard_normal((3, 3, 3, 32)), RNG.standard_normal((3, 3, 32, 4))

    def build():
        x = tf.placeholder(tf.float64, x_val.shape)
        h = tf.nn.conv2d(x, tf.constant(w1), [1, 1, 1, 1], "SAME")
        y = tf.nn.conv2d(h, tf.constant(w2), [1, 1, 1, 1], "VALID")
        return [y, *tf.gradients(tf.reduce_sum(y * y), [x])], {x: x_val}

    h_ref = ref_conv(x_val, w1, padding="SAME")
    y_ref = ref_conv(h_ref, w2)
    dx_ref = ref_conv_input_grad(x_val.shape, w1, ref_conv_input_grad(h_ref.shape, w2, 2 * y_ref), padding="SAME")
    for y, dx in both_layouts(monkeypatch, build, ("conv_forward",), threads):
        np.testing.assert_allclose(y, y_ref, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(dx, dx_ref, rtol=1e-10, atol=1e-10)
