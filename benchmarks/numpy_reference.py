"""Hand-written NumPy forward + backward of the benchmark networks (the "hand-written NumPy" peer).

Written carefully but plainly, the way a NumPy user would write it, with the tricks ANCHORS.md lists:

- convolution as im2col (one strided-view copy into a patches matrix) + one GEMM over the batch;
- conv input gradient (conv2 only: conv1 needs none) as one small GEMM per window tap, added into
  strided views (col2im);
- 2x2 max pool as ``np.maximum`` over four strided views; its gradient by first-max masks;
- pool before ReLU (the two commute, ReLU then touches 4x fewer values);
- bias gradients as ``ones @ g`` (a GEMV), not ``g.sum(0)`` on a tall skinny array;
- conv1 (one input channel) channel-major: taps-first patches and ``w.T @ cols``, so its bias add,
  pool and pool gradient move long contiguous runs (ANCHORS' batch-innermost idea, for conv1 only);
- bias adds as flat adds of the bias tiled over a row, ReLU against a cached zeros array.

The rest stays NHWC, the layout flowgraph uses. There is no buffer pre-allocation: each step
allocates its temporaries, as flowgraph's kernels do, which keeps the peak-memory comparison about
the same algorithm.

Parameters (shared with the flowgraph and PyTorch peers) come from :func:`he_init`: a dict of
float32 arrays, weights He-normal ``N(0, 2 / fan_in)``, biases zero, conv filters HWIO, dense (in, out).
"""

from __future__ import annotations

import numpy as np

LENET_SHAPES = {
    "conv1/w": (5, 5, 1, 6), "conv1/b": (6,),
    "conv2/w": (5, 5, 6, 16), "conv2/b": (16,),
    "fc1/w": (400, 120), "fc1/b": (120,),
    "fc2/w": (120, 84), "fc2/b": (84,),
    "fc3/w": (84, 10), "fc3/b": (10,),
}  # fmt: skip
MLP_SHAPES = {
    "fc1/w": (784, 256), "fc1/b": (256,),
    "fc2/w": (256, 256), "fc2/b": (256,),
    "fc3/w": (256, 10), "fc3/b": (10,),
}  # fmt: skip


