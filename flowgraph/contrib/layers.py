"""``tf.contrib.layers``: the regularizers and initializers TF1 tutorials use from contrib."""

from flowgraph.init_ops import variance_scaling_initializer
from flowgraph.init_ops import glorot_normal_initializer, glorot_uniform_initializer
from flowgraph.regularizers import apply_regularization, l1_regularizer, l2_regularizer, sum_regularizer

xavier_initializer = glorot_uniform_initializer


def __getattr__(name: str):  # noqa: ANN202
    from flowgraph.compat.missing import missing_attribute

    raise missing_attribute(__name__, globals(), name)


__all__ = ["apply_regularization", "glorot_normal_initializer", "glorot_uniform_initializer", "l1_regularizer",
           "l2_regularizer", "sum_regularizer", "variance_scaling_initializer", "xavier_initializer"]
