"""Convolution and pooling: ``Conv2D`` and ``DepthwiseConv2dNative`` with their backprop ops, ``MaxPool``,
``AvgPool`` and their gradients.

Kernels compute in NHWC (NCHW is viewed as NHWC on entry and transposed back on exit) on two ideas:

- im2col: a stride-trick view of the (padded) input copied once into a patches matrix, then one GEMM
  over the whole batch; ``Conv2DBackpropFilter`` reuses the forward's patches when both run in the
  same ``Session.run``;
- window taps: pooling, depthwise convolution and col2im loop over the KH*KW window offsets only,
  each step one ufunc on strided views of the whole batch (never a loop over images or pixels).

Convolutions run over chunks of images sized to keep ~3 MB of patches in cache (``_CHUNK_BYTES``).

Output size per spatial dim (F filter size, D dilation, S stride, W input size):
VALID ``ceil((W - (F-1)D) / S)``; SAME ``ceil(W / S)``, padded by
``pad_total = max((out - 1) S + (F - 1) D + 1 - W, 0)``, ``pad_total // 2`` of it before;
explicit ``(W + P_before + P_after - (F-1)D - 1) // S + 1``.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from flowgraph.graph import Tensor, convert_to_tensor, get_default_graph
from flowgraph.ops import batch_minor
from flowgraph.ops.array import _dims_from_shape_tensor, expand_dims, shape, squeeze
from flowgraph.ops.op_helpers import describe
from flowgraph.registry import OpDef, register_op
from flowgraph.runtime import batch_split, intra_op

_FORMATS = ("NHWC", "NCHW")
_PADDINGS = ("SAME", "VALID")


# ---------------------------------------------------------------------------------------------
# Attribute normalisation (the Python front ends)
# ---------------------------------------------------------------------------------------------
def _spatial_index(data_format: str) -> tuple[int, int, int]:
    """(height axis, width axis, channel axis) of a 4-D tensor in ``data_format``."""
    return (1, 2, 3) if data_format == "NHWC" else (2, 3, 1)


def _check_format(data_format: Any) -> str:
    if data_format not in _FORMATS:
        raise ValueError(f"data_format must be 'NHWC' or 'NCHW', got {data_format!r}.")
    return data_format


def _get_sequence(value: Any, name: str, data_format: str) -> list[int]:
    """An int or a list of 1, 2 or 4 ints as 4 ints in ``data_format`` order (batch, channel = 1)."""
    if value is None:
        raise ValueError(f"{name} must be given (an int or a list of 1, 2 or 4 ints).")
    seq = [value] if isinstance(value, int | np.integer) else [int(v) for v in np.asarray(value).ravel()]
    if len(seq) == 4:
        return seq
    if len(seq) == 1:
        seq = seq * 2
    elif len(seq) != 2:
        raise ValueError(f"{name} should be of length 1, 2 or 4 but was {len(seq)}: {value!r}.")
    return [1, seq[0], seq[1], 1] if data_format == "NHWC" else [1, 1, seq[0], seq[1]]


def _padding_attrs(padding: Any, data_format: str) -> tuple[str, list[int]]:
    """``'SAME'``/``'VALID'``, or 4 explicit ``[before, after]`` pairs in ``data_format`` order."""
    if isinstance(padding, str):
        if padding not in _PADDINGS:
            raise ValueError(f"padding must be 'SAME' or 'VALID' (or a list of explicit paddings), got {padding!r}.")
        return padding, []
    if isinstance(padding, list | tuple):
        pairs = [list(p) if isinstance(p, list | tuple) else None for p in padding]
        if len(pairs) != 4 or any(p is None or len(p) != 2 for p in pairs):
            raise ValueError(
                f"Explicit padding must be a list of 4 [before, after] pairs in {data_format} order, got {padding!r}."
            )
        flat = [int(v) for p in pairs for v in p]
        if any(v < 0 for v in flat):
            raise ValueError(f"Explicit paddings must be non-negative, got {padding!r}.")
        c = _spatial_index(data_format)[2]
        if flat[0] or flat[1] or flat[2 * c] or flat[2 * c + 1]:
            raise ValueError(f"Explicit padding of the batch and channel dimensions must be 0, got {padding!r}.")
        return "EXPLICIT", flat
    raise ValueError(f"padding must be 'SAME', 'VALID' or a list of explicit paddings, got {padding!r}.")


def _conv_attrs(strides: Any, padding: Any, data_format: Any, dilations: Any, use_cudnn_on_gpu: Any = True) -> dict:
    fmt = _check_format(data_format)
    pad, explicit = _padding_attrs(padding, fmt)
    return {
        "strides": _get_sequence(strides, "strides", fmt),
        "padding": pad,
        "explicit_paddings": explicit,
        "data_format": fmt,
        "dilations": _get_sequence(1 if dilations is None else dilations, "dilations", fmt),
        "use_cudnn_on_gpu": bool(use_cudnn_on_gpu),
    }


def _pool_attrs(ksize: Any, strides: Any, padding: Any, data_format: Any) -> dict:
    fmt = _check_format(data_format)
    if not isinstance(padding, str) or padding not in _PADDINGS:
        raise ValueError(f"padding must be 'SAME' or 'VALID' for pooling, got {padding!r}.")
    return {
        "ksize": _get_sequence(ksize, "ksize", fmt),
        "strides": _get_sequence(strides, "strides", fmt),
        "padding": padding,
        "data_format": fmt,
    }


def _alias(primary: Any, alias: Any, primary_name: str, alias_name: str) -> Any:
    """TF1's deprecated argument pairs (``filter``/``filters``, ``value``/``input``): exactly one may be set."""
    if primary is not None and alias is not None:
        raise ValueError(f"Cannot specify both '{primary_name}' and '{alias_name}'.")
    if primary is None and alias is None:
        raise ValueError(f"Either '{primary_name}' or '{alias_name}' must be given.")
    return primary if primary is not None else alias


