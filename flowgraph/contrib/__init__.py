"""``tf.contrib``: only the pieces TF1 tutorials reach for (``tf.contrib.layers`` regularizers)."""

from flowgraph.contrib import layers


def __getattr__(name: str):  # noqa: ANN202
    from flowgraph.compat.missing import missing_attribute

    raise missing_attribute(__name__, globals(), name)
