"""Summary ops: graph ops whose output is a serialized ``Summary`` protobuf (a bytes scalar).

As in TF1, each op is added to the ``SUMMARIES`` collection (or the given ``collections``) and
its tag is the op's scoped name, so ``merge_all`` and ``FileWriter.add_summary`` can be used as
in the tutorials.
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

import numpy as np

from flowgraph import dtypes as _dtypes
from flowgraph.graph import GraphKeys, Tensor, convert_to_tensor, get_default_graph
from flowgraph.registry import NotDifferentiable, OpDef, register_op
from flowgraph.summary.protos import datatype_enum, protos


def _create(op_type: str, inputs: list[Tensor], attrs: dict, name: str, collections: Any, family: str | None) -> Tensor:
    g = get_default_graph()
    base = f"{family}/{name}" if family else name
    op = g.create_op(op_type, inputs, attrs, name=base)
    op.attrs["tag"] = op.name
    for key in collections if collections is not None else [GraphKeys.SUMMARIES]:
        g.add_to_collection(key, op.outputs[0])
    return op.outputs[0]


class SummaryOp(OpDef):
    """Base: a string scalar output; never differentiable; read-only on its inputs."""

    def infer(self, op):
        return [(_dtypes.string, ())]


def _to_numpy(rt: Any, v: Any) -> np.ndarray:
    return np.asarray(rt.to_host(v))


@register_op
class ScalarSummary(SummaryOp):
    def infer(self, op):
        (x,) = op.inputs
        if x.shape.ndims not in (None, 0):
            raise ValueError(f"tf.summary.scalar needs a scalar tensor, got '{x.name}' with shape {x.shape}.")
        return super().infer(op)

    def kernel(self, op, rt):
        tag = op.attrs["tag"]

        def scalar(x):
            p = protos()
            value = float(_to_numpy(rt, x))
            return p.summary.Summary(value=[p.summary.Summary.Value(tag=tag, simple_value=value)]).SerializeToString()

        return scalar


def _default_bucket_limits() -> np.ndarray:
    """TF1's histogram buckets: +-1e-12 growing by 10% up to 1e20, plus the extremes."""
    pos = []
    v = 1e-12
    while v < 1e20:
        pos.append(v)
        v *= 1.1
    pos = np.array(pos)
    return np.concatenate([-pos[::-1], [0.0], pos, [np.finfo(np.float64).max]])


_BUCKETS = _default_bucket_limits()


def histogram_proto(values: np.ndarray) -> Any:
    p = protos()
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    hist = p.summary.HistogramProto()
    if v.size == 0:
        return hist
    idx = np.searchsorted(_BUCKETS, v, side="left")
    counts = np.bincount(idx, minlength=len(_BUCKETS))
    nz = np.nonzero(counts)[0]
    # Keep one empty bucket before each run so TensorBoard sees where each run starts.
    keep = np.unique(np.concatenate([nz, np.maximum(nz - 1, 0)]))
    hist.min = float(v.min())
    hist.max = float(v.max())
    hist.num = float(v.size)
    hist.sum = float(v.sum())
    hist.sum_squares = float(np.dot(v, v))
    hist.bucket_limit.extend(_BUCKETS[keep].tolist())
    hist.bucket.extend(counts[keep].astype(np.float64).tolist())
    return hist


@register_op
class HistogramSummary(SummaryOp):
    def kernel(self, op, rt):
        tag = op.attrs["tag"]

        def histogram(x):
            p = protos()
            h = histogram_proto(_to_numpy(rt, x))
            return p.summary.Summary(value=[p.summary.Summary.Value(tag=tag, histo=h)]).SerializeToString()

        return histogram


