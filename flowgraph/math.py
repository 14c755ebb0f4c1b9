"""``tf.math``: the math ops under TF's namespaced names (re-exports)."""

from flowgraph.ops.math import *  # noqa: F403 - the math module's __all__ is the public map
from flowgraph.ops.math import __all__ as _math_all
from flowgraph.ops.math import reduce_std, reduce_variance
from flowgraph.ops.nn import log_softmax, softplus, softsign

__all__ = list(_math_all) + ["log_softmax", "reduce_std", "reduce_variance", "softplus", "softsign"]


def __getattr__(name: str):  # noqa: ANN202
    from flowgraph.compat.missing import missing_attribute

    raise missing_attribute(__name__, globals(), name)
