"""Access to TensorBoard's own protobuf classes and event writer (the optional ``tensorboard`` extra).

flowgraph never hand-encodes protobufs or event records: everything TensorBoard reads is built
with the ``tensorboard`` package's generated classes and written by its ``EventFileWriter``.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

_EXTRA_HINT = (
    "TensorBoard support needs the 'tensorboard' package: pip install 'flowgraph[tensorboard]' "
    "(or pip install tensorboard)."
)


class TensorBoardMissingError(ImportError):
    """The optional ``tensorboard`` package is not installed."""


_cache: dict[str, Any] = {}


def protos() -> Any:
    """The proto modules and writer class, imported once; raises TensorBoardMissingError if absent."""
    if "p" not in _cache:
        try:
            from tensorboard.compat.proto import (
                attr_value_pb2,
                event_pb2,
                graph_pb2,
                node_def_pb2,
                summary_pb2,
                tensor_pb2,
                tensor_shape_pb2,
                types_pb2,
            )
            from tensorboard.summary.writer.event_file_writer import EventFileWriter
        except ImportError as e:
            raise TensorBoardMissingError(f"{_EXTRA_HINT} ({e})") from None
        _cache["p"] = SimpleNamespace(
            attr_value=attr_value_pb2,
            event=event_pb2,
            graph=graph_pb2,
            node_def=node_def_pb2,
            summary=summary_pb2,
            tensor=tensor_pb2,
            tensor_shape=tensor_shape_pb2,
            types=types_pb2,
            EventFileWriter=EventFileWriter,
        )
    return _cache["p"]


_DT_NAMES = {
    "float32": "DT_FLOAT",
    "float64": "DT_DOUBLE",
    "float16": "DT_HALF",
    "int32": "DT_INT32",
    "int64": "DT_INT64",
    "int16": "DT_INT16",
    "int8": "DT_INT8",
    "uint8": "DT_UINT8",
    "uint16": "DT_UINT16",
    "bool": "DT_BOOL",
    "string": "DT_STRING",
}


def datatype_enum(dtype_name: str) -> int:
    """TensorFlow's DataType enum value for a flowgraph dtype name."""
    return protos().types.DataType.Value(_DT_NAMES[dtype_name])