def encode_png(image: np.ndarray) -> bytes:
    """A minimal PNG (8-bit gray, RGB or RGBA) with zlib, so images need no imaging library."""
    h, w, c = image.shape
    color = {1: 0, 3: 2, 4: 6}[c]
    raw = b"".join(b"\x00" + image[row].tobytes() for row in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


def to_uint8_images(x: np.ndarray) -> np.ndarray:
    """TF1's rule: floats all >= 0 are scaled so the largest is 255; with negatives, 0 maps to 127."""
    if x.dtype == np.uint8:
        return x
    x = x.astype(np.float64)
    out = np.empty_like(x)
    for i in range(x.shape[0]):  # per image, as TF1 normalizes each image separately
        img = x[i]
        finite = img[np.isfinite(img)]
        if finite.size and finite.min() < 0:
            m = max(abs(finite.min()), abs(finite.max())) or 1.0
            out[i] = img * (127.0 / m) + 127.0
        else:
            m = finite.max() if finite.size and finite.max() > 0 else 1.0
            out[i] = img * (255.0 / m)
    return np.clip(np.nan_to_num(out), 0, 255).astype(np.uint8)


@register_op
class ImageSummary(SummaryOp):
    def infer(self, op):
        (x,) = op.inputs
        s = x.shape
        if s.ndims is not None and (s.ndims != 4 or s.as_tuple()[-1] not in (None, 1, 3, 4)):
            raise ValueError(f"tf.summary.image needs a [batch, height, width, 1|3|4] tensor, got '{x.name}' {s}.")
        return super().infer(op)

    def kernel(self, op, rt):
        tag, max_outputs = op.attrs["tag"], op.attrs["max_outputs"]

        def image(x):
            p = protos()
            imgs = to_uint8_images(_to_numpy(rt, x)[:max_outputs])
            values = []
            for i, img in enumerate(imgs):
                t = f"{tag}/image" if max_outputs == 1 else f"{tag}/image/{i}"
                enc = p.summary.Summary.Image(
                    height=img.shape[0], width=img.shape[1], colorspace=img.shape[2], encoded_image_string=encode_png(img)
                )
                values.append(p.summary.Summary.Value(tag=t, image=enc))
            return p.summary.Summary(value=values).SerializeToString()

        return image


@register_op
class TextSummary(SummaryOp):
    def kernel(self, op, rt):
        tag = op.attrs["tag"]

        def text(x):
            p = protos()
            arr = np.asarray(x, dtype=object)
            strings = [s if isinstance(s, bytes) else str(s).encode() for s in arr.ravel()]
            shape = p.tensor_shape.TensorShapeProto(dim=[p.tensor_shape.TensorShapeProto.Dim(size=d) for d in arr.shape])
            tensor = p.tensor.TensorProto(dtype=datatype_enum("string"), tensor_shape=shape, string_val=strings)
            meta = p.summary.SummaryMetadata(plugin_data=p.summary.SummaryMetadata.PluginData(plugin_name="text"))
            return p.summary.Summary(value=[p.summary.Summary.Value(tag=tag, metadata=meta, tensor=tensor)]).SerializeToString()

        return text


@register_op
class MergeSummary(SummaryOp):
    def kernel(self, op, rt):
        def merge(*parts):
            p = protos()
            out = p.summary.Summary()
            for part in parts:
                out.MergeFromString(part if isinstance(part, bytes) else bytes(np.asarray(part).item()))
            return out.SerializeToString()

        return merge


for _t in ("ScalarSummary", "HistogramSummary", "ImageSummary", "TextSummary", "MergeSummary"):
    NotDifferentiable(_t)


def scalar(name: str, tensor: Any, collections: list | None = None, family: str | None = None) -> Tensor:
    """A ``Summary`` with one scalar value tagged with the op's scoped name."""
    return _create("ScalarSummary", [convert_to_tensor(tensor)], {}, name, collections, family)


def histogram(name: str, values: Any, collections: list | None = None, family: str | None = None) -> Tensor:
    """A ``Summary`` with a histogram of ``values`` (TF1's exponential buckets)."""
    return _create("HistogramSummary", [convert_to_tensor(values)], {}, name, collections, family)


def image(name: str, tensor: Any, max_outputs: int = 3, collections: list | None = None, family: str | None = None) -> Tensor:
    """A ``Summary`` with up to ``max_outputs`` PNG-encoded images from a [batch, h, w, c] tensor."""
    return _create("ImageSummary", [convert_to_tensor(tensor)], {"max_outputs": int(max_outputs)}, name, collections, family)


def text(name: str, tensor: Any, collections: list | None = None) -> Tensor:
    """A ``Summary`` for the text dashboard (a string tensor)."""
    t = tensor if isinstance(tensor, Tensor) else convert_to_tensor(np.asarray(tensor, dtype=object), dtype=_dtypes.string)
    if t.dtype is not _dtypes.string:
        raise TypeError(f"tf.summary.text needs a string tensor, got '{t.name}' of dtype {t.dtype.name}.")
    return _create("TextSummary", [t], {}, name, collections, None)


def merge(inputs: list, collections: list | None = None, name: str | None = None) -> Tensor:
    """One ``Summary`` holding every value of ``inputs`` (serialized summaries)."""
    ts = [convert_to_tensor(t) for t in inputs]
    for t in ts:
        if t.dtype is not _dtypes.string:
            raise TypeError(f"tf.summary.merge takes serialized summaries (string tensors), got '{t.name}' ({t.dtype.name}).")
    g = get_default_graph()
    out = g.create_op("MergeSummary", ts, {}, name=name or "Merge/MergeSummary").outputs[0]
    for key in collections or []:
        g.add_to_collection(key, out)
    return out


def merge_all(key: str = GraphKeys.SUMMARIES, scope: str | None = None, name: str | None = None) -> Tensor | None:
    """Merges every summary in collection ``key``; None when there is none (as in TF1)."""
    items = get_default_graph().get_collection(key, scope)
    if not items:
        return None
    return merge(items, name=name)
