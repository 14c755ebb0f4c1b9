"""``tf.keras``: only ``tf.keras.regularizers`` (used with ``tf.layers``); flowgraph is graph-mode TF1."""

from flowgraph.keras import regularizers


def __getattr__(name: str):  # noqa: ANN202
    from flowgraph.compat.missing import missing_attribute

    raise missing_attribute(__name__, globals(), name)
