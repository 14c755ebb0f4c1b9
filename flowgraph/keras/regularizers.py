"""``tf.keras.regularizers``: ``l1``, ``l2``, ``l1_l2`` for ``kernel_regularizer=`` arguments."""

from flowgraph.regularizers import L1L2, l1, l1_l2, l2


def __getattr__(name: str):  # noqa: ANN202
    from flowgraph.compat.missing import missing_attribute

    raise missing_attribute(__name__, globals(), name)


__all__ = ["L1L2", "l1", "l1_l2", "l2"]
