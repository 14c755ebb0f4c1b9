"""The registry-driven op harness: every case row is checked for value, static shape and gradient.

Case tables live in ``tests/ops/cases_*.py`` (each defines ``CASES``). The coverage test fails when
an op type is registered but no case exercises it (forward or inside a gradient graph) and it is
not listed in ``EXEMPT`` with a reason.
"""

from __future__ import annotations

import importlib.util
import pathlib
import sys

import numpy as np
import pytest

import flowgraph as tf
from flowgraph.registry import registered_ops

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from op_case import OpCase  # noqa: E402

# Op types no case row can reach, with the reason.
EXEMPT = {
    "Placeholder": "a source: covered by every case and by tests/test_session.py (missing-feed error)",
    "VariableV2": "state: covered by tests/test_variables.py",
    "Assign": "state: covered by tests/test_variables.py",
    "AssignAdd": "state: covered by tests/test_variables.py",
    "AssignSub": "state: covered by tests/test_variables.py",
    "IsVariableInitialized": "state: covered by tests/test_variables.py",
    "ReportUninitializedVariables": "state: covered by tests/test_variables.py",
    "NoOp": "no outputs: covered by tests/test_session.py (group, control dependencies)",
    **{
        t: "serialized protobuf output: covered by tests/summary/test_summary.py"
        for t in ("ScalarSummary", "HistogramSummary", "ImageSummary", "TextSummary", "MergeSummary")
    },
    **{
        t: "state: covered by tests/train/test_optimizers.py"
        for t in ("ApplyGradientDescent", "ApplyMomentum", "ApplyAdagrad", "ApplyRMSProp", "ApplyCenteredRMSProp", "ApplyAdam")
    },
    **{
        t: "needs several MPI processes: covered by tests/distribute/test_mpi.py"
        for t in ("MPIAllreduce", "MPIAllgather", "MPIOwnRows", "MPIBroadcast")
    },
}


