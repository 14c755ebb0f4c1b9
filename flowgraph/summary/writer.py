"""``FileWriter``: TensorBoard event files written by TensorBoard's own ``EventFileWriter``."""

from __future__ import annotations

import time
from typing import Any

from flowgraph.graph import Graph
from flowgraph.summary.graph_def import to_graph_def
from flowgraph.summary.protos import protos


class FileWriter:
    """TF1's ``tf.summary.FileWriter(logdir, graph=None, ...)``: summaries, graphs and events to disk."""

    def __init__(self, logdir: str, graph: Graph | None = None, max_queue: int = 10, flush_secs: int = 120,
                 graph_def: Any = None, filename_suffix: str | None = None, session: Any = None) -> None:
        p = protos()
        self._p = p
        self._logdir = str(logdir)
        self._writer = p.EventFileWriter(self._logdir, max_queue_size=max_queue, flush_secs=flush_secs,
                                         filename_suffix=filename_suffix or "")
        self._closed = False
        if graph is not None:
            self.add_graph(graph)
        elif graph_def is not None:
            self.add_graph(graph_def)

    def get_logdir(self) -> str:
        return self._logdir

    def add_event(self, event: Any) -> None:
        if self._closed:
            raise RuntimeError(f"FileWriter for {self._logdir} is closed; reopen() it first.")
        self._writer.add_event(event)

    def add_summary(self, summary: Any, global_step: int | None = None) -> None:
        """``summary``: the bytes a summary op returned, or a ``Summary`` proto."""
        if isinstance(summary, bytes | bytearray):
            summary = self._p.summary.Summary.FromString(bytes(summary))
        elif not isinstance(summary, self._p.summary.Summary):
            raise TypeError(f"add_summary takes a serialized Summary (bytes) or a Summary proto, got {type(summary).__name__}.")
        event = self._p.event.Event(wall_time=time.time(), summary=summary)
        if global_step is not None:
            event.step = int(global_step)
        self.add_event(event)

    def add_graph(self, graph: Any, global_step: int | None = None, graph_def: Any = None) -> None:
        gd = to_graph_def(graph) if isinstance(graph, Graph) else graph
        if graph is None and graph_def is not None:
            gd = graph_def
        event = self._p.event.Event(wall_time=time.time(), graph_def=gd.SerializeToString())
        if global_step is not None:
            event.step = int(global_step)
        self.add_event(event)

    def add_session_log(self, session_log: Any, global_step: int | None = None) -> None:
        event = self._p.event.Event(wall_time=time.time(), session_log=session_log)
        if global_step is not None:
            event.step = int(global_step)
        self.add_event(event)

    def flush(self) -> None:
        if not self._closed:
            self._writer.flush()

    def close(self) -> None:
        if not self._closed:
            self._writer.close()
            self._closed = True

    def reopen(self) -> None:
        if self._closed:
            self._writer.reopen()
            self._closed = False

    def __enter__(self) -> FileWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
