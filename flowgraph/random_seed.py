"""Graph- and op-level seeds (TF1's ``tf.set_random_seed`` / ``tf.get_seed`` rules).

A random op's stream is fixed by the pair ``(seed, seed2)`` stored in its attrs; the Session draws
from ``rt.rng(op)``, so a fresh Session replays the same numbers and each run advances them.
"""

from __future__ import annotations

from flowgraph.graph import get_default_graph

#: The graph seed used when only an op seed is given (TF1's value).
DEFAULT_GRAPH_SEED = 87654321
_MAXINT32 = 2**31 - 1


def _truncate(seed: int) -> int:
    return int(seed) % _MAXINT32


def get_seed(op_seed: int | None) -> tuple[int | None, int | None]:
    """The (graph seed, op seed) pair a random op uses, given its own ``seed`` argument.

    - graph seed set, op seed None: the op seed is the graph's op count, so the same program
      gives the same numbers in a fresh graph;
    - only the op seed set: the graph seed is ``DEFAULT_GRAPH_SEED``;
    - neither: ``(None, None)``, i.e. nondeterministic.
    (0, 0) means "nondeterministic" to the kernels, so it is mapped to (0, 2**31 - 1).
    """
    graph = get_default_graph()
    global_seed = graph.seed
    if global_seed is not None:
        if op_seed is None:
            op_seed = len(graph._ops)
        seeds: tuple[int | None, int | None] = (_truncate(global_seed), _truncate(op_seed))
    elif op_seed is not None:
        seeds = (DEFAULT_GRAPH_SEED, _truncate(op_seed))
    else:
        seeds = (None, None)
    if seeds == (0, 0):
        seeds = (0, _MAXINT32)
    return seeds


def set_random_seed(seed: int | None) -> None:
    """Sets the default graph's seed: every random op created afterwards becomes reproducible."""
    get_default_graph().seed = None if seed is None else int(seed)


def seed_attrs(op_seed: int | None) -> dict:
    """``{"seed": ..., "seed2": ...}`` for a random op's attrs (0, 0 when nondeterministic)."""
    s1, s2 = get_seed(op_seed)
    return {"seed": s1 or 0, "seed2": s2 or 0}


__all__ = ["get_seed", "set_random_seed"]
