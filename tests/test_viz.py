"""flowgraph.viz: clusters, collapsing, pruning, labels, profile overlay, real dot renders."""

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

import flowgraph as tf
from flowgraph import viz
from flowgraph.viz import dot as viz_dot
from flowgraph.viz import style
from flowgraph.viz.model import select_ops

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")


def _mlp():
    """x -> fc1 -> fc2 -> loss, gradients, SGD updates grouped under a control-dependent train op."""
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 784], name="x")
        h = x
        for i, (n_in, n_out) in enumerate([(784, 32), (32, 10)]):
            with tf.name_scope(f"fc{i + 1}"):
                w = tf.Variable(np.full((n_in, n_out), 0.01, np.float32), name="weights")
                b = tf.Variable(np.zeros(n_out, np.float32), name="biases")
                h = tf.add(tf.matmul(h, w), b, name="logits")
        with tf.name_scope("loss"):
            loss = tf.reduce_mean(tf.multiply(h, h), name="mean")
        vs = tf.trainable_variables()
        grads = tf.gradients(loss, vs)
        with tf.name_scope("SGD"):
            updates = [tf.assign_sub(v, tf.multiply(0.1, gr)) for v, gr in zip(vs, grads)]
            with tf.control_dependencies(updates):
                train = tf.no_op(name="train")
        unrelated = tf.constant(3.0, name="unrelated")
        tf.multiply(unrelated, 2.0, name="also_unrelated")
    return g, x, loss, train


def _read(path) -> str:
    return Path(path).read_text(encoding="utf-8")


def _titles(svg: str) -> set[str]:
    return {t.replace("&#45;", "-").replace("&gt;", ">") for t in re.findall(r"<title>(.*?)</title>", svg)}


@needs_dot
def test_scopes_render_as_nested_labelled_clusters(tmp_path):
    g, _, _, _ = _mlp()
    path = viz.render(g, tmp_path / "g.svg")
    svg = _read(path)
    titles = _titles(svg)
    assert {"cluster_fc1", "cluster_fc2", "cluster_loss", "cluster_gradients", "cluster_SGD"} <= titles
    # Gradient scopes nest inside gradients/.
    assert "cluster_gradients/fc1" in titles
    assert {"fc1/MatMul", "fc1/logits", "loss/mean", "SGD/train", "x"} <= titles
    assert ">fc1</text>" in svg and ">gradients</text>" in svg


@needs_dot
def test_edges_carry_dtype_and_static_shape(tmp_path):
    g, _, _, _ = _mlp()
    svg = _read(viz.render(g, tmp_path / "g.svg"))
    assert "float32 (?, 784)" in svg  # x -> fc1/MatMul
    assert "float32 (784, 32)" in svg  # the weights
    assert "float32 ()" in svg  # the scalar loss


def test_kinds_and_palette():
    g, _, _, _ = _mlp()
    view = viz.build_view(g, fold_constants=False, merge_variables=False)
    kinds = {n.id: n.kind for n in view.nodes.values()}
    assert kinds["x"] == style.PLACEHOLDER
    assert kinds["fc1/weights"] == kinds["fc1/weights/read"] == kinds["fc1/weights/Assign"] == style.VARIABLE
    assert kinds["unrelated"] == style.CONSTANT
    assert kinds["fc1/MatMul"] == style.OP
    assert any(k.startswith("gradients/") and v == style.GRADIENT for k, v in kinds.items())
    src = viz.to_dot(g).source
    assert style.PALETTE[style.PLACEHOLDER][0] in src and style.PALETTE[style.GRADIENT][1] in src
    assert "rounded" in src and "shape=cylinder" in src


def test_variables_merge_their_read_and_initializer():
    g, _, _, _ = _mlp()
    view = viz.build_view(g)
    assert "fc1/weights/read" not in view.nodes and "fc1/weights/Assign" not in view.nodes
    w = view.nodes["fc1/weights"]
    assert {op.name for op in w.ops} == {"fc1/weights", "fc1/weights/read", "fc1/weights/Assign"}
    # Its folded initial value and the edge to the MatMul both start at the variable's node.
    assert any(e.src == "fc1/weights" and e.dst == "fc1/MatMul" for e in view.edges)


