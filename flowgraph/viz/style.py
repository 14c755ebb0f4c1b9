"""Look of rendered graphs: node kinds, the palette, the profile colormap and value formatting.

Kept apart from the layout code so the palette can be tuned without touching graph logic.
"""

from __future__ import annotations

import math
import re

import numpy as np

from flowgraph.graph import Operation

FONT = "Helvetica,Arial,sans-serif"

# Node kinds, in legend order.
PLACEHOLDER, VARIABLE, CONSTANT, OP, GRADIENT = "placeholder", "variable", "constant", "op", "gradient"

#: kind -> (fill, border, text); soft fills with a saturated border of the same hue.
PALETTE: dict[str, tuple[str, str, str]] = {
    PLACEHOLDER: ("#FFF1D6", "#E09B1A", "#5C3B00"),
    VARIABLE: ("#DFF3E4", "#2E9E58", "#0F3D21"),
    CONSTANT: ("#F1F3F5", "#9AA3AE", "#3D4650"),
    OP: ("#E3EDFB", "#3D74C9", "#13294B"),
    GRADIENT: ("#F1E6FA", "#8E4EC6", "#37174F"),
}

#: Cluster fills by nesting depth (deeper is a shade darker), and the tint for gradient scopes.
CLUSTER_FILLS = ("#F8FAFC", "#F0F3F8", "#E8EDF4", "#E0E7F0")
GRADIENT_CLUSTER_FILLS = ("#FAF6FD", "#F4ECFA", "#EEE2F7", "#E8D8F4")
CLUSTER_BORDER = "#C5CEDB"
CLUSTER_TEXT = "#4A5568"
EDGE = "#8792A2"
EDGE_TEXT = "#66717F"
CONTROL_EDGE = "#A0A8B4"
SUBTLE_TEXT = "#6B7684"

#: ColorBrewer "Reds" (9 classes): pale to deep red, for time per node.
REDS = ("#FFF5F0", "#FEE0D2", "#FCBBA1", "#FC9272", "#FB6A4A", "#EF3B2C", "#CB181D", "#A50F15", "#67000D")

_GRADIENT_SCOPE = re.compile(r"(^|/)gradients(_\d+)?/")
_PLACEHOLDERS = frozenset({"Placeholder", "PlaceholderWithDefault", "PlaceholderV2"})
_VARIABLE_STATE = frozenset({"VariableV2", "Variable", "VarHandleOp"})
_VARIABLE_ACCESS = frozenset({"Assign", "AssignAdd", "AssignSub", "Identity", "IsVariableInitialized"})


def op_kind(op: Operation) -> str:
    """Which palette entry an op gets: sources and constants first, then anything under gradients/."""
    t = op.type
    if t in _PLACEHOLDERS:
        return PLACEHOLDER
    if t in _VARIABLE_STATE:
        return VARIABLE
    if t == "Const":
        return CONSTANT
    if _GRADIENT_SCOPE.search(op.name):
        return GRADIENT
    if t in _VARIABLE_ACCESS and op.inputs and op.inputs[0].op.type in _VARIABLE_STATE:
        # A variable's own read snapshot and Assign initializer belong with the variable.
        var = op.inputs[0].op.name
        if op.name.startswith(var + "/"):
            return VARIABLE
    return OP


def is_gradient_scope(path: str) -> bool:
    return _GRADIENT_SCOPE.search(path + "/") is not None


def heat_color(frac: float) -> str:
    """A colour of the REDS ramp for ``frac`` in [0, 1], interpolated between its stops."""
    frac = min(1.0, max(0.0, frac)) * (len(REDS) - 1)
    i = min(int(frac), len(REDS) - 2)
    t = frac - i
    a, b = _rgb(REDS[i]), _rgb(REDS[i + 1])
    return "#" + "".join(f"{round(x + (y - x) * t):02X}" for x, y in zip(a, b))


def text_on(fill: str) -> str:
    """Black or white text, whichever reads better on ``fill``."""
    r, g, b = _rgb(fill)
    return "#FFFFFF" if 0.299 * r + 0.587 * g + 0.114 * b < 140 else "#1A1A1A"


def _rgb(c: str) -> tuple[int, int, int]:
    return int(c[1:3], 16), int(c[3:5], 16), int(c[5:7], 16)


class HeatScale:
    """Maps times (µs) to [0, 1] on a log scale, so ops 100x apart still differ visibly."""

    def __init__(self, times: list[float]) -> None:
        pos = [t for t in times if t > 0]
        self.hi = max(pos) if pos else 1.0
        self.lo = max(min(pos), self.hi / 1000.0) if pos else 1.0

    def frac(self, t: float) -> float:
        if t <= self.lo or self.hi <= self.lo:
            return 0.0 if t < self.hi else 1.0
        return math.log(t / self.lo) / math.log(self.hi / self.lo)

    def ticks(self, n: int = 5) -> list[float]:
        if self.hi <= self.lo:
            return [self.hi]
        return [self.lo * (self.hi / self.lo) ** (i / (n - 1)) for i in range(n)]


def fmt_time(us: float) -> str:
    if us >= 1e6:
        return f"{us / 1e6:.2f} s"
    if us >= 1e3:
        return f"{us / 1e3:.2f} ms"
    if us >= 10:
        return f"{us:.0f} µs"
    if us >= 1:
        return f"{us:.1f} µs"
    return f"{us:.2f} µs"


def fmt_shape(dims: tuple | None) -> str:
    if dims is None:
        return "<unknown>"
    inner = ", ".join("?" if d is None else str(d) for d in dims)
    return f"({inner},)" if len(dims) == 1 else f"({inner})"


def fmt_value(value: object, max_elements: int = 4) -> str | None:
    """A short literal for a small constant, or None when it is too big to print in a label."""
    arr = np.asarray(value)
    if arr.dtype.kind == "O" or arr.size > max_elements:
        return None
    if arr.dtype.kind == "f":
        flat = [f"{float(x):.4g}" for x in arr.ravel()]
    elif arr.dtype.kind == "b":
        flat = ["true" if x else "false" for x in arr.ravel()]
    else:
        flat = [str(x.item() if hasattr(x, "item") else x) for x in arr.ravel()]
    if arr.ndim == 0:
        return flat[0]
    return "[" + ", ".join(flat) + "]"
