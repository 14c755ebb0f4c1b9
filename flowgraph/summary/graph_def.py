"""A flowgraph Graph as a TensorFlow ``GraphDef`` proto, for TensorBoard's graph dashboard."""

from __future__ import annotations

from typing import Any

from flowgraph.graph import Graph
from flowgraph.summary.protos import datatype_enum, protos


def _shape_proto(p: Any, dims: tuple | None) -> Any:
    if dims is None:
        return p.tensor_shape.TensorShapeProto(unknown_rank=True)
    return p.tensor_shape.TensorShapeProto(
        dim=[p.tensor_shape.TensorShapeProto.Dim(size=-1 if d is None else d) for d in dims]
    )


def to_graph_def(graph: Graph) -> Any:
    """NodeDefs with op type, inputs (``^name`` for control inputs), dtype and output shapes."""
    p = protos()
    gd = p.graph.GraphDef()
    for op in graph.get_operations():
        node = gd.node.add()
        node.name = op.name
        node.op = op.type
        node.device = op.device or ""
        for t in op.inputs:
            node.input.append(t.op.name if t.value_index == 0 else t.name)
        for c in op.control_inputs:
            node.input.append("^" + c.name)
        outs = op.outputs
        if outs:
            node.attr["T"].type = datatype_enum(outs[0].dtype.name)
            shapes = node.attr["_output_shapes"].list
            for t in outs:
                shapes.shape.append(_shape_proto(p, t.shape.as_tuple()))
        file, line, _ = op.traceback
        node.attr["_created_at"].s = f"{file}:{line}".encode()
    gd.versions.producer = 27
    return gd