def _load_cases() -> list[OpCase]:
    cases: list[OpCase] = []
    for path in sorted(HERE.glob("cases_*.py")):
        spec = importlib.util.spec_from_file_location(f"_fg_{path.stem}", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        cases.extend(mod.CASES)
    return cases


CASES = _load_cases()


def _flat(x):
    return list(x) if isinstance(x, list | tuple) else [x]


def _build(case: OpCase, shapes_known: bool = True):
    g = tf.Graph()
    with g.as_default():
        phs = [
            tf.placeholder(tf.as_dtype(a.dtype), shape=a.shape if shapes_known else None, name=f"in{i}")
            for i, a in enumerate(case.inputs)
        ]
        outs = _flat(case.build(*phs))
    return g, phs, outs


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_forward_matches_reference(case: OpCase) -> None:
    g, phs, outs = _build(case)
    with tf.Session(graph=g) as sess:
        got = sess.run(outs, dict(zip(phs, case.inputs)))
    want = _flat(case.reference(*[a.copy() for a in case.inputs]))
    assert len(got) == len(want)
    for t, gv, wv in zip(outs, got, want):
        wv = np.asarray(wv)
        gv = np.asarray(gv)
        assert gv.shape == wv.shape, f"{t.name}: shape {gv.shape} != reference {wv.shape}"
        assert gv.dtype == t.dtype.np, f"{t.name}: dtype {gv.dtype} != declared {t.dtype.name}"
        if wv.dtype.kind in "fc":
            np.testing.assert_allclose(gv, wv, rtol=case.rtol, atol=case.atol, equal_nan=True)
        else:
            np.testing.assert_array_equal(gv, wv)


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_static_shape_matches_actual(case: OpCase) -> None:
    g, phs, outs = _build(case)
    with tf.Session(graph=g) as sess:
        got = sess.run(outs, dict(zip(phs, case.inputs)))
    for t, v in zip(outs, got):
        assert t.shape.is_fully_defined(), f"{t.name}: static shape {t.shape} not fully inferred from known inputs"
        assert tuple(t.shape.as_list()) == np.shape(v), f"{t.name}: static {t.shape} vs actual {np.shape(v)}"
    # With unknown input shapes the inferred shape must stay compatible with the actual one.
    g2, phs2, outs2 = _build(case, shapes_known=False)
    with tf.Session(graph=g2) as sess:
        got2 = sess.run(outs2, dict(zip(phs2, case.inputs)))
    for t, v in zip(outs2, got2):
        assert t.shape.is_compatible_with(np.shape(v)), f"{t.name}: static {t.shape} vs actual {np.shape(v)}"


def _grad_indices(case: OpCase) -> list[int]:
    if case.grad_inputs is not None:
        return list(case.grad_inputs)
    return [i for i, a in enumerate(case.inputs) if a.dtype == np.float64]


GRAD_CASES = [c for c in CASES if c.grad]


def _directional_check(case, g, phs, scalar, idx, rng, label, none_is_zero=False):
    """Compares sum(grad * v) with a central difference of ``scalar`` along v."""
    with g.as_default():
        grads = tf.gradients(scalar, [phs[i] for i in idx])
        if none_is_zero:  # a gradient that does not depend on x has no second-order graph
            grads = [gr if gr is not None else phs[i] * 0.0 for gr, i in zip(grads, idx)]
    feeds = {p: a for p, a in zip(phs, case.inputs)}
    with tf.Session(graph=g) as sess:
        gvals = sess.run(grads, feeds)
        dirs = [rng.standard_normal(case.inputs[i].shape) for i in idx]
        analytic = sum(float(np.sum(gv * d)) for gv, d in zip(gvals, dirs) if gv is not None)

        def at(sign):
            f = dict(feeds)
            for i, d in zip(idx, dirs):
                f[phs[i]] = case.inputs[i] + sign * case.eps * d
            return float(sess.run(scalar, f))

        numeric = (at(1) - at(-1)) / (2 * case.eps)
    assert all(gv is not None for gv in gvals), f"{label}: a gradient is None"
    np.testing.assert_allclose(analytic, numeric, rtol=case.grad_rtol, atol=case.grad_atol, err_msg=label)


@pytest.mark.parametrize("case", GRAD_CASES, ids=repr)
def test_gradient_matches_finite_differences(case: OpCase) -> None:
    idx = _grad_indices(case)
    if not idx:
        pytest.fail(f"{case.name}: grad=True but no float64 input; set grad=False or use float64")
    rng = np.random.default_rng(1)
    g, phs, outs = _build(case)
    with g.as_default():
        weights = [tf.constant(rng.standard_normal(o.shape.as_list())) for o in outs if o.dtype == tf.float64]
        scalar = tf.add_n([tf.reduce_sum(o * w) for o, w in zip([o for o in outs if o.dtype == tf.float64], weights)])
    _directional_check(case, g, phs, scalar, idx, rng, f"{case.name}: first order")


SECOND = [c for c in CASES if c.second_order]


@pytest.mark.parametrize("case", SECOND, ids=repr)
def test_second_order_gradient(case: OpCase) -> None:
    idx = _grad_indices(case)
    rng = np.random.default_rng(2)
    g, phs, outs = _build(case)
    with g.as_default():
        weights = [tf.constant(rng.standard_normal(o.shape.as_list())) for o in outs]
        scalar = tf.add_n([tf.reduce_sum(o * w) for o, w in zip(outs, weights)])
        first = tf.gradients(scalar, [phs[i] for i in idx])
        us = [tf.constant(rng.standard_normal(case.inputs[i].shape)) for i in idx]
        h = tf.add_n([tf.reduce_sum(gr * u) for gr, u in zip(first, us) if gr is not None] + [tf.constant(0.0, tf.float64)])
    _directional_check(case, g, phs, h, idx, rng, f"{case.name}: second order", none_is_zero=True)


def _types_built_by(case: OpCase) -> set[str]:
    """Op types in the graphs a case builds: forward, and gradients when it checks them."""
    g, phs, outs = _build(case)
    with g.as_default():
        idx = _grad_indices(case)
        floats = [o for o in outs if o.dtype == tf.float64]
        if case.grad and idx and floats:
            scalar = tf.add_n([tf.reduce_sum(o) for o in floats])
            first = tf.gradients(scalar, [phs[i] for i in idx])
            if case.second_order:
                present = [gr for gr in first if gr is not None]
                if present:
                    tf.gradients(tf.add_n([tf.reduce_sum(gr) for gr in present]), [phs[i] for i in idx])
    return {op.type for op in g.get_operations()}


def test_every_registered_op_is_covered() -> None:
    """Every registered op type is built by some case (forward or gradient graph) or is exempt."""
    seen: set[str] = set()
    for case in CASES:
        seen |= _types_built_by(case)
    missing = sorted(set(registered_ops()) - seen - set(EXEMPT))
    assert not missing, (
        "registered op types with no case in tests/ops/cases_*.py (add a row, or an EXEMPT reason): " + ", ".join(missing)
    )
