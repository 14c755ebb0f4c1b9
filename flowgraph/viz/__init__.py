"""Drawing graphs: name scopes as nested clusters, collapsible scopes, profile overlays.

``to_dot`` returns a ``graphviz.Digraph`` (which Jupyter shows inline); ``render`` writes an
SVG, PNG or PDF with Graphviz's ``dot``; ``graph_repr_svg`` backs ``Graph._repr_svg_``.
"""

from flowgraph.viz.dot import GraphvizNotFoundError, graph_repr_svg, render, to_dot
from flowgraph.viz.model import View, build_view

__all__ = ["GraphvizNotFoundError", "View", "build_view", "graph_repr_svg", "render", "to_dot"]
