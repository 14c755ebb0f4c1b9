"""The graph model: Graph, Operation, Tensor, TF1's naming and scopes, collections, finalize."""

from __future__ import annotations

import inspect
import threading

import numpy as np
import pytest

import flowgraph as tf


@pytest.fixture(autouse=True)
def fresh_graph():
    with tf.Graph().as_default() as g:
        yield g


def _line() -> int:
    """The caller's line number (to check the source line an op records)."""
    return inspect.currentframe().f_back.f_lineno


# ---------------------------------------------------------------------------------------------
# Tensor and Operation
# ---------------------------------------------------------------------------------------------
def test_tensor_properties(fresh_graph):
    a = tf.constant([[1.0, 2.0, 3.0]], name="a")
    b = a + 1.0
    assert a.name == "a:0" and a.value_index == 0 and a.op.name == "a" and a.op.type == "Const"
    assert a.dtype == tf.float32 and a.shape == tf.TensorShape([1, 3]) and a.get_shape().as_list() == [1, 3]
    assert a.graph is fresh_graph and a.op.graph is fresh_graph
    assert a.consumers() == [b.op] and b.op.inputs == (a, b.op.inputs[1])
    assert b.op.outputs == [b] and b.op.values() == (b,)
    assert repr(a) == "<tf.Tensor 'a:0' shape=(1, 3) dtype=float32>"
    assert str(a) == 'Tensor("a:0", shape=(1, 3), dtype=float32)'
    assert repr(b.op) == "<tf.Operation 'add' type=AddV2>"
    assert b.op.node_def == {"name": "add", "op": "AddV2", "input": ["a:0", "add/y:0"], "attr": {}}


def test_tensor_equality_is_identity_and_hashable():
    a = tf.constant(1.0)
    b = tf.identity(a)
    assert a == a and a != b and {a: 1, b: 2}[a] == 1
    assert a.op == a.op and hash(a.op) != hash(b.op)


def test_tensor_is_not_a_python_bool_nor_sized():
    a = tf.constant([1, 2])
    with pytest.raises(TypeError, match="as a Python `bool` is not allowed"):
        bool(a)
    with pytest.raises(TypeError, match=r"len is not well defined.*Const:0"):
        len(a)


def test_operation_attrs_and_get_attr():
    x = tf.cast(tf.constant(1.0), tf.int32)
    assert x.op.get_attr("DstT") == tf.int32
    with pytest.raises(ValueError, match="'Cast' has no attr named 'nope'"):
        x.op.get_attr("nope")


def test_set_shape_refines_and_rejects_incompatible():
    p = tf.placeholder(tf.float32, [None, 3])
    p.set_shape([4, None])
    assert p.shape.as_list() == [4, 3]
    with pytest.raises(ValueError, match="not compatible"):
        p.set_shape([5, 3])


def test_each_op_records_the_user_line_that_created_it():
    here = _line() + 1
    c = tf.constant(1.0) * 2.0
    f, line, fn = c.op.traceback
    assert f == __file__ and line == here and fn == "test_each_op_records_the_user_line_that_created_it"
    assert c.op.location == f"{__file__}:{here}"
    assert c.op.inputs[1].op.traceback[1] == here  # the converted Python operand too


# ---------------------------------------------------------------------------------------------
# Naming
# ---------------------------------------------------------------------------------------------
def test_unique_names_follow_tf1():
    a = tf.constant(1.0, name="a")
    b = tf.constant(2.0)
    # Names are unique case-insensitively, so tf.add's "Add" continues after the operator's "add".
    assert [(a + b).name, (a + b).name, tf.add(a, b).name, tf.add(a, b).name] == [
        "add:0",
        "add_1:0",
        "Add_2:0",
        "Add_3:0",
    ]
    assert [(a - b).name, tf.subtract(a, b).name, (a * b).name, tf.multiply(a, b).name] == [
        "sub:0",
        "Sub_1:0",
        "mul:0",
        "Mul_1:0",
    ]
    assert [(a / b).name, tf.divide(a, b).name, (-a).name] == ["truediv:0", "truediv_1:0", "Neg:0"]
    assert tf.constant(1.0, name="a").name == "a_1:0"
    assert tf.add(a, b, name="sum").name == "sum:0" and tf.add(a, b, name="sum").name == "sum_1:0"
    assert (a * 2.0).op.inputs[1].name == "mul_2/y:0"


def test_names_are_unique_case_insensitively_and_skip_taken_suffixes():
    assert tf.add(1.0, 2.0).name == "Add:0"
    assert (tf.constant(1.0) + 1.0).name == "add_1:0"  # "add" collides with "Add"
    assert [tf.constant(1, name=n).name for n in ("c_1", "c", "c", "c")] == ["c_1:0", "c:0", "c_2:0", "c_3:0"]


def test_invalid_names_are_rejected():
    with pytest.raises(ValueError, match="'bad name!' is not a valid node name"):
        tf.constant(1, name="bad name!")
    with pytest.raises(ValueError, match="'bad scope!' is not a valid scope name"):
        with tf.name_scope("bad scope!"):
            pass