def test_small_constants_fold_into_their_reader():
    g, _, _, _ = _mlp()
    view = viz.build_view(g)
    assert "also_unrelated/y" not in view.nodes
    assert "y = 2" in view.nodes["also_unrelated"].notes
    assert "unrelated" not in view.nodes  # read only by also_unrelated
    unfolded = viz.build_view(g, fold_constants=False)
    assert "2" in unfolded.nodes["also_unrelated/y"].notes


@needs_dot
def test_collapsed_scope_is_one_node_with_merged_edges(tmp_path):
    _, _, loss, train = _mlp()
    n_grad = sum(op.name.startswith("gradients/") for op in select_ops([train, loss])[1])
    svg = _read(viz.render([train, loss], tmp_path / "c.svg", collapse=["gradients"]))
    titles = _titles(svg)
    assert "gradients/" in titles
    assert not any(t.startswith("gradients/") and t != "gradients/" and "->" not in t for t in titles)
    assert not any(t.startswith("cluster_gradients") for t in titles)
    view = viz.build_view([train, loss], collapse=["gradients"])
    assert f"{len(view.nodes['gradients/'].ops)} ops" in svg
    assert len(view.nodes["gradients/"].ops) == n_grad
    # One edge per (source, collapsed node) pair, however many tensors cross it.
    pairs = [(e.src, e.dst) for e in view.edges if not e.control]
    assert len(pairs) == len(set(pairs))
    assert ("gradients/", "SGD/Mul") in pairs and ("loss/mean", "gradients/") in pairs


def test_collapse_by_depth_and_by_pattern():
    g, _, _, _ = _mlp()
    top = viz.build_view(g, depth=0)
    assert {"fc1/", "fc2/", "loss/", "gradients/", "SGD/"} <= set(top.nodes)
    assert not any("/" in n.rstrip("/") for n in top.nodes)
    one = viz.build_view(g, depth=1)
    assert "gradients/fc1/" in one.nodes and "fc1/MatMul" in one.nodes
    assert "cluster" not in viz.to_dot(g, depth=0).source
    # A pattern without "/" also matches nested scopes by their last component.
    nested = viz.build_view(g, collapse=["*_grad"])
    assert "gradients/loss/mean_grad/" in nested.nodes


@needs_dot
def test_fetches_prune_to_their_ancestors(tmp_path):
    g, _, loss, _ = _mlp()
    svg = _read(viz.render(loss, tmp_path / "l.svg"))
    titles = _titles(svg)
    assert {"x", "fc1/MatMul", "loss/mean", "fc2/weights"} <= titles
    assert not any(t.startswith(("gradients", "SGD", "also_unrelated", "cluster_gradients")) for t in titles)
    # Control inputs count as ancestors.
    view = viz.build_view(g.get_operation_by_name("SGD/train"))
    assert "SGD/AssignSub" in view.nodes and "also_unrelated" not in view.nodes


@needs_dot
def test_control_dependencies_are_dashed(tmp_path):
    _, _, _, train = _mlp()
    dot = viz.to_dot(train)
    line = next(ln for ln in dot.source.splitlines() if '"SGD/AssignSub" -> "SGD/train"' in ln)
    assert "style=dashed" in line
    svg = _read(viz.render(train, tmp_path / "t.svg"))
    edge = svg[svg.index("<title>SGD/AssignSub&#45;&gt;SGD/train</title>"):]
    edge = edge[: edge.index("</g>")]
    assert "stroke-dasharray" in edge
    data_edge = svg[svg.index("<title>x&#45;&gt;fc1/MatMul</title>"):]
    assert "stroke-dasharray" not in data_edge[: data_edge.index("</g>")]