def he_init(shapes: dict, seed: int = 0) -> dict[str, np.ndarray]:
    """He-normal weights (std ``sqrt(2 / fan_in)``, fan_in = all dims but the last), zero biases."""
    rng = np.random.default_rng(seed)
    params = {}
    for name, shape in shapes.items():
        if name.endswith("/b"):
            params[name] = np.zeros(shape, np.float32)
        else:
            fan_in = int(np.prod(shape[:-1]))
            params[name] = (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
    return params


# ---------------------------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------------------------
def _patches(x: np.ndarray, k: int) -> np.ndarray:
    """im2col of a VALID k x k stride-1 window: (N*OH*OW, k*k*C), columns in (kh, kw, c) order (HWIO rows)."""
    n, h, w, c = x.shape
    oh, ow = h - k + 1, w - k + 1
    sn, sh, sw, sc = x.strides
    view = np.lib.stride_tricks.as_strided(x, (n, oh, ow, k, k, c), (sn, sh, sw, sh, sw, sc), writeable=False)
    return view.reshape(n * oh * ow, k * k * c)  # the one copy


def _patches_taps_first(x: np.ndarray, k: int) -> np.ndarray:
    """im2col of a one-channel (N, H, W) input as (k*k, N*OH*OW): the copy moves whole output rows."""
    n, h, w = x.shape
    oh, ow = h - k + 1, w - k + 1
    sn, sh, sw = x.strides
    view = np.lib.stride_tricks.as_strided(x, (k, k, n, oh, ow), (sh, sw, sn, sh, sw), writeable=False)
    return view.reshape(k * k, n * oh * ow)


def _pool_taps(x: np.ndarray, last: bool) -> list[np.ndarray]:
    """The four strided views of a 2x2 stride-2 window (spatial axes last, or 1 and 2 for NHWC),
    in TF's row-major scan order."""
    if last:
        return [x[..., 0::2, 0::2], x[..., 0::2, 1::2], x[..., 1::2, 0::2], x[..., 1::2, 1::2]]
    return [x[:, 0::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 0::2], x[:, 1::2, 1::2]]


def _max_pool(x: np.ndarray, last: bool = False) -> np.ndarray:
    t = _pool_taps(x, last)
    out = np.maximum(t[0], t[1])
    np.maximum(out, t[2], out=out)
    np.maximum(out, t[3], out=out)
    return out


def _max_pool_grad(x: np.ndarray, y: np.ndarray, g: np.ndarray, last: bool = False) -> np.ndarray:
    """Routes g to the first maximum of each window (TF's tie rule), by masks over the four taps."""
    dx = np.empty_like(x)
    taken = None
    for xt, dt in zip(_pool_taps(x, last), _pool_taps(dx, last)):
        m = xt == y
        if taken is None:
            taken = m
        else:
            m &= ~taken
            taken |= m
        np.multiply(m, g, out=dt)
    return dx


_ZEROS: dict[tuple, np.ndarray] = {}


def _relu_inplace(x: np.ndarray) -> np.ndarray:
    """ReLU in place, against a cached zeros array (np.maximum with a scalar 0 is several times slower)."""
    z = _ZEROS.get(x.shape)
    if z is None:
        z = _ZEROS[x.shape] = np.zeros(x.shape, np.float32)
    return np.maximum(x, z, out=x)


def _add_channel_bias(x: np.ndarray, b: np.ndarray) -> np.ndarray:
    """x (N, ..., C) += b in place, as a flat add of b tiled over a row (a broadcast over C alone is slow)."""
    n = x.shape[0]
    flat = x.reshape(n, -1)
    reps = flat.shape[1] // b.shape[0]
    flat += b if reps == 1 else np.tile(b, reps)
    return x


def _xent(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean sparse softmax cross-entropy and its gradient w.r.t. the logits."""
    n = logits.shape[0]
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    rows = np.arange(n)
    loss = float(np.mean(np.log(s[:, 0]) - z[rows, labels]))
    p = e / s
    p[rows, labels] -= 1.0
    p *= np.float32(1.0 / n)
    return loss, p


class _Model:
    """SGD training on a dict of parameters; subclasses supply ``_forward_backward``."""

    def __init__(self, params: dict[str, np.ndarray], lr: float = 0.05) -> None:
        self.p = {k: np.array(v, np.float32) for k, v in params.items()}
        self.lr = np.float32(lr)
        self._ones: dict[int, np.ndarray] = {}

    def ones(self, n: int) -> np.ndarray:
        o = self._ones.get(n)
        if o is None:
            o = self._ones[n] = np.ones(n, np.float32)
        return o

    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        loss, grads = self._forward_backward(x, y, need_grads=True)
        for k, g in grads.items():
            g *= self.lr
            self.p[k] -= g
        return loss

    def loss(self, x: np.ndarray, y: np.ndarray) -> float:
        return self._forward_backward(x, y, need_grads=False)[0]

    def gradients(self, x: np.ndarray, y: np.ndarray) -> tuple[float, dict]:
        return self._forward_backward(x, y, need_grads=True)

    def _dense_head(self, f: np.ndarray) -> tuple:
        """fc1 -> ReLU -> fc2 -> ReLU -> fc3 on features f; returns (h1, h2, logits)."""
        p = self.p
        h1 = f @ p["fc1/w"]
        h1 += p["fc1/b"]
        _relu_inplace(h1)
        h2 = h1 @ p["fc2/w"]
        h2 += p["fc2/b"]
        _relu_inplace(h2)
        logits = h2 @ p["fc3/w"]
        logits += p["fc3/b"]
        return h1, h2, logits

    def _dense_head_grad(
        self, f: np.ndarray, h1: np.ndarray, h2: np.ndarray, d: np.ndarray, g: dict, need_input_grad: bool
    ) -> np.ndarray | None:
        p, ones = self.p, self.ones(f.shape[0])
        g["fc3/w"], g["fc3/b"] = h2.T @ d, ones @ d
        d = d @ p["fc3/w"].T
        d *= h2 > 0
        g["fc2/w"], g["fc2/b"] = h1.T @ d, ones @ d
        d = d @ p["fc2/w"].T
        d *= h1 > 0
        g["fc1/w"], g["fc1/b"] = f.T @ d, ones @ d
        return d @ p["fc1/w"].T if need_input_grad else None


class MLP(_Model):
    """784-256-256-10, ReLU; inputs (N, 784) float32 in [0, 1], labels int (N,)."""

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self._dense_head(x)[2]

    def _forward_backward(self, x: np.ndarray, y: np.ndarray, need_grads: bool) -> tuple[float, dict]:
        h1, h2, logits = self._dense_head(x)
        loss, d = _xent(logits, y)
        g: dict = {}
        if need_grads:
            self._dense_head_grad(x, h1, h2, d, g, need_input_grad=False)
        return loss, g


class LeNet5(_Model):
    """LeNet-5 on NHWC (N, 28, 28, 1) float32 images in [0, 1].

    conv1 runs channel-major: its one-channel patches are taps-first (25, N*784), the GEMM
    ``w.T @ cols`` gives (6, N, 28, 28) whose bias add, pool and pool gradient move long runs; the
    pooled (6, N, 14, 14) map is transposed to NHWC (a small copy) for conv2, which is plain NHWC.
    """

    def _features(self, x: np.ndarray) -> tuple:
        p = self.p
        n = x.shape[0]
        xp = np.zeros((n, 32, 32), np.float32)  # SAME padding of a 5x5 window: 2 on each side
        xp[:, 2:30, 2:30] = x.reshape(n, 28, 28)
        cols1 = _patches_taps_first(xp, 5)  # (25, N*784)
        c1 = p["conv1/w"].reshape(25, 6).T @ cols1  # (6, N*784)
        c1 += p["conv1/b"][:, None]
        c1 = c1.reshape(6, n, 28, 28)
        p1 = _relu_inplace(_max_pool(c1, last=True))  # (6, N, 14, 14); pool-then-ReLU == ReLU-then-pool
        a1 = np.ascontiguousarray(p1.transpose(1, 2, 3, 0))  # (N, 14, 14, 6)
        cols2 = _patches(a1, 5)  # (N*100, 150)
        c2 = _add_channel_bias((cols2 @ p["conv2/w"].reshape(150, 16)).reshape(n, 10, 10, 16), p["conv2/b"])
        a2 = _relu_inplace(_max_pool(c2))  # (N, 5, 5, 16)
        return cols1, c1, p1, cols2, c2, a2

    def predict(self, x: np.ndarray) -> np.ndarray:
        a2 = self._features(x)[-1]
        return self._dense_head(a2.reshape(x.shape[0], 400))[2]

    def _forward_backward(self, x: np.ndarray, y: np.ndarray, need_grads: bool) -> tuple[float, dict]:
        p = self.p
        n = x.shape[0]
        cols1, c1, p1, cols2, c2, a2 = self._features(x)
        f = a2.reshape(n, 400)
        h1, h2, logits = self._dense_head(f)
        loss, d = _xent(logits, y)
        if not need_grads:
            return loss, {}
        g: dict = {}
        d = self._dense_head_grad(f, h1, h2, d, g, need_input_grad=True).reshape(n, 5, 5, 16)
        d *= a2 > 0  # ReLU after pool2
        d = _max_pool_grad(c2, a2, d).reshape(n * 100, 16)  # conv2 output gradient
        g["conv2/w"] = (cols2.T @ d).reshape(5, 5, 6, 16)
        g["conv2/b"] = self.ones(n * 100) @ d
        w2 = p["conv2/w"]
        da1 = np.zeros((n, 14, 14, 6), np.float32)
        for kh in range(5):  # col2im as one small GEMM per tap, added into a strided view
            for kw in range(5):
                da1[:, kh : kh + 10, kw : kw + 10] += (d @ w2[kh, kw].T).reshape(n, 10, 10, 6)
        d = np.ascontiguousarray(da1.transpose(3, 0, 1, 2))  # channel-major (6, N, 14, 14)
        d *= p1 > 0  # ReLU after pool1
        d = _max_pool_grad(c1, p1, d, last=True).reshape(6, n * 784)
        g["conv1/w"] = (d @ cols1.T).T.reshape(5, 5, 1, 6)
        g["conv1/b"] = d @ self.ones(n * 784)
        return loss, g
