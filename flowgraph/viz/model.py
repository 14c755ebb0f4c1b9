"""What a drawing shows, before any Graphviz: picked ops, scope clusters, collapsed scopes, edges.

Separating this from the DOT emission keeps the rules (pruning to fetches, folding constants,
merging the edges of a collapsed scope) plain Python that tests can inspect directly.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flowgraph.graph import Graph, Operation, Tensor
from flowgraph.viz import style


@dataclass
class Node:
    """One drawn box: a single op, or a collapsed scope standing for all of its ops."""

    id: str
    kind: str
    cluster: str  # scope path of the cluster it is drawn in ("" for the top level)
    title: str
    subtitle: str = ""
    notes: list[str] = field(default_factory=list)  # folded constants
    slots: list[str] = field(default_factory=list)  # folded optimizer slot variables
    ops: list[Operation] = field(default_factory=list)
    collapsed: bool = False
    tooltip: str = ""


@dataclass
class Edge:
    src: str
    dst: str
    tensors: list[Tensor] = field(default_factory=list)  # empty for a control edge
    control: bool = False
    ref: bool = False  # a variable passed by reference (Assign, optimizer updates)


@dataclass
class View:
    graph: Graph | None
    nodes: dict[str, Node]
    edges: list[Edge]
    clusters: set[str]  # scope paths drawn as clusters
    depth: int  # longest input chain among the picked ops (for choosing the layout direction)
    width: int  # most ops at one depth


def select_ops(graph_or_fetches: Any) -> tuple[Graph | None, list[Operation]]:
    """All ops of a Graph, or the ops that the given fetches depend on (inputs and control inputs)."""
    if isinstance(graph_or_fetches, Graph):
        return graph_or_fetches, graph_or_fetches.get_operations()
    targets = [_as_op(f) for f in _flatten(graph_or_fetches)]
    if not targets:
        return None, []
    graph = targets[0].graph
    seen: set[Operation] = set()
    stack = list(targets)
    while stack:
        op = stack.pop()
        if op in seen:
            continue
        if op.graph is not graph:
            raise ValueError(f"{op!r} is not in the same graph as {targets[0]!r}.")
        seen.add(op)
        stack.extend(t.op for t in op.inputs)
        stack.extend(op.control_inputs)
    return graph, sorted(seen, key=lambda o: o._id)


def _flatten(x: Any) -> Iterable:
    if isinstance(x, dict):
        for v in x.values():
            yield from _flatten(v)
    elif isinstance(x, list | tuple | set | frozenset):
        for v in x:
            yield from _flatten(v)
    else:
        yield x


def _as_op(x: Any) -> Operation:
    if hasattr(x, "_as_graph_element") and not isinstance(x, Tensor | Operation):
        x = x._as_graph_element()
    if isinstance(x, Tensor):
        return x.op
    if isinstance(x, Operation):
        return x
    raise TypeError(f"Can only draw a Graph or fetches (Tensors, Operations, Variables), not {type(x).__name__}: {x!r}")


def _compile_patterns(collapse: Any) -> list[str]:
    if collapse is None:
        return []
    if isinstance(collapse, str):
        return [collapse.rstrip("/")]
    return [p.rstrip("/") for p in collapse]


def _matches(path: str, patterns: list[str]) -> bool:
    last = path.rsplit("/", 1)[-1]
    for p in patterns:
        if fnmatch.fnmatchcase(path, p) or ("/" not in p and fnmatch.fnmatchcase(last, p)):
            return True
    return False


def build_view(
    graph_or_fetches: Any,
    collapse: Any = None,
    depth: int | None = None,
    fold_constants: bool = True,
    merge_variables: bool = True,
    simplify_control_edges: bool = True,
) -> View:
    """Decides nodes, clusters and edges; see ``flowgraph.viz.to_dot`` for the options."""
    graph, ops = select_ops(graph_or_fetches)
    picked = set(ops)
    # Every proper prefix of a picked op's name is a scope. An op named like a scope (a Variable
    # ``w`` with ``w/read``) sits inside that scope's cluster, with its helpers.
    scopes: set[str] = set()
    for op in ops:
        parts = op.name.split("/")
        for i in range(1, len(parts)):
            scopes.add("/".join(parts[:i]))
    home = {op: op.name if op.name in scopes else op.name.rpartition("/")[0] for op in ops}

    patterns = _compile_patterns(collapse)
    # A variable's read snapshot and initializer are drawn as part of the variable itself.
    owner: dict[Operation, Operation] = {}
    if merge_variables:
        for op in ops:
            var = op.inputs[0].op if op.inputs else None
            if (op.type in ("Identity", "Assign") and style.op_kind(op) == style.VARIABLE and var in picked
                    and op.name in (var.name + "/read", var.name + "/Assign")):
                owner[op] = var

    def collapsed_scope(path: str) -> str | None:
        """The outermost collapsed scope containing ``path`` (itself included), if any."""
        parts = path.split("/") if path else []
        for i in range(1, len(parts) + 1):
            p = "/".join(parts[:i])
            if (depth is not None and i > depth) or _matches(p, patterns):
                return p
        return None

    # Representative node id of every op: its own name, or its collapsed scope's path + "/".
    rep: dict[Operation, str] = {}
    nodes: dict[str, Node] = {}
    for op in ops:
        if op in owner:
            continue
        c = collapsed_scope(home[op])
        if c is None:
            rep[op] = op.name
            n = nodes[op.name] = Node(op.name, style.op_kind(op), home[op], op.name.rsplit("/", 1)[-1], op.type,
                                      ops=[op], tooltip=_op_tooltip(op))
            if op.type == "Const" and op.attrs.get("value") is not None:
                lit = style.fmt_value(op.attrs["value"])
                if lit is not None:
                    n.notes.append(lit)
        else:
            nid = c + "/"
            rep[op] = nid
            n = nodes.get(nid)
            if n is None:
                n = nodes[nid] = Node(nid, "", c.rpartition("/")[0], c.rsplit("/", 1)[-1], collapsed=True)
            n.ops.append(op)
    for op, var in owner.items():
        rep[op] = rep[var]
        nodes[rep[var]].ops.append(op)
        if rep[var] == var.name:
            nodes[var.name].tooltip += f"  [drawn with {op.name}]"
    if merge_variables:
        _fold_slots(nodes, ops, rep)

    # A constant read by one node, or a scalar read by several, vanishes into its readers' labels.
    folded: set[Operation] = set()
    if fold_constants:
        for op in ops:
            if op.type != "Const" or rep[op] != op.name or op.control_inputs:
                continue
            readers = dict.fromkeys(rep[c] for t in op.outputs for c in t.consumers() if c in picked)
            if not readers or any(c in picked for c in op._control_outputs):
                continue
            dims = op.outputs[0]._dims
            if len(readers) > 1 and (dims is None or any(d != 1 for d in dims)):
                continue
            folded.add(op)
            del nodes[op.name]
            note = _const_note(op)
            for r in readers:
                if not nodes[r].collapsed and note not in nodes[r].notes:
                    nodes[r].notes.append(note)

    if merge_variables:
        _seat_variables_with_readers(nodes, ops, rep, owner)

    for n in nodes.values():
        if n.collapsed:
            _finish_collapsed(n)

    edges = _edges(ops, picked, rep, folded)
    if simplify_control_edges:
        edges = _drop_implied_control_edges(edges)
    clusters = _clusters(nodes)
    d, w = _extent(ops, folded)
    return View(graph, nodes, edges, clusters, d, w)


def _fold_slots(nodes: dict[str, Node], ops: list[Operation], rep: dict) -> None:
    """Draws optimizer slots (variables only updated in place, by one node) inside that node."""
    refs: dict[str, set[tuple[str, bool]]] = {}
    for op in ops:
        ref_idx = getattr(op._opdef, "ref_inputs", ())
        for i, t in enumerate(op.inputs):
            src = rep.get(t.op)
            if src is not None and src != rep[op]:
                refs.setdefault(src, set()).add((rep[op], i in ref_idx))
        for c in op.control_inputs:
            if rep.get(c) is not None and rep[c] != rep[op]:
                refs.setdefault(rep[c], set()).add((rep[op], False))
    for name, readers in refs.items():
        n = nodes.get(name)
        if n is None or n.collapsed or n.kind != style.VARIABLE or n.ops[0].type not in ("VariableV2", "Variable"):
            continue
        if any(op.type == "Assign" for op in n.ops):  # its initializer is drawn: keep it visible
            continue
        if len(readers) != 1:
            continue
        ((target, by_ref),) = readers
        if not by_ref:
            continue
        t = nodes[target]
        for op in n.ops:
            rep[op] = target
        t.ops.extend(n.ops)
        if not t.collapsed:
            t.slots.append(n.title)
            t.tooltip += f"  [updates slot {name}]"
        del nodes[name]


def _seat_variables_with_readers(nodes: dict[str, Node], ops: list[Operation], rep: dict, owner: dict) -> None:
    """Draws a variable read only inside one other scope in that scope (an optimizer's slots).

    Otherwise ``conv1/weights/Adam``, read only by ``Adam/update_conv1/...``, would stretch the
    ``conv1`` cluster from the forward pass down to the updates at the bottom of the drawing.
    """
    readers: dict[str, set[str]] = {}
    for op in ops:
        for t in op.inputs:
            src = owner.get(t.op, t.op)
            if src in rep and rep[src] == src.name and rep[op] != src.name:
                readers.setdefault(src.name, set()).add(rep[op])
    for name, rs in readers.items():
        n = nodes.get(name)
        if n is None or n.kind != style.VARIABLE or n.ops[0].inputs:
            continue
        homes = [nodes[r].cluster for r in rs]
        common = homes[0].split("/") if homes[0] else []
        for h in homes[1:]:
            parts = h.split("/") if h else []
            k = 0
            while k < min(len(common), len(parts)) and common[k] == parts[k]:
                k += 1
            common = common[:k]
        lca = "/".join(common)
        if lca and not (n.cluster == lca or n.cluster.startswith(lca + "/")):
            n.cluster = lca


def _finish_collapsed(n: Node) -> None:
    """Kind, title and count of a collapsed scope: named after its op when the scope is an op's."""
    path = n.id[:-1]
    own = [op for op in n.ops if op.name == path or op.name.startswith(path + "/")]
    slots = len(n.ops) - len(own)  # optimizer slots folded in from elsewhere
    anchor = next((op for op in own if op.name == path), None)
    kinds = [style.op_kind(op) for op in own]
    kinds = [k for k in kinds if k != style.CONSTANT] or kinds  # constants only tint all-constant scopes
    if anchor is not None:
        n.kind = style.op_kind(anchor)
        extra = len(own) - 1
        n.subtitle = anchor.type + (f" (+{_count(extra, 'op')})" if extra else "")
    else:
        order = list(style.PALETTE)  # ties go to the later kind: op over variable over placeholder
        n.kind = style.GRADIENT if style.is_gradient_scope(path) else max(
            set(kinds), key=lambda k: (kinds.count(k), order.index(k)))
        n.subtitle = _count(len(own), "op")
    if slots:
        n.subtitle += f" + {_count(slots, 'slot')}"
    n.tooltip = f"{path}/ ({n.subtitle}, collapsed)"


def _count(k: int, noun: str) -> str:
    return f"{k} {noun}{'' if k == 1 else 's'}"


def _edges(ops: list[Operation], picked: set, rep: dict, folded: set) -> list[Edge]:
    data: dict[tuple[str, str], Edge] = {}
    control: dict[tuple[str, str], Edge] = {}
    for op in ops:
        if op in folded:
            continue
        dst = rep[op]
        ref_idx = getattr(op._opdef, "ref_inputs", ())
        for i, t in enumerate(op.inputs):
            if t.op not in picked or t.op in folded:
                continue
            src = rep[t.op]
            if src == dst:
                continue
            e = data.get((src, dst))
            if e is None:
                e = data[(src, dst)] = Edge(src, dst)
            if t not in e.tensors:
                e.tensors.append(t)
            if i in ref_idx:
                e.ref = True
        for c in op.control_inputs:
            if c not in picked:
                continue
            src = rep[c]
            if src != dst and (src, dst) not in control:
                control[(src, dst)] = Edge(src, dst, control=True)
    return list(data.values()) + list(control.values())


def _drop_implied_control_edges(edges: list[Edge]) -> list[Edge]:
    """Drops a control edge u -> v when v is reached from u along other edges anyway.

    An optimizer's final NoOp waits on every update and on the ops that wait on them; drawing
    only the edges that add ordering turns that fan of dashed lines into a few.
    """
    succ: dict[str, list[str]] = {}
    for e in edges:
        succ.setdefault(e.src, []).append(e.dst)

    def reachable_without(u: str, v: str) -> bool:
        seen = set()
        stack = [w for w in succ.get(u, ()) if w != v]
        while stack:
            w = stack.pop()
            if w == v:
                return True
            if w in seen:
                continue
            seen.add(w)
            stack.extend(succ.get(w, ()))
        return False

    data = {(e.src, e.dst) for e in edges if not e.control}
    kept = []
    for e in edges:
        if e.control and ((e.src, e.dst) in data or reachable_without(e.src, e.dst)):
            succ[e.src].remove(e.dst)
            continue
        kept.append(e)
    return kept


def _clusters(nodes: dict[str, Node]) -> set[str]:
    """Scope paths to draw as clusters: those grouping something worth a frame.

    Skipped: an op's own scope (``add/y`` puts a constant under op ``add``) unless it gathers
    several helpers, and a scope holding one node of its own name (``initial_value/initial_value``).
    """
    members: dict[str, list[Node]] = {}
    for n in nodes.values():
        path = n.cluster
        while path:
            members.setdefault(path, []).append(n)
            path = path.rpartition("/")[0]
    keep = set()
    for path, ms in members.items():
        if path in nodes:
            if len(ms) >= 3:
                keep.add(path)
        elif not (len(ms) == 1 and ms[0].title == path.rsplit("/", 1)[-1]):
            keep.add(path)
    # Nodes whose cluster is not drawn move up to the nearest drawn ancestor.
    for n in nodes.values():
        while n.cluster and n.cluster not in keep:
            n.cluster = n.cluster.rpartition("/")[0]
    return keep


def _extent(ops: list[Operation], folded: set) -> tuple[int, int]:
    level: dict[Operation, int] = {}
    for op in ops:  # creation order is topological
        if op in folded:
            continue
        preds = [t.op for t in op.inputs] + op.control_inputs
        level[op] = 1 + max((level.get(p, 0) for p in preds), default=0)
    if not level:
        return 0, 0
    per: dict[int, int] = {}
    for v in level.values():
        per[v] = per.get(v, 0) + 1
    return max(per), max(per.values())


def _const_note(op: Operation) -> str:
    short = op.name.rsplit("/", 1)[-1]
    value = op.attrs.get("value")
    lit = style.fmt_value(value) if value is not None else None
    if lit is not None:
        return f"{short} = {lit}"
    t = op.outputs[0]
    return f"{short}: {t.dtype.name} {style.fmt_shape(t._dims)}"


def _op_tooltip(op: Operation) -> str:
    outs = ", ".join(f"{t.dtype.name} {style.fmt_shape(t._dims)}" for t in op.outputs)
    file, line, _ = op.traceback
    # The file's name only: drawings get shared, the absolute paths of one's machine need not be.
    return f"{op.name} = {op.type}   -> {outs or 'no outputs'}   (created at {os.path.basename(file)}:{line})"
