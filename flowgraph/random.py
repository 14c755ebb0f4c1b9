"""``tf.random``: TF1's random namespace (short names for the random ops, and the seed)."""

from flowgraph.ops.random import categorical, multinomial, random_normal, random_shuffle, random_uniform, truncated_normal
from flowgraph.random_seed import get_seed, set_random_seed

normal = random_normal
uniform = random_uniform
shuffle = random_shuffle

__all__ = ["categorical", "get_seed", "multinomial", "normal", "random_normal", "random_shuffle", "random_uniform", "set_random_seed",
           "shuffle", "truncated_normal", "uniform"]


def __getattr__(name: str):  # noqa: ANN202
    from flowgraph.compat.missing import missing_attribute

    raise missing_attribute(__name__, globals(), name)
