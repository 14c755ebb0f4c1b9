"""``tf.io`` namespace: ``flowgraph.io.gfile`` serves both ``tf.gfile`` and ``tf.io.gfile``."""

from flowgraph.io import gfile

__all__ = ["gfile"]
