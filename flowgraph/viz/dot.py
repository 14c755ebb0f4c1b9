"""DOT emission and rendering: ``to_dot`` builds a ``graphviz.Digraph``; ``render`` runs ``dot``.

``to_dot`` needs only the Python ``graphviz`` package; laying out and writing images needs the
Graphviz ``dot`` program, whose absence ``render`` reports with install instructions.
"""

from __future__ import annotations

import html
import math
import os
from typing import Any

import graphviz

from flowgraph.graph import Graph
from flowgraph.viz import style
from flowgraph.viz.model import Edge, Node, View, build_view

_INSTALL_HINT = (
    "Graphviz's `dot` program was not found on PATH: flowgraph.viz.render needs it to lay out and "
    "write images (flowgraph.viz.to_dot works without it). Install it with "
    "`sudo apt-get install graphviz` (Debian/Ubuntu), `sudo dnf install graphviz` (Fedora), "
    "`brew install graphviz` (macOS) or `winget install graphviz` (Windows); the README's "
    "`make demo` installs it for you."
)


class GraphvizNotFoundError(RuntimeError):
    """Graphviz's ``dot`` executable is missing, so a graph cannot be rendered to an image."""


def to_dot(
    graph_or_fetches: Any,
    collapse: Any = None,
    depth: int | None = None,
    run_metadata: Any = None,
    *,
    fold_constants: bool = True,
    merge_variables: bool = True,
    mirror_gradients: bool = True,
    simplify_control_edges: bool = True,
    edge_labels: bool = True,
    rankdir: str = "auto",
    title: str | None = None,
    legend: bool = False,
) -> graphviz.Digraph:
    """The graph (or the part of it that ``fetches`` need) as a Graphviz digraph.

    Name scopes become nested clusters. Options:

    - ``collapse``: scope names or glob patterns, each drawn as one node counting its ops (a
      pattern without ``/`` also matches a nested scope's last component, e.g. ``"*_grad"``).
    - ``depth``: scopes nested deeper than this are collapsed too (0 collapses every scope).
    - ``run_metadata``: a traced ``RunMetadata`` (or its ``step_stats``): nodes are coloured
      pale to deep red by measured time, with the time in their label and a legend.
    - ``fold_constants``: a constant read by one node (or a scalar read by several) is written
      into its readers' labels instead of being drawn.
    - ``merge_variables``: a Variable's ``read`` and ``Assign`` are drawn as part of it, and an
      optimizer's slot variables as part of the op that updates them.
    - ``mirror_gradients``: ops under ``gradients/`` are laid out in reverse, so backprop
      climbs back up beside the forward pass.
    - ``simplify_control_edges``: control edges already implied by other paths are left out.
    - ``edge_labels``: label data edges with dtype and static shape, e.g. ``float32 (?, 784)``.
    - ``rankdir``: "TB", "BT", "LR", "RL" or "auto" (left-to-right only for graphs much wider
      than deep). ``title``: a caption. ``legend``: add a key of the node kinds.
    """
    view = build_view(graph_or_fetches, collapse=collapse, depth=depth, fold_constants=fold_constants,
                      merge_variables=merge_variables, simplify_control_edges=simplify_control_edges)
    times = _node_times(view, run_metadata) if run_metadata is not None else None
    if rankdir == "auto":
        rankdir = "LR" if view.width > 2 * max(view.depth, 1) and view.width > 8 else "TB"
    dot = graphviz.Digraph(
        "flowgraph",
        graph_attr={
            "rankdir": rankdir,
            "fontname": style.FONT,
            "nodesep": "0.22",
            "ranksep": "0.32",
            "bgcolor": "white",
            "pad": "0.25",
            "newrank": "true",
        },
        node_attr={
            "shape": "box",
            "style": "rounded,filled",
            "fontname": style.FONT,
            "fontsize": "11",
            "penwidth": "1.3",
            "margin": "0.14,0.05",
            "height": "0.32",
        },
        edge_attr={
            "fontname": style.FONT,
            "fontsize": "8",
            "fontcolor": style.EDGE_TEXT,
            "color": style.EDGE,
            "arrowsize": "0.6",
            "penwidth": "1.0",
        },
    )
    if title:
        dot.attr(label=f"<<b>{html.escape(title)}</b>>", labelloc="t", fontsize="15", fontcolor="#2D3748")
    scale = style.HeatScale(list(times.values())) if times else None
    total = sum(times.values()) if times else 0.0

    by_cluster: dict[str, list[Node]] = {}
    for n in view.nodes.values():
        by_cluster.setdefault(n.cluster, []).append(n)
    children: dict[str, list[str]] = {}
    for path in sorted(view.clusters):
        parent = path.rpartition("/")[0]
        while parent and parent not in view.clusters:
            parent = parent.rpartition("/")[0]
        children.setdefault(parent, []).append(path)

    def fill(g: graphviz.Digraph, path: str) -> None:
        for n in by_cluster.get(path, ()):
            t = times.get(n.id) if times is not None else None
            g.node(n.id, **_node_attrs(n, t, scale, total))
        for child in children.get(path, ()):
            sub = graphviz.Digraph("cluster_" + child)
            _cluster_attrs(sub, child)
            fill(sub, child)
            g.subgraph(sub)

    fill(dot, "")
    backward = {n.id for n in view.nodes.values() if style.is_gradient_scope(n.id)} if mirror_gradients else set()
    for e in view.edges:
        attrs = _edge_attrs(e, edge_labels)
        if not e.control and e.src in backward and e.dst in backward:
            # Backprop drawn running back up beside the forward pass: each layer's gradient ops
            # land next to the layer, instead of in a second tall column below the loss.
            dot.edge(e.dst, e.src, dir="back", **attrs)
        else:
            dot.edge(e.src, e.dst, **attrs)
    if scale is not None or legend:
        kinds = [k for k in style.PALETTE if any(n.kind == k for n in view.nodes.values())] if legend else []
        dot.node("__legend__", label=_legend_label(scale, total, kinds), shape="plaintext", style="",
                 margin="0", tooltip="legend")
    return dot