# ---------------------------------------------------------------------------------------------
# Window geometry
# ---------------------------------------------------------------------------------------------
def _out_and_pad(n: int, k: int, s: int, d: int, mode: str, explicit: tuple[int, int], op_type: str) -> tuple[int, int]:
    """(output size, padding before) of one spatial axis; raises when the window does not fit."""
    eff = (k - 1) * d + 1
    if mode == "SAME":
        out = -(-n // s)
        return out, max((out - 1) * s + eff - n, 0) // 2
    before, after = explicit if mode == "EXPLICIT" else (0, 0)
    avail = n + before + after
    if avail < eff:
        raise ValueError(f"Negative dimension size caused by subtracting {eff} from {avail} for '{op_type}'")
    return (avail - eff) // s + 1, before


class _Axis:
    """One spatial axis of a window op: sizes, and per window tap the output and input slices it pairs.

    Tap ``t`` reads input ``o*S + t*D - pad`` for output ``o``; taps are clipped to the outputs whose
    input is in range, so padding never needs materialising for pooling and col2im.
    """

    __slots__ = ("counts", "d", "k", "n_in", "n_out", "pad", "s", "span", "taps")

    def __init__(self, n_in: int, k: int, s: int, d: int, mode: str, explicit: tuple[int, int], op_type: str) -> None:
        self.n_in, self.k, self.s, self.d = n_in, k, s, d
        self.n_out, self.pad = _out_and_pad(n_in, k, s, d, mode, explicit, op_type)
        self.span = (self.n_out - 1) * s + (k - 1) * d + 1  # padded extent the windows read
        self.taps: list[tuple[slice, slice, bool] | None] = []
        counts = np.zeros(self.n_out, np.int64)
        for t in range(k):
            off = t * d - self.pad
            lo = max(0, (s - 1 - off) // s)
            hi = min(self.n_out - 1, (n_in - 1 - off) // s)
            if hi < lo:
                self.taps.append(None)
                continue
            self.taps.append(
                (slice(lo, hi + 1), slice(lo * s + off, hi * s + off + 1, s), lo == 0 and hi == self.n_out - 1)
            )
            counts[lo : hi + 1] += 1
        self.counts = counts


class _Geometry:
    """The spatial geometry of one op's attributes, resolved per input size (cached: sizes rarely change)."""

    def __init__(self, op_type: str, attrs: dict, window: list[int] | None = None) -> None:
        h, w, _ = _spatial_index(attrs["data_format"])
        self.op_type = op_type
        self.strides = (attrs["strides"][h], attrs["strides"][w])
        dil = attrs.get("dilations", [1, 1, 1, 1])
        self.dilations = (dil[h], dil[w])
        self.mode = attrs["padding"]
        ex = attrs.get("explicit_paddings") or [0] * 8
        self.explicit = ((ex[2 * h], ex[2 * h + 1]), (ex[2 * w], ex[2 * w + 1]))
        self.window = None if window is None else (window[h], window[w])
        self._cache: dict[tuple, tuple[_Axis, _Axis]] = {}

    def axes(self, n_h: int, n_w: int, k_h: int | None = None, k_w: int | None = None) -> tuple[_Axis, _Axis]:
        if k_h is None:
            k_h, k_w = self.window
        key = (n_h, n_w, k_h, k_w)
        got = self._cache.get(key)
        if got is None:
            got = (
                _Axis(n_h, k_h, self.strides[0], self.dilations[0], self.mode, self.explicit[0], self.op_type),
                _Axis(n_w, k_w, self.strides[1], self.dilations[1], self.mode, self.explicit[1], self.op_type),
            )
            self._cache[key] = got
        return got


def _static_out(
    n: int | None, k: int | None, s: int, d: int, mode: str, explicit: tuple[int, int], op_type: str, what: str
) -> int | None:
    if n is None or k is None:
        return None
    try:
        return _out_and_pad(n, k, s, d, mode, explicit, op_type)[0]
    except ValueError as e:
        raise ValueError(f"{e} with {what}.") from None


def _taps(gh: _Axis, gw: _Axis) -> list[tuple]:
    """The (kh, kw, out_h, out_w, in_h, in_w, full) window taps in row-major order (TF's scan order)."""
    out = []
    for kh, th in enumerate(gh.taps):
        if th is None:
            continue
        for kw, tw in enumerate(gw.taps):
            if tw is not None:
                out.append((kh, kw, th[0], tw[0], th[1], tw[1], th[2] and tw[2]))
    return out


def _tiled(a: _Axis) -> bool:
    """The windows tile the axis exactly (no overlap, gap, padding or remainder): taps write every input once."""
    return a.k == a.s and a.d == 1 and a.pad == 0 and a.n_out * a.s == a.n_in


def _overlapping(gh: _Axis, gw: _Axis) -> bool:
    """True when some input position lies in two windows (then tap contributions must be added)."""
    return (gh.k - 1) * gh.d + 1 > gh.s or (gw.k - 1) * gw.d + 1 > gw.s


# ---------------------------------------------------------------------------------------------
# NHWC kernels
# ---------------------------------------------------------------------------------------------
def _follows_batch_minor(xp: Any, x: Any) -> bool:
    """Kernels other than Conv2D's forward follow their main input: batch-minor in, batch-minor out (CPU)."""
    return xp is np and batch_minor.is_batch_minor(x)


def _to_nhwc(x: Any, nchw: bool) -> Any:
    return x.transpose(0, 2, 3, 1) if nchw else x


def _from_nhwc(xp: Any, y: Any, nchw: bool) -> Any:
    """The result in the op's layout, contiguous (one copy at most; none for a contiguous NHWC result)."""
    return xp.ascontiguousarray(y.transpose(0, 3, 1, 2) if nchw else y)


def _padded(xp: Any, x: Any, gh: _Axis, gw: _Axis) -> Any:
    """``x`` zero-padded to exactly the extent its windows read (``x`` itself when none is needed).

    Pads axes 1 and 2, so it serves (C, H, W, N) buffers (``batch_minor``) as well as NHWC.
    """
    n, h, w, c = x.shape
    if gh.pad == 0 and gw.pad == 0 and gh.span <= h and gw.span <= w:
        return x
    out = xp.empty((n, gh.span, gw.span, c), dtype=x.dtype)
    rh, rw = min(h, gh.span - gh.pad), min(w, gw.span - gw.pad)
    out[:, : gh.pad] = 0
    out[:, gh.pad + rh :] = 0
    out[:, gh.pad : gh.pad + rh, : gw.pad] = 0
    out[:, gh.pad : gh.pad + rh, gw.pad + rw :] = 0
    out[:, gh.pad : gh.pad + rh, gw.pad : gw.pad + rw] = x[:, :rh, :rw]
    return out


def _taps_first(c: int) -> bool:
    """Single-channel inputs use a (taps, patches) matrix: its copy moves whole image rows, not C floats."""
    return c == 1


def _patches(xp: Any, x: Any, gh: _Axis, gw: _Axis, out: Any = None) -> Any:
    """im2col: (N*OH*OW, KH*KW*C) patches, or (KH*KW*C, N*OH*OW) when ``_taps_first``; one strided copy.

    ``out``, if given, is the 2-D block (possibly a column slice of a larger buffer) to copy into.
    """
    xp_ = _padded(xp, x, gh, gw)
    n, c = x.shape[0], x.shape[3]
    sn, sh, sw, sc = xp_.strides
    view_strides = (sn, sh * gh.s, sw * gw.s, sh * gh.d, sw * gw.d, sc)
    as_strided = xp.lib.stride_tricks.as_strided
    if _taps_first(c):
        shape6 = (gh.k, gw.k, c, n, gh.n_out, gw.n_out)
        v = as_strided(xp_, shape6, view_strides[3:] + view_strides[:3])
    else:
        shape6 = (n, gh.n_out, gw.n_out, gh.k, gw.k, c)
        v = as_strided(xp_, shape6, view_strides)
    if out is None:
        return v.reshape(shape6[0] * shape6[1] * shape6[2], -1)
    r, q = out.strides  # split out's rows into shape6[:3] and its columns into shape6[3:]
    a, b = shape6[:3], shape6[3:]
    xp.copyto(as_strided(out, shape6, (a[1] * a[2] * r, a[2] * r, r, b[1] * b[2] * q, b[2] * q, q)), v)
    return out


#: Images per chunk are sized so that ~3 MB of patches (or of the gradient's scratch) stays in cache
#: between the copy that writes it and the GEMM that reads it: measured up to 2x faster than one
#: whole-batch im2col at batch 2048 and 1.15-1.4x on a 32x32x64 layer; neutral at LeNet's batch 64.
_CHUNK_BYTES = 3 << 20


def _image_chunks(n: int, bytes_per_image: int) -> list[slice]:
    step = max(1, _CHUNK_BYTES // max(bytes_per_image, 1))
    return [slice(i, min(i + step, n)) for i in range(0, n, step)]


def _patch_bytes(x: Any, gh: _Axis, gw: _Axis) -> int:
    return gh.n_out * gw.n_out * gh.k * gw.k * x.shape[3] * x.itemsize


def _conv_forward(xp: Any, x: Any, w: Any, gh: _Axis, gw: _Axis, keep: bool = False) -> tuple[Any, Any]:
    """out[n, i, j, o] = sum_{a, b, c} x[n, i*S + a*D - P, j*S + b*D - P, c] w[a, b, c, o]: one GEMM per chunk.

    With ``keep`` the chunks fill one whole-batch patches matrix, also returned for the filter
    gradient (one large buffer, so the allocator backs it with huge pages); otherwise each chunk's
    patches are dropped and their memory reused by the next chunk.
    """
    n, c, o = x.shape[0], x.shape[3], w.shape[3]
    w2 = w.reshape(-1, o)
    out = xp.empty((n, gh.n_out, gw.n_out, o), dtype=x.dtype)
    rows, width = gh.n_out * gw.n_out, gh.k * gw.k * c
    cols_all = None
    if keep:
        cols_all = xp.empty((width, n * rows) if _taps_first(c) else (n * rows, width), dtype=x.dtype)
    for sl in _image_chunks(n, _patch_bytes(x, gh, gw)):
        block = None
        if cols_all is not None:
            span = slice(sl.start * rows, sl.stop * rows)
            block = cols_all[:, span] if _taps_first(c) else cols_all[span]
        cols = _patches(xp, x[sl], gh, gw, block)
        xp.matmul(cols.T if _taps_first(c) else cols, w2, out=out[sl].reshape(-1, o))
    return out, cols_all


def _conv_filter_grad(xp: Any, x: Any, g: Any, gh: _Axis, gw: _Axis, cols: Any = None) -> Any:
    """dW[a, b, c, o] = sum_{n, i, j} patches[(n, i, j), (a, b, c)] g[n, i, j, o]: one GEMM (per chunk
    of images when the forward's whole-batch ``cols`` are not at hand)."""
    c, o = x.shape[3], g.shape[3]
    if cols is not None:
        blocks = [(slice(None), cols)]
    else:
        chunks = _image_chunks(x.shape[0], _patch_bytes(x, gh, gw))
        blocks = ((sl, _patches(xp, x[sl], gh, gw)) for sl in chunks)
    dw = xp.zeros((gh.k * gw.k * c, o), dtype=g.dtype)
    for sl, block in blocks:
        g2 = g[sl].reshape(-1, o)
        dw += block @ g2 if _taps_first(c) else block.T @ g2
    return dw.reshape(gh.k, gw.k, c, o)


def _conv_input_grad(xp: Any, g: Any, w: Any, gh: _Axis, gw: _Axis, x_shape: tuple) -> Any:
    """dx[n, i*S + a*D - P, j*S + b*D - P, c] += sum_o g[n, i, j, o] w[a, b, c, o], chunk by chunk of images.

    Three schedules of the same sum, picked by measurement on a 2-core AVX2 machine: wide stride-1
    layers run it as a forward convolution of the re-padded g with the flipped, transposed filter
    (one GEMM with K = KH*KW*O, far faster than KH*KW GEMMs with K = O); narrow stride-1 layers use
    one GEMM into a channel-major buffer scattered with long runs (``_input_grad_flat``); the rest
    scatter one small GEMM per tap (col2im), whose adds move contiguous runs of OW*C.
    """
    n, h, wd, c = x_shape
    kh, kw, _, o = w.shape
    size = g.itemsize
    if gh.s == 1 and gw.s == 1 and c >= 64:
        schedule, per_image = _input_grad_full, h * wd * kh * kw * o * size
    elif gh.s == 1 and gw.s == 1 and c <= 8:
        schedule, per_image = _input_grad_flat, kh * kw * c * gh.n_out * gw.span * size
    else:
        schedule, per_image = _input_grad_taps, (h * wd + gh.n_out * gw.n_out) * c * size
    dx = xp.empty(x_shape, dtype=g.dtype)
    for sl in _image_chunks(n, per_image):
        schedule(xp, g[sl], w, gh, gw, dx[sl])
    return dx


def _input_grad_taps(xp: Any, g: Any, w: Any, gh: _Axis, gw: _Axis, dx: Any) -> None:
    """col2im into ``dx``: per tap one GEMM g @ w[a, b]^T added into the strided input positions."""
    n, c, o = dx.shape[0], dx.shape[3], w.shape[3]
    g2 = g.reshape(-1, o)
    dx[...] = 0
    for kh, kw, oh, ow, ih, iw, _ in _taps(gh, gw):
        contrib = (g2 @ w[kh, kw].T).reshape(n, gh.n_out, gw.n_out, c)
        dx[:, ih, iw] += contrib[:, oh, ow]


def _input_grad_full(xp: Any, g: Any, w: Any, gh: _Axis, gw: _Axis, dx: Any) -> None:
    """Stride 1: dx = g, padded by (F-1)D - P before, correlated with w flipped in space, in <-> out."""
    n, h, wd, c = dx.shape
    kh, kw, _, o = w.shape
    gp = _shift_pad(
        xp, g, (kh - 1) * gh.d - gh.pad, h + gh.pad - gh.n_out, (kw - 1) * gw.d - gw.pad, wd + gw.pad - gw.n_out
    )
    sn, sh, sw, sc = gp.strides
    view = xp.lib.stride_tricks.as_strided(gp, (n, h, wd, kh, kw, o), (sn, sh, sw, sh * gh.d, sw * gw.d, sc))
    w_flip = w[::-1, ::-1].transpose(0, 1, 3, 2).reshape(-1, c)
    xp.matmul(view.reshape(n * h * wd, -1), w_flip, out=dx.reshape(-1, c))


def _input_grad_flat(xp: Any, g: Any, w: Any, gh: _Axis, gw: _Axis, dx: Any) -> None:
    """Stride 1, few channels: one GEMM to (taps, C*N, OH*Wp), scattered into a (C*N, Hp*Wp) buffer.

    g is laid out on rows of the padded width Wp (zeros past OW), so tap (a, b) adds one contiguous
    run of OH*Wp floats per (channel, image) at offset a*D*Wp + b*D; the zeros it spills across
    row ends add nothing.
    """
    n, h, wd, c = dx.shape
    kh, kw, _, o = w.shape
    oh, ow, hp, wp = gh.n_out, gw.n_out, gh.span, gw.span
    if wp != ow:
        gp = xp.zeros((n, oh, wp, o), dtype=g.dtype)
        gp[:, :, :ow] = g
    else:
        gp = g
    run = oh * wp
    taps = (w.reshape(-1, o) @ gp.reshape(-1, o).T).reshape(kh, kw, c * n, run)
    flat = xp.zeros((c * n, hp * wp + (kw - 1) * gw.d), dtype=g.dtype)
    for a in range(kh):
        for b in range(kw):
            off = a * gh.d * wp + b * gw.d
            flat[:, off : off + run] += taps[a, b]
    framed = flat[:, : hp * wp].reshape(c, n, hp, wp)
    dx[...] = framed[:, :, gh.pad : gh.pad + h, gw.pad : gw.pad + wd].transpose(1, 2, 3, 0)


def _shift_pad(xp: Any, g: Any, top: int, bottom: int, left: int, right: int) -> Any:
    """``g`` with rows/columns of zeros added (positive) or cut off (negative) at each border."""
    n, h, w, c = g.shape
    out = xp.zeros((n, h + top + bottom, w + left + right, c), dtype=g.dtype)
    src = g[:, max(0, -top) : h - max(0, -bottom), max(0, -left) : w - max(0, -right)]
    r0, c0 = max(0, top), max(0, left)
    out[:, r0 : r0 + src.shape[1], c0 : c0 + src.shape[2]] = src
    return out


def _lowest(dtype: Any) -> Any:
    return -np.inf if np.issubdtype(dtype, np.floating) else np.iinfo(dtype).min


def _max_pool(xp: Any, x: Any, gh: _Axis, gw: _Axis, out: Any = None) -> Any:
    """out[n, i, j, c] = max over window taps (a, b) of x[n, i*S + a - P, j*S + b - P, c] (padding ignored)."""
    taps = _taps(gh, gw)
    first = next((t for t in taps if t[6]), None)
    if out is None:
        out = xp.empty((x.shape[0], gh.n_out, gw.n_out, x.shape[3]), dtype=x.dtype)
    if first is None:
        out[...] = _lowest(x.dtype)
    else:
        xp.copyto(out, x[:, first[4], first[5]])
    for t in taps:
        if t is not first:
            o = out[:, t[2], t[3]]
            xp.maximum(o, x[:, t[4], t[5]], out=o)
    return out


def _first_max_masks(xp: Any, x: Any, y: Any, gh: _Axis, gw: _Axis):
    """Yields (tap, mask): mask marks outputs whose first maximum (row-major window order) is at this tap."""
    taps = _taps(gh, gw)
    taken = xp.zeros(y.shape, dtype=bool)
    scratch = xp.empty(y.shape, dtype=bool)  # each mask is used before the next is computed
    for i, t in enumerate(taps):
        m = scratch[:, t[2], t[3]]
        xp.equal(x[:, t[4], t[5]], y[:, t[2], t[3]], out=m)
        tk = taken[:, t[2], t[3]]
        if i:
            xp.greater(m, tk, out=m)  # m and not taken
        if i < len(taps) - 1:
            xp.logical_or(tk, m, out=tk)
        yield t, m


def _max_pool_grad(xp: Any, x: Any, y: Any, g: Any, gh: _Axis, gw: _Axis, out: Any = None) -> Any:
    """Routes each output gradient to the first maximum of its window, as TF does on ties."""
    overlap = _overlapping(gh, gw)
    if out is None:
        dx = (xp.empty if _tiled(gh) and _tiled(gw) else xp.zeros)(x.shape, dtype=g.dtype)
    else:
        dx = out
        if not (_tiled(gh) and _tiled(gw)):
            dx[...] = 0
    for t, m in _first_max_masks(xp, x, y, gh, gw):
        d = dx[:, t[4], t[5]]
        if overlap:
            d += m * g[:, t[2], t[3]]
        else:
            xp.multiply(m, g[:, t[2], t[3]], out=d)
    return dx


def _max_pool_grad_grad(xp: Any, x: Any, y: Any, gg: Any, gh: _Axis, gw: _Axis) -> Any:
    """out[n, i, j, c] = gg at the first maximum of window (i, j): the adjoint of ``_max_pool_grad``."""
    out = xp.zeros(y.shape, dtype=gg.dtype)
    for t, m in _first_max_masks(xp, x, y, gh, gw):
        xp.copyto(out[:, t[2], t[3]], gg[:, t[4], t[5]], where=m)
    return out


#: Window kernels that can write one channel slab of a preallocated output (``out=``).
_SLAB_KERNELS = frozenset({_max_pool, _max_pool_grad})


def _avg_counts(xp: Any, gh: _Axis, gw: _Axis, dtype: Any) -> Any:
    """How many real (unpadded) inputs each window averages: a scalar for VALID, (OH, OW, 1) for SAME."""
    if not gh.n_out or not gw.n_out:
        return 1
    if gh.counts.min() == gh.counts.max() and gw.counts.min() == gw.counts.max():
        return int(gh.counts[0] * gw.counts[0])
    return xp.asarray((gh.counts[:, None, None] * gw.counts[None, :, None]).astype(dtype))


def _avg_pool(xp: Any, x: Any, gh: _Axis, gw: _Axis) -> Any:
    """out[n, i, j, c] = mean of x over the window's in-range taps (SAME never averages padding)."""
    taps = _taps(gh, gw)
    first = next((t for t in taps if t[6]), None)
    if first is None:
        out = xp.zeros((x.shape[0], gh.n_out, gw.n_out, x.shape[3]), dtype=x.dtype)
    else:
        out = x[:, first[4], first[5]].copy()
    for t in taps:
        if t is not first:
            out[:, t[2], t[3]] += x[:, t[4], t[5]]
    out /= _avg_counts(xp, gh, gw, x.dtype)
    return out


def _avg_pool_grad(xp: Any, g: Any, gh: _Axis, gw: _Axis, x_shape: tuple) -> Any:
    """Spreads g / count evenly over each window's in-range inputs."""
    gs = g / _avg_counts(xp, gh, gw, g.dtype)
    dx = xp.zeros(x_shape, dtype=g.dtype)
    overlap = _overlapping(gh, gw)
    for t in _taps(gh, gw):
        if overlap:
            dx[:, t[4], t[5]] += gs[:, t[2], t[3]]
        else:
            dx[:, t[4], t[5]] = gs[:, t[2], t[3]]
    return dx


# ---------------------------------------------------------------------------------------------
# Patches shared between Conv2D and its Conv2DBackpropFilter within one run
# ---------------------------------------------------------------------------------------------
class _PatchCell:
    """The forward's patches, kept for the filter gradient of the same plan (taken once, then dropped)."""

    __slots__ = ("entry", "wanted")

    def __init__(self) -> None:
        self.wanted = False
        self.entry: tuple | None = None


_CELLS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_CELLS_LOCK = threading.Lock()


def _cells_of(rt: Any) -> dict:
    """The runtime's forward-op -> cell map (a fresh, unshared map if the runtime cannot be weakly keyed)."""
    with _CELLS_LOCK:
        try:
            d = _CELLS.get(rt)
            if d is None:
                d = _CELLS[rt] = {}
        except TypeError:
            d = {}
        return d


def _forward_cell(op: Any, rt: Any) -> _PatchCell:
    """Registers the cell this plan's Conv2D writes; the plan's filter-gradient op, bound later, claims it."""
    cell = _PatchCell()
    _cells_of(rt)[op] = cell
    return cell


def _backprop_cell(op: Any, rt: Any) -> _PatchCell | None:
    """The cell of the Conv2D this gradient op was built for (its control input, bound earlier in the plan).

    The control dependency guarantees that Conv2D runs earlier in every run of the plan, so an entry
    whose input is this very array was computed from this run's value.
    """
    x = op.inputs[0]
    fwd = next((c for c in op.control_inputs if c.type == "Conv2D" and c.inputs[0] is x), None)
    if fwd is None or fwd.attrs != {k: v for k, v in op.attrs.items() if k in fwd.attrs}:
        return None
    cell = _cells_of(rt).get(fwd)
    if cell is not None:
        cell.wanted = True
    return cell


# ---------------------------------------------------------------------------------------------
# Depthwise kernels: one tap at a time, broadcasting over (batch, pixels, channels)
# ---------------------------------------------------------------------------------------------
def _depthwise_forward(xp: Any, x: Any, w: Any, gh: _Axis, gw: _Axis) -> Any:
    """out[n, i, j, c*M + m] = sum_{a, b} x[n, i*S + a*D - P, j*S + b*D - P, c] w[a, b, c, m]."""
    n, c, m = x.shape[0], x.shape[3], w.shape[3]
    out = xp.zeros((n, gh.n_out, gw.n_out, c, m), dtype=x.dtype)
    for kh, kw, oh, ow, ih, iw, _ in _taps(gh, gw):
        out[:, oh, ow] += x[:, ih, iw, :, None] * w[kh, kw]
    return out.reshape(n, gh.n_out, gw.n_out, c * m)


def _depthwise_input_grad(xp: Any, g: Any, w: Any, gh: _Axis, gw: _Axis, x_shape: tuple) -> Any:
    """dx[n, i*S + a*D - P, j*S + b*D - P, c] += sum_m g[n, i, j, c*M + m] w[a, b, c, m]."""
    n, _, _, c = x_shape
    m = w.shape[3]
    g5 = g.reshape(n, gh.n_out, gw.n_out, c, m)
    dx = xp.zeros(x_shape, dtype=g.dtype)
    for kh, kw, oh, ow, ih, iw, _ in _taps(gh, gw):
        if m == 1:
            dx[:, ih, iw] += g5[:, oh, ow, :, 0] * w[kh, kw, :, 0]
        else:
            dx[:, ih, iw] += (g5[:, oh, ow] * w[kh, kw]).sum(axis=-1)
    return dx


def _depthwise_filter_grad(xp: Any, x: Any, g: Any, gh: _Axis, gw: _Axis, w_shape: tuple) -> Any:
    """dw[a, b, c, m] = sum_{n, i, j} x[n, i*S + a*D - P, j*S + b*D - P, c] g[n, i, j, c*M + m]."""
    n, c, m = x.shape[0], w_shape[2], w_shape[3]
    g5 = g.reshape(n, gh.n_out, gw.n_out, c, m)
    dw = xp.zeros(w_shape, dtype=g.dtype)
    ones = xp.ones(n * gh.n_out * gw.n_out, dtype=g.dtype)
    for kh, kw, oh, ow, ih, iw, _ in _taps(gh, gw):
        prod = (x[:, ih, iw, :, None] * g5[:, oh, ow]).reshape(-1, c * m)
        dw[kh, kw] = (ones[: prod.shape[0]] @ prod).reshape(c, m)  # a GEMV, not a slow tall .sum(0)
    return dw


# ---------------------------------------------------------------------------------------------
# Conv2D, DepthwiseConv2dNative and their backprop ops
# ---------------------------------------------------------------------------------------------
class _Family(NamedTuple):
    """The three op types of one convolution: forward, and its input and filter gradients."""

    forward: str
    backprop_input: str
    backprop_filter: str
    depthwise: bool  # filter [KH, KW, C, M] gives C*M outputs, each channel on its own


_CONV2D = _Family("Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter", False)
_DEPTHWISE = _Family(
    "DepthwiseConv2dNative", "DepthwiseConv2dNativeBackpropInput", "DepthwiseConv2dNativeBackpropFilter", True
)


def _rank4(op_type: str, **named: Tensor) -> None:
    for what, t in named.items():
        if t._dims is not None and len(t._dims) != 4:
            raise ValueError(
                f"{op_type} needs a rank-4 {what}, but {what} is {describe(t)}; "
                + ", ".join(f"{k} is {describe(v)}" for k, v in named.items() if k != what)
            )


def _same_dtype(op_type: str, a_name: str, a: Tensor, b_name: str, b: Tensor) -> None:
    if a.dtype is not b.dtype:
        raise TypeError(
            f"Input '{b_name}' of '{op_type}' Op has type {b.dtype.name} that does not match type {a.dtype.name} "
            f"of argument '{a_name}': {a_name} is {describe(a)}, {b_name} is {describe(b)}."
        )


def _float_only(op_type: str, t: Tensor) -> None:
    if not t.dtype.is_floating:
        raise TypeError(f"{op_type} needs half, float32 or float64 values; {describe(t)} is {t.dtype.name}.")


def _check_unit_batch_channel(op_type: str, attrs: dict, keys: tuple[str, ...]) -> None:
    _, _, c = _spatial_index(attrs["data_format"])
    for key in keys:
        v = attrs[key]
        if v[0] != 1 or v[c] != 1:
            raise ValueError(
                f"{op_type}: {key} {v} must be 1 in the batch and channel dimensions "
                f"({attrs['data_format']} order); flowgraph only slides windows over height and width."
            )
        if any(int(s) < 1 for s in v):
            raise ValueError(f"{op_type}: {key} {v} must be positive.")


def _out_depth(w_dims: tuple, depthwise: bool) -> int | None:
    if not depthwise:
        return w_dims[3]
    return None if w_dims[2] is None or w_dims[3] is None else w_dims[2] * w_dims[3]


def _conv_out_dims(
    op_type: str, attrs: dict, x_dims: tuple | None, w_dims: tuple | None, what: str, depthwise: bool = False
) -> tuple:
    """Static output dims (data_format order) of a convolution of input dims ``x_dims`` with ``w_dims``."""
    h, w, c = _spatial_index(attrs["data_format"])
    xd = x_dims if x_dims is not None else (None,) * 4
    wd = w_dims if w_dims is not None else (None,) * 4
    geo = _Geometry(op_type, attrs)
    oh = _static_out(xd[h], wd[0], geo.strides[0], geo.dilations[0], geo.mode, geo.explicit[0], op_type, what)
    ow = _static_out(xd[w], wd[1], geo.strides[1], geo.dilations[1], geo.mode, geo.explicit[1], op_type, what)
    out = [xd[0], None, None, None]
    out[h], out[w], out[c] = oh, ow, _out_depth(wd, depthwise)
    return tuple(out)


def _check_depth(
    op_type: str, x_name: str, x: Tensor, x_dims: tuple | None, w_dims: tuple | None, fmt: str, w: Tensor | None = None
) -> None:
    """The filter's input depth (dim 2) must equal the input's channel count."""
    if x_dims is None or w_dims is None:
        return
    cin = x_dims[_spatial_index(fmt)[2]]
    if cin is not None and w_dims[2] is not None and cin != w_dims[2]:
        filt = f"filter is {describe(w)}" if w is not None else f"filter shape is {list(w_dims)}"
        raise ValueError(
            f"Depth of {x_name} ({cin}) does not match the input depth of filter ({w_dims[2]}) in {op_type}: "
            f"{x_name} is {describe(x)}, {filt}."
        )


def _check_out_depth(op_type: str, g: Tensor, w_dims: tuple | None, fmt: str, depthwise: bool) -> None:
    if g._dims is None or w_dims is None:
        return
    co, want = g._dims[_spatial_index(fmt)[2]], _out_depth(w_dims, depthwise)
    if co is not None and want is not None and co != want:
        raise ValueError(
            f"Depth of out_backprop ({co}) does not match the output depth of filter ({want}) in {op_type}: "
            f"out_backprop is {describe(g)}, filter shape is {list(w_dims)}."
        )


def _check_backprop_size(op_type: str, attrs: dict, x_dims: tuple, w_dims: tuple, g: Tensor, depthwise: bool) -> None:
    """out_backprop's spatial size must be what the forward convolution of these sizes produces."""
    want = _conv_out_dims(op_type, attrs, x_dims, w_dims, f"out_backprop {describe(g)}", depthwise)
    if g._dims is None:
        return
    h, w, _ = _spatial_index(attrs["data_format"])
    for ax in (0, h, w):
        a, b = want[ax], g._dims[ax]
        if a is not None and b is not None and a != b:
            raise ValueError(
                f"{op_type}: out_backprop {describe(g)} does not match the convolution output size {list(want)} "
                f"computed from input sizes {list(x_dims)} and filter sizes {list(w_dims)}."
            )


def _sizes_dims(op_type: str, what: str, sizes: Tensor) -> tuple | None:
    """Static value of a 4-element shape input (unknown entries as None)."""
    dims = _dims_from_shape_tensor(sizes)
    if dims is None:
        return None
    if len(dims) != 4:
        raise ValueError(f"{op_type}: {what} must have 4 elements, got {list(dims)}.")
    return tuple(None if d is None or d < 0 else int(d) for d in dims)


def _host_ints(v: Any) -> list[int]:
    """A shape-vector value as Python ints (a CuPy array is copied to the host first)."""
    return [int(i) for i in np.asarray(v.get() if hasattr(v, "get") else v).ravel()]


def _sizes_nhwc(sizes: Any, data_format: str) -> tuple[int, int, int, int]:
    s = _host_ints(sizes)
    if len(s) != 4:
        raise ValueError(f"input_sizes must have 4 elements, got {s}.")
    return (s[0], s[1], s[2], s[3]) if data_format == "NHWC" else (s[0], s[2], s[3], s[1])


def _runtime_check(
    op_type: str, x_shape: tuple, w_shape: tuple, g_shape: tuple | None, axes: tuple[_Axis, _Axis], depthwise: bool
) -> None:
    """Shapes only known when the graph runs: depths, and out_backprop against the computed output."""
    out_c = w_shape[2] * w_shape[3] if depthwise else w_shape[3]
    bad = x_shape[3] != w_shape[2]
    if g_shape is not None:
        bad = bad or tuple(g_shape) != (x_shape[0], axes[0].n_out, axes[1].n_out, out_c)
    if bad:
        got = "" if g_shape is None else f", out_backprop {list(g_shape)}"
        raise ValueError(
            f"{op_type}: shapes do not fit (NHWC): input {list(x_shape)} (depth {x_shape[3]}), filter "
            f"{list(w_shape)} (input depth {w_shape[2]}){got}."
        )


class _ConvOp(OpDef):
    heavy = True
    splits = True
    family: _Family = _CONV2D

    def geometry(self, op: Any) -> _Geometry:
        return _Geometry(self.type, op.attrs)

    def make(self, op_type: str, inputs: list, attrs: dict) -> Tensor:
        keys = ("strides", "padding", "explicit_paddings", "data_format", "dilations", "use_cudnn_on_gpu")
        a = {k: attrs[k] for k in keys if k in attrs}
        return get_default_graph().create_op(op_type, inputs, a, name=op_type).outputs[0]


class _Forward(_ConvOp):
    """Inputs (input, filter): the convolution itself."""

    fresh_output = True
    batch_rule = "rows"

    def infer(self, op):
        x, w = op.inputs
        t, fmt = self.type, op.attrs["data_format"]
        _rank4(t, input=x, filter=w)
        _float_only(t, x)
        _same_dtype(t, "input", x, "filter", w)
        _check_unit_batch_channel(t, op.attrs, ("strides", "dilations"))
        _check_depth(t, "input", x, x._dims, w._dims, fmt, w)
        what = f"input shapes: input {describe(x)}, filter {describe(w)}"
        return [(x.dtype, _conv_out_dims(t, op.attrs, x._dims, w._dims, what, self.family.depthwise))]

    def gradient(self, op, g):
        x, w = op.inputs
        f = self.family
        dx = self.make(f.backprop_input, [shape(x), w, g], op.attrs)
        # Conv2D's control input lets the filter gradient reuse its patches (see _backprop_cell).
        with get_default_graph().control_dependencies([op] if f is _CONV2D else []):
            dw = self.make(f.backprop_filter, [x, shape(w), g], op.attrs)
        return [dx, dw]


class _BackpropInput(_ConvOp):
    """Inputs (input_sizes, filter, out_backprop): the gradient w.r.t. an input of shape input_sizes."""

    def batch_split(self, op, kinds):
        if kinds == (batch_split.L, batch_split.R, batch_split.S):  # this process's rows' gradient
            return batch_split.Split((batch_split.S,))
        return None

    def infer(self, op):
        sizes, w, g = op.inputs
        t, fmt, dw = self.type, op.attrs["data_format"], self.family.depthwise
        _rank4(t, filter=w, out_backprop=g)
        _float_only(t, w)
        _same_dtype(t, "filter", w, "out_backprop", g)
        _check_unit_batch_channel(t, op.attrs, ("strides", "dilations"))
        dims = _sizes_dims(t, "input_sizes", sizes)
        _check_depth(t, "input_sizes", sizes, dims, w._dims, fmt, w)
        _check_out_depth(t, g, w._dims, fmt, dw)
        if dims is not None and w._dims is not None:
            _check_backprop_size(t, op.attrs, dims, w._dims, g, dw)
        return [(w.dtype, dims if dims is not None else (None,) * 4)]

    def kernel(self, op, rt):
        xp, geo, t, intra = rt.xp, self.geometry(op), self.type, intra_op.of(rt)
        fmt = op.attrs["data_format"]
        nchw, dw = fmt == "NCHW", self.family.depthwise
        compute = _depthwise_input_grad if dw else _conv_input_grad

        def backprop_input(sizes, w, g):
            xs = _sizes_nhwc(sizes, fmt)
            gn = _to_nhwc(g, nchw)
            axes = geo.axes(xs[1], xs[2], w.shape[0], w.shape[1])
            _runtime_check(t, xs, w.shape, gn.shape, axes, dw)
            if not (dw or nchw) and _follows_batch_minor(xp, gn):
                return batch_minor.conv_input_grad(xp, gn, w, axes[0], axes[1], xs, _taps(axes[0], axes[1]), intra)
            return _from_nhwc(xp, compute(xp, gn, w, axes[0], axes[1], xs), nchw)

        return backprop_input

    def gradient(self, op, grad):
        _, w, g = op.inputs
        f = self.family
        return [
            None,
            self.make(f.backprop_filter, [grad, shape(w), g], op.attrs),
            self.make(f.forward, [grad, w], op.attrs),
        ]


class _BackpropFilter(_ConvOp):
    """Inputs (input, filter_sizes, out_backprop): the gradient w.r.t. a filter of shape filter_sizes."""

    def batch_split(self, op, kinds):
        return batch_split.rowwise(op, kinds, (0, 2), out=batch_split.P)

    def infer(self, op):
        x, sizes, g = op.inputs
        t, fmt, dw = self.type, op.attrs["data_format"], self.family.depthwise
        _rank4(t, input=x, out_backprop=g)
        _float_only(t, x)
        _same_dtype(t, "input", x, "out_backprop", g)
        _check_unit_batch_channel(t, op.attrs, ("strides", "dilations"))
        dims = _sizes_dims(t, "filter_sizes", sizes)
        if dims is not None:
            _check_depth(t, "input", x, x._dims, dims, fmt)
            _check_out_depth(t, g, dims, fmt, dw)
            _check_backprop_size(t, op.attrs, x._dims, dims, g, dw)
        return [(x.dtype, dims if dims is not None else (None,) * 4)]

    def kernel(self, op, rt):
        xp, geo, t, intra = rt.xp, self.geometry(op), self.type, intra_op.of(rt)
        nchw, dw = op.attrs["data_format"] == "NCHW", self.family.depthwise
        cell = None if dw else _backprop_cell(op, rt)

        def backprop_filter(x, sizes, g):
            ws = tuple(_host_ints(sizes))
            xn, gn = _to_nhwc(x, nchw), _to_nhwc(g, nchw)
            if len(ws) != 4:
                raise ValueError(f"{t}: filter_sizes must have 4 elements, got {list(ws)}.")
            axes = geo.axes(xn.shape[1], xn.shape[2], ws[0], ws[1])
            _runtime_check(t, xn.shape, ws, gn.shape, axes, dw)
            if dw:
                return _depthwise_filter_grad(xp, xn, gn, axes[0], axes[1], ws)
            cols, minor = None, not nchw and _follows_batch_minor(xp, gn)
            if cell is not None:
                entry, cell.entry = cell.entry, None
                if entry is not None and entry[0] is x:
                    cols, minor = entry[1], entry[2]
            if minor:
                return batch_minor.conv_filter_grad(xp, xn, gn, axes[0], axes[1], cols, intra)
            if xp is np and batch_minor.is_batch_minor(xn):
                xn = xp.ascontiguousarray(xn)
            return _conv_filter_grad(xp, xn, gn, axes[0], axes[1], cols)

        return backprop_filter

    def gradient(self, op, grad):
        x, _, g = op.inputs
        f = self.family
        return [
            self.make(f.backprop_input, [shape(x), grad, g], op.attrs),
            None,
            self.make(f.forward, [x, grad], op.attrs),
        ]


@register_op
class Conv2D(_Forward):
    """2-D cross-correlation of an input with a [KH, KW, C, O] filter (im2col + one GEMM)."""

    def kernel(self, op, rt):
        xp, geo, intra = rt.xp, self.geometry(op), intra_op.of(rt)
        nchw = op.attrs["data_format"] == "NCHW"
        cell = _forward_cell(op, rt)

        def conv2d(x, w):
            xn = _to_nhwc(x, nchw)
            axes = geo.axes(xn.shape[1], xn.shape[2], w.shape[0], w.shape[1])
            _runtime_check("Conv2D", xn.shape, w.shape, None, axes, False)
            if not nchw and batch_minor.use_for(xp, xn):
                out, cols = batch_minor.conv_forward(xp, xn, w, axes[0], axes[1], intra, keep=cell.wanted)
                if cell.wanted:
                    cell.entry = (x, cols, True)
                return out
            if xp is np and batch_minor.is_batch_minor(xn):  # a wide layer after a batch-minor one
                xn = xp.ascontiguousarray(xn)
            out, cols = _conv_forward(xp, xn, w, axes[0], axes[1], keep=cell.wanted)
            if cols is not None:
                cell.entry = (x, cols, False)
            return _from_nhwc(xp, out, nchw)

        return conv2d


@register_op
class Conv2DBackpropInput(_BackpropInput):
    """Gradient of Conv2D w.r.t. its input (also ``conv2d_transpose``)."""


@register_op
class Conv2DBackpropFilter(_BackpropFilter):
    """Gradient of Conv2D w.r.t. its filter: patches^T @ g (the forward's patches when it ran this run)."""

    fresh_output = True


@register_op
class DepthwiseConv2dNative(_Forward):
    """Each input channel correlated with its own [KH, KW] filters (channel multiplier M)."""

    family = _DEPTHWISE

    def kernel(self, op, rt):
        xp, geo = rt.xp, self.geometry(op)
        nchw = op.attrs["data_format"] == "NCHW"

        def depthwise_conv2d(x, w):
            xn = _to_nhwc(x, nchw)
            axes = geo.axes(xn.shape[1], xn.shape[2], w.shape[0], w.shape[1])
            _runtime_check("DepthwiseConv2dNative", xn.shape, w.shape, None, axes, True)
            return _from_nhwc(xp, _depthwise_forward(xp, xn, w, axes[0], axes[1]), nchw)

        return depthwise_conv2d


@register_op
class DepthwiseConv2dNativeBackpropInput(_BackpropInput):
    """Gradient of DepthwiseConv2dNative w.r.t. its input."""

    family = _DEPTHWISE


@register_op
class DepthwiseConv2dNativeBackpropFilter(_BackpropFilter):
    """Gradient of DepthwiseConv2dNative w.r.t. its filter."""

    family = _DEPTHWISE


# ---------------------------------------------------------------------------------------------
# Pooling
# ---------------------------------------------------------------------------------------------
def _pool_infer(op_type: str, op: Any, x: Tensor, x_dims: tuple | None) -> tuple:
    _check_unit_batch_channel(op_type, op.attrs, ("ksize", "strides"))
    if x_dims is not None and len(x_dims) != 4:
        raise ValueError(f"{op_type} needs a rank-4 input, but it is {describe(x)}.")
    h, w, c = _spatial_index(op.attrs["data_format"])
    xd = x_dims if x_dims is not None else (None,) * 4
    k = op.attrs["ksize"]
    geo = _Geometry(op_type, op.attrs)
    what = f"input shape {list(xd)} and ksize {k}"
    oh = _static_out(xd[h], k[h], geo.strides[0], 1, geo.mode, (0, 0), op_type, what)
    ow = _static_out(xd[w], k[w], geo.strides[1], 1, geo.mode, (0, 0), op_type, what)
    out = [xd[0], None, None, None]
    out[h], out[w], out[c] = oh, ow, xd[c]
    return tuple(out)


class _PoolOp(OpDef):
    heavy = True
    splits = True

    def geometry(self, op: Any) -> _Geometry:
        return _Geometry(self.type, op.attrs, window=op.attrs["ksize"])


def _by_channels(xp: Any, intra: Any, compute: Callable, bufs: tuple, gh: _Axis, gw: _Axis) -> Any:
    """``compute`` on (C, H, W, N) buffers, slab by slab of channels over the intra-op threads.

    Channels are the buffers' outermost axis, so each slab is contiguous; kernels that take ``out``
    (max pooling and its gradient) write their slab of one output, others run whole.
    """
    ways = intra.ways(bufs[0].size * gh.k * gw.k)
    if ways == 1 or compute not in _SLAB_KERNELS:
        return compute(xp, *bufs, gh, gw)
    pooled = compute is _max_pool
    c, n = bufs[0].shape[0], bufs[0].shape[3]
    shape = (c, gh.n_out, gw.n_out, n) if pooled else bufs[0].shape
    out = xp.empty(shape, dtype=bufs[-1].dtype)
    intra.map(lambda cs: compute(xp, *(b[cs] for b in bufs), gh, gw, out=out[cs]), intra_op.slabs(c, ways))
    return out


class _ForwardPool(_PoolOp):
    """MaxPool/AvgPool: ``_compute(xp, x_nhwc, gh, gw)`` applied in NHWC."""

    batch_rule = "rows"

    _compute: Callable[..., Any]

    def kernel(self, op, rt):
        xp, geo, intra = rt.xp, self.geometry(op), intra_op.of(rt)
        nchw = op.attrs["data_format"] == "NCHW"
        compute = type(self)._compute

        def pool(x):
            xn = _to_nhwc(x, nchw)
            gh, gw = geo.axes(xn.shape[1], xn.shape[2])
            if not nchw and _follows_batch_minor(xp, xn):  # H and W are axes 1, 2 of the buffer too
                return batch_minor.logical(_by_channels(xp, intra, compute, (batch_minor.memory(xp, xn),), gh, gw))
            return _from_nhwc(xp, compute(xp, xn, gh, gw), nchw)

        return pool


class _MaxPoolBackward(_PoolOp):
    """MaxPoolGrad/MaxPoolGradGrad: inputs (orig_input, orig_output, grad), ``_compute`` in NHWC.

    ``_pooled_output``: the output has the pooled shape (else orig_input's); ``_gradient_type``:
    the op that takes this op's gradient with respect to ``grad``.
    """

    def batch_split(self, op, kinds):
        return batch_split.rowwise(op, kinds, (0, 1, 2))

    _compute: Callable[..., Any]
    _pooled_output: bool
    _gradient_type: str
    fresh_output = True

    def infer(self, op):
        x, _, g = op.inputs
        _float_only(self.type, g)
        _same_dtype(self.type, "orig_input", x, "grad", g)
        pooled = _pool_infer(self.type, op, x, x._dims)
        return [(x.dtype, pooled if self._pooled_output else x._dims)]

    def kernel(self, op, rt):
        xp, geo, intra = rt.xp, self.geometry(op), intra_op.of(rt)
        nchw = op.attrs["data_format"] == "NCHW"
        compute = type(self)._compute

        def max_pool_backward(x, y, g):
            xn, yn, gn = _to_nhwc(x, nchw), _to_nhwc(y, nchw), _to_nhwc(g, nchw)
            gh, gw = geo.axes(xn.shape[1], xn.shape[2])
            if not nchw and _follows_batch_minor(xp, xn):
                bufs = tuple(batch_minor.memory(xp, a) for a in (xn, yn, gn))
                return batch_minor.logical(_by_channels(xp, intra, compute, bufs, gh, gw))
            return _from_nhwc(xp, compute(xp, xn, yn, gn, gh, gw), nchw)

        return max_pool_backward

    def gradient(self, op, grad):
        x, y, _ = op.inputs
        return [None, None, _make_pool_op(self._gradient_type, [x, y, grad], op.attrs)]


@register_op
class MaxPool(_ForwardPool):
    """Max over each window (np.maximum over KH*KW strided views)."""

    _compute = staticmethod(_max_pool)

    def infer(self, op):
        (x,) = op.inputs
        if not (x.dtype.is_floating or x.dtype.is_integer):
            raise TypeError(f"MaxPool needs real numbers; {describe(x)} is {x.dtype.name}.")
        return [(x.dtype, _pool_infer("MaxPool", op, x, x._dims))]

    def gradient(self, op, g):
        x = op.inputs[0]
        return [_make_pool_op("MaxPoolGrad", [x, op.outputs[0], g], op.attrs)]


@register_op
class MaxPoolGrad(_MaxPoolBackward):
    """Inputs (orig_input, orig_output, grad): grad routed to each window's first maximum."""

    _compute = staticmethod(_max_pool_grad)
    _pooled_output = False
    _gradient_type = "MaxPoolGradGrad"


@register_op
class MaxPoolGradGrad(_MaxPoolBackward):
    """Inputs (orig_input, orig_output, grad of input's shape): grad read at each window's first maximum."""

    _compute = staticmethod(_max_pool_grad_grad)
    _pooled_output = True
    _gradient_type = "MaxPoolGrad"


@register_op
class AvgPool(_ForwardPool):
    """Mean over each window's in-range elements."""

    _compute = staticmethod(_avg_pool)

    def infer(self, op):
        (x,) = op.inputs
        _float_only("AvgPool", x)
        return [(x.dtype, _pool_infer("AvgPool", op, x, x._dims))]

    def gradient(self, op, g):
        return [_make_pool_op("AvgPoolGrad", [shape(op.inputs[0]), g], op.attrs)]


@register_op
class AvgPoolGrad(_PoolOp):
    """Inputs (orig_input_shape, grad): grad / count spread over each window."""

    def batch_split(self, op, kinds):
        if kinds == (batch_split.L, batch_split.S):
            return batch_split.Split((batch_split.S,))
        return None

    def infer(self, op):
        sizes, g = op.inputs
        _float_only("AvgPoolGrad", g)
        dims = _dims_from_shape_tensor(sizes)
        if dims is not None:
            if len(dims) != 4:
                raise ValueError(f"AvgPoolGrad: orig_input_shape must have 4 elements, got {list(dims)}.")
            dims = tuple(None if d is None or d < 0 else int(d) for d in dims)
            _pool_infer("AvgPoolGrad", op, sizes, dims)
        return [(g.dtype, dims if dims is not None else (None,) * 4)]

    def kernel(self, op, rt):
        xp, geo = rt.xp, self.geometry(op)
        fmt = op.attrs["data_format"]
        nchw = fmt == "NCHW"

        def avg_pool_grad(sizes, g):
            xs = _sizes_nhwc(sizes, fmt)
            gn = _to_nhwc(g, nchw)
            gh, gw = geo.axes(xs[1], xs[2])
            if not nchw and _follows_batch_minor(xp, gn):
                buf = batch_minor.memory(xp, gn)
                return batch_minor.logical(_avg_pool_grad(xp, buf, gh, gw, batch_minor.memory_shape(xs)))
            return _from_nhwc(xp, _avg_pool_grad(xp, gn, gh, gw, xs), nchw)

        return avg_pool_grad

    def gradient(self, op, grad):
        return [None, _make_pool_op("AvgPool", [grad], op.attrs)]


def _make_pool_op(op_type: str, inputs: list, attrs: dict, name: str | None = None) -> Tensor:
    a = {k: attrs[k] for k in ("ksize", "strides", "padding", "data_format")}
    return get_default_graph().create_op(op_type, inputs, a, name=name or op_type).outputs[0]


# ---------------------------------------------------------------------------------------------
# Public functions (TF1 signatures)
# ---------------------------------------------------------------------------------------------
def _input_pair(x: Any, w: Any, x_name: str, w_name: str) -> tuple[Tensor, Tensor]:
    """Converts an (input, filter) pair; a Python filter takes the input's dtype."""
    xt = convert_to_tensor(x, name=x_name)
    wt = w if isinstance(w, Tensor) or hasattr(w, "_as_graph_tensor") else None
    if wt is None:
        wt = convert_to_tensor(w, dtype=xt.dtype, name=w_name)
    return xt, convert_to_tensor(wt)


def conv2d(
    input: Any,
    filter: Any = None,
    strides: Any = None,
    padding: Any = None,
    use_cudnn_on_gpu: bool = True,
    data_format: str = "NHWC",
    dilations: Any = [1, 1, 1, 1],  # noqa: B006 - TF1's default, never mutated
    name: str | None = None,
    filters: Any = None,
) -> Tensor:
    """``tf.nn.conv2d``: 2-D cross-correlation of a 4-D ``input`` with a [KH, KW, C_in, C_out] filter."""
    filter = _alias(filter, filters, "filter", "filters")
    attrs = _conv_attrs(strides, padding, data_format, dilations, use_cudnn_on_gpu)
    g = get_default_graph()
    with g.name_scope(name or "Conv2D") as scope:
        x, w = _input_pair(input, filter, "input", "filter")
        return g.create_op("Conv2D", [x, w], attrs, name=scope).outputs[0]


def _sizes_tensor(sizes: Any, name: str) -> Tensor:
    """A shape argument as an int32 vector; a list mixing ints and scalar Tensors is stacked (TF1's
    ``[tf.shape(x)[0], 8, 8, 5]`` idiom)."""
    if isinstance(sizes, Tensor):
        return sizes
    if isinstance(sizes, list | tuple) and any(isinstance(s, Tensor) for s in sizes):
        from flowgraph.ops.array import stack

        return stack([s if isinstance(s, Tensor) else convert_to_tensor(np.int32(s)) for s in sizes], name=name)
    return convert_to_tensor(np.asarray(sizes, dtype=np.int32), name=name)


def conv2d_backprop_input(
    input_sizes: Any,
    filter: Any = None,
    out_backprop: Any = None,
    strides: Any = None,
    padding: Any = None,
    use_cudnn_on_gpu: bool = True,
    data_format: str = "NHWC",
    dilations: Any = [1, 1, 1, 1],  # noqa: B006
    name: str | None = None,
    filters: Any = None,
) -> Tensor:
    """``tf.nn.conv2d_backprop_input``: the gradient of conv2d w.r.t. an input of shape ``input_sizes``."""
    filter = _alias(filter, filters, "filter", "filters")
    attrs = _conv_attrs(strides, padding, data_format, dilations, use_cudnn_on_gpu)
    g = get_default_graph()
    with g.name_scope(name or "Conv2DBackpropInput") as scope:
        sizes = _sizes_tensor(input_sizes, "input_sizes")
        w, gy = _input_pair(filter, out_backprop, "filter", "out_backprop")
        return g.create_op("Conv2DBackpropInput", [sizes, w, gy], attrs, name=scope).outputs[0]


def conv2d_backprop_filter(
    input: Any,
    filter_sizes: Any,
    out_backprop: Any,
    strides: Any,
    padding: Any,
    use_cudnn_on_gpu: bool = True,
    data_format: str = "NHWC",
    dilations: Any = [1, 1, 1, 1],  # noqa: B006
    name: str | None = None,
) -> Tensor:
    """``tf.nn.conv2d_backprop_filter``: the gradient of conv2d w.r.t. a filter of shape ``filter_sizes``."""
    attrs = _conv_attrs(strides, padding, data_format, dilations, use_cudnn_on_gpu)
    g = get_default_graph()
    with g.name_scope(name or "Conv2DBackpropFilter") as scope:
        x, gy = _input_pair(input, out_backprop, "input", "out_backprop")
        sizes = _sizes_tensor(filter_sizes, "filter_sizes")
        return g.create_op("Conv2DBackpropFilter", [x, sizes, gy], attrs, name=scope).outputs[0]


def conv2d_transpose(
    value: Any = None,
    filter: Any = None,
    output_shape: Any = None,
    strides: Any = None,
    padding: str = "SAME",
    data_format: str = "NHWC",
    name: str | None = None,
    input: Any = None,
    filters: Any = None,
    dilations: Any = None,
) -> Tensor:
    """``tf.nn.conv2d_transpose``: the adjoint of conv2d (a Conv2DBackpropInput) producing ``output_shape``.

    ``filter`` is [KH, KW, output_channels, in_channels], as for the conv2d it transposes.
    """
    value = _alias(value, input, "value", "input")
    filter = _alias(filter, filters, "filter", "filters")
    attrs = _conv_attrs(strides, padding, data_format, dilations, True)
    g = get_default_graph()
    with g.name_scope(name or "conv2d_transpose") as scope:
        x, w = _input_pair(value, filter, "value", "filter")
        sizes = _sizes_tensor(output_shape, "output_shape")
        c = _spatial_index(attrs["data_format"])[2]
        if (
            x._dims is not None
            and w._dims is not None
            and None not in (x._dims[c], w._dims[3])
            and x._dims[c] != w._dims[3]
        ):
            raise ValueError(
                f"input channels does not match filter's input channels, {x._dims[c]} != {w._dims[3]}: "
                f"value is {describe(x)}, filter is {describe(w)}."
            )
        dims = _dims_from_shape_tensor(sizes)
        if dims is not None and len(dims) != 4:
            raise ValueError(f"output_shape must have 4 elements, got {list(dims)}.")
        if (
            dims is not None
            and w._dims is not None
            and None not in (dims[c], w._dims[2])
            and dims[c] not in (w._dims[2], -1)
        ):
            raise ValueError(
                f"output_shape does not match filter's output channels, {dims[c]} != {w._dims[2]}: "
                f"filter is {describe(w)}."
            )
        return g.create_op("Conv2DBackpropInput", [sizes, w, x], attrs, name=scope).outputs[0]


def _depthwise_attrs(strides: Any, padding: Any, data_format: Any, dilations: Any) -> dict:
    attrs = _conv_attrs(strides, padding, data_format or "NHWC", dilations)
    del attrs["use_cudnn_on_gpu"]
    return attrs


def depthwise_conv2d(
    input: Any,
    filter: Any,
    strides: Any,
    padding: Any,
    rate: Any = None,
    name: str | None = None,
    data_format: str | None = None,
    dilations: Any = None,
) -> Tensor:
    """``tf.nn.depthwise_conv2d``: each input channel k correlated with its own filters ``filter[:, :, k, :]``.

    ``output[b, i, j, k*M + q] = sum_{di, dj} input[b, S*i + rate*di - P, S*j + rate*dj - P, k] filter[di, dj, k, q]``;
    ``rate`` (or ``dilations``) is the dilation of height and width.
    """
    if rate is not None and dilations is not None:
        raise ValueError("Cannot specify both 'rate' and 'dilations'.")
    rate = dilations if rate is None else rate
    attrs = _depthwise_attrs(strides, padding, data_format, rate)
    g = get_default_graph()
    with g.name_scope(name or "depthwise") as scope:
        x = convert_to_tensor(input, name="tensor_in")
        w = filter if isinstance(filter, Tensor) else convert_to_tensor(filter, dtype=x.dtype, name="filter_in")
        return g.create_op("DepthwiseConv2dNative", [x, w], attrs, name=scope).outputs[0]


def depthwise_conv2d_native(
    input: Any,
    filter: Any,
    strides: Any,
    padding: Any,
    data_format: str = "NHWC",
    dilations: Any = [1, 1, 1, 1],  # noqa: B006 - TF1's default, never mutated
    name: str | None = None,
) -> Tensor:
    """``tf.nn.depthwise_conv2d_native``: the DepthwiseConv2dNative op itself."""
    attrs = _depthwise_attrs(strides, padding, data_format, dilations)
    g = get_default_graph()
    with g.name_scope(name or "DepthwiseConv2dNative") as scope:
        x, w = _input_pair(input, filter, "input", "filter")
        return g.create_op("DepthwiseConv2dNative", [x, w], attrs, name=scope).outputs[0]


def depthwise_conv2d_native_backprop_input(
    input_sizes: Any,
    filter: Any,
    out_backprop: Any,
    strides: Any,
    padding: Any,
    data_format: str = "NHWC",
    dilations: Any = [1, 1, 1, 1],  # noqa: B006
    name: str | None = None,
) -> Tensor:
    """``tf.nn.depthwise_conv2d_native_backprop_input``."""
    attrs = _depthwise_attrs(strides, padding, data_format, dilations)
    g = get_default_graph()
    with g.name_scope(name or "DepthwiseConv2dNativeBackpropInput") as scope:
        sizes = _sizes_tensor(input_sizes, "input_sizes")
        w, gy = _input_pair(filter, out_backprop, "filter", "out_backprop")
        return g.create_op("DepthwiseConv2dNativeBackpropInput", [sizes, w, gy], attrs, name=scope).outputs[0]


def depthwise_conv2d_native_backprop_filter(
    input: Any,
    filter_sizes: Any,
    out_backprop: Any,
    strides: Any,
    padding: Any,
    data_format: str = "NHWC",
    dilations: Any = [1, 1, 1, 1],  # noqa: B006
    name: str | None = None,
) -> Tensor:
    """``tf.nn.depthwise_conv2d_native_backprop_filter``."""
    attrs = _depthwise_attrs(strides, padding, data_format, dilations)
    g = get_default_graph()
    with g.name_scope(name or "DepthwiseConv2dNativeBackpropFilter") as scope:
        x, gy = _input_pair(input, out_backprop, "input", "out_backprop")
        sizes = _sizes_tensor(filter_sizes, "filter_sizes")
        return g.create_op("DepthwiseConv2dNativeBackpropFilter", [x, sizes, gy], attrs, name=scope).outputs[0]


def separable_conv2d(
    input: Any,
    depthwise_filter: Any,
    pointwise_filter: Any,
    strides: Any,
    padding: Any,
    rate: Any = None,
    name: str | None = None,
    data_format: str | None = None,
    dilations: Any = None,
) -> Tensor:
    """``tf.nn.separable_conv2d``: a depthwise convolution, then a 1x1 conv2d mixing its C*M channels."""
    if rate is not None and dilations is not None:
        raise ValueError("Cannot specify both 'rate' and 'dilations'.")
    rate = dilations if rate is None else rate
    attrs = _depthwise_attrs(strides, padding, data_format, rate)
    g = get_default_graph()
    with g.name_scope(name or "separable_conv2d") as scope:
        x = convert_to_tensor(input, name="input")
        dw = convert_to_tensor(depthwise_filter, dtype=x.dtype, name="depthwise_filter")
        pw = convert_to_tensor(pointwise_filter, dtype=x.dtype, name="pointwise_filter")
        if pw._dims is not None and len(pw._dims) == 4 and (pw._dims[0] != 1 or pw._dims[1] != 1):
            raise ValueError(
                f"pointwise_filter must be [1, 1, in_channels * multiplier, out_channels], got {describe(pw)}."
            )
        depthwise = g.create_op("DepthwiseConv2dNative", [x, dw], attrs, name="depthwise").outputs[0]
        pointwise = _conv_attrs(1, "VALID", attrs["data_format"], 1)
        return g.create_op("Conv2D", [depthwise, pw], pointwise, name=scope).outputs[0]


def conv1d(
    value: Any = None,
    filters: Any = None,
    stride: Any = None,
    padding: Any = None,
    use_cudnn_on_gpu: Any = None,
    data_format: str | None = None,
    name: str | None = None,
    input: Any = None,
    dilations: Any = None,
) -> Tensor:
    """``tf.nn.conv1d``: cross-correlation over [batch, width, channels] (NWC) as a conv2d of height 1."""
    value = _alias(value, input, "value", "input")
    if filters is None:
        raise ValueError("conv1d needs filters [width, in_channels, out_channels].")
    if data_format in (None, "NWC", "NHWC"):
        fmt, axis = "NHWC", 1
    elif data_format in ("NCW", "NCHW"):
        fmt, axis = "NCHW", 2
    else:
        raise ValueError(f'data_format must be "NWC" or "NCW", got {data_format!r}.')
    stride_seq = _conv1d_sequence(stride, "stride", fmt)
    dil_seq = _conv1d_sequence(1 if dilations is None else dilations, "dilations", fmt)
    g = get_default_graph()
    with g.name_scope(name or "conv1d") as scope:
        x = convert_to_tensor(value, name="value")
        w = filters if isinstance(filters, Tensor) else convert_to_tensor(filters, dtype=x.dtype, name="filters")
        if x.shape.ndims is not None and x.shape.ndims != 3:
            raise ValueError(f"conv1d needs a rank-3 value [batch, width, channels], got {describe(x)}.")
        if w.shape.ndims is not None and w.shape.ndims != 3:
            raise ValueError(f"conv1d needs rank-3 filters [width, in_channels, out_channels], got {describe(w)}.")
        x4 = expand_dims(x, axis)
        w4 = expand_dims(w, 0)
        attrs = _conv_attrs(stride_seq, padding, fmt, dil_seq, use_cudnn_on_gpu is not False)
        y = g.create_op("Conv2D", [x4, w4], attrs, name=scope).outputs[0]
        return squeeze(y, [axis])


def _conv1d_sequence(value: Any, name: str, fmt: str) -> list[int]:
    """conv1d's stride/dilations (int, or 1 or 3 values) as conv2d's 4 (height stride 1)."""
    if value is None:
        raise ValueError(f"conv1d needs {name}.")
    seq = [value] if isinstance(value, int | np.integer) else [int(v) for v in np.asarray(value).ravel()]
    if len(seq) == 3:
        seq = [seq[1]] if fmt == "NHWC" else [seq[2]]
    elif len(seq) != 1:
        raise ValueError(f"{name} should be of length 1 or 3 but was {len(seq)}: {value!r}.")
    return [1, 1, seq[0], 1] if fmt == "NHWC" else [1, 1, 1, seq[0]]


def _pool(
    op_type: str, value: Any, input: Any, ksize: Any, strides: Any, padding: Any, data_format: str, name: str | None
) -> Tensor:
    value = _alias(value, input, "value", "input")
    attrs = _pool_attrs(ksize, strides, padding, data_format)
    g = get_default_graph()
    with g.name_scope(name or op_type) as scope:
        x = convert_to_tensor(value, name="input")
        return g.create_op(op_type, [x], attrs, name=scope).outputs[0]


def max_pool(
    value: Any = None,
    ksize: Any = None,
    strides: Any = None,
    padding: Any = None,
    data_format: str = "NHWC",
    name: str | None = None,
    input: Any = None,
) -> Tensor:
    """``tf.nn.max_pool``: max over ``ksize`` windows moved by ``strides`` (int, 2 or 4 values)."""
    return _pool("MaxPool", value, input, ksize, strides, padding, data_format, name)


def max_pool2d(
    input: Any, ksize: Any, strides: Any, padding: Any, data_format: str = "NHWC", name: str | None = None
) -> Tensor:
    """``tf.nn.max_pool2d``."""
    return _pool("MaxPool", input, None, ksize, strides, padding, data_format, name)


def avg_pool(
    value: Any = None,
    ksize: Any = None,
    strides: Any = None,
    padding: Any = None,
    data_format: str = "NHWC",
    name: str | None = None,
    input: Any = None,
) -> Tensor:
    """``tf.nn.avg_pool``: mean over windows; with SAME, border windows average only real elements."""
    return _pool("AvgPool", value, input, ksize, strides, padding, data_format, name)


def avg_pool2d(
    input: Any, ksize: Any, strides: Any, padding: Any, data_format: str = "NHWC", name: str | None = None
) -> Tensor:
    """``tf.nn.avg_pool2d``."""
    return _pool("AvgPool", input, None, ksize, strides, padding, data_format, name)


# Public names re-exported as ``tf.nn.<name>``.
__all__ = [
    "avg_pool",
    "avg_pool2d",
    "conv1d",
    "conv2d",
    "conv2d_backprop_filter",
    "conv2d_backprop_input",
    "conv2d_transpose",
    "depthwise_conv2d",
    "depthwise_conv2d_native",
    "depthwise_conv2d_native_backprop_filter",
    "depthwise_conv2d_native_backprop_input",
    "max_pool",
    "max_pool2d",
    "separable_conv2d",
]
