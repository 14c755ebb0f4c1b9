"""The generated code of split runs: what each side computes, and errors that name the op."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import flowgraph as tf
from flowgraph.runtime import split_programs

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="batch-split runs fork a worker (POSIX only)")

sys.path.insert(0, os.path.dirname(__file__))
import test_split_process as split_tests  # noqa: E402 - the small CNN and helpers shared with those tests


@pytest.fixture(autouse=True)
def two_cores(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.delenv("FLOWGRAPH_BATCH_SPLIT", raising=False)


def test_a_training_step_sends_weights_and_merges_gradients_only():
    g, t = split_tests._cnn()
    x, y = split_tests._batch(16)
    feed = {t["x"]: x, t["y"]: y}
    with tf.Session(graph=g) as sess:
        sess.run(t["init"])
        plan = split_tests._split_plan(sess, t["train"], feed)
        for _ in range(2):
            sess.run(t["train"], feed)
        prog = plan.split_program
        assert not prog.gather  # nothing per-example is needed whole
        merged = {st.op.type for st in plan.steps for s in st.out_slots if s in prog.merge}
        assert merged <= {"BiasAddGrad", "MatMul", "SumToShape", "Conv2DBackpropFilter"} and merged
        sent = {st.op.type for st in plan.steps for s in st.out_slots if s in prog.send}
        assert "VariableV2" in sent and "Conv2D" not in sent  # weights go out, activations never
        assert plan.split_runner.seq == 1 and plan.split_runner.error_seq() == 0


def test_an_error_in_the_main_processs_rows_names_the_op_and_the_users_line():
    g, t, sess, x, y, plan = split_tests._loss_session()
    bad = y.copy()
    bad[0] = -3  # in the main process's rows
    try:
        sess.run(t["loss"], {t["x"]: x, t["y"]: y})
        with pytest.raises(tf.errors.InvalidArgumentError) as info:
            sess.run(t["loss"], {t["x"]: x, t["y"]: bad})
        msg = str(info.value)
        assert "-3" in msg and "SparseSoftmaxCrossEntropyWithLogits" in msg and "test_split_process.py" in msg
    finally:
        sess.close()


def test_failed_step_maps_generated_lines_to_steps():
    steps = ["a", "b", "c"]

    def boom():
        exec(compile("def f():\n    x = 1\n    raise ValueError('x')\n", split_programs.MAIN_FILE, "exec"), env)
        env["f"]()

    env: dict = {}
    with pytest.raises(ValueError) as info:
        boom()
    assert split_programs.failed_step(info.value, split_programs.MAIN_FILE, [-1, -1, 0, 2], steps) == "c"
    assert split_programs.failed_step(info.value, split_programs.WORKER_FILE, [-1, -1, 0, 2], steps) is None
    assert split_programs.frame_of(info.value, split_programs.MAIN_FILE).f_locals["x"] == 1
    assert split_programs.failed_step(info.value, split_programs.MAIN_FILE, [-1, -1, 0, -1], steps) is None
    np.testing.assert_array_equal(split_programs._widen(np.array([3, 4]), type("R", (), {"total": 9})()), [9, 4])
