"""Summaries and FileWriter, read back with TensorBoard's own EventAccumulator and server."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

import flowgraph as tf

tb = pytest.importorskip("tensorboard", reason="the 'tensorboard' extra is not installed")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402


def _accumulate(logdir):
    ea = EventAccumulator(str(logdir), size_guidance={"tensors": 0, "images": 0, "histograms": 0, "scalars": 0})
    ea.Reload()
    return ea


def _write_run(logdir, steps=3):
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 4, 5, 1], name="x")
        with tf.name_scope("train"):
            loss = tf.reduce_mean(x, name="loss_value")
            tf.summary.scalar("loss", loss)
        tf.summary.histogram("weights", x)
        tf.summary.image("input", x, max_outputs=2)
        tf.summary.text("note", tf.constant("hello"))
        merged = tf.summary.merge_all()
        writer = tf.summary.FileWriter(str(logdir), graph=g)
        rng = np.random.default_rng(0)
        batches = [rng.random((3, 4, 5, 1)).astype(np.float32) for _ in range(steps)]
        with tf.Session(graph=g) as sess:
            for step, b in enumerate(batches):
                writer.add_summary(sess.run(merged, {x: b}), global_step=step * 10)
        writer.close()
    return batches, g


def test_scalars_histograms_images_text_read_back(tmp_path):
    batches, _ = _write_run(tmp_path)
    ea = _accumulate(tmp_path)
    tags = ea.Tags()
    assert tags["scalars"] == ["train/loss"]
    assert tags["histograms"] == ["weights"]
    assert sorted(tags["images"]) == ["input/image/0", "input/image/1"]
    assert "note" in tags["tensors"]
    scalars = ea.Scalars("train/loss")
    assert [e.step for e in scalars] == [0, 10, 20]
    np.testing.assert_allclose([e.value for e in scalars], [b.mean() for b in batches], rtol=1e-6)
    h = ea.Histograms("weights")[0].histogram_value
    assert h.num == batches[0].size
    np.testing.assert_allclose([h.min, h.max, h.sum], [batches[0].min(), batches[0].max(), batches[0].sum()], rtol=1e-6)
    assert sum(h.bucket) == batches[0].size
    img = ea.Images("input/image/0")[0]
    assert (img.width, img.height) == (5, 4)
    assert img.encoded_image_string.startswith(b"\x89PNG")
    text = ea.Tensors("note")[0].tensor_proto.string_val
    assert list(text) == [b"hello"]


def test_graph_def_has_scopes_types_and_shapes(tmp_path):
    _, g = _write_run(tmp_path, steps=1)
    gd = _accumulate(tmp_path).Graph()
    nodes = {n.name: n for n in gd.node}
    assert set(nodes) == {op.name for op in g.get_operations()}
    loss = nodes["train/loss_value"]
    assert loss.op == "Mean" and list(loss.input) == ["x"]
    shape = nodes["x"].attr["_output_shapes"].list.shape[0]
    assert [d.size for d in shape.dim] == [-1, 4, 5, 1]
    assert nodes["x"].attr["T"].type == 1  # DT_FLOAT


def test_control_inputs_and_merge_collections(tmp_path):
    g = tf.Graph()
    with g.as_default():
        a = tf.constant(1.0, name="a")
        with tf.control_dependencies([a]):
            b = tf.identity(tf.constant(2.0), name="b")
        s = tf.summary.scalar("b", b, collections=["mine"])
        assert tf.summary.merge_all() is None
        assert g.get_collection("mine") == [s]
        w = tf.summary.FileWriter(str(tmp_path), g)
        w.close()
    nodes = {n.name: n for n in _accumulate(tmp_path).Graph().node}
    assert "^a" in list(nodes["b"].input)


def test_bad_inputs_name_the_culprit():
    g = tf.Graph()
    with g.as_default():
        v = tf.placeholder(tf.float32, [3], name="vec")
        with pytest.raises(ValueError, match="vec"):
            tf.summary.scalar("s", v)
        with pytest.raises(ValueError, match="vec"):
            tf.summary.image("i", v)
        with pytest.raises(TypeError, match="vec"):
            tf.summary.merge([v])
    with pytest.raises(TypeError, match="Summary"):
        w = tf.summary.FileWriter.__new__(tf.summary.FileWriter)
        from flowgraph.summary.protos import protos

        w._p = protos()
        w._closed = False
        w.add_summary(3.0)


def test_missing_tensorboard_names_the_extra(monkeypatch):
    from flowgraph.summary import protos as protos_mod

    monkeypatch.setattr(protos_mod, "_cache", {})
    monkeypatch.setitem(sys.modules, "tensorboard.compat.proto", None)
    with pytest.raises(ImportError, match=r"flowgraph\[tensorboard\]"):
        tf.summary.FileWriter("/nonexistent-dir-not-created")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 2.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - loopback only
        return r.read()


def test_tensorboard_server_serves_scalars_and_graph(tmp_path):
    """End to end: a real TensorBoard server on loopback reads what FileWriter wrote."""
    batches, _ = _write_run(tmp_path)
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", str(tmp_path), "--host", "127.0.0.1",
         "--port", str(port), "--reload_interval", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        tags = None
        while time.time() < deadline:
            try:
                tags = json.loads(_get(f"{base}/data/plugin/scalars/tags"))
                if tags.get(".", {}).get("train/loss"):
                    break
            except OSError:
                pass
            if proc.poll() is not None:
                pytest.fail("tensorboard exited early")
            time.sleep(0.5)
        assert tags and "train/loss" in tags["."], f"scalar tag never served: {tags}"
        data = json.loads(_get(f"{base}/data/plugin/scalars/scalars?run=.&tag=train/loss"))
        assert [row[1] for row in data] == [0, 10, 20]
        np.testing.assert_allclose([row[2] for row in data], [b.mean() for b in batches], rtol=1e-6)
        graph = _get(f"{base}/data/plugin/graphs/graph?run=.").decode()
        assert 'name: "train/loss_value"' in graph and 'op: "Mean"' in graph
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