@needs_dot
def test_profile_overlay_colours_and_times(tmp_path):
    g, x, loss, train = _mlp()
    with tf.Session(graph=g) as sess:
        sess.run(tf.global_variables_initializer())
        md = tf.RunMetadata()
        sess.run([train, loss], {x: np.ones((8, 784), np.float32)},
                 options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE), run_metadata=md)
    svg = _read(viz.render([train, loss], tmp_path / "p.svg", run_metadata=md))
    assert "time per node" in svg
    assert re.search(r"\d (µs|ms)", svg)
    fills = {c.upper() for c in re.findall(r'fill="(#[0-9a-fA-F]{6})"', svg)}
    heat = fills - {c.upper() for p in style.PALETTE.values() for c in p}
    assert len(heat) >= 3  # several shades of the time colormap
    # The slowest drawn node gets the deepest red, and its time in its label.
    times = viz_dot._node_times(viz.build_view([train, loss]), md)
    slowest = max(times, key=times.get)
    line = next(ln for ln in viz.to_dot([train, loss], run_metadata=md).source.splitlines()
                if ln.strip().startswith((f'"{slowest}" [', f"{slowest} [")))
    assert f'fillcolor="{style.REDS[-1]}"' in line
    assert style.fmt_time(times[slowest]) in line


def test_heat_scale_runs_pale_to_deep():
    scale = style.HeatScale([1.0, 10.0, 1000.0])
    assert style.heat_color(scale.frac(1000.0)) == style.REDS[-1]
    assert style.heat_color(scale.frac(1.0)) == style.REDS[0]
    assert 0 < scale.frac(10.0) < 1
    assert style.text_on(style.REDS[-1]) == "#FFFFFF" and style.text_on(style.REDS[0]) != "#FFFFFF"


