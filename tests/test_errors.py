"""flowgraph.errors: TF1's classes, codes and constructor; errors carry the failing op."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import flowgraph as tf
from flowgraph import errors

CLASSES = [
    ("CancelledError", errors.CANCELLED),
    ("UnknownError", errors.UNKNOWN),
    ("InvalidArgumentError", errors.INVALID_ARGUMENT),
    ("DeadlineExceededError", errors.DEADLINE_EXCEEDED),
    ("NotFoundError", errors.NOT_FOUND),
    ("AlreadyExistsError", errors.ALREADY_EXISTS),
    ("PermissionDeniedError", errors.PERMISSION_DENIED),
    ("ResourceExhaustedError", errors.RESOURCE_EXHAUSTED),
    ("FailedPreconditionError", errors.FAILED_PRECONDITION),
    ("AbortedError", errors.ABORTED),
    ("OutOfRangeError", errors.OUT_OF_RANGE),
    ("UnimplementedError", errors.UNIMPLEMENTED),
    ("InternalError", errors.INTERNAL),
    ("UnavailableError", errors.UNAVAILABLE),
    ("DataLossError", errors.DATA_LOSS),
    ("UnauthenticatedError", errors.UNAUTHENTICATED),
]


@pytest.mark.parametrize("name, code", CLASSES, ids=[c[0] for c in CLASSES])
def test_error_classes_codes_and_constructor(name, code):
    cls = getattr(errors, name)
    assert issubclass(cls, errors.OpError) and issubclass(cls, Exception)
    assert cls.error_code == code
    assert errors.exception_type_from_error_code(code) is cls
    assert errors.error_code_from_exception_type(cls) == code
    e = cls(None, "the-op", "what happened")
    assert (e.message, e.op, e.node_def, str(e), e.error_code) == (
        "what happened",
        "the-op",
        None,
        "what happened",
        code,
    )
    again = pickle.loads(pickle.dumps(e))
    assert type(again) is cls and again.message == "what happened"
    with pytest.raises(errors.OpError, match="what happened"):
        raise e


def test_codes_are_tf1s():
    assert [
        errors.OK,
        errors.CANCELLED,
        errors.INVALID_ARGUMENT,
        errors.NOT_FOUND,
        errors.FAILED_PRECONDITION,
        errors.OUT_OF_RANGE,
        errors.DATA_LOSS,
        errors.UNAUTHENTICATED,
    ] == [0, 1, 3, 5, 9, 11, 15, 16]
    assert "InvalidArgumentError" in errors.__all__ and "OUT_OF_RANGE" in errors.__all__
    assert tf.errors is errors


def test_run_time_errors_carry_the_failing_op():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, None], name="x")
        m = tf.matmul(x, x, name="square")
        v = tf.Variable(1.0, name="v")
        with tf.Session() as sess:
            with pytest.raises(errors.InvalidArgumentError) as bad_shape:
                sess.run(m, {x: np.ones((2, 3))})
            with pytest.raises(errors.FailedPreconditionError) as uninit:
                sess.run(v + 1.0)
            with pytest.raises(errors.InvalidArgumentError) as missing:
                sess.run(m)
    assert bad_shape.value.op is m.op and uninit.value.op is v.op and missing.value.op is x.op
    assert "square" in bad_shape.value.message and "v" in uninit.value.message and "'x'" in missing.value.message


def test_memory_errors_become_resource_exhausted(monkeypatch):
    from flowgraph.ops import math as fg_math

    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 2])
        y = tf.matmul(x, tf.ones([2, 2]), name="hungry")

        def kernel(self, op, rt):
            def boom(a, b):
                raise MemoryError("no room")

            return boom

        monkeypatch.setattr(fg_math.MatMul, "kernel", kernel)
        with (
            tf.Session() as sess,
            pytest.raises(errors.ResourceExhaustedError, match=r"MemoryError: no room\n\twhile running op 'hungry'"),
        ):
            sess.run(y, {x: np.ones((1, 2))})