def test_name_scopes_nest_reopen_and_reset():
    with tf.name_scope("outer"):
        with tf.name_scope("inner") as sc:
            assert sc == "outer/inner/"
            assert tf.constant(1).name == "outer/inner/Const:0"
            assert tf.get_default_graph().get_name_scope() == "outer/inner"
        with tf.name_scope("inner"):
            assert tf.constant(1).name == "outer/inner_1/Const:0"
        with tf.name_scope("outer/inner/"):  # a trailing slash re-enters a scope exactly
            assert tf.constant(1).name == "outer/inner/Const_1:0"
        with tf.name_scope(None):
            assert tf.constant(1).name == "Const:0"
    with tf.name_scope("outer"):
        assert (tf.constant(1.0) + 1.0).name == "outer_1/add:0"
    with tf.name_scope("x", default_name="ignored"):
        assert tf.constant(1).name == "x/Const:0"
    with tf.name_scope(None, default_name="d"):
        assert tf.constant(1).name == "d/Const:0"


def test_name_scope_stack_is_per_thread():
    names = []
    with tf.name_scope("main"):
        g = tf.get_default_graph()

        def other():
            with g.as_default():
                names.append(tf.constant(1).name)

        t = threading.Thread(target=other)
        t.start()
        t.join()
        names.append(tf.constant(1).name)
    assert names == ["Const:0", "main/Const:0"]


