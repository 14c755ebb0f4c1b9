"""Intra-op pieces: results in order, every piece finished before an error propagates, BLAS shared."""

from __future__ import annotations

import threading
import time

import pytest

from flowgraph.runtime import intra_op
from flowgraph.runtime.intra_op import IntraOp, slabs


def test_map_returns_results_in_part_order_from_several_threads():
    seen = set()

    def piece(i):
        seen.add(threading.get_ident())
        time.sleep(0.01)  # long enough that the pool's threads take their share
        return i * i

    assert IntraOp(3).map(piece, list(range(7))) == [i * i for i in range(7)]
    assert len(seen) == 3


def test_one_thread_is_a_plain_loop_on_the_caller():
    seen = []
    assert IntraOp(1).map(lambda i: seen.append(threading.get_ident()) or -i, [1, 2, 3]) == [-1, -2, -3]
    assert set(seen) == {threading.get_ident()}
    assert IntraOp(1).ways(10**9) == 1


def test_an_error_in_a_piece_propagates_after_every_piece_finished():
    finished = []

    def piece(i):
        if i == 1:
            raise ValueError("piece 1 failed")
        time.sleep(0.02)
        finished.append(i)

    with pytest.raises(ValueError, match="piece 1 failed"):
        IntraOp(2).map(piece, [0, 1, 2, 3])
    assert sorted(finished) == [0, 2]  # the caller's own pieces (0, 2) ran; 3 was queued behind the failure


def test_ways_follow_the_work_and_the_thread_count(monkeypatch):
    monkeypatch.setattr(intra_op, "MIN_WORK", 100)
    assert IntraOp(4).ways(50) == 1
    assert IntraOp(4).ways(250) == 2
    assert IntraOp(4).ways(10**6) == 4
    assert IntraOp(0).threads >= 1  # 0: one per core, as TF1


def test_slabs_cover_the_range_in_near_equal_contiguous_pieces():
    assert slabs(10, 3) == [slice(0, 3), slice(3, 6), slice(6, 10)]
    assert slabs(2, 5) == [slice(0, 1), slice(1, 2)]
    assert slabs(7, 1) == [slice(0, 7)]


def test_blas_threads_are_shared_while_pieces_run_and_restored_after(fake_blas):
    fake_blas.num_threads = 4
    during = IntraOp(2).map(lambda i: fake_blas.num_threads, [0, 1])
    assert during == [2, 2] and fake_blas.num_threads == 4 and fake_blas.calls == [2, 4]


@pytest.mark.parametrize("layout", ["C order", "batch-minor"])
def test_elementwise_pieces_fill_every_slab_of_either_layout(monkeypatch, layout):
    import numpy as np

    monkeypatch.setattr(intra_op, "MIN_WORK", 1)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 4, 3, 7))
    if layout == "batch-minor":
        x = np.ascontiguousarray(x.transpose(3, 1, 2, 0)).transpose(3, 1, 2, 0)
    out = intra_op.elementwise(IntraOp(3), lambda o, a: np.multiply(a, 2.0, out=o), np.empty_like(x), x)
    np.testing.assert_array_equal(out, 2 * x)
    assert intra_op.outer_axis(x) == (3 if layout == "batch-minor" else 0)


def test_relu_bias_add_and_relu_grad_in_pieces_match_numpy(monkeypatch):
    import numpy as np

    import flowgraph as tf

    monkeypatch.setattr(intra_op, "MIN_WORK", 1)
    rng = np.random.default_rng(1)
    x_val, b_val, g_val = rng.standard_normal((6, 5, 4, 3)), rng.standard_normal(3), rng.standard_normal((6, 5, 4, 3))
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float64, x_val.shape)
        y = tf.nn.relu(tf.nn.bias_add(x, tf.constant(b_val)))
        (dx,) = tf.gradients(y, [x], grad_ys=tf.constant(g_val))
        with tf.Session(config=tf.ConfigProto(intra_op_parallelism_threads=3)) as sess:
            got_y, got_dx = sess.run([y, dx], {x: x_val})
    np.testing.assert_array_equal(got_y, np.maximum(x_val + b_val, 0))
    np.testing.assert_array_equal(got_dx, g_val * (x_val + b_val > 0))
