"""Client-side tools (TF1's ``tensorflow.python.client``): ``timeline`` for Chrome traces."""

from flowgraph.client import timeline

__all__ = ["timeline"]
