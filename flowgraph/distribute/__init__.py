"""Data-parallel training over MPI (Horovod-style): the optional ``mpi`` extra.

Run the same script in every process with ``mpiexec -n N python script.py``; outside mpiexec the
job has one rank and everything works unchanged.
"""

from flowgraph.distribute.collectives import (
    allgather,
    allreduce,
    allreduce_n,
    broadcast,
    broadcast_global_variables,
    broadcast_n,
    collective_timeout,
    set_collective_timeout,
)
from flowgraph.distribute.comm import (
    MPIMissingError,
    abort_with,
    init,
    is_initialized,
    local_rank,
    local_size,
    rank,
    size,
)
from flowgraph.distribute.optimizer import DEFAULT_FUSION_BYTES, DistributedOptimizer, fusion_groups
from flowgraph.distribute.sharding import shard_batches, shard_indices

__all__ = [
    "DEFAULT_FUSION_BYTES",
    "DistributedOptimizer",
    "MPIMissingError",
    "abort_with",
    "allgather",
    "allreduce",
    "allreduce_n",
    "broadcast",
    "broadcast_global_variables",
    "broadcast_n",
    "collective_timeout",
    "fusion_groups",
    "init",
    "is_initialized",
    "local_rank",
    "local_size",
    "rank",
    "set_collective_timeout",
    "shard_batches",
    "shard_indices",
    "size",
]