def render(graph_or_fetches: Any, path: str | os.PathLike, format: str | None = None, dpi: int | None = None,
           **to_dot_kwargs: Any) -> str:
    """Writes the drawing to ``path`` (svg, png or pdf; from the suffix when ``format`` is None)."""
    path = os.fspath(path)
    fmt = (format or os.path.splitext(path)[1].lstrip(".") or "svg").lower()
    if fmt not in graphviz.FORMATS:
        raise ValueError(f"Unknown image format {fmt!r}; use 'svg', 'png' or 'pdf'.")
    dot = to_dot(graph_or_fetches, **to_dot_kwargs)
    if dpi is not None:
        dot.graph_attr["dpi"] = str(dpi)
    data = pipe(dot, fmt)
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return path


def pipe(dot: graphviz.Digraph, fmt: str) -> bytes:
    """Runs ``dot`` on the digraph; a missing executable becomes GraphvizNotFoundError."""
    try:
        return dot.pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise GraphvizNotFoundError(_INSTALL_HINT) from None


def graph_repr_svg(graph: Graph, max_nodes: int = 150) -> str | None:
    """SVG for Jupyter's ``_repr_svg_``; deep scopes collapse until it fits. None without ``dot``."""
    if not graph.get_operations():
        return None
    depth = None
    if len(build_view(graph).nodes) > max_nodes:
        depth = 0
        for d in range(1, 8):
            if len(build_view(graph, depth=d).nodes) > max_nodes:
                break
            depth = d
    try:
        return pipe(to_dot(graph, depth=depth), "svg").decode("utf-8")
    except GraphvizNotFoundError:
        return None


# ---------------------------------------------------------------------------------------------
# Attributes
# ---------------------------------------------------------------------------------------------
def _node_times(view: View, run_metadata: Any) -> dict[str, float]:
    """Measured µs per drawn node (a collapsed scope gets the sum of its ops)."""
    stats = getattr(run_metadata, "step_stats", run_metadata)
    per_op: dict[str, float] = {}
    for dev in stats.dev_stats:
        for s in dev.node_stats:
            if getattr(s, "end_ns", 0) > 0:
                us = (s.end_ns - s.start_ns) / 1e3
            else:
                us = float(s.all_end_rel_micros)
            per_op[s.node_name] = per_op.get(s.node_name, 0.0) + us
    times = {}
    for n in view.nodes.values():
        ran = [per_op[op.name] for op in n.ops if op.name in per_op]
        if ran:
            times[n.id] = sum(ran)
    return times


def _node_attrs(n: Node, t: float | None, scale: style.HeatScale | None, total: float) -> dict[str, str]:
    fill, border, text = style.PALETTE[n.kind]
    attrs = {"tooltip": n.tooltip, "color": border, "fillcolor": fill, "fontcolor": text}
    if n.kind == style.VARIABLE and not n.collapsed and n.ops[0].type in ("VariableV2", "Variable", "VarHandleOp"):
        attrs["shape"] = "cylinder"
        attrs["style"] = "filled"
    elif n.kind == style.PLACEHOLDER:
        attrs["penwidth"] = "2"
    elif n.kind == style.CONSTANT:
        attrs["fontsize"] = "10"
    if n.collapsed:
        attrs["style"] = "rounded,filled,bold"
        attrs["penwidth"] = "2.2"
    time_line = None
    if t is not None and scale is not None:
        attrs["fillcolor"] = style.heat_color(scale.frac(t))
        attrs["fontcolor"] = style.text_on(attrs["fillcolor"])
        pct = 100.0 * t / total if total > 0 else 0.0
        time_line = f"{style.fmt_time(t)}  ({pct:.0f}%)" if pct >= 1 else style.fmt_time(t)
    attrs["label"] = _node_label(n, time_line)
    return attrs


