"""Variables: creation, initializers, assignment, uninitialized reads, get_variable and scopes."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import flowgraph as tf
from flowgraph import errors


@pytest.fixture(autouse=True)
def fresh_graph():
    with tf.Graph().as_default() as g:
        yield g


def _line() -> int:
    return inspect.currentframe().f_back.f_lineno


# ---------------------------------------------------------------------------------------------
# Creation
# ---------------------------------------------------------------------------------------------
def test_variable_names_ops_and_collections():
    v = tf.Variable([1.0, 2.0], name="v")
    n = tf.Variable(1, trainable=False, name="n")
    assert (v.name, v.op.name, v.op.type, v.initializer.name, v.value().name) == (
        "v:0",
        "v",
        "VariableV2",
        "v/Assign",
        "v/read:0",
    )
    assert v.initial_value.name == "v/initial_value:0" and v.read_value().name == "read:0"
    assert v.dtype == tf.float32 and v.shape.as_list() == [2] and v.get_shape().as_list() == [2] and v.trainable
    assert n.dtype == tf.int32 and not n.trainable
    assert repr(v) == "<tf.Variable 'v:0' shape=(2,) dtype=float32_ref>"
    assert tf.global_variables() == [v, n] and tf.trainable_variables() == [v]
    assert tf.get_collection(tf.GraphKeys.GLOBAL_VARIABLES) == [v, n]
    assert tf.Variable(0.0).name == "Variable:0" and tf.Variable(0.0).name == "Variable_1:0"
    with tf.name_scope("s"):
        assert tf.Variable(0.0, name="w").name == "s/w:0"
    assert tf.Variable(lambda: tf.constant(1.0), name="f").initial_value.name == "f/Initializer/Const:0"


def test_variable_initial_values_and_dtypes():
    assert tf.Variable(lambda: tf.constant([1, 2])).dtype == tf.int32
    assert tf.Variable(1, dtype=tf.float64).dtype == tf.float64
    assert tf.Variable(np.zeros((2, 3), np.float16)).shape.as_list() == [2, 3]
    local = tf.Variable(0.0, collections=[tf.GraphKeys.LOCAL_VARIABLES], trainable=False)
    assert tf.local_variables() == [local] and local not in tf.global_variables()
    with pytest.raises(ValueError, match="initial_value must be specified"):
        tf.Variable()
    with pytest.raises(ValueError, match="initial_value must have a shape specified"):
        tf.Variable(tf.placeholder(tf.float32, [None]))
    assert tf.Variable(tf.placeholder(tf.float32, [None]), validate_shape=False).shape.ndims is None


def test_variable_operators_read_its_value():
    v = tf.Variable(3.0)
    with tf.Session() as sess:
        sess.run(v.initializer)
        assert sess.run([v + 1.0, 2.0 * v, v * v, -v, v / 2.0, v - 1.0]) == [4.0, 6.0, 9.0, -3.0, 1.5, 2.0]
        assert sess.run(tf.add(v, v)) == 6.0 and v.eval(sess) == 3.0


# ---------------------------------------------------------------------------------------------
# Initializers and uninitialized reads
# ---------------------------------------------------------------------------------------------
def test_initializers():
    a = tf.Variable(1.0, name="a")
    b = tf.Variable([2, 3], name="b")
    with tf.Session() as sess:
        assert sess.run(tf.report_uninitialized_variables()).tolist() == [b"a", b"b"]
        assert not sess.run(a.is_initialized())
        sess.run(tf.variables_initializer([a], name="init_a"))
        assert sess.run(tf.report_uninitialized_variables()).tolist() == [b"b"]
        assert sess.run(tf.is_variable_initialized(a))
        init = tf.global_variables_initializer()
        assert init.name == "init" and init.type == "NoOp"
        sess.run(init)
        assert sess.run(tf.report_uninitialized_variables()).tolist() == []
        assert sess.run(tf.report_uninitialized_variables([a])).shape == (0,)
        assert sess.run([a, b])[1].tolist() == [2, 3]
    assert tf.variables_initializer([]).type == "NoOp"


def test_reading_an_uninitialized_variable_names_it():
    here = _line() + 1
    v = tf.Variable([1.0], name="weights")
    y = v * 2.0
    with tf.Session() as sess:
        with pytest.raises(
            errors.FailedPreconditionError,
            match=rf"uninitialized value weights \(variable created at {__file__}:{here}\)",
        ) as info:
            sess.run(y)
        assert info.value.op is v.op and info.value.error_code == errors.FAILED_PRECONDITION
        assert "[[node mul" in str(info.value) and "global_variables_initializer" in str(info.value)
        with pytest.raises(errors.FailedPreconditionError, match="uninitialized value weights"):
            sess.run(v)
        with pytest.raises(errors.FailedPreconditionError, match="uninitialized value weights"):
            sess.run(v.assign_add([1.0]))


def test_initializer_built_before_the_variable_is_pointed_out():
    init = tf.global_variables_initializer()
    late = tf.Variable(1.0, name="late")
    with tf.Session() as sess:
        sess.run(init)
        with pytest.raises(
            errors.FailedPreconditionError, match=rf"was built at {__file__}:\d+, before this variable was created"
        ):
            sess.run(late)


def test_each_session_holds_its_own_values():
    v = tf.Variable(1.0)
    s1, s2 = tf.Session(), tf.Session()
    s1.run(v.initializer)
    s1.run(v.assign(5.0))
    assert s1.run(v) == 5.0
    with pytest.raises(errors.FailedPreconditionError):
        s2.run(v)
    s1.close()
    s2.close()


# ---------------------------------------------------------------------------------------------
# Assignment
# ---------------------------------------------------------------------------------------------
def test_assign_family():
    v = tf.Variable([1.0, 2.0], name="v")
    with tf.Session() as sess:
        sess.run(v.initializer)
        assert sess.run(v.assign([3.0, 4.0])).tolist() == [3.0, 4.0]
        assert sess.run(v.assign_add([1.0, 1.0])).tolist() == [4.0, 5.0]
        assert sess.run(v.assign_sub([2.0, 2.0])).tolist() == [2.0, 3.0]
        assert sess.run(tf.assign(v, [0.0, 1.0])).tolist() == [0.0, 1.0]
        assert sess.run(tf.assign_add(v, [1.0, 1.0])).tolist() == [1.0, 2.0]
        assert sess.run(tf.assign_sub(v, [1.0, 1.0])).tolist() == [0.0, 1.0]
        op = v.assign([9.0, 9.0], read_value=False)
        assert op.type == "Assign" and sess.run(op) is None and sess.run(v).tolist() == [9.0, 9.0]
        v.load([7.0, 8.0], sess)
        assert sess.run(v).tolist() == [7.0, 8.0]
        assert sess.run(v.read_value()).tolist() == [7.0, 8.0]
    assert v.assign([0.0, 0.0], name="set").name == "set:0"


def test_assigned_values_are_not_aliased():
    v = tf.Variable(np.zeros(3))
    x = tf.placeholder(tf.float64, [3])
    with tf.Session() as sess:
        buf = np.ones(3)
        returned = sess.run(v.assign(x), {x: buf})
        buf[:] = 5.0  # the caller reuses its buffer...
        returned[:] = 6.0  # ... and scribbles on what it got back
        fetched = sess.run(v)
        fetched[:] = 7.0
        via_identity = sess.run(tf.identity(v))
        via_identity[:] = 8.0
        sess.run(v.assign_add(np.ones(3)))
        assert sess.run(v).tolist() == [2.0, 2.0, 2.0]


def test_assign_checks_shape_and_dtype():
    v = tf.Variable([1.0, 2.0], name="v")
    with pytest.raises(ValueError, match=r"Shapes \(2,\) and \(3,\) are incompatible.*variable v of shape \(2,\)"):
        v.assign([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="Tensor conversion requested dtype float32 for Tensor with dtype int32"):
        v.assign(tf.constant([1, 2]))
    with pytest.raises(TypeError, match="Expected a tf.Variable"):
        tf.assign(tf.constant(1.0), 2.0)
    x = tf.placeholder(tf.float32, [None])
    with tf.Session() as sess:
        sess.run(v.initializer)
        with pytest.raises(
            errors.InvalidArgumentError, match=r"Assign requires shapes of both tensors to match.*\[2\].*\[3\]"
        ):
            sess.run(v.assign(x), {x: [1.0, 2.0, 3.0]})
        assert sess.run(v).tolist() == [1.0, 2.0]


def test_bad_input_applies_nothing():
    v = tf.Variable(0.0)
    x = tf.placeholder(tf.float32, [2], name="x")
    needs = tf.placeholder(tf.float32, name="needs")
    inc = v.assign_add(1.0)
    with tf.Session() as sess:
        sess.run(v.initializer)
        with pytest.raises(ValueError, match="Cannot feed value of shape"):
            sess.run([inc, x * 2.0], {x: [1.0]})
        with pytest.raises(errors.InvalidArgumentError, match="must feed a value for placeholder tensor 'needs'"):
            sess.run([inc, needs + 1.0])
        assert sess.run(v) == 0.0


def test_assignments_respect_data_and_control_dependencies():
    v = tf.Variable(1.0)
    w = tf.Variable(0.0)
    copy = w.assign(v)  # reads v's value when it runs
    with tf.control_dependencies([copy]):
        doubled = v.assign(v * 2.0)
    with tf.control_dependencies([doubled]):
        total = tf.identity(v + w)
    for threads in (1, 3):
        with tf.Session(config=tf.ConfigProto(inter_op_parallelism_threads=threads)) as sess:
            sess.run(tf.global_variables_initializer())
            assert sess.run(total) == 3.0  # w = 1 (before doubling), then v = 2
            assert sess.run([v, w]) == [2.0, 1.0]


# ---------------------------------------------------------------------------------------------
# get_variable and variable_scope
# ---------------------------------------------------------------------------------------------
def test_get_variable_and_reuse():
    with tf.variable_scope("layer"):
        w = tf.get_variable("w", [2, 3], initializer=tf.zeros_initializer())
        assert w.name == "layer/w:0" and w.shape.as_list() == [2, 3]
        assert (tf.constant(1.0) + 1.0).name == "layer/add:0"
    with tf.variable_scope("layer", reuse=True):
        assert tf.get_variable("w") is w
        assert tf.get_variable("w", [2, 3]) is w
        with tf.variable_scope("inner"):
            assert tf.get_variable_scope().reuse is True
    with tf.variable_scope("layer", reuse=tf.AUTO_REUSE):
        assert tf.get_variable("w", [2, 3]) is w
        assert tf.get_variable("b", [3], initializer=tf.ones_initializer()).name == "layer/b:0"
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run(w).sum() == 0.0 and sess.run("layer/b:0").tolist() == [1.0, 1.0, 1.0]


def test_get_variable_errors_name_the_variable():
    here = _line() + 1
    tf.get_variable("w", [2], initializer=tf.zeros_initializer())
    with pytest.raises(
        ValueError, match=rf"Variable w already exists, disallowed.*Originally defined at:\n  {__file__}:{here}"
    ):
        tf.get_variable("w", [2])
    with tf.variable_scope("", reuse=True):
        with pytest.raises(
            ValueError, match="Variable missing does not exist, or was not created with tf.get_variable"
        ):
            tf.get_variable("missing", [1])
    with tf.variable_scope(tf.get_variable_scope(), reuse=True):
        with pytest.raises(
            ValueError, match=r"Trying to share variable w, but specified shape \(3,\) and found shape \(2,\)"
        ):
            tf.get_variable("w", [3])
        with pytest.raises(ValueError, match="specified dtype float64 and found dtype float32"):
            tf.get_variable("w", [2], dtype=tf.float64)
    with pytest.raises(ValueError, match=r"Shape of a new variable \(nos\) must be fully defined"):
        tf.get_variable("nos")


def test_get_variable_defaults_from_the_scope():
    with tf.variable_scope("s", initializer=tf.constant_initializer(0.5), dtype=tf.float64):
        v = tf.get_variable("v", [2])
        i = tf.get_variable("i", [1], dtype=tf.int32, initializer=tf.zeros_initializer())
    assert v.dtype == tf.float64
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run(v).tolist() == [0.5, 0.5] and sess.run(i).dtype == np.int32


def test_variable_scope_names_follow_tf1():
    with tf.variable_scope("vs") as vs:
        assert (vs.name, vs.original_name_scope) == ("vs", "vs/")
        assert tf.Variable(1.0, name="w").name == "vs/w:0"
        with tf.variable_scope("inner") as inner:
            assert inner.name == "vs/inner" and tf.constant(1).name == "vs/inner/Const:0"
    with tf.variable_scope(vs) as again:
        # Re-entering a scope object keeps its variable names but opens a fresh name scope for ops.
        assert again.name == "vs" and again.original_name_scope == "vs/"
        assert tf.constant(1).name == "vs_1/Const:0"
        assert tf.get_variable("g", [1], initializer=tf.zeros_initializer()).name == "vs/g:0"
    with tf.variable_scope(None, default_name="block"):
        assert tf.constant(1).name == "block/Const:0"
    with tf.variable_scope(None, default_name="block"):
        assert tf.constant(1).name == "block_1/Const:0"
    with tf.name_scope("ns"):
        with tf.variable_scope("v2"):
            assert tf.get_variable("x", [1], initializer=tf.zeros_initializer()).name == "v2/x:0"
            assert tf.constant(1).name == "ns/v2/Const:0"
    with pytest.raises(TypeError, match="If default_name is None then name_or_scope is required"):
        with tf.variable_scope(None):
            pass


def test_reuse_variables_on_the_current_scope():
    with tf.variable_scope("m") as scope:
        a = tf.get_variable("a", [1], initializer=tf.zeros_initializer())
        scope.reuse_variables()
        assert tf.get_variable("a") is a
