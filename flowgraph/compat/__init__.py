"""``flowgraph.compat.v1`` is flowgraph itself, so ``import flowgraph.compat.v1 as tf`` works."""

import sys

import flowgraph as _flowgraph

v1 = _flowgraph
sys.modules[__name__ + ".v1"] = _flowgraph