def _node_label(n: Node, time_line: str | None) -> str:
    esc = html.escape
    rows = [f"<b>{esc(n.title)}</b>"]
    if n.subtitle and (n.collapsed or not n.title.startswith(n.subtitle)):
        rows.append(esc(n.subtitle))
    if n.slots:
        rows.append(esc("slots: " + ", ".join(n.slots)))
    rows.extend(esc(line) for line in _wrap(n.notes, 34, 3))
    small = [f'<font point-size="8">{r}</font>' for r in rows[1:]]
    if time_line:
        small.append(f'<font point-size="10"><b>{esc(time_line)}</b></font>')
    return "<" + "<br/>".join(rows[:1] + small) + ">"


def _wrap(items: list[str], width: int, max_lines: int) -> list[str]:
    """Joins short notes with commas into at most ``max_lines`` lines of about ``width`` chars."""
    lines: list[str] = []
    for i, item in enumerate(items):
        if lines and len(lines[-1]) + 2 + len(item) <= width:
            lines[-1] += ", " + item
        elif len(lines) == max_lines:
            lines[-1] += f", +{len(items) - i} more"
            break
        else:
            lines.append(item)
    return lines


def _cluster_attrs(sub: graphviz.Digraph, path: str) -> None:
    level = path.count("/")
    fills = style.GRADIENT_CLUSTER_FILLS if style.is_gradient_scope(path) else style.CLUSTER_FILLS
    sub.attr(
        label=path.rsplit("/", 1)[-1],
        tooltip=path,
        style="rounded,filled",
        fillcolor=fills[min(level, len(fills) - 1)],
        color=style.CLUSTER_BORDER,
        fontcolor=style.CLUSTER_TEXT,
        fontsize="10",
        labeljust="l",
        penwidth="1",
        margin="10",
    )


def _edge_attrs(e: Edge, labels: bool) -> dict[str, str]:
    if e.control:
        return {"style": "dashed", "color": style.CONTROL_EDGE, "arrowhead": "odot", "tooltip": "control dependency"}
    names = [t.name for t in e.tensors]
    attrs = {"tooltip": ", ".join(names)}
    if labels:
        texts = list(dict.fromkeys(f"{t.dtype.name} {style.fmt_shape(t._dims)}" for t in e.tensors))
        if len(e.tensors) == 1:
            attrs["label"] = " " + texts[0]
        elif len(texts) == 1:
            attrs["label"] = f" {texts[0]} ×{len(e.tensors)}"
        else:
            attrs["label"] = f" {len(e.tensors)} tensors"
    if len(e.tensors) > 1:
        attrs["penwidth"] = f"{1.0 + 0.5 * math.log2(len(e.tensors)):.2f}"
    if e.ref:
        # In-place updates of a variable: drawn, but not allowed to pull the variable down to
        # the optimizer at the bottom of the drawing.
        attrs["color"] = style.PALETTE[style.VARIABLE][1]
        attrs["style"] = "bold"
        attrs["constraint"] = "false"
    return attrs


def _legend_label(scale: style.HeatScale | None, total: float, kinds: list[str]) -> str:
    esc = html.escape
    rows = []
    if scale is not None:
        ticks = scale.ticks(5)
        rows.append(f'<tr><td colspan="{len(ticks)}" align="left"><b>time per node</b>'
                    f'<font point-size="9">  (all nodes: {esc(style.fmt_time(total))})</font></td></tr>')
        rows.append("<tr>" + "".join(
            f'<td bgcolor="{style.heat_color(scale.frac(t))}" width="46" height="12"></td>' for t in ticks) + "</tr>")
        rows.append("<tr>" + "".join(
            f'<td><font point-size="8">{esc(style.fmt_time(t))}</font></td>' for t in ticks) + "</tr>")
    if kinds:
        width = max(len(kinds), 1)
        rows.append(f'<tr><td colspan="{width}" align="left"><b>node kinds</b></td></tr>')
        rows.append("<tr>" + "".join(
            f'<td bgcolor="{style.PALETTE[k][0]}" border="1" color="{style.PALETTE[k][1]}">'
            f'<font point-size="9" color="{style.PALETTE[k][2]}">{k}</font></td>' for k in kinds) + "</tr>")
    return ('<<table border="1" color="#C5CEDB" cellborder="0" cellspacing="3" cellpadding="3" bgcolor="white" '
            'style="rounded">' + "".join(rows) + "</table>>")
