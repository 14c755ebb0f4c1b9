"""flowgraph.client.timeline: Chrome trace events from real and hand-made step stats."""

import json

import numpy as np

import flowgraph as tf
from flowgraph.client import timeline
from flowgraph.session import DeviceStepStats, NodeExecStats, StepStats


def _traced_run(graph, fetches, feeds, threads=2):
    with tf.Session(graph=graph, config=tf.ConfigProto(inter_op_parallelism_threads=threads)) as sess:
        md = tf.RunMetadata()
        sess.run(fetches, feeds, options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE), run_metadata=md)
        trace = json.loads(timeline.Timeline(md.step_stats).generate_chrome_trace_format())
    return md, trace["traceEvents"]


def _check_structure(md, events):
    stats = [s for dev in md.step_stats.dev_stats for s in dev.node_stats]
    ops = [e for e in events if e["ph"] == "X"]
    assert len(ops) == len(stats)
    assert sorted(e["args"]["name"] for e in ops) == sorted(s.node_name for s in stats)
    named = {(e["pid"], e["tid"]) for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    for e in ops:
        assert e["cat"] == "Op" and isinstance(e["ts"], float) and e["ts"] >= 0 and e["dur"] >= 0
        assert (e["pid"], e["tid"]) in named
    tids = {e["tid"] for e in ops}
    assert tids == set(range(len(tids)))  # thread idents become small ints
    assert len(tids) == len({s.thread_id for s in stats})
    return ops


def test_one_complete_event_per_executed_node():
    g = tf.Graph()
    with g.as_default():
        b = tf.placeholder(tf.float32, name="b")
        c = tf.placeholder(tf.float32, name="c")
        a = tf.multiply(tf.add(b, c, name="d"), tf.add(c, 2.0, name="e"), name="a")
    md, events = _traced_run(g, a, {b: 2.0, c: 1.0}, threads=1)
    ops = _check_structure(md, events)
    by_name = {e["args"]["name"]: e for e in ops}
    assert set(by_name) == {"d", "e", "a"}
    assert by_name["a"]["name"] == "Mul" and by_name["a"]["args"]["op"] == "Mul"
    assert by_name["a"]["args"]["input0"] == "d:0" and by_name["a"]["args"]["input1"] == "e:0"
    assert by_name["a"]["ts"] >= by_name["d"]["ts"] + by_name["d"]["dur"]
    assert any(e["name"] == "process_name" and "CPU:0" in e["args"]["name"] for e in events)


def test_parallel_chains_map_threads_and_flows():
    """Two independent matmul chains on two inter-op threads: structure only, not timing."""
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [512, 512], name="x")
        outs = []
        for k in range(2):
            with tf.name_scope(f"chain{k}"):
                h = x
                for _ in range(3):
                    h = tf.matmul(h, x)
                outs.append(h)
        y = tf.add(outs[0], outs[1], name="y")
    feed = {x: np.full((512, 512), 1.0 / 512, np.float32)}
    md, events = _traced_run(g, y, feed, threads=2)
    ops = _check_structure(md, events)
    assert sum(e["name"] == "MatMul" for e in ops) == 6
    starts = {e["id"]: e for e in events if e["ph"] == "s"}
    ends = {e["id"]: e for e in events if e["ph"] == "t"}
    assert starts.keys() == ends.keys()
    for i, s in starts.items():
        t = ends[i]
        assert s["cat"] == t["cat"] == "DataFlow" and s["name"] == t["name"]
        assert s["tid"] != t["tid"] and s["ts"] <= t["ts"]


def _stats(*rows):
    """StepStats from (name, op, inputs, start_ns, end_ns, thread) rows."""
    dev = DeviceStepStats("/job:localhost/replica:0/task:0/device:CPU:0")
    for name, op, inputs, t0, t1, thread in rows:
        s = NodeExecStats(name, op, t0 // 1000, (t1 - t0) // 1000, thread, f"{name} = {op}({', '.join(inputs)})")
        s.start_ns, s.end_ns = t0, t1
        dev.node_stats.append(s)
    st = StepStats()
    st.dev_stats.append(dev)
    return st


def test_sub_microsecond_times_and_flow_toggle():
    st = _stats(
        ("p", "MatMul", [], 1_000_000, 1_000_250, 111),
        ("q", "MatMul", [], 1_000_100, 1_000_600, 222),
        ("r", "AddV2", ["p:0", "q:0"], 1_000_700, 1_000_750, 111),
    )
    events = json.loads(timeline.Timeline(st).generate_chrome_trace_format())["traceEvents"]
    ops = {e["args"]["name"]: e for e in events if e["ph"] == "X"}
    assert ops["p"]["ts"] == 0.0 and ops["p"]["dur"] == 0.25
    assert ops["q"]["ts"] == 0.1 and ops["q"]["dur"] == 0.5
    assert ops["p"]["tid"] == ops["r"]["tid"] == 0 and ops["q"]["tid"] == 1
    flows = [e for e in events if e["ph"] in ("s", "t")]
    # Only q:0 crossed threads; p:0 stayed on thread 0.
    assert [(e["ph"], e["name"], e["tid"], e["ts"]) for e in flows] == [("s", "q:0", 1, 0.6), ("t", "q:0", 0, 0.7)]
    quiet = json.loads(timeline.Timeline(st).generate_chrome_trace_format(show_dataflow=False))["traceEvents"]
    assert not [e for e in quiet if e["ph"] in ("s", "t")]


def test_memory_counters_follow_output_lifetimes():
    st = _stats(
        ("p", "MatMul", [], 0, 1000, 1),
        ("r", "Relu", ["p:0"], 2000, 3000, 1),
    )
    st.dev_stats[0].node_stats[0].output_bytes = [4096]
    st.dev_stats[0].node_stats[1].output_bytes = [4096]
    events = json.loads(timeline.Timeline(st).generate_chrome_trace_format(show_memory=True))["traceEvents"]
    counters = [(e["ts"], e["args"]["live bytes"]) for e in events if e["ph"] == "C"]
    assert counters == [(1.0, 4096), (3.0, 8192), (3.0, 4096)]
    plain = json.loads(timeline.Timeline(st).generate_chrome_trace_format())["traceEvents"]
    assert not [e for e in plain if e["ph"] == "C"]


def test_accepts_run_metadata_and_empty_stats():
    md = tf.RunMetadata()
    out = json.loads(timeline.Timeline(md).generate_chrome_trace_format())
    assert out["traceEvents"] == []
