"""Chrome trace export of step stats (TF1's ``tensorflow.python.client.timeline``).

Open the JSON in chrome://tracing or ui.perfetto.dev: each device is a process, each executor
thread a row, so the nodes the Session ran in parallel show up side by side.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

_LABEL = re.compile(r"^\s*(?P<name>.*?)\s*=\s*(?P<op>[\w>.\-]+)\((?P<inputs>.*)\)\s*$")


def _parse_label(label: str, fallback_name: str, fallback_op: str) -> tuple[str, str, list[str]]:
    """``"name = Op(in:0, in2:0)"`` -> (name, op, inputs); falls back to the stats' own fields."""
    m = _LABEL.match(label or "")
    if m is None:
        return fallback_name, fallback_op, []
    inputs = [s.strip() for s in m.group("inputs").split(",") if s.strip()]
    return m.group("name"), m.group("op"), inputs


def _tensor_op(tensor_name: str) -> str:
    op, sep, idx = tensor_name.rpartition(":")
    return op if sep and idx.isdigit() else tensor_name


class Timeline:
    """Converts ``RunMetadata.step_stats`` into Chrome trace events."""

    def __init__(self, step_stats: Any, graph: Any = None) -> None:
        self._step_stats = getattr(step_stats, "step_stats", step_stats)
        self._graph = graph

    def generate_chrome_trace_format(self, show_dataflow: bool = True, show_memory: bool = False) -> str:
        """The trace as a JSON string: one complete ('X') event per executed node.

        Times are microseconds from the step's first node, with sub-µs precision where the
        stats carry nanoseconds. ``show_dataflow`` adds flow arrows for tensors that crossed
        threads; ``show_memory`` adds a live-bytes counter per device from each node's
        ``output_bytes`` when the stats carry it.
        """
        events: list[dict] = []
        all_stats = [(dev, s) for dev in self._step_stats.dev_stats for s in dev.node_stats]
        use_ns = bool(all_stats) and all(getattr(s, "end_ns", 0) > 0 for _, s in all_stats)
        if use_ns:
            t0 = min(s.start_ns for _, s in all_stats)
        else:
            t0 = min((s.all_start_micros for _, s in all_stats), default=0)

        def span(s: Any) -> tuple[float, float]:
            if use_ns:
                return round((s.start_ns - t0) / 1e3, 3), round((s.end_ns - s.start_ns) / 1e3, 3)
            return float(s.all_start_micros - t0), float(s.all_end_rel_micros)

        names = {t.ident: t.name for t in threading.enumerate()}
        tids: dict[Any, int] = {}
        produced: dict[str, tuple[float, int, int]] = {}  # op name -> (end time, pid, tid)
        flow_id = 0
        for pid, dev in enumerate(self._step_stats.dev_stats):
            events.append({"name": "process_name", "ph": "M", "pid": pid, "args": {"name": f"{dev.device} Compute"}})
            events.append({"name": "process_sort_index", "ph": "M", "pid": pid, "args": {"sort_index": pid}})
            ordered = sorted(dev.node_stats, key=lambda s: span(s)[0])
            for s in ordered:
                if (pid, s.thread_id) not in tids:
                    tid = tids[(pid, s.thread_id)] = len([k for k in tids if k[0] == pid])
                    label = names.get(s.thread_id) or f"thread {tid}"
                    events.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": tid,
                                   "args": {"name": f"{label} ({tid})"}})
                    events.append({"name": "thread_sort_index", "ph": "M", "pid": pid, "tid": tid,
                                   "args": {"sort_index": tid}})
            for s in ordered:
                tid = tids[(pid, s.thread_id)]
                ts, dur = span(s)
                _, op, inputs = _parse_label(s.timeline_label, s.node_name, s.op_type)
                args = {"name": s.node_name, "op": s.op_type or op}
                for i, inp in enumerate(inputs):
                    args[f"input{i}"] = inp
                events.append({"name": s.op_type or op, "cat": "Op", "ph": "X", "pid": pid, "tid": tid,
                               "ts": ts, "dur": dur, "args": args})
                produced[s.node_name] = (ts + dur, pid, tid)
                if not show_dataflow:
                    continue
                for inp in inputs:
                    src = produced.get(_tensor_op(inp))
                    # Flows on one thread would only repeat the row's left-to-right order.
                    if src is None or (src[1], src[2]) == (pid, tid):
                        continue
                    events.append({"name": inp, "cat": "DataFlow", "ph": "s", "pid": src[1], "tid": src[2],
                                   "ts": src[0], "id": flow_id})
                    events.append({"name": inp, "cat": "DataFlow", "ph": "t", "pid": pid, "tid": tid,
                                   "ts": ts, "id": flow_id})
                    flow_id += 1
        if show_memory:
            events.extend(self._memory_events(span))
        return json.dumps({"traceEvents": events, "displayTimeUnit": "ns"}, separators=(",", ":"))

    def _memory_events(self, span: Any) -> list[dict]:
        """Live output bytes per device: allocated when a node ends, freed after its last reader."""
        events: list[dict] = []
        for pid, dev in enumerate(self._step_stats.dev_stats):
            sized = [s for s in dev.node_stats if getattr(s, "output_bytes", None)]
            if not sized:
                continue
            last_read: dict[str, float] = {}
            for s in dev.node_stats:
                ts, dur = span(s)
                for inp in _parse_label(s.timeline_label, s.node_name, s.op_type)[2]:
                    src = _tensor_op(inp)
                    last_read[src] = max(last_read.get(src, 0.0), ts + dur)
            deltas: list[tuple[float, int]] = []
            for s in sized:
                ts, dur = span(s)
                size = int(sum(s.output_bytes))
                deltas.append((ts + dur, size))
                if s.node_name in last_read:
                    deltas.append((max(last_read[s.node_name], ts + dur), -size))
            live = 0
            for t, d in sorted(deltas, key=lambda x: (x[0], -x[1])):
                live += d
                events.append({"name": "Memory", "ph": "C", "pid": pid, "ts": t, "args": {"live bytes": live}})
        return events
