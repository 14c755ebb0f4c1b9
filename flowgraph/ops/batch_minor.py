"""Batch-minor convolution kernels: NHWC tensors stored (C, H, W, N) in memory, on the CPU.

Every value stays a logical NHWC array; only its memory order changes. A batch-minor value is the
view ``buf.transpose(3, 1, 2, 0)`` of a contiguous (C, H, W, N) buffer, so any op (reshape, add,
a fetch) sees an ordinary NHWC array and NumPy follows the strides, while the convolution and
pooling kernels find the batch innermost: each im2col copy, pooling step and col2im add moves
contiguous runs of at least N floats instead of C (one float for LeNet's input, six after conv1).
This is cuda-convnet's layout; on LeNet-5 it is what lets a NumPy step match PyTorch (ANCHORS.md).

Layout is chosen by the producer and followed by consumers: ``Conv2D`` emits batch-minor output
when ``use_for`` says so, and pooling, bias, ReLU and the gradient kernels keep whatever layout
their input has (elementwise NumPy ops already do: a ufunc's output follows its input's strides).
Results equal the NHWC kernels' up to the order of float additions inside the GEMMs.

The window arithmetic is shared with the NHWC kernels (``_Axis``): H and W are axes 1 and 2 in
both layouts, so the pooling kernels of ``conv.py`` run unchanged on (C, H, W, N) buffers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from flowgraph.ops import conv as _conv  # module object: conv imports this module first
from flowgraph.runtime.intra_op import SERIAL, IntraOp, slabs

#: Batch-minor pays when input channels are few (each NHWC run is C floats) and the batch gives runs
#: long enough to stream. Forward + both gradients at 1 thread, NHWC time / batch-minor time: LeNet
#: conv1 (C=1) 1.84x, conv2 (C=6) 1.28x, 3x3x16 on 32x32 1.04x, 3x3x32 0.89-1.06x, 3x3x64 0.62x.
_MAX_CHANNELS = 16
_MIN_BATCH = 16


def is_batch_minor(x: Any) -> bool:
    """True for a rank-4 array whose memory is a contiguous (C, H, W, N) buffer (and not also NHWC)."""
    return x.ndim == 4 and not x.flags.c_contiguous and x.transpose(3, 1, 2, 0).flags.c_contiguous


def use_for(xp: Any, x: Any) -> bool:
    """Whether a convolution of NHWC input ``x`` should run (and emit its output) batch-minor."""
    return xp is np and x.ndim == 4 and x.shape[3] <= _MAX_CHANNELS and x.shape[0] >= _MIN_BATCH


def memory(xp: Any, x: Any) -> Any:
    """The (C, H, W, N) buffer of NHWC ``x``: a free view when it is batch-minor, else one copy."""
    return xp.ascontiguousarray(x.transpose(3, 1, 2, 0))


def logical(buf: Any) -> Any:
    """The NHWC view of a (C, H, W, N) buffer."""
    return buf.transpose(3, 1, 2, 0)


def memory_shape(nhwc: tuple) -> tuple:
    n, h, w, c = nhwc
    return (c, h, w, n)


#: GEMMs with a small (M, K) side run on column chunks of at most ``_SMALL_MNK / (M*K)`` columns:
#: OpenBLAS then takes its small-matrix kernels (AVX-512 parts), measured 2x faster on LeNet's conv1
#: (6x25 filter times 50k patches), and each chunk of patches is still in cache when the GEMM reads it.
_SMALL_MK = 512
_SMALL_MNK = 1_000_000


def _column_chunks(p: int, mk: int, unit: int = 1) -> list[slice]:
    """Slices of ``p`` columns (multiples of ``unit`` columns) for a GEMM with small side ``mk``."""
    if mk > _SMALL_MK:
        return [slice(0, p)]
    step = max(1, _SMALL_MNK // (mk * unit)) * unit
    return [slice(i, min(i + step, p)) for i in range(0, p, step)]


def _patch_view(xp: Any, buf: Any, gh: Any, gw: Any) -> Any:
    """The (KH, KW, C, OH, OW, N) strided view of the padded buffer whose copy is the patches matrix.

    Row (a, b, c), column (i, j, n) of the patches holds input (c, i*S + a*D - P, j*S + b*D - P, n);
    with stride 1 each (a, b, c) row is OH runs of OW*N contiguous floats.
    """
    xp_ = _conv._padded(xp, buf, gh, gw)  # H and W are axes 1 and 2 here too
    c, n = buf.shape[0], buf.shape[3]
    sc, sh, sw, sn = xp_.strides
    return xp.lib.stride_tricks.as_strided(
        xp_, (gh.k, gw.k, c, gh.n_out, gw.n_out, n), (sh * gh.d, sw * gw.d, sc, sh * gh.s, sw * gw.s, sn)
    )


def patches(xp: Any, buf: Any, gh: Any, gw: Any) -> Any:
    """im2col: the (KH*KW*C, OH*OW*N) patches matrix of a (C, H, W, N) buffer, in one strided copy."""
    return _patch_view(xp, buf, gh, gw).reshape(gh.k * gw.k * buf.shape[0], -1)


def _bands(n_rows: int, row: int, mk: int, intra: IntraOp) -> list[slice]:
    """Column slices of whole output rows: one per intra-op thread, else small-GEMM chunks.

    Pieces are as few and as large as the threads allow: two threads scale 1.6-1.9x on a few
    large copies and GEMMs, but hardly at all (1.1x) on many 30 us ones.
    """
    ways = intra.ways(mk * n_rows * row)
    if ways > 1:
        return [slice(s.start * row, s.stop * row) for s in slabs(n_rows, ways)]
    return _column_chunks(n_rows * row, mk, unit=row)




def conv_forward(
    xp: Any, x: Any, w: Any, gh: Any, gw: Any, intra: IntraOp = SERIAL, keep: bool = True
) -> tuple[Any, Any]:
    """(batch-minor output, patches): out[o, (i, j, n)] = sum_k w[k, o] patches[k, (i, j, n)].

    Small filters copy and multiply the patches band by band of output rows (one band's patches
    still in cache for its GEMM), bands spread over the intra-op threads. With ``keep`` the bands
    fill one whole patches matrix, returned for the filter gradient; without, each band's patches
    are dropped (None is returned).
    """
    buf = memory(xp, x)
    c, n, o = buf.shape[0], buf.shape[3], w.shape[3]
    k = gh.k * gw.k * c
    w2t = w.reshape(k, o).T
    row = gw.n_out * n
    out = xp.empty((o, gh.n_out * row), dtype=x.dtype)
    bands = _bands(gh.n_out, row, o * k, intra)
    if len(bands) == 1:
        cols = patches(xp, buf, gh, gw)
        xp.matmul(w2t, cols, out=out)
    else:
        view = _patch_view(xp, buf, gh, gw)
        cols = xp.empty((k, gh.n_out * row), dtype=x.dtype) if keep else None

        def band(sl: slice) -> None:
            rows = slice(sl.start // row, sl.stop // row)
            if cols is None:
                block = view[:, :, :, rows].reshape(k, -1)
            else:
                block = cols[:, sl]
                xp.copyto(block.reshape(gh.k, gw.k, c, rows.stop - rows.start, gw.n_out, n), view[:, :, :, rows])
            for part in _column_chunks(sl.stop - sl.start, o * k):  # a row can be wider than a chunk
                xp.matmul(w2t, block[:, part], out=out[:, sl.start + part.start : sl.start + part.stop])

        intra.map(band, bands)
    return logical(out.reshape(o, gh.n_out, gw.n_out, n)), cols


def conv_filter_grad(xp: Any, x: Any, g: Any, gh: Any, gw: Any, cols: Any = None, intra: IntraOp = SERIAL) -> Any:
    """dW[(a, b, c), o] = patches @ G^T with G the (O, OH*OW*N) buffer of out_backprop ``g``."""
    if cols is None:
        cols = patches(xp, memory(xp, x), gh, gw)
    o = g.shape[3]
    g2 = memory(xp, g).reshape(o, -1)
    p, mk = g2.shape[1], o * cols.shape[0]

    def partial(sl: slice) -> Any:
        chunks = _column_chunks(sl.stop - sl.start, mk)
        acc = None
        for c in chunks:
            cs = slice(sl.start + c.start, sl.start + c.stop)
            part = xp.matmul(cols[:, cs], g2[:, cs].T)
            acc = part if acc is None else xp.add(acc, part, out=acc)
        return acc

    parts = intra.map(partial, slabs(p, intra.ways(mk * p)))
    dw = parts[0]
    for part in parts[1:]:
        dw += part
    return dw.reshape(gh.k, gw.k, x.shape[3], o)


def conv_input_grad(
    xp: Any, g: Any, w: Any, gh: Any, gw: Any, x_shape: tuple, taps: list, intra: IntraOp = SERIAL
) -> Any:
    """col2im, batch-minor: one GEMM W @ G to (KH*KW*C, OH*OW*N) rows, then one strided add per tap.

    ``taps`` are ``conv._taps(gh, gw)``: each pairs the output positions whose input is in range with
    those inputs, so padding is never materialised; with stride 1 every add moves runs of OW*N floats.
    With intra-op threads, the GEMM is cut by columns and the adds by input channels.
    """
    n, h, wd, c = x_shape
    kh, kw, _, o = w.shape
    g2 = memory(xp, g).reshape(o, -1)
    w2 = w.reshape(-1, o)
    p = g2.shape[1]
    dcols = xp.empty((w2.shape[0], p), dtype=g.dtype)

    def gemm(sl: slice) -> None:
        for c in _column_chunks(sl.stop - sl.start, w2.size):
            cs = slice(sl.start + c.start, sl.start + c.stop)
            xp.matmul(w2, g2[:, cs], out=dcols[:, cs])

    intra.map(gemm, slabs(p, intra.ways(w2.size * p)))
    dcols = dcols.reshape(kh, kw, c, gh.n_out, gw.n_out, n)
    dx = xp.zeros((c, h, wd, n), dtype=g.dtype)

    def scatter(cs: slice) -> None:
        for a, b, oh, ow, ih, iw, _ in taps:
            dx[cs, ih, iw] += dcols[a, b][cs, oh, ow]

    intra.map(scatter, slabs(c, intra.ways(len(taps) * dcols[0, 0].size)))
    return logical(dx)


def bias_add_grad(xp: Any, g: Any) -> Any:
    """Sum of batch-minor ``g`` over N, H and W: one GEMV over the contiguous (C, H*W*N) buffer."""
    g2 = memory(xp, g).reshape(g.shape[3], -1)
    return xp.matmul(g2, xp.ones(g2.shape[1], dtype=g.dtype))