@needs_dot
def test_png_and_pdf_renders(tmp_path):
    _, _, loss, _ = _mlp()
    png = viz.render(loss, tmp_path / "l.png", dpi=72)
    assert Path(png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pdf = viz.render(loss, tmp_path / "l.out", format="pdf")
    assert Path(pdf).read_bytes()[:5] == b"%PDF-"
    with pytest.raises(ValueError, match="Unknown image format"):
        viz.render(loss, tmp_path / "l.nope")


@needs_dot
def test_jupyter_svg_repr_collapses_big_graphs():
    g, _, _, _ = _mlp()
    svg = viz.graph_repr_svg(g)
    assert svg is not None and "<svg" in svg and "fc1" in svg
    small = viz.graph_repr_svg(g, max_nodes=8)
    assert "<svg" in small and "<title>gradients/</title>" in small
    assert viz.graph_repr_svg(tf.Graph()) is None


def test_missing_dot_binary_raises_with_install_hint(tmp_path, monkeypatch):
    g, _, loss, _ = _mlp()
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` here
    source = viz.to_dot(loss).source  # building DOT needs no binary
    assert "loss/mean" in source
    with pytest.raises(viz.GraphvizNotFoundError, match="apt-get install graphviz") as err:
        viz.render(loss, tmp_path / "l.svg")
    assert isinstance(err.value, RuntimeError)
    assert "brew install graphviz" in str(err.value)
    assert not (tmp_path / "l.svg").exists()
    assert viz.graph_repr_svg(g) is None  # Jupyter falls back to the text repr


def test_rejects_non_graph_arguments():
    with pytest.raises(TypeError, match="Graph or fetches"):
        viz.to_dot([3])


def test_optimizer_slots_fold_into_the_op_updating_them():
    g = tf.Graph()
    with g.as_default():
        w = tf.Variable(np.ones(3, np.float32), name="w")
        m = tf.Variable(np.zeros(3, np.float32), name="m")  # only ever updated in place: a slot
        update = tf.assign_add(m, tf.multiply(w, 2.0), name="update")
    view = viz.build_view(update)
    assert "m" not in view.nodes and "w" in view.nodes
    node = view.nodes["update"]
    assert node.slots == ["m"] and m.op in node.ops
    assert not any(e.src == "m" or e.dst == "m" for e in view.edges)
    assert "slots: m" in viz.to_dot(update).source
    # With its initializer drawn (the whole graph) the slot stays a node of its own.
    assert "m" in viz.build_view(g).nodes
    assert "m" in viz.build_view(update, merge_variables=False).nodes
    # A collapsed scope counts the slots it updates apart from its own ops.
    with g.as_default(), tf.name_scope("opt"):
        step = tf.assign_add(m, tf.constant(np.ones(3, np.float32)), name="step")
    node = viz.build_view(step, collapse=["opt"]).nodes["opt/"]
    assert node.subtitle == "2 ops + 1 slot" and node.kind == style.OP


def test_gradient_edges_are_laid_out_in_reverse():
    _, _, loss, train = _mlp()
    edges = [ln.strip() for ln in viz.to_dot([train, loss]).source.splitlines() if " -> " in ln]
    back = [ln for ln in edges if "dir=back" in ln]
    assert back and all(ln.startswith('"gradients/') and ' -> "gradients/' in ln for ln in back)
    forward = [ln for ln in edges if ln.startswith(('"fc1/', '"fc2/', "x ")) and "dir=back" not in ln]
    assert forward  # the forward pass keeps its direction
    plain = viz.to_dot([train, loss], mirror_gradients=False).source
    assert "dir=back" not in plain


def test_implied_control_edges_are_left_out():
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, name="x")
        a = tf.multiply(x, 3.0, name="a")
        c = tf.add(a, 1.0, name="c")
        with tf.control_dependencies([a, c]):
            done = tf.no_op(name="done")
    control = {(e.src, e.dst) for e in viz.build_view(done).edges if e.control}
    assert control == {("c", "done")}  # a -> done is implied by a -> c -> done
    full = {(e.src, e.dst) for e in viz.build_view(done, simplify_control_edges=False).edges if e.control}
    assert full == {("a", "done"), ("c", "done")}


@needs_dot
def test_conv_net_with_adam_renders_compactly(tmp_path):
    g = tf.Graph()
    with g.as_default():
        images = tf.placeholder(tf.float32, [None, 8, 8, 1], name="images")
        labels = tf.placeholder(tf.float32, [None, 3], name="labels")
        with tf.variable_scope("conv"):
            k = tf.get_variable("weights", [3, 3, 1, 4], initializer=tf.truncated_normal_initializer(stddev=0.1))
            h = tf.nn.relu(tf.nn.conv2d(images, k, strides=[1, 1, 1, 1], padding="SAME"))
        h = tf.nn.max_pool(h, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="VALID", name="pool")
        with tf.variable_scope("fc"):
            w = tf.get_variable("weights", [64, 3], initializer=tf.truncated_normal_initializer(stddev=0.1))
            logits = tf.matmul(tf.reshape(h, [-1, 64]), w)
        loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=labels, logits=logits))
        train = tf.train.AdamOptimizer(1e-3).minimize(loss)
    view = viz.build_view([train, loss])
    assert not [n for n in view.nodes if n.endswith(("/Adam", "/Adam_1"))]  # slots folded into their update
    apply = [n for n in view.nodes.values() if n.subtitle == "ApplyAdam"]
    assert len(apply) == 2 and all(n.slots == ["Adam", "Adam_1"] for n in apply)
    assert any("learning_rate = 0.001" in note for note in apply[0].notes)  # shared scalars folded too
    svg = _read(viz.render([train, loss], tmp_path / "adam.svg", collapse=["gradients", "Adam/*"]))
    titles = _titles(svg)
    assert {"gradients/", "Adam/update_conv/", "Adam/update_fc/", "conv/Conv2D", "pool"} <= titles
    assert "2 ops + 4 slots" not in svg and "1 op + 2 slots" in svg