def test_threads_building_into_one_graph_get_distinct_names(fresh_graph):
    def build():
        with fresh_graph.as_default():
            for _ in range(200):
                tf.constant(1.0, name="c")

    threads = [threading.Thread(target=build) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    names = [op.name for op in fresh_graph.get_operations()]
    assert len(names) == len(set(names)) == 800


# ---------------------------------------------------------------------------------------------
# Default graph
# ---------------------------------------------------------------------------------------------
def test_default_graph_stack_and_reset(fresh_graph):
    assert tf.get_default_graph() is fresh_graph
    g2 = tf.Graph()
    with g2.as_default():
        assert tf.get_default_graph() is g2
        assert tf.constant(1).graph is g2
    assert tf.get_default_graph() is fresh_graph
    with pytest.raises(AssertionError, match="Do not use tf.reset_default_graph"):
        tf.reset_default_graph()


def test_reset_default_graph_outside_any_with_block():
    result = {}

    def body():  # a thread starts with an empty default-graph stack
        before = tf.get_default_graph()
        tf.constant(1.0, name="left_over")
        tf.reset_default_graph()
        after = tf.get_default_graph()
        result["ok"] = after is not before and after.get_operations() == []

    t = threading.Thread(target=body)
    t.start()
    t.join()
    assert result == {"ok": True}


def test_ops_from_two_graphs_cannot_mix():
    g2 = tf.Graph()
    with g2.as_default():
        here = _line() + 1
        other = tf.constant(2.0, name="other")
    mine = tf.constant(1.0, name="mine")
    with pytest.raises(
        ValueError, match=rf"other:0 \(created at .*:{here}\) must be from the same graph as its other input mine:0"
    ):
        tf.add(mine, other)


# ---------------------------------------------------------------------------------------------
# Control dependencies
# ---------------------------------------------------------------------------------------------
def test_control_dependencies_nest_reset_and_skip_data_producers():
    a = tf.constant(1.0, name="a")
    b = tf.constant(2.0, name="b")
    with tf.control_dependencies([a]):
        c = tf.identity(b)
        d = a + b  # a already is a data input: no control edge (as in TF1)
        with tf.control_dependencies([b.op]):
            e = tf.constant(3.0)
        with tf.control_dependencies(None):
            f = tf.constant(4.0)
    assert c.op.control_inputs == [a.op]
    assert d.op.control_inputs == []
    assert e.op.control_inputs == [a.op, b.op]
    assert f.op.control_inputs == []


def test_control_dependencies_reject_non_graph_elements():
    with pytest.raises(TypeError, match="Control input must be an Operation or Tensor"):
        with tf.control_dependencies([3]):
            pass


def test_group_and_no_op():
    a = tf.constant(1.0)
    b = tf.constant(2.0)
    grp = tf.group(a, [b.op], name="grp")
    assert grp.name == "grp" and grp.type == "NoOp" and set(grp.control_inputs) == {a.op, b.op}
    assert tf.no_op().name == "NoOp"
    assert tf.group().control_inputs == []


# ---------------------------------------------------------------------------------------------
# Look-ups
# ---------------------------------------------------------------------------------------------
def test_get_tensor_and_operation_by_name(fresh_graph):
    x = tf.placeholder(tf.float32, name="x")
    with tf.name_scope("s"):
        y = x + 1.0
    assert fresh_graph.get_tensor_by_name("x:0") is x
    assert fresh_graph.get_tensor_by_name("s/add:0") is y
    assert fresh_graph.get_operation_by_name("s/add") is y.op
    assert fresh_graph.as_graph_element("s/add:0") is y and fresh_graph.as_graph_element("x") is x.op
    assert fresh_graph.get_operations()[0] is x.op


@pytest.mark.parametrize(
    "call, exc, message",
    [
        (lambda g: g.get_tensor_by_name("nope:0"), KeyError, "The operation, 'nope', does not exist in the graph"),
        (lambda g: g.get_tensor_by_name("x:1"), KeyError, "'x', exists but only has 1 outputs"),
        (lambda g: g.get_tensor_by_name("x"), ValueError, "The name 'x' refers to an Operation, not a Tensor"),
        (lambda g: g.get_tensor_by_name("nope"), ValueError, "looks like an \\(invalid\\) Operation name"),
        (lambda g: g.get_tensor_by_name(3), TypeError, "Tensor names are strings"),
        (lambda g: g.get_operation_by_name("nope"), KeyError, "'nope' refers to an Operation not in the graph"),
        (lambda g: g.get_operation_by_name("x:0"), ValueError, "'x:0' appears to refer to a Tensor"),
        (lambda g: g.as_graph_element(3.0), TypeError, "Can not convert a float into a Tensor or Operation"),
    ],
)
def test_name_lookup_errors(fresh_graph, call, exc, message):
    tf.placeholder(tf.float32, name="x")
    with pytest.raises(exc, match=message):
        call(fresh_graph)


def test_as_graph_element_rejects_other_graphs(fresh_graph):
    with tf.Graph().as_default():
        other = tf.constant(1.0)
    with pytest.raises(ValueError, match="is not an element of this graph"):
        fresh_graph.as_graph_element(other)


# ---------------------------------------------------------------------------------------------
# Collections and finalize
# ---------------------------------------------------------------------------------------------
def test_collections(fresh_graph):
    assert tf.GraphKeys.GLOBAL_VARIABLES == "variables" and tf.GraphKeys.TRAINABLE_VARIABLES == "trainable_variables"
    assert tf.GraphKeys.UPDATE_OPS == "update_ops" and tf.GraphKeys.LOSSES == "losses"
    a = tf.constant(1.0, name="a")
    with tf.name_scope("s"):
        b = tf.constant(2.0, name="b")
    tf.add_to_collection("mine", a)
    tf.add_to_collections(["mine", "other"], b)
    tf.add_to_collection("mine", 42)
    assert tf.get_collection("mine") == [a, b, 42]
    assert tf.get_collection("mine", scope="s") == [b]
    assert tf.get_collection("missing") == []
    ref = tf.get_collection_ref("mine")
    ref.append("x")
    assert tf.get_collection("mine")[-1] == "x" and tf.get_collection("mine") is not ref
    assert sorted(fresh_graph.get_all_collection_keys()) == ["mine", "other"]
    tf.Variable(1.0)
    tf.global_variables_initializer()
    assert sorted(fresh_graph.get_all_collection_keys()) == ["mine", "other", "trainable_variables", "variables"]
    fresh_graph.clear_collection("other")
    assert tf.get_collection("other") == []


def test_finalize_forbids_new_ops_naming_the_line(fresh_graph):
    a = tf.constant(1.0)
    fresh_graph.finalize()
    assert fresh_graph.finalized
    here = _line() + 2
    with pytest.raises(RuntimeError, match=rf"Graph is finalized and cannot be modified.*:{here}"):
        a + 1.0
    with tf.Session(graph=fresh_graph) as sess:  # running a finalized graph is fine
        assert sess.run(a) == 1.0


def test_graph_growth_warning_for_ops_built_between_runs(fresh_graph):
    x = tf.placeholder(tf.float32)
    with tf.Session() as sess, pytest.warns(tf.GraphGrowthWarning, match="Ops keep being added"):
        for i in range(6):
            sess.run(x + 1.0, {x: float(i)})


def test_static_value_of_constants():
    assert tf.get_static_value(tf.constant([1, 2])).tolist() == [1, 2]
    assert tf.get_static_value(tf.placeholder(tf.float32)) is None
    assert tf.get_static_value(np.float32(3)) == 3


def test_device_scope_is_recorded():
    with tf.device("/cpu:0"):
        a = tf.constant(1.0)
    assert a.device == "/cpu:0" and a.op.device == "/cpu:0" and tf.constant(1.0).device == ""


def test_convert_to_tensor_packs_lists_holding_tensors():
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 3])
        packed = tf.convert_to_tensor([tf.shape(x)[0], 3])
        nested = tf.convert_to_tensor([[tf.constant(1.0), 2.0], [3.0, 4.0]])
        assert packed.dtype == tf.int32 and packed.shape.as_list() == [2]
        with tf.Session() as sess:
            p, n = sess.run([packed, nested], {x: np.zeros((5, 3))})
    np.testing.assert_array_equal(p, [5, 3])
    np.testing.assert_array_equal(n, [[1.0, 2.0], [3.0, 4.0]])


def test_graph_repr_svg_for_jupyter():
    import shutil

    g = tf.Graph()
    with g.as_default():
        tf.add(tf.constant(1.0, name="one"), 2.0, name="total")
    svg = g._repr_svg_()
    if shutil.which("dot") is None:
        assert svg is None
    else:
        assert svg.lstrip().startswith("<?xml") or "<svg" in svg
        assert "total" in svg
